/**
 * Sense data decoding (SPC-5 4.4): fixed (0x70/0x71) and descriptor (0x72/0x73) formats. A device's sense
 * buffer is untrusted input, so decoding never throws: whatever cannot be known is reported as absent and
 * `truncated`/`malformed` say why.
 */
import { ascDescription, senseKeyName } from './asc.js';
import { hex2 } from './spec.js';

/** The sense-key specific field, decoded by what it holds. */
export type SenseKeySpecific =
  | { kind: 'field-pointer'; commandData: boolean; bitPointer?: number; fieldPointer: number }
  | { kind: 'progress'; progress: number; percent: number }
  | { kind: 'retry-count'; count: number }
  | { kind: 'segment-pointer'; sd: boolean; bitPointer?: number; fieldPointer: number }
  | { kind: 'unit-attention-overflow'; overflow: boolean }
  | { kind: 'raw'; value: number };

/** One descriptor of descriptor-format sense. */
export type SenseDescriptor =
  | { type: 0x00; valid: boolean; information: bigint }
  | { type: 0x01; commandSpecific: bigint }
  | { type: 0x02; senseKeySpecific: SenseKeySpecific }
  | { type: 0x03; fru: number }
  | { type: 0x04; filemark: boolean; eom: boolean; ili: boolean }
  | { type: 0x05; ili: boolean }
  | { type: 'other'; code: number; bytes: Uint8Array };

/** Decoded sense data, fixed or descriptor format; `truncated`/`malformed` say why something is missing. */
export interface SenseData {
  format: 'fixed' | 'descriptor' | 'unknown';
  /** RESPONSE CODE (0x70..0x73; anything else is 'unknown' format). */
  responseCode: number;
  deferred: boolean;
  /** VALID bit (fixed) / an INFORMATION descriptor with VALID (descriptor): `information` is meaningful. */
  valid: boolean;
  senseKey: number;
  senseKeyName: string;
  asc: number;
  ascq: number;
  description: string;
  information?: bigint;
  commandSpecific?: bigint;
  senseKeySpecific?: SenseKeySpecific;
  fru?: number;
  filemark: boolean;
  eom: boolean;
  ili: boolean;
  /** Descriptor format: every descriptor in order (fixed format: empty). */
  descriptors: SenseDescriptor[];
  /** Fewer bytes than the format's minimum or than ADDITIONAL SENSE LENGTH promised. */
  truncated: boolean;
  /** Not sense data at all (unknown response code, or empty). */
  malformed: boolean;
}

const u32 = (b: Uint8Array, at: number): number =>
  ((b[at] ?? 0) * 0x1000000) + (((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0));
const u64 = (b: Uint8Array, at: number): bigint => (BigInt(u32(b, at)) << 32n) | BigInt(u32(b, at + 4));

/** The three SENSE KEY SPECIFIC bytes (SKSV already checked), interpreted per SPC-5 4.4.2.4 by sense key. */
export function decodeSenseKeySpecific(senseKey: number, b0: number, b1: number, b2: number): SenseKeySpecific {
  const field = (b1 << 8) | b2;
  const bitPointer = (b0 & 0x08) !== 0 ? b0 & 0x07 : undefined;
  const withBit = <T extends object>(o: T): T & { bitPointer?: number } =>
    bitPointer === undefined ? o : { ...o, bitPointer };
  switch (senseKey) {
    case 0x5: return withBit({ kind: 'field-pointer' as const, commandData: (b0 & 0x40) !== 0, fieldPointer: field });
    case 0x0: case 0x2: return { kind: 'progress', progress: field, percent: (field * 100) / 65536 };
    case 0x1: case 0x3: case 0x4: return { kind: 'retry-count', count: field };
    case 0xa: return withBit({ kind: 'segment-pointer' as const, sd: (b0 & 0x20) !== 0, fieldPointer: field });
    case 0x6: return { kind: 'unit-attention-overflow', overflow: (b0 & 0x01) !== 0 };
    default: return { kind: 'raw', value: ((b0 & 0x7f) << 16) | field };
  }
}

function blank(responseCode: number): SenseData {
  return { format: 'unknown', responseCode, deferred: false, valid: false, senseKey: 0, senseKeyName: senseKeyName(0),
    asc: 0, ascq: 0, description: ascDescription(0, 0), filemark: false, eom: false, ili: false, descriptors: [],
    truncated: false, malformed: false };
}

/** Decode sense data; never throws (malformed sense is flagged, not rejected). */
export function decodeSense(buf: Uint8Array, length = buf.length): SenseData {
  const b = buf.subarray(0, Math.max(0, Math.min(length, buf.length)));
  const s = blank((b[0] ?? 0) & 0x7f);
  if (b.length === 0 || s.responseCode < 0x70 || s.responseCode > 0x73) {
    s.malformed = true;
    s.truncated = b.length === 0;
    return s;
  }
  s.deferred = (s.responseCode & 1) === 1;
  if (s.responseCode <= 0x71) decodeFixed(b, s);
  else decodeDescriptorFormat(b, s);
  s.senseKeyName = senseKeyName(s.senseKey);
  s.description = ascDescription(s.asc, s.ascq);
  return s;
}

function decodeFixed(b: Uint8Array, s: SenseData): void {
  s.format = 'fixed';
  const b2 = b[2] ?? 0;
  s.senseKey = b2 & 0x0f;
  s.filemark = (b2 & 0x80) !== 0;
  s.eom = (b2 & 0x40) !== 0;
  s.ili = (b2 & 0x20) !== 0;
  // Fixed format is at least 18 bytes, but ADDITIONAL SENSE LENGTH may legitimately shorten it (SPC-5 4.4.3).
  const additional = b[7];
  const end = additional === undefined ? b.length : Math.min(b.length, 8 + additional);
  s.truncated = b.length < 8 || (additional !== undefined && b.length < 8 + Math.min(additional, 10));
  if (b.length >= 7) {
    s.valid = ((b[0] ?? 0) & 0x80) !== 0;
    if (s.valid) s.information = BigInt(u32(b, 3));
  }
  if (end >= 12) s.commandSpecific = BigInt(u32(b, 8));
  if (end >= 13) s.asc = b[12] ?? 0;
  if (end >= 14) s.ascq = b[13] ?? 0;
  if (end >= 15 && (b[14] ?? 0) !== 0) s.fru = b[14] ?? 0;
  if (end >= 18 && ((b[15] ?? 0) & 0x80) !== 0) {
    s.senseKeySpecific = decodeSenseKeySpecific(s.senseKey, b[15] ?? 0, b[16] ?? 0, b[17] ?? 0);
  }
}

function decodeDescriptorFormat(b: Uint8Array, s: SenseData): void {
  s.format = 'descriptor';
  s.senseKey = (b[1] ?? 0) & 0x0f;
  s.asc = b[2] ?? 0;
  s.ascq = b[3] ?? 0;
  const additional = b[7] ?? 0;
  s.truncated = b.length < 8 || b.length < 8 + additional;
  const end = Math.min(b.length, 8 + additional);
  let off = 8;
  while (off + 2 <= end) {
    const type = b[off] ?? 0;
    const len = b[off + 1] ?? 0;
    if (off + 2 + len > end) {
      s.truncated = true;
      break;
    }
    const d = b.subarray(off, off + 2 + len);
    const desc = decodeDescriptor(type, d, s.senseKey);
    s.descriptors.push(desc);
    applyDescriptor(desc, s);
    off += 2 + len;
  }
}

function decodeDescriptor(type: number, d: Uint8Array, senseKey: number): SenseDescriptor {
  const other = (): SenseDescriptor => ({ type: 'other', code: type, bytes: d });
  switch (type) {
    case 0x00: return d.length >= 12 ? { type, valid: ((d[2] ?? 0) & 0x80) !== 0, information: u64(d, 4) } : other();
    case 0x01: return d.length >= 12 ? { type, commandSpecific: u64(d, 4) } : other();
    case 0x02:
      // Bytes 4-6 hold the same three bytes as fixed format's 15-17, SKSV included.
      return d.length >= 7 && ((d[4] ?? 0) & 0x80) !== 0
        ? { type, senseKeySpecific: decodeSenseKeySpecific(senseKey, d[4] ?? 0, d[5] ?? 0, d[6] ?? 0) } : other();
    case 0x03: return d.length >= 4 ? { type, fru: d[3] ?? 0 } : other();
    case 0x04: {
      const f = d[3] ?? 0;
      return d.length >= 4 ? { type, filemark: (f & 0x80) !== 0, eom: (f & 0x40) !== 0, ili: (f & 0x20) !== 0 } : other();
    }
    case 0x05: return d.length >= 4 ? { type, ili: ((d[3] ?? 0) & 0x20) !== 0 } : other();
    default: return other();
  }
}

function applyDescriptor(desc: SenseDescriptor, s: SenseData): void {
  switch (desc.type) {
    case 0x00: s.valid = desc.valid; s.information = desc.information; break;
    case 0x01: s.commandSpecific = desc.commandSpecific; break;
    case 0x02: s.senseKeySpecific = desc.senseKeySpecific; break;
    case 0x03: s.fru = desc.fru; break;
    case 0x04: s.filemark = desc.filemark; s.eom = desc.eom; s.ili = desc.ili; break;
    case 0x05: s.ili = desc.ili; break;
    default: break;
  }
}

function hexBig(v: bigint): string {
  return `0x${v.toString(16).padStart(v > 0xffffffffn ? 16 : 8, '0')}`;
}

/** sg_decode_sense-style text, one item per line. */
export function formatSense(s: SenseData): string {
  if (s.malformed) return `Malformed sense data (response code 0x${hex2(s.responseCode)}${s.truncated ? ', empty' : ''})`;
  const lines = [
    `${s.format === 'fixed' ? 'Fixed' : 'Descriptor'} format, ${s.deferred ? 'deferred' : 'current'}; Sense key: ${s.senseKeyName}`,
    ` Additional sense: ${s.description}`,
  ];
  if (s.information !== undefined) lines.push(`  Info fld=${hexBig(s.information)}${s.valid ? '' : ' [not valid]'}`);
  if (s.commandSpecific !== undefined && s.commandSpecific !== 0n) lines.push(`  Command specific=${hexBig(s.commandSpecific)}`);
  if (s.filemark || s.eom || s.ili) {
    lines.push(`  ${[s.filemark && 'FMK', s.eom && 'EOM', s.ili && 'ILI'].filter(Boolean).join(' ')}`);
  }
  if (s.fru !== undefined) lines.push(`  Field replaceable unit code: ${s.fru}`);
  const sks = s.senseKeySpecific;
  if (sks !== undefined) lines.push(`  ${formatSks(sks)}`);
  if (s.truncated) lines.push('  [sense data truncated]');
  return lines.join('\n');
}

function formatSks(k: SenseKeySpecific): string {
  switch (k.kind) {
    case 'field-pointer':
      return `Sense Key Specific: Error in ${k.commandData ? 'Command' : 'Data parameters'}: byte ${k.fieldPointer}` +
        (k.bitPointer === undefined ? '' : ` bit ${k.bitPointer}`);
    case 'progress': return `Progress indication: ${k.percent.toFixed(2)} %`;
    case 'retry-count': return `Actual retry count: ${k.count}`;
    case 'segment-pointer':
      return `Segment pointer: ${k.sd ? 'segment descriptor' : 'parameter list'} byte ${k.fieldPointer}` +
        (k.bitPointer === undefined ? '' : ` bit ${k.bitPointer}`);
    case 'unit-attention-overflow': return `Unit attention condition queue: ${k.overflow ? 'overflowed' : 'ok'}`;
    case 'raw': return `Sense key specific: 0x${k.value.toString(16)}`;
  }
}

/**
 * Building sense data, the device's side of sense.ts: used by the software disk (the mock) to answer
 * REQUEST SENSE / auto-sense, and by tests for golden buffers.
 */
import { ScsiParamError } from './errors.js';
import type { SenseKeySpecific } from './sense.js';

/** What to encode into sense data (the software disk and tests use it). */
export interface SenseInput {
  senseKey: number;
  asc: number;
  ascq: number;
  deferred?: boolean;
  /** INFORMATION; sets VALID. Fixed format holds 32 bits, descriptor format 64. */
  information?: bigint;
  commandSpecific?: bigint;
  senseKeySpecific?: SenseKeySpecific;
  fru?: number;
  filemark?: boolean;
  eom?: boolean;
  ili?: boolean;
}

/** The three SKS bytes with SKSV set. */
function sksBytes(k: SenseKeySpecific): [number, number, number] {
  const field = (n: number): [number, number] => [(n >> 8) & 0xff, n & 0xff];
  const bp = (bit: number | undefined): number => (bit === undefined ? 0 : 0x08 | (bit & 7));
  switch (k.kind) {
    case 'field-pointer': return [0x80 | (k.commandData ? 0x40 : 0) | bp(k.bitPointer), ...field(k.fieldPointer)];
    case 'progress': return [0x80, ...field(k.progress)];
    case 'retry-count': return [0x80, ...field(k.count)];
    case 'segment-pointer': return [0x80 | (k.sd ? 0x20 : 0) | bp(k.bitPointer), ...field(k.fieldPointer)];
    case 'unit-attention-overflow': return [0x80 | (k.overflow ? 1 : 0), 0, 0];
    case 'raw': return [0x80 | ((k.value >> 16) & 0x7f), ...field(k.value & 0xffff)];
  }
}

function checkByte(name: string, v: number, max = 0xff): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new ScsiParamError('SCSI_PARAM_RANGE', `${name}=${v} out of range 0..${max}`, name);
}

function checkCodes(s: SenseInput): void {
  checkByte('senseKey', s.senseKey, 0x0f);
  checkByte('asc', s.asc);
  checkByte('ascq', s.ascq);
}

/** 18-byte fixed-format sense (response code 0x70, or 0x71 when deferred). */
export function encodeFixedSense(s: SenseInput): Buffer {
  checkCodes(s);
  const out = Buffer.alloc(18);
  out[0] = (s.deferred === true ? 0x71 : 0x70) | (s.information !== undefined ? 0x80 : 0);
  out[2] = s.senseKey | (s.filemark === true ? 0x80 : 0) | (s.eom === true ? 0x40 : 0) | (s.ili === true ? 0x20 : 0);
  if (s.information !== undefined) {
    if (s.information < 0n || s.information > 0xffffffffn) {
      throw new ScsiParamError('SCSI_PARAM_RANGE', 'fixed sense INFORMATION holds 32 bits; use descriptor format', 'information');
    }
    out.writeUInt32BE(Number(s.information), 3);
  }
  out[7] = 10;
  if (s.commandSpecific !== undefined) out.writeUInt32BE(Number(BigInt.asUintN(32, s.commandSpecific)), 8);
  out[12] = s.asc;
  out[13] = s.ascq;
  out[14] = s.fru ?? 0;
  if (s.senseKeySpecific !== undefined) out.set(sksBytes(s.senseKeySpecific), 15);
  return out;
}

/** Descriptor-format sense (0x72/0x73) with information, command-specific, SKS, FRU and block descriptors. */
export function encodeDescriptorSense(s: SenseInput): Buffer {
  checkCodes(s);
  const descriptors: Buffer[] = [];
  const u64desc = (type: number, v: bigint, valid: boolean): Buffer => {
    const d = Buffer.alloc(12);
    d[0] = type; d[1] = 10; d[2] = valid ? 0x80 : 0;
    d.writeBigUInt64BE(BigInt.asUintN(64, v), 4);
    return d;
  };
  if (s.information !== undefined) descriptors.push(u64desc(0x00, s.information, true));
  if (s.commandSpecific !== undefined) descriptors.push(u64desc(0x01, s.commandSpecific, false));
  if (s.senseKeySpecific !== undefined) descriptors.push(Buffer.from([0x02, 6, 0, 0, ...sksBytes(s.senseKeySpecific), 0]));
  if (s.fru !== undefined) descriptors.push(Buffer.from([0x03, 2, 0, s.fru]));
  if (s.filemark === true || s.eom === true || s.ili === true) {
    descriptors.push(Buffer.from([0x04, 2, 0, (s.filemark === true ? 0x80 : 0) | (s.eom === true ? 0x40 : 0) | (s.ili === true ? 0x20 : 0)]));
  }
  const body = Buffer.concat(descriptors);
  const head = Buffer.from([s.deferred === true ? 0x73 : 0x72, s.senseKey, s.asc, s.ascq, 0, 0, 0, body.length]);
  return Buffer.concat([head, body]);
}

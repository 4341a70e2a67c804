/**
 * Bit-field tables: a CDB or a fixed payload is declared once as a list of fields (byte offset, byte width,
 * optional bit width/shift), and both encode and decode are derived from that list, python-scsi style.
 *
 * SCSI packs values that do not start on byte boundaries (READ(6)'s 21-bit LBA, RDPROTECT in bits 7-5, ...),
 * which src/util/layout.ts's byte-aligned Struct cannot express, hence this small helper. All multi-byte fields
 * are big-endian, as everywhere in SCSI. Values up to 32 bits are plain numbers (exact in a double); 64-bit
 * fields and anything declared `big` are BigInt so LBAs are exact.
 */
import { ScsiDataError, ScsiParamError } from './errors.js';
import { UsbmsInternalError } from '../util/errors.js';

/** The value of one field: a number, a flag, or a bigint (LBAs and other 64-bit fields). */
export type FieldValue = number | boolean | bigint;

/** One field of a CDB: where it lives, how wide, and which parameter fills it. */
export interface FieldDef<P> {
  /** The property of the value object this field holds. */
  readonly name: keyof P & string;
  /** Byte offset of the field's first byte. */
  readonly at: number;
  /** Bytes the field spans (big-endian). */
  readonly bytes: 1 | 2 | 3 | 4 | 8;
  /** Width in bits when the field does not fill its bytes; defaults to bytes * 8. */
  readonly bits?: number;
  /** Bit position of the field's least significant bit within its bytes. */
  readonly shift?: number;
  /** Value type: number (default), boolean (1-bit flags) or bigint (LBAs). */
  readonly kind?: 'number' | 'boolean' | 'bigint';
  /** A value that the wire encodes as 0 (READ(6): 0 blocks means 256). The field then ranges 1..zeroMeans. */
  readonly zeroMeans?: number;
  /** Always shown by describe(), even when zero (LBAs, lengths). */
  readonly always?: boolean;
}

const TWO_POW = (n: number): number => 2 ** n;

function readUint(b: Uint8Array, at: number, bytes: number): number {
  let v = 0;
  for (let i = 0; i < bytes; i++) v = v * 256 + (b[at + i] ?? 0);
  return v;
}

function writeUint(b: Uint8Array, at: number, bytes: number, value: number): void {
  let v = value;
  for (let i = bytes - 1; i >= 0; i--) {
    b[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

function readBig(b: Uint8Array, at: number, bytes: number): bigint {
  let v = 0n;
  for (let i = 0; i < bytes; i++) v = (v << 8n) | BigInt(b[at + i] ?? 0);
  return v;
}

function writeBig(b: Uint8Array, at: number, bytes: number, value: bigint): void {
  let v = value;
  for (let i = bytes - 1; i >= 0; i--) {
    b[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** One table, both directions. `span` is the number of bytes the table covers. */
export class BitLayout<P> {
  readonly span: number;
  private readonly byName = new Map<string, FieldDef<P>>();

  constructor(readonly fields: readonly FieldDef<P>[]) {
    this.span = fields.reduce((m, f) => Math.max(m, f.at + f.bytes), 0);
    for (const f of fields) this.byName.set(f.name, f);
    for (const f of fields) {
      const bits = f.bits ?? f.bytes * 8;
      if ((f.shift ?? 0) + bits > f.bytes * 8) throw new UsbmsInternalError(`field ${f.name} does not fit its bytes`);
      if (f.bytes === 8 && f.kind !== 'bigint') throw new UsbmsInternalError(`64-bit field ${f.name} must be bigint`);
    }
  }

  /** Write every field of `value` into `buf` at `offset` (read-modify-write, so fields may share bytes). */
  encode(value: Partial<P>, buf: Uint8Array, offset = 0): void {
    if (buf.length - offset < this.span) {
      throw new ScsiParamError('SCSI_CDB_LENGTH', `need ${this.span} bytes, have ${buf.length - offset}`);
    }
    for (const f of this.fields) this.encodeField(f, value[f.name] as FieldValue | undefined, buf, offset + f.at);
  }

  /** Read every field from `buf` at `offset`. Throws ScsiDataError if the buffer is shorter than the table. */
  decode(buf: Uint8Array, offset = 0): P {
    if (buf.length - offset < this.span) {
      throw new ScsiDataError('SCSI_DATA_SHORT', `need ${this.span} bytes, have ${buf.length - offset}`);
    }
    const out: Record<string, FieldValue> = {};
    for (const f of this.fields) out[f.name] = decodeField(f, buf, offset + f.at);
    return out as P;
  }

  /**
   * Rewrite the one field `name` of an encoded `buf` (its neighbours' bits kept), range-checked as encode does:
   * how a command already built is changed without building it again (a split READ's LBA and length).
   */
  writeField(buf: Uint8Array, name: keyof P & string, value: FieldValue, offset = 0): void {
    const f = this.field(name);
    if (buf.length - offset < f.at + f.bytes) {
      throw new ScsiParamError('SCSI_CDB_LENGTH', `${name} needs ${f.at + f.bytes} bytes, have ${buf.length - offset}`);
    }
    this.encodeField(f, value, buf, offset + f.at);
  }

  /** Read the one field `name` from `buf` (no object made). Throws ScsiDataError if `buf` is too short for it. */
  readField(buf: Uint8Array, name: keyof P & string, offset = 0): FieldValue {
    const f = this.field(name);
    if (buf.length - offset < f.at + f.bytes) {
      throw new ScsiDataError('SCSI_DATA_SHORT', `${name} needs ${f.at + f.bytes} bytes, have ${buf.length - offset}`);
    }
    return decodeField(f, buf, offset + f.at);
  }

  private field(name: keyof P & string): FieldDef<P> {
    const f = this.byName.get(name);
    if (f === undefined) throw new ScsiParamError('SCSI_PARAM_INVALID', `no field ${name} in this table`, name);
    return f;
  }

  /** "name=value" for every field that is set (or marked `always`), flags as bare names. */
  describe(value: P): string {
    const parts: string[] = [];
    for (const f of this.fields) {
      const v = value[f.name] as FieldValue;
      if (v === true) parts.push(f.name);
      else if (typeof v !== 'boolean' && (f.always === true || (v !== 0 && v !== 0n))) parts.push(`${f.name}=${v}`);
    }
    return parts.join(' ');
  }

  private encodeField(f: FieldDef<P>, given: FieldValue | undefined, buf: Uint8Array, at: number): void {
    const bits = f.bits ?? f.bytes * 8;
    const shift = f.shift ?? 0;
    const kind = f.kind ?? 'number';
    const v = given ?? (kind === 'boolean' ? false : kind === 'bigint' ? 0n : 0);
    if (kind === 'bigint') {
      if (typeof v !== 'bigint') throw new ScsiParamError('SCSI_PARAM_RANGE', `${f.name} must be a bigint`, f.name);
      const max = (1n << BigInt(bits)) - 1n;
      if (v < 0n || v > max) {
        throw new ScsiParamError('SCSI_PARAM_RANGE', `${f.name}=${v} out of range 0..${max}`, f.name);
      }
      if (f.bytes === 8) return writeBig(buf, at, 8, v);
      return this.merge(buf, at, f.bytes, bits, shift, Number(v));
    }
    let n: number;
    if (kind === 'boolean') {
      if (typeof v !== 'boolean') throw new ScsiParamError('SCSI_PARAM_RANGE', `${f.name} must be a boolean`, f.name);
      n = v ? 1 : 0;
    } else {
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        throw new ScsiParamError('SCSI_PARAM_RANGE', `${f.name}=${String(v)} is not an integer`, f.name);
      }
      const lo = f.zeroMeans === undefined ? 0 : 1;
      const hi = f.zeroMeans ?? TWO_POW(bits) - 1;
      if (v < lo || v > hi) throw new ScsiParamError('SCSI_PARAM_RANGE', `${f.name}=${v} out of range ${lo}..${hi}`, f.name);
      n = v === f.zeroMeans ? 0 : v;
    }
    this.merge(buf, at, f.bytes, bits, shift, n);
  }

  /** Replace `bits` bits at `shift` within the big-endian word at `at`, keeping the neighbours' bits. */
  private merge(buf: Uint8Array, at: number, bytes: number, bits: number, shift: number, n: number): void {
    if (bits === bytes * 8) return writeUint(buf, at, bytes, n);
    const word = readUint(buf, at, bytes);
    const unit = TWO_POW(shift);
    const old = Math.floor(word / unit) % TWO_POW(bits);
    writeUint(buf, at, bytes, word + (n - old) * unit);
  }
}

function decodeField<P>(f: FieldDef<P>, buf: Uint8Array, at: number): FieldValue {
  const bits = f.bits ?? f.bytes * 8;
  const shift = f.shift ?? 0;
  if (f.bytes === 8) return readBig(buf, at, 8);
  const raw = Math.floor(readUint(buf, at, f.bytes) / TWO_POW(shift)) % TWO_POW(bits);
  switch (f.kind) {
    case 'boolean': return raw !== 0;
    case 'bigint': return BigInt(raw);
    default: return raw === 0 && f.zeroMeans !== undefined ? f.zeroMeans : raw;
  }
}

/** Flag field shorthand: one bit at byte `at`, bit `bit`. */
export function flag<P>(name: keyof P & string, at: number, bit: number): FieldDef<P> {
  return { name, at, bytes: 1, bits: 1, shift: bit, kind: 'boolean' };
}

/** Sub-byte number shorthand: `bits` bits at byte `at`, least significant bit at `shift`. */
export function bitsAt<P>(name: keyof P & string, at: number, shift: number, bits: number): FieldDef<P> {
  return { name, at, bytes: 1, bits, shift };
}

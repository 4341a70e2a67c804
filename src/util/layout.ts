/**
 * Typed wrappers over `buffer-layout` (which ships no types).
 *
 * A wire structure is declared once as a list of named fields; its TypeScript value type is derived from that
 * declaration, and encode/decode both come from it. 64-bit fields (SCSI LBAs) are not something buffer-layout
 * can hold exactly (its nu64 is a lossy Number), so they are declared with `u64be`, which this module encodes
 * and decodes itself as BigInt.
 */
import BufferLayout from 'buffer-layout';
import type { Layout } from 'buffer-layout';
import { UsbmsArgumentError } from './errors.js';

type FieldKind = 'u8' | 'u16' | 'u24' | 'u32' | 'u16be' | 'u24be' | 'u32be' | 'u64be' | 'blob';

export interface FieldSpec<K extends FieldKind = FieldKind> {
  readonly kind: K;
  readonly length?: number;
}

type ValueOf<F extends FieldSpec> = F['kind'] extends 'u64be' ? bigint : F['kind'] extends 'blob' ? Uint8Array : number;

export type StructValue<S extends Record<string, FieldSpec>> = { [K in keyof S]: ValueOf<S[K]> };

export const u8: FieldSpec<'u8'> = { kind: 'u8' };
export const u16: FieldSpec<'u16'> = { kind: 'u16' };
export const u24: FieldSpec<'u24'> = { kind: 'u24' };
export const u32: FieldSpec<'u32'> = { kind: 'u32' };
export const u16be: FieldSpec<'u16be'> = { kind: 'u16be' };
export const u24be: FieldSpec<'u24be'> = { kind: 'u24be' };
export const u32be: FieldSpec<'u32be'> = { kind: 'u32be' };
/** Exact 64-bit big-endian unsigned (BigInt); handled here, not by buffer-layout. */
export const u64be: FieldSpec<'u64be'> = { kind: 'u64be' };
export const blob = (length: number): FieldSpec<'blob'> => ({ kind: 'blob', length });

const SPAN: Record<Exclude<FieldKind, 'blob'>, number> = {
  u8: 1, u16: 2, u24: 3, u32: 4, u16be: 2, u24be: 3, u32be: 4, u64be: 8,
};

function toLayout(name: string, spec: FieldSpec): Layout {
  switch (spec.kind) {
    case 'blob': return BufferLayout.blob(spec.length ?? 0, name);
    // Two 32-bit halves: buffer-layout sees them as two fields; encode/decode below joins them into one BigInt.
    case 'u64be': return BufferLayout.blob(8, name);
    default: return (BufferLayout[spec.kind] as (p: string) => Layout)(name);
  }
}

/** A fixed-size wire structure: one declaration, both directions. */
export class Struct<S extends Record<string, FieldSpec>> {
  readonly span: number;
  /** Byte offset of each field, in declaration order: for code that reads or writes one field in place. */
  readonly offsets: { readonly [K in keyof S]: number };
  private readonly layout;
  private readonly wideFields: string[];

  constructor(readonly fields: S) {
    const entries = Object.entries(fields);
    this.layout = BufferLayout.struct<Record<string, unknown>>(entries.map(([n, f]) => toLayout(n, f)));
    this.wideFields = entries.filter(([, f]) => f.kind === 'u64be').map(([n]) => n);
    const offsets: Record<string, number> = {};
    this.span = entries.reduce((at, [n, f]) => {
      offsets[n] = at;
      return at + (f.kind === 'blob' ? (f.length ?? 0) : SPAN[f.kind]);
    }, 0);
    this.offsets = Object.freeze(offsets) as { readonly [K in keyof S]: number };
  }

  /** Decode from `buf` at `offset`. Throws RangeError when the buffer is too short. */
  decode(buf: Uint8Array, offset = 0): StructValue<S> {
    if (buf.length - offset < this.span) {
      throw new UsbmsArgumentError(`need ${this.span} bytes at offset ${offset}, have ${buf.length - offset}`);
    }
    const raw = this.layout.decode(buf, offset);
    for (const name of this.wideFields) {
      const b = raw[name] as Uint8Array;
      raw[name] = Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64BE(0);
    }
    return raw as StructValue<S>;
  }

  /** Encode into `buf` at `offset` (no allocation besides the u64 scratch). Returns bytes written. */
  encode(value: StructValue<S>, buf: Uint8Array, offset = 0): number {
    if (buf.length - offset < this.span) {
      throw new UsbmsArgumentError(`need ${this.span} bytes at offset ${offset}, have ${buf.length - offset}`);
    }
    let src: Record<string, unknown> = value;
    if (this.wideFields.length > 0) {
      src = { ...value };
      for (const name of this.wideFields) {
        const big = value[name] as bigint;
        if (big < 0n || big > 0xffff_ffff_ffff_ffffn) throw new UsbmsArgumentError(`${name} does not fit in 64 bits`);
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(big, 0);
        src[name] = b;
      }
    }
    for (const [name, f] of Object.entries(this.fields)) {
      if (f.kind === 'blob') continue;
      if (f.kind === 'u64be') continue;
      const v = src[name];
      const max = 2 ** (8 * SPAN[f.kind]) - 1;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
        throw new UsbmsArgumentError(`${name}=${String(v)} does not fit in ${f.kind}`);
      }
    }
    return this.layout.encode(src, buf, offset);
  }
}

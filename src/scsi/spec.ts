/**
 * CommandSpec: one declaration per SCSI command from which CDB encoding, CDB decoding and a one-line
 * description all derive. Data-in payload codecs hang off the same object.
 */
import { ScsiParamError } from './errors.js';
import { BitLayout, type FieldDef, type FieldValue } from './fields.js';

/** Direction of a command's data phase. */
export type Direction = 'none' | 'in' | 'out';

/** Every CDB ends with a CONTROL byte (SAM-5); it is a parameter of every command. */
export interface ControlParam {
  /** CONTROL byte (NACA, vendor bits). Default 0. */
  control?: number;
}

/** A SCSI command declared once: its CDB fields, its data length and its data codec. */
export interface CommandSpec<P, D = void> {
  /** Name as SPC/SBC print it, e.g. "READ(10)". */
  readonly name: string;
  readonly opcode: number;
  /** For commands behind SERVICE ACTION IN(16) (0x9E): the service action in byte 1 bits 4-0. */
  readonly serviceAction?: number;
  readonly cdbLength: number;
  /** Direction of the data phase when there is one (see dataLength: 0 means no data phase). */
  readonly direction: Direction;
  /**
   * Build the CDB. Without `into`, returns a new Buffer of cdbLength bytes. With `into` (e.g. a preallocated CBW
   * CDB slot), writes bytes 0..cdbLength-1 of it (zeroing reserved bits first) and returns `into` itself, so the
   * data path does not allocate. Throws ScsiParamError for any value that does not fit its field.
   */
  encodeCdb(p: P, into?: Buffer): Buffer;
  /** Parse a CDB (longer buffers are fine). Returns every parameter, defaults included. Throws ScsiParamError. */
  decodeCdb(b: Uint8Array): Required<P>;
  /**
   * Rewrite one field of a CDB built from this declaration, in place and range-checked (e.g. the LBA and block
   * count of each piece when a READ is split): no parameter object, no table walk beyond the field.
   */
  writeField(into: Uint8Array, name: keyof P & string, value: FieldValue): void;
  /** One field of a CDB built from this declaration (an LBA is a bigint, a flag a boolean). */
  readField(b: Uint8Array, name: keyof P & string): FieldValue;
  /** Bytes the data phase moves for `p`. Block commands need the logical block length. */
  dataLength(p: P, blockSize?: number): number;
  /** Decode the data-in payload; `length` is the bytes actually transferred (default b.length). */
  decodeData?(b: Uint8Array, length?: number): D;
  /** Build a payload as a device would return it (for the mock and for golden tests). */
  encodeData?(d: D): Buffer;
  /** "READ(10) lba=2048 blocks=8 fua" */
  describe(p: P): string;
}

/** A command whose data-in payload has a codec: decodeData/encodeData are always there. */
export interface DataCommandSpec<P, D> extends CommandSpec<P, D> {
  decodeData(b: Uint8Array, length?: number): D;
  encodeData(d: D): Buffer;
}

export interface CommandDef<P, D> {
  name: string;
  opcode: number;
  serviceAction?: number;
  cdbLength: number;
  direction: Direction;
  /** Fields after the opcode byte (and service action, which is written automatically). */
  fields: readonly FieldDef<P>[];
  dataLength: (p: P, blockSize?: number) => number;
  /** Checks that go beyond one field's range. Throws ScsiParamError. */
  check?: (p: P) => void;
  decodeData?: (b: Uint8Array, length?: number) => D;
  encodeData?: (d: D) => Buffer;
}

/** Declare a command: the CDB encoder, decoder and data codec all come from its field list. */
export function defineCommand<P extends ControlParam, D>(
  def: CommandDef<P, D> & Pick<Required<CommandDef<P, D>>, 'decodeData' | 'encodeData'>): DataCommandSpec<P, D>;
/** Declare a command: the CDB encoder, decoder and data codec all come from its field list. */
export function defineCommand<P extends ControlParam>(def: CommandDef<P, void>): CommandSpec<P>;
/** Declare a command: the CDB encoder, decoder and data codec all come from its field list. */
export function defineCommand<P extends ControlParam, D = void>(def: CommandDef<P, D>): CommandSpec<P, D> {
  const control: FieldDef<P> = { name: 'control', at: def.cdbLength - 1, bytes: 1 };
  const layout = new BitLayout<P>([...def.fields, control]);
  const { name, opcode, serviceAction, cdbLength } = def;

  const spec: CommandSpec<P, D> = {
    name,
    opcode,
    cdbLength,
    direction: def.direction,
    dataLength: def.dataLength,
    encodeCdb(p: P, into?: Buffer): Buffer {
      def.check?.(p);
      const out = into ?? Buffer.alloc(cdbLength);
      if (out.length < cdbLength) {
        throw new ScsiParamError('SCSI_CDB_LENGTH', `${name} needs a ${cdbLength}-byte CDB buffer, got ${out.length}`);
      }
      out.fill(0, 0, cdbLength);
      layout.encode(p, out);
      out[0] = opcode;
      if (serviceAction !== undefined) out[1] = ((out[1] ?? 0) & 0xe0) | serviceAction;
      return out;
    },
    decodeCdb(b: Uint8Array): Required<P> {
      if (b.length < cdbLength) {
        throw new ScsiParamError('SCSI_CDB_LENGTH', `${name} CDB is ${cdbLength} bytes, got ${b.length}`);
      }
      if (b[0] !== opcode || (serviceAction !== undefined && ((b[1] ?? 0) & 0x1f) !== serviceAction)) {
        throw new ScsiParamError('SCSI_CDB_OPCODE', `not a ${name} CDB (opcode 0x${hex2(b[0] ?? 0)})`);
      }
      // Decoding cannot fail for a long-enough buffer: the table covers only bytes inside the CDB.
      return layout.decode(b) as Required<P>;
    },
    writeField(into: Uint8Array, field: keyof P & string, value: FieldValue): void {
      layout.writeField(into, field, value);
    },
    readField(b: Uint8Array, field: keyof P & string): FieldValue {
      return layout.readField(b, field);
    },
    describe(p: P): string {
      const full = layout.decode(spec.encodeCdb(p));
      const args = layout.describe(full);
      return args === '' ? name : `${name} ${args}`;
    },
  };
  if (serviceAction !== undefined) Object.assign(spec, { serviceAction });
  if (def.decodeData !== undefined) spec.decodeData = def.decodeData;
  if (def.encodeData !== undefined) spec.encodeData = def.encodeData;
  return spec;
}

export function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Shared CDB field shapes, so READ/WRITE/VERIFY of one size share one declaration. */
export const lbaField = <P>(at: number, bytes: 4 | 8): FieldDef<P> =>
  ({ name: 'lba' as keyof P & string, at, bytes, kind: 'bigint', always: true });
export const countField = <P>(name: keyof P & string, at: number, bytes: 1 | 2 | 4): FieldDef<P> =>
  ({ name, at, bytes, always: true });

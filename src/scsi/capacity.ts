/**
 * READ CAPACITY(10)/(16) (SBC-4 5.20, 5.21) and READ FORMAT CAPACITIES (MMC-6 / UFI 0x23, which many USB
 * flash bridges answer and some answer instead of READ CAPACITY while no medium is present).
 */
import { ScsiDataError, ScsiParamError } from './errors.js';
import { BitLayout, bitsAt, flag } from './fields.js';
import { countField, defineCommand, type ControlParam } from './spec.js';

/** READ CAPACITY(10) has only the CONTROL byte. */
export type ReadCapacity10Params = ControlParam;

/** READ CAPACITY(10) data: the last LBA and the block length. */
export interface ReadCapacity10Data {
  /** RETURNED LOGICAL BLOCK ADDRESS: the last LBA. 0xFFFFFFFF means "too big, use READ CAPACITY(16)". */
  returnedLba: number;
  /** LOGICAL BLOCK LENGTH IN BYTES. */
  blockLength: number;
}

const rc10Data = new BitLayout<ReadCapacity10Data>([
  { name: 'returnedLba', at: 0, bytes: 4 },
  { name: 'blockLength', at: 4, bytes: 4 },
]);

function sliceTo(b: Uint8Array, length: number | undefined): Uint8Array {
  return length === undefined || length >= b.length ? b : b.subarray(0, length);
}

export const readCapacity10 = defineCommand<ReadCapacity10Params, ReadCapacity10Data>({
  name: 'READ CAPACITY(10)', opcode: 0x25, cdbLength: 10, direction: 'in', fields: [],
  dataLength: () => 8,
  decodeData: (b, length) => rc10Data.decode(sliceTo(b, length)),
  encodeData: (d) => {
    const out = Buffer.alloc(8);
    rc10Data.encode(d, out);
    return out;
  },
});

export interface ReadCapacity16Params extends ControlParam {
  allocationLength: number;
}

/** READ CAPACITY(16) data: the last LBA, the block length and the provisioning and protection fields. */
export interface ReadCapacity16Data {
  /** The last LBA, exact. */
  returnedLba: bigint;
  blockLength: number;
  /** P_TYPE: protection type minus one when protectionEnabled. */
  pType: number;
  /** PROT_EN. */
  protectionEnabled: boolean;
  /** P_I_EXPONENT. */
  piExponent: number;
  /** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: 2^n logical blocks per physical block (4Kn-emulating 512e: 3). */
  logicalPerPhysicalExponent: number;
  /** LBPME: logical block provisioning (thin, UNMAP) enabled. */
  lbpme: boolean;
  /** LBPRZ: unmapped blocks read as zeros. */
  lbprz: boolean;
  /** LOWEST ALIGNED LOGICAL BLOCK ADDRESS. */
  lowestAlignedLba: number;
}

const rc16Data = new BitLayout<ReadCapacity16Data>([
  { name: 'returnedLba', at: 0, bytes: 8, kind: 'bigint' },
  { name: 'blockLength', at: 8, bytes: 4 },
  bitsAt('pType', 12, 1, 3),
  flag('protectionEnabled', 12, 0),
  bitsAt('piExponent', 13, 4, 4),
  bitsAt('logicalPerPhysicalExponent', 13, 0, 4),
  flag('lbpme', 14, 7),
  flag('lbprz', 14, 6),
  { name: 'lowestAlignedLba', at: 14, bytes: 2, bits: 14 },
]);

/** READ CAPACITY(16) parameter data is 32 bytes; only the first 16 carry fields (the rest is reserved). */
export const READ_CAPACITY16_DATA_LENGTH = 32;

export const readCapacity16 = defineCommand<ReadCapacity16Params, ReadCapacity16Data>({
  name: 'READ CAPACITY(16)', opcode: 0x9e, serviceAction: 0x10, cdbLength: 16, direction: 'in',
  fields: [countField('allocationLength', 10, 4)],
  dataLength: (p) => p.allocationLength,
  decodeData: (b, length) => rc16Data.decode(sliceTo(b, length)),
  encodeData: (d) => {
    const out = Buffer.alloc(READ_CAPACITY16_DATA_LENGTH);
    rc16Data.encode(d, out);
    return out;
  },
});

export interface ReadFormatCapacitiesParams extends ControlParam {
  allocationLength: number;
}

/** Descriptor type of a READ FORMAT CAPACITIES entry. */
export type CapacityDescriptorType = 'unformatted' | 'formatted' | 'no-media' | 'reserved';
const DESCRIPTOR_TYPES: readonly CapacityDescriptorType[] = ['reserved', 'unformatted', 'formatted', 'no-media'];

/** A decoded READ FORMAT CAPACITIES answer (MMC / UFI). */
export interface ReadFormatCapacitiesData {
  /** Current/maximum capacity descriptor: what is in the drive now (or the maximum if unformatted/no media). */
  current: { blocks: number; type: CapacityDescriptorType; blockLength: number };
  /** Formattable capacity descriptors: FORMAT TYPE (bits 7-2) and its TYPE DEPENDENT PARAMETER (block length). */
  formattable: { blocks: number; formatType: number; param: number }[];
  /** CAPACITY LIST LENGTH said more than was transferred. */
  truncated: boolean;
}

/** Decode READ FORMAT CAPACITIES data. */
export function decodeReadFormatCapacities(b: Uint8Array, length = b.length): ReadFormatCapacitiesData {
  const n = Math.min(length, b.length);
  if (n < 12) throw new ScsiDataError('SCSI_DATA_SHORT', `READ FORMAT CAPACITIES needs 12 bytes, got ${n}`);
  const listLength = b[3] ?? 0;
  if (listLength < 8 || listLength % 8 !== 0) {
    throw new ScsiDataError('SCSI_DATA_INVALID', `capacity list length ${listLength} is not a multiple of 8`);
  }
  const view = new DataView(b.buffer, b.byteOffset, n);
  const descriptor = (off: number): [number, number, number] =>
    [view.getUint32(off), view.getUint8(off + 4), view.getUint32(off + 4) & 0xffffff];
  const [blocks, typeByte, blockLength] = descriptor(4);
  const formattable: ReadFormatCapacitiesData['formattable'] = [];
  const end = Math.min(4 + listLength, n);
  for (let off = 12; off + 8 <= end; off += 8) {
    const [fb, fType, param] = descriptor(off);
    formattable.push({ blocks: fb, formatType: fType >> 2, param });
  }
  return {
    current: { blocks, type: DESCRIPTOR_TYPES[typeByte & 3] ?? 'reserved', blockLength },
    formattable,
    truncated: 4 + listLength > n,
  };
}

/** Encode READ FORMAT CAPACITIES data (the software disk answers with it). */
export function encodeReadFormatCapacities(d: ReadFormatCapacitiesData): Buffer {
  for (const v of [d.current.blockLength, ...d.formattable.map((f) => f.param)]) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffff) throw new ScsiParamError('SCSI_PARAM_RANGE', `${v} does not fit 24 bits`);
  }
  const out = Buffer.alloc(12 + 8 * d.formattable.length);
  out[3] = 8 + 8 * d.formattable.length;
  out.writeUInt32BE(d.current.blocks, 4);
  out.writeUInt32BE(d.current.blockLength, 8);
  out[8] = Math.max(0, DESCRIPTOR_TYPES.indexOf(d.current.type));
  d.formattable.forEach((f, i) => {
    out.writeUInt32BE(f.blocks, 12 + 8 * i);
    out.writeUInt32BE(f.param, 16 + 8 * i);
    out[16 + 8 * i] = f.formatType << 2;
  });
  return out;
}

export const readFormatCapacities = defineCommand<ReadFormatCapacitiesParams, ReadFormatCapacitiesData>({
  name: 'READ FORMAT CAPACITIES', opcode: 0x23, cdbLength: 10, direction: 'in',
  fields: [countField('allocationLength', 7, 2)],
  dataLength: (p) => p.allocationLength,
  decodeData: decodeReadFormatCapacities,
  encodeData: encodeReadFormatCapacities,
});

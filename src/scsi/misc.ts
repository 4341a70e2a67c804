/**
 * The small commands: TEST UNIT READY, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL,
 * SYNCHRONIZE CACHE(10)/(16) and REPORT LUNS (SPC-5, SBC-4).
 */
import { ScsiDataError } from './errors.js';
import { bitsAt, flag } from './fields.js';
import { countField, defineCommand, lbaField, type ControlParam } from './spec.js';
import { decodeSense, type SenseData } from './sense.js';
import { encodeDescriptorSense, encodeFixedSense } from './sense-encode.js';
import { UsbmsArgumentError } from '../util/errors.js';

const none = (): number => 0;
const allocation = (p: { allocationLength: number }): number => p.allocationLength;

/** TEST UNIT READY has only the CONTROL byte. */
export type TestUnitReadyParams = ControlParam;
export const testUnitReady = defineCommand<TestUnitReadyParams>({
  name: 'TEST UNIT READY', opcode: 0x00, cdbLength: 6, direction: 'none', fields: [], dataLength: none,
});

export interface RequestSenseParams extends ControlParam {
  /** DESC: ask for descriptor-format sense. */
  desc?: boolean;
  allocationLength: number;
}
export const requestSense = defineCommand<RequestSenseParams, SenseData>({
  name: 'REQUEST SENSE', opcode: 0x03, cdbLength: 6, direction: 'in',
  fields: [flag('desc', 1, 0), countField('allocationLength', 4, 1)],
  dataLength: allocation,
  decodeData: (b, length) => decodeSense(b, length),
  encodeData: (d) => (d.format === 'descriptor' ? encodeDescriptorSense(d) : encodeFixedSense(d)),
});

export interface StartStopUnitParams extends ControlParam {
  /** IMMED: return before the operation completes. */
  immed?: boolean;
  powerConditionModifier?: number;
  /** POWER CONDITION (0 = use START/LOEJ, 1 active, 2 idle, 3 standby, 7 LU control, 0xA/0xB force ...). */
  powerCondition?: number;
  noFlush?: boolean;
  /** LOEJ: load (start) or eject (stop) the medium. */
  loej?: boolean;
  start?: boolean;
}
export const startStopUnit = defineCommand<StartStopUnitParams>({
  name: 'START STOP UNIT', opcode: 0x1b, cdbLength: 6, direction: 'none',
  fields: [
    flag('immed', 1, 0),
    bitsAt('powerConditionModifier', 3, 0, 4),
    bitsAt('powerCondition', 4, 4, 4),
    flag('noFlush', 4, 2),
    flag('loej', 4, 1),
    flag('start', 4, 0),
  ],
  dataLength: none,
});

export interface PreventAllowParams extends ControlParam {
  /** PREVENT field: 0 allow, 1 prevent (2, 3 obsolete in SBC-4 but still legal on the wire). */
  prevent: number;
}
export const preventAllowMediumRemoval = defineCommand<PreventAllowParams>({
  name: 'PREVENT ALLOW MEDIUM REMOVAL', opcode: 0x1e, cdbLength: 6, direction: 'none',
  fields: [{ ...bitsAt<PreventAllowParams>('prevent', 4, 0, 2), always: true }],
  dataLength: none,
});

export interface SynchronizeCacheParams extends ControlParam {
  /** First LBA to flush; with blocks 0 means "to the end of the medium". */
  lba?: bigint;
  /** NUMBER OF LOGICAL BLOCKS; 0 = all from lba to the end. */
  blocks?: number;
  immed?: boolean;
  groupNumber?: number;
}
export const synchronizeCache10 = defineCommand<SynchronizeCacheParams>({
  name: 'SYNCHRONIZE CACHE(10)', opcode: 0x35, cdbLength: 10, direction: 'none',
  fields: [flag('immed', 1, 1), lbaField(2, 4), bitsAt('groupNumber', 6, 0, 6), countField('blocks', 7, 2)],
  dataLength: none,
});
export const synchronizeCache16 = defineCommand<SynchronizeCacheParams>({
  name: 'SYNCHRONIZE CACHE(16)', opcode: 0x91, cdbLength: 16, direction: 'none',
  fields: [flag('immed', 1, 1), lbaField(2, 8), countField('blocks', 10, 4), bitsAt('groupNumber', 14, 0, 6)],
  dataLength: none,
});

export interface ReportLunsParams extends ControlParam {
  /** SELECT REPORT: 0 all logical units, 1 well-known only, 2 all, 0x10.. administrative. */
  selectReport?: number;
  allocationLength: number;
}

/** One LUN of a REPORT LUNS answer. */
export interface ReportedLun {
  /** The 8-byte LUN as 16 hex digits. */
  hex: string;
  /** ADDRESS METHOD of the first level: 0 peripheral, 1 flat, 2 logical unit, 3 extended. */
  addressMethod: number;
  /** LUN number for peripheral (bus 0) and flat addressing; undefined for methods we do not flatten. */
  lun?: number;
  /** BUS IDENTIFIER of peripheral device addressing. */
  bus?: number;
}

/** A decoded REPORT LUNS answer. */
export interface ReportLunsData {
  /** LUN LIST LENGTH as the device reported it (bytes; 8 per LUN). */
  listLength: number;
  luns: ReportedLun[];
  /** The list is longer than what was transferred: re-issue with a larger allocation length. */
  truncated: boolean;
}

/** Decode REPORT LUNS data (SPC-5 6.33). */
export function decodeReportLuns(b: Uint8Array, length = b.length): ReportLunsData {
  const n = Math.min(length, b.length);
  if (n < 8) throw new ScsiDataError('SCSI_DATA_SHORT', `REPORT LUNS data needs 8 header bytes, got ${n}`);
  const listLength = ((b[0] ?? 0) * 0x1000000) + (((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0));
  const avail = Math.min(listLength, n - 8);
  const luns: ReportedLun[] = [];
  for (let off = 8; off + 8 <= 8 + avail; off += 8) luns.push(decodeLun(b.subarray(off, off + 8)));
  return { listLength, luns, truncated: listLength > n - 8 };
}

function decodeLun(l: Uint8Array): ReportedLun {
  const b0 = l[0] ?? 0;
  const b1 = l[1] ?? 0;
  const addressMethod = b0 >> 6;
  const lun: ReportedLun = { hex: Buffer.from(l.buffer, l.byteOffset, 8).toString('hex'), addressMethod };
  if (addressMethod === 0) {
    lun.bus = b0 & 0x3f;
    lun.lun = b1;
  } else if (addressMethod === 1) {
    lun.lun = ((b0 & 0x3f) << 8) | b1;
  }
  return lun;
}

/** Single-level LUNs: peripheral addressing for 0..255, flat addressing above (SAM-5 4.7). */
export function encodeReportLuns(luns: readonly number[]): Buffer {
  const out = Buffer.alloc(8 + 8 * luns.length);
  out.writeUInt32BE(8 * luns.length, 0);
  luns.forEach((lun, i) => {
    if (!Number.isInteger(lun) || lun < 0 || lun > 0x3fff) throw new UsbmsArgumentError(`LUN ${lun} not single-level`);
    out.writeUInt16BE(lun < 256 ? lun : 0x4000 | lun, 8 + 8 * i);
  });
  return out;
}

/** Re-encode decoded LUNs byte for byte (from their hex form), whatever their addressing method. */
function encodeReportLunsData(d: ReportLunsData): Buffer {
  const out = Buffer.alloc(8 + 8 * d.luns.length);
  out.writeUInt32BE(8 * d.luns.length, 0);
  d.luns.forEach((l, i) => out.write(l.hex.padStart(16, '0').slice(0, 16), 8 + 8 * i, 'hex'));
  return out;
}

export const reportLuns = defineCommand<ReportLunsParams, ReportLunsData>({
  name: 'REPORT LUNS', opcode: 0xa0, cdbLength: 12, direction: 'in',
  fields: [{ name: 'selectReport', at: 2, bytes: 1 }, countField('allocationLength', 6, 4)],
  dataLength: allocation,
  decodeData: decodeReportLuns,
  encodeData: encodeReportLunsData,
});

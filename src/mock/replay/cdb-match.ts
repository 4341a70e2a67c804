/**
 * Which recorded command answers the host's CBW. Tags never match across sessions and need not: a command is
 * the same when it asks the same question. Exact: same LUN, direction, transfer length and CDB. Same question:
 * same LUN, direction and opcode, the same LBA and block count for block commands, and for commands with an
 * allocation length (INQUIRY, MODE SENSE, REQUEST SENSE ...) the same CDB apart from that length, so a host
 * that asks for 96 bytes of INQUIRY where the recorded one asked for 36 still gets the recorded answer, cut or
 * short as a real device would give it.
 */
import { describeCdb } from '../../scsi/index.js';

export interface HostCbw {
  readonly tag: number;
  readonly dataLength: number;
  readonly direction: 'in' | 'out' | 'none';
  readonly lun: number;
  readonly cdb: Buffer;
}

/** CDB bytes holding the allocation length, per opcode (SPC-4/SBC-3), [from, to). */
const ALLOCATION_LENGTH: Record<number, readonly [number, number]> = {
  0x03: [4, 5], // REQUEST SENSE
  0x12: [3, 5], // INQUIRY
  0x1a: [4, 5], // MODE SENSE(6)
  0x23: [7, 9], // READ FORMAT CAPACITIES
  0x46: [7, 9], // GET CONFIGURATION
  0x4d: [7, 9], // LOG SENSE
  0x5a: [7, 9], // MODE SENSE(10)
  0x9e: [10, 14], // SERVICE ACTION IN(16): READ CAPACITY(16)
  0xa0: [6, 10], // REPORT LUNS
};

/** LBA and block count of block commands: [lba from, lba to, count from, count to]. */
const BLOCK_FIELDS: Record<number, readonly [number, number, number, number]> = {
  0x08: [1, 4, 4, 5], 0x0a: [1, 4, 4, 5], // READ(6), WRITE(6) (LBA is 21 bits; byte 1's top bits are 0)
  0x28: [2, 6, 7, 9], 0x2a: [2, 6, 7, 9], 0x2e: [2, 6, 7, 9], 0x2f: [2, 6, 7, 9], 0x35: [2, 6, 7, 9],
  0xa8: [2, 6, 6, 10], 0xaa: [2, 6, 6, 10], 0xaf: [2, 6, 6, 10],
  0x88: [2, 10, 10, 14], 0x8a: [2, 10, 10, 14], 0x8e: [2, 10, 10, 14], 0x8f: [2, 10, 10, 14], 0x91: [2, 10, 10, 14],
};

export function hasAllocationLength(cdb: Buffer): boolean { return (cdb[0] ?? -1) in ALLOCATION_LENGTH; }

export interface Askable { readonly lun: number; readonly direction: string; readonly dataLength: number; readonly cdb: Buffer }

export function exactMatch(a: Askable, b: Askable): boolean {
  return a.lun === b.lun && a.direction === b.direction && a.dataLength === b.dataLength && a.cdb.equals(b.cdb);
}

export function sameQuestion(a: Askable, b: Askable): boolean {
  const op = a.cdb[0];
  if (a.lun !== b.lun || op !== b.cdb[0] || op === undefined) return false;
  const blocks = BLOCK_FIELDS[op];
  if (blocks !== undefined) {
    const [l0, l1, c0, c1] = blocks;
    return a.direction === b.direction && a.dataLength === b.dataLength
      && a.cdb.subarray(l0, l1).equals(b.cdb.subarray(l0, l1)) && a.cdb.subarray(c0, c1).equals(b.cdb.subarray(c0, c1));
  }
  const alloc = ALLOCATION_LENGTH[op];
  if (alloc === undefined || a.cdb.length !== b.cdb.length) return false;
  if (a.direction !== b.direction && a.dataLength !== 0 && b.dataLength !== 0) return false;
  // Equal but for the allocation length and the CONTROL byte (the last one).
  const last = a.cdb.length - 1;
  for (let i = 0; i < last; i++) if ((i < alloc[0] || i >= alloc[1]) && a.cdb[i] !== b.cdb[i]) return false;
  return true;
}

/** "LUN 0 READ(10) lba=0 blocks=8 [28 00 ...], 4096 bytes in" */
export function describeAsk(a: Askable): string {
  const hex = [...a.cdb].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const data = a.direction === 'none' || a.dataLength === 0 ? 'no data' : `${a.dataLength} bytes ${a.direction}`;
  return `LUN ${a.lun} ${describeCdb(a.cdb)} [${hex}], ${data}`;
}

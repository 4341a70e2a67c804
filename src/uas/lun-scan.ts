/**
 * How many LUNs a UAS device has: UAS has no Get Max LUN, so REPORT LUNS (SPC-4 §6.33) on LUN 0 asks, as Linux's
 * SCSI scan does for uas. A UNIT ATTENTION (a power-on reset is reported on the first command) is retried. A device
 * that will not answer REPORT LUNS is scanned the old way, as Linux's sequential scan does: INQUIRY on LUN 1, 2 ...
 * until one is refused (RESPONSE INCORRECT LUN, CHECK CONDITION) or says no unit is there (peripheral qualifier).
 */
import type { TransportCommand } from '../transport/index.js';
import { logger } from '../util/log.js';
import type { UasTransport } from './transport.js';

const log = logger('uas', 'luns');

const REPORT_LUNS = 0xa0;
const INQUIRY = 0x12;
const STATUS_GOOD = 0x00;
/** LUNs the sequential scan tries at most (Linux's default max_luns for a scan without REPORT LUNS is 8). */
const SEQUENTIAL_SCAN_LUNS = 8;
/** LUNs usbms serves on one interface (the HBA keeps a queue and capabilities per LUN). */
export const MAX_UAS_LUNS = 32;
const TRIES = 3;

/** The highest LUN in a REPORT LUNS parameter list of `n` bytes (single-level or flat addressing); -1 if none. */
export function highestReportedLun(data: Buffer, n: number): number {
  if (n < 8) return -1;
  const listBytes = data.readUInt32BE(0);
  const end = Math.min(n, 8 + listBytes);
  let max = -1;
  for (let at = 8; at + 8 <= end; at += 8) {
    const b0 = data[at] ?? 0;
    const lun = b0 === 0 ? data[at + 1] ?? 0 : (b0 & 0xc0) === 0x40 ? ((b0 & 0x3f) << 8) | (data[at + 1] ?? 0) : -1;
    if (lun > max) max = lun;
  }
  return max;
}

/** Ask the device for its LUNs and tell the transport; never rejects for a device that will not say. */
export async function scanLuns(tr: UasTransport): Promise<number> {
  const slot = tr.allocSlot(1);
  const data = Buffer.alloc(8 + 8 * MAX_UAS_LUNS);
  const cdb = Buffer.alloc(12);
  cdb[0] = REPORT_LUNS;
  cdb.writeUInt32BE(data.length, 6);
  const command: TransportCommand = { lun: 0, cdb, cdbLength: 12, direction: 'in', segments: [data], segmentCount: 1,
    dataTimeoutMs: 0, sense: Buffer.alloc(32) };
  let count: number | undefined;
  try {
    for (let i = 0; i < TRIES && count === undefined; i++) {
      const r = await tr.execute(slot, command);
      if (r.status !== STATUS_GOOD) { log('REPORT LUNS: status 0x%s (try %d)', r.status.toString(16), i + 1); continue; }
      const max = highestReportedLun(data, r.transferred);
      if (max >= 0) count = Math.min(MAX_UAS_LUNS, max + 1);
    }
  } catch (e) {
    log('REPORT LUNS failed (%s)', (e as Error).message);
    if ((e as { kind?: string }).kind === 'device-gone') throw e;
  }
  try {
    count ??= await sequentialScan(tr, slot, command, data);
  } finally {
    tr.freeSlot(slot);
  }
  tr.setLunCount(count);
  log('%d LUN(s)', count);
  return count;
}

/** INQUIRY on LUN 1, 2 ... until a LUN is refused or empty; the LUN count (at least 1). */
async function sequentialScan(tr: UasTransport, slot: ReturnType<UasTransport['allocSlot']>, command: TransportCommand,
  data: Buffer): Promise<number> {
  log('no REPORT LUNS answer: INQUIRY on LUN 1.. (at most %d)', SEQUENTIAL_SCAN_LUNS);
  tr.setLunCount(SEQUENTIAL_SCAN_LUNS);
  command.cdb.fill(0);
  command.cdb[0] = INQUIRY;
  command.cdb[4] = 36;
  command.cdbLength = 6;
  command.segments = [data.subarray(0, 36)];
  let count = 1;
  for (let lun = 1; lun < SEQUENTIAL_SCAN_LUNS; lun++) {
    command.lun = lun;
    try {
      const r = await tr.execute(slot, command);
      // Peripheral qualifier 011b: no logical unit can be here; 001b: one could, but is not connected.
      if (r.status !== STATUS_GOOD || r.transferred < 1 || ((data[0] ?? 0) & 0xe0) !== 0) break;
    } catch (e) {
      if ((e as { kind?: string }).kind === 'device-gone') throw e;
      break;
    }
    count = lun + 1;
  }
  return count;
}

/**
 * The data phase of one command: every segment becomes one bulk transfer, all submitted together (several in
 * flight), and the phase ends at the first short, stalled or failed transfer. The CSW is NOT queued here: it is
 * read by the caller only after this settles (QEMU's xHCI loses a CSW read queued behind a pending data read).
 */
import { isUsbError } from '../usb/errors.js';
import type { Pipe } from '../usb/port.js';
import type { BotRequest } from './api.js';
import type { TransportSlot } from './slot.js';

export interface DataOutcome {
  /** Bytes moved, counted by the host (never taken from the device). */
  transferred: number;
  /** The pipe answered STALL (still halted: the caller clears it). */
  stalled: boolean;
  /** Any other failure: timeout, overflow, cancel, disconnect, I/O. undefined when none. */
  error: unknown;
  /**
   * After a short non-final IN segment: what the next, still queued transfer received right after the short
   * packet (the device's CSW, when it sent one already). `lateBytes` = 0 when nothing arrived there.
   */
  late: Buffer | undefined;
  lateBytes: number;
}

function movedBefore(e: unknown): number {
  return isUsbError(e) ? e.actualLength : 0;
}

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Run the data phase of `req` on `slot`. `sequential` keeps one transfer in flight at a time, so nothing is ever
 * queued beyond the end of the data (NO_CSW_PIPELINING devices). Never rejects: failures are in the outcome.
 */
export async function runDataPhase(slot: TransportSlot, req: BotRequest, pipe: Pipe, timeoutMs: number,
  sequential: boolean): Promise<DataOutcome> {
  const n = req.segmentCount;
  const out: DataOutcome = { transferred: 0, stalled: false, error: undefined, late: undefined, lateBytes: 0 };
  const deadline = Date.now() + timeoutMs;
  if (!sequential) for (let i = 0; i < n; i++) slot.submit(pipe, i, seg(req, i), timeoutMs);

  let end = n - 1; // index of the transfer that ended the phase
  let short = false;
  for (let i = 0; i < n; i++) {
    if (sequential) {
      // One in flight: the phase deadline is shared, each transfer gets what is left of it.
      slot.submit(pipe, i, seg(req, i), timeoutMs === 0 ? 0 : Math.max(1, deadline - Date.now()));
    }
    await slot.waits[i];
    const st = slot.states[i];
    if (st === undefined) break;
    if (st.error !== undefined) {
      out.transferred += movedBefore(st.error);
      if (isUsbError(st.error, 'STALL')) out.stalled = true;
      else out.error = st.error;
      end = i;
      break;
    }
    out.transferred += st.actual;
    if (st.actual < seg(req, i).length) {
      short = i < n - 1;
      end = i;
      break;
    }
  }
  if (sequential || end >= n - 1) return out;

  // The phase ended early with transfers still queued. After a short packet the device sends its CSW next, and
  // it lands in the next queued transfer: give an already-arrived CSW one macrotask to complete there.
  if (short) await nextMacrotask();
  for (let j = n - 1; j > end; j--) slot.transfers(pipe)[j]?.cancel();
  for (let j = end + 1; j < n; j++) await slot.waits[j];
  for (let j = end + 1; j < n; j++) {
    const st = slot.states[j];
    if (st === undefined) continue;
    if (isUsbError(st.error, 'NO_DEVICE')) out.error = st.error;
    else if (short && st.error === undefined && out.late === undefined) {
      out.late = seg(req, j);
      out.lateBytes = st.actual;
    }
  }
  return out;
}

function seg(req: BotRequest, i: number): Buffer {
  const b = req.segments[i];
  if (b === undefined) throw new RangeError(`segment ${i} missing (segmentCount ${req.segmentCount})`);
  return b;
}

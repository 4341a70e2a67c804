/**
 * The data phase of one command as a queue of segments: every segment is one bulk transfer with its
 * {@link Completion}, all submitted together (several in flight), and the phase ends at the first short, stalled
 * or failed one. Submitting and awaiting are separate steps, so the engine can put the data on the wire with the
 * CBW (EARLY data) and queue the CSW read behind it. `sequential` keeps one transfer in flight at a time, so that
 * nothing is ever queued beyond the end of the data (NO_CSW_PIPELINING: QEMU's xHCI loses such a read).
 */
import { isUsbError } from '../usb/errors.js';
import type { Pipe } from '../usb/port.js';
import type { TransportCommand } from '../transport/index.js';
import type { BotSlot } from './slot.js';
import { UsbmsInternalError } from '../util/errors.js';

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
  /** The phase ended before the last segment (short, stall or error): transfers queued after it were cancelled. */
  endedEarly: boolean;
}

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Put the data phase on the wire: every segment, or only the first when `sequential`. */
export function submitData(slot: BotSlot, req: TransportCommand, pipe: Pipe, sequential: boolean, timeoutMs = 0): void {
  const n = sequential ? Math.min(1, req.segmentCount) : req.segmentCount;
  for (let i = 0; i < n; i++) slot.submit(pipe, i, seg(req, i), timeoutMs);
}

/**
 * Await the data phase submitted by {@link submitData} (in sequential mode submitting the rest one by one).
 * Never rejects: failures are in the outcome, written into `out` (reused by the caller).
 */
export async function awaitData(slot: BotSlot, req: TransportCommand, pipe: Pipe, sequential: boolean,
  out: DataOutcome, timeoutMs = 0): Promise<DataOutcome> {
  const n = req.segmentCount;
  out.transferred = 0;
  out.stalled = false;
  out.error = undefined;
  out.late = undefined;
  out.lateBytes = 0;
  out.endedEarly = false;
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : 0;
  let end = n - 1; // index of the transfer that ended the phase
  let short = false;
  for (let i = 0; i < n; i++) {
    if (sequential && i > 0) slot.submit(pipe, i, seg(req, i), deadline === 0 ? 0 : Math.max(1, deadline - Date.now()));
    const c = slot.completion(pipe, i);
    await c.wait;
    if (c.error !== undefined) {
      out.transferred += c.actual;
      if (isUsbError(c.error, 'STALL')) out.stalled = true;
      else out.error = c.error;
      end = i;
      break;
    }
    out.transferred += c.actual;
    if (c.actual < c.length) {
      short = i < n - 1;
      end = i;
      break;
    }
  }
  out.endedEarly = end < n - 1;
  if (sequential || !out.endedEarly) return out;

  // The phase ended early with transfers still queued. After a short packet the device sends its CSW next, and
  // it lands in the next queued transfer: give an already-arrived CSW one macrotask to complete there.
  if (short) await nextMacrotask();
  for (let j = n - 1; j > end; j--) slot.completion(pipe, j).cancel();
  for (let j = end + 1; j < n; j++) await slot.completion(pipe, j).wait;
  for (let j = end + 1; j < n; j++) {
    const c = slot.completion(pipe, j);
    if (isUsbError(c.error, 'NO_DEVICE')) out.error = c.error;
    else if (short && c.error === undefined && out.late === undefined) {
      out.late = seg(req, j);
      out.lateBytes = c.actual;
    }
  }
  return out;
}

export function newDataOutcome(): DataOutcome {
  return { transferred: 0, stalled: false, error: undefined, late: undefined, lateBytes: 0, endedEarly: false };
}

/** Submit and await in one step, with a per-transfer timeout (the engine before it owned one deadline). */
export async function runDataPhase(slot: BotSlot, req: TransportCommand, pipe: Pipe, timeoutMs: number,
  sequential: boolean): Promise<DataOutcome> {
  submitData(slot, req, pipe, sequential, timeoutMs);
  return awaitData(slot, req, pipe, sequential, newDataOutcome(), timeoutMs);
}

function seg(req: TransportCommand, i: number): Buffer {
  const b = req.segments[i];
  if (b === undefined) throw new UsbmsInternalError(`segment ${i} missing (segmentCount ${req.segmentCount}), after validation`);
  return b;
}

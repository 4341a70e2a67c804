/**
 * A transfer's outcome as data (nusb's `Completion`): `{ actual, error }`, where a short read is just a smaller
 * `actual` and a stall, a cancel or a disconnect is an `error` beside the bytes that did move - never a rejection
 * the engine has to catch. One Completion belongs to one reusable transfer for the life of the engine: its two
 * settle handlers are made once, so submitting allocates no closure (only the port's own promise and its then).
 */
import type { UsbTransfer } from '../usb/port.js';

const SETTLED: Promise<void> = Promise.resolve();

export class Completion {
  /** Bytes moved (on error: what moved before it, from the UsbError's actualLength). */
  actual = 0;
  /** undefined = completed (possibly short). */
  error: unknown = undefined;
  settled = true;
  /** Resolves (never rejects) once the transfer has settled; the outcome is then in actual/error. */
  wait: Promise<void> = SETTLED;
  /** Length of the buffer submitted, to tell a short transfer from a full one. */
  length = 0;

  constructor(readonly transfer: UsbTransfer) {}

  private readonly onDone = (n: number): void => {
    this.actual = n;
    this.settled = true;
  };

  private readonly onError = (e: unknown): void => {
    const moved = typeof e === 'object' && e !== null && 'actualLength' in e ? Number(e.actualLength) : 0;
    this.actual = Number.isFinite(moved) ? moved : 0;
    this.error = e;
    this.settled = true;
  };

  /** Submit `buffer` on this completion's transfer (timeoutMs 0: the engine's command deadline covers it). */
  submit(buffer: Buffer, timeoutMs = 0): Promise<void> {
    this.actual = 0;
    this.error = undefined;
    this.settled = false;
    this.length = buffer.length;
    this.wait = this.transfer.submit(buffer, timeoutMs).then(this.onDone, this.onError);
    return this.wait;
  }

  /** Settle at once with `error`, without going on the wire (a command aborted before this segment). */
  refuse(error: unknown): void {
    this.actual = 0;
    this.error = error;
    this.settled = true;
    this.wait = SETTLED;
  }

  /** Cancel if in flight (its wait then settles with the port's cancel error). */
  cancel(): void {
    if (!this.settled) this.transfer.cancel();
  }

  get short(): boolean { return this.error === undefined && this.actual < this.length; }
}

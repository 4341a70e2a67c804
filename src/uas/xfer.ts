/**
 * One reusable transfer of the UAS transport with its outcome as data (`actual`, `error`) and one completion
 * callback made once: submitting allocates nothing of ours (only the port's own promise). `seq` ties a
 * completion to the use it belongs to, so a late completion of an abandoned use is recognised and ignored.
 */
import type { UsbTransfer } from '../usb/port.js';

export class Xfer {
  actual = 0;
  error: unknown = undefined;
  busy = false;
  /** Length of the buffer submitted, to tell a short transfer from a full one. */
  length = 0;
  /** The buffer submitted last. */
  buffer: Buffer | undefined;
  /** Which use of the transfer this completion belongs to (set by the owner at submit). */
  seq = 0;
  /** Resolves once the submission in flight (if any) has settled. */
  settled: Promise<void> = Promise.resolve();

  constructor(readonly transfer: UsbTransfer, private readonly onDone: (x: Xfer) => void) {}

  private readonly ok = (n: number): void => {
    this.actual = n;
    this.busy = false;
    this.onDone(this);
  };

  private readonly failed = (e: unknown): void => {
    const moved = typeof e === 'object' && e !== null && 'actualLength' in e ? Number(e.actualLength) : 0;
    this.actual = Number.isFinite(moved) ? moved : 0;
    this.error = e;
    this.busy = false;
    this.onDone(this);
  };

  submit(buffer: Buffer, seq: number, timeoutMs = 0): void {
    this.actual = 0;
    this.error = undefined;
    this.length = buffer.length;
    this.buffer = buffer;
    this.seq = seq;
    this.busy = true;
    this.settled = this.transfer.submit(buffer, timeoutMs).then(this.ok, this.failed);
  }

  cancel(): void {
    if (this.busy) this.transfer.cancel();
  }

  get short(): boolean { return this.error === undefined && this.actual < this.length; }
}

/**
 * Per-packet resources (allocated once by the HBA's tran_pkt_constructor through allocSlot): one reusable bulk
 * transfer per data segment and per direction, and the bookkeeping of their completions, so that a command
 * allocates no buffers and no transfers.
 */
import { UsbCancelledError } from '../usb/errors.js';
import type { Pipe, UsbPort, UsbTransfer } from '../usb/port.js';
import type { BotSlot } from './api.js';

/** Completion record of one submitted segment (preallocated, overwritten each command). */
export interface SegmentState {
  settled: boolean;
  actual: number;
  error: unknown;
}

export class TransportSlot implements BotSlot {
  freed = false;
  /** Set by cancelAll (abort/close): segments submitted afterwards fail at once instead of going on the wire. */
  private cancelled = false;
  readonly states: SegmentState[];
  /** Promises that never reject: they resolve when segment i settled (result in states[i]). */
  readonly waits: Promise<void>[] = [];
  private inTransfers: UsbTransfer[] | undefined;
  private outTransfers: UsbTransfer[] | undefined;

  constructor(readonly owner: object, private readonly port: UsbPort, readonly maxSegments: number) {
    this.states = Array.from({ length: maxSegments }, () => ({ settled: false, actual: 0, error: undefined }));
  }

  /** The transfers for `pipe`, made on first use (a slot often only ever reads or only ever writes). */
  transfers(pipe: Pipe): UsbTransfer[] {
    if (pipe === 'in') return (this.inTransfers ??= this.make('in'));
    return (this.outTransfers ??= this.make('out'));
  }

  private make(pipe: Pipe): UsbTransfer[] {
    return Array.from({ length: this.maxSegments }, () => this.port.createTransfer(pipe));
  }

  /** Submit segment i; its outcome lands in states[i], and waits[i] resolves when it has settled. */
  submit(pipe: Pipe, i: number, buffer: Buffer, timeoutMs: number): void {
    const st = this.states[i];
    const t = this.transfers(pipe)[i];
    if (st === undefined || t === undefined) throw new RangeError(`segment ${i} beyond slot size ${this.maxSegments}`);
    st.settled = false;
    st.actual = 0;
    st.error = undefined;
    if (this.cancelled) {
      st.error = new UsbCancelledError('command aborted before this segment was submitted', { pipe });
      st.settled = true;
      this.waits[i] = Promise.resolve();
      return;
    }
    this.waits[i] = t.submit(buffer, timeoutMs).then(
      (n) => { st.actual = n; st.settled = true; },
      (e: unknown) => { st.error = e; st.settled = true; },
    );
  }

  /** A new command starts on this slot. */
  begin(): void { this.cancelled = false; }

  /** Cancel every transfer of this slot that is still in flight, and refuse further submits of this command. */
  cancelAll(): void {
    this.cancelled = true;
    for (const t of this.inTransfers ?? []) t.cancel();
    for (const t of this.outTransfers ?? []) t.cancel();
  }
}

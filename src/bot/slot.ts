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
  /** Made on first use of each index: a slot sized for 257 cookies usually moves its data in one or two. */
  private readonly inTransfers: UsbTransfer[] = [];
  private readonly outTransfers: UsbTransfer[] = [];

  constructor(readonly owner: object, private readonly port: UsbPort, readonly maxSegments: number) {
    this.states = Array.from({ length: maxSegments }, () => ({ settled: false, actual: 0, error: undefined }));
  }

  /** The transfers of `pipe` made so far (index = segment). */
  transfers(pipe: Pipe): readonly UsbTransfer[] {
    return pipe === 'in' ? this.inTransfers : this.outTransfers;
  }

  /** Segment i's transfer on `pipe`, made the first time it is needed and reused by every later command. */
  private transfer(pipe: Pipe, i: number): UsbTransfer | undefined {
    if (i < 0 || i >= this.maxSegments) return undefined;
    const list = pipe === 'in' ? this.inTransfers : this.outTransfers;
    while (list.length <= i) list.push(this.port.createTransfer(pipe));
    return list[i];
  }

  /** Submit segment i; its outcome lands in states[i], and waits[i] resolves when it has settled. */
  submit(pipe: Pipe, i: number, buffer: Buffer, timeoutMs: number): void {
    const st = this.states[i];
    const t = this.transfer(pipe, i);
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
    for (const t of this.inTransfers) t.cancel();
    for (const t of this.outTransfers) t.cancel();
  }
}

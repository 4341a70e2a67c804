/**
 * The status pipe at high speed: one pool of reusable IU reads, as many posted as IUs are expected (one per
 * command or task management function waiting for its final IU; a READ/WRITE READY uses one up and another is
 * posted, as Linux's uas does). Reads complete in the order they were posted, each with whatever IU the device
 * sent next; the IU's tag says whose it is. A STALL halts them all: the halt is cleared once and they are posted
 * again.
 */
import { isUsbError } from '../usb/errors.js';
import type { UsbPort } from '../usb/port.js';
import { logger } from '../util/log.js';
import { Xfer } from './xfer.js';

const log = logger('uas', 'status');

/** What the status pipe reports to the transport. */
export interface StatusSink {
  /** One IU of `n` bytes in `buf` (valid until this call returns). */
  iu(buf: Buffer, n: number): void;
  /** A read failed with something other than a stall or a cancel (device gone, I/O error). */
  failed(error: unknown): void;
  /** The halt could not be cleared: the pipe is unusable until a reset. */
  wedged(error: unknown): void;
}

/** An IU read big enough for a SENSE IU with 252 bytes of sense, and a whole high-speed packet. */
const READ_SIZE = 512;

export class StatusPipe {
  private readonly free: Xfer[] = [];
  private readonly all: Xfer[] = [];
  private expected = 0;
  private posted = 0;
  private clearing = false;
  private stopped = false;
  /** Bumped by stop(): expectations registered before it are gone and must not be taken back after it. */
  generation = 0;

  constructor(private readonly port: UsbPort, size: number, private readonly sink: StatusSink) {
    for (let i = 0; i < size; i++) {
      const x = new Xfer(port.createTransfer('status'), this.onRead);
      x.buffer = Buffer.alloc(READ_SIZE);
      this.all.push(x);
      this.free.push(x);
    }
  }

  /** IUs expected now (for logs and tests). */
  get expecting(): number { return this.expected; }

  /** One more (+1) or one fewer (-1) IU expected; reads are posted to match. */
  expect(delta: number): void {
    this.expected = Math.max(0, this.expected + delta);
    this.fill();
  }

  /** Forget every expectation and take every read off the wire (a reset or close); resolves once they settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.expected = 0;
    this.generation++;
    for (const x of this.all) x.cancel();
    await Promise.all(this.all.map((x) => x.settled));
  }

  /** Take IUs again after stop() (the device was reset). */
  restart(): void {
    this.stopped = false;
    this.clearing = false;
    this.fill();
  }

  private fill(): void {
    if (this.stopped || this.clearing) return;
    while (this.posted < this.expected) {
      const x = this.free.pop();
      if (x === undefined) return;
      this.posted++;
      const buf = x.buffer ?? Buffer.alloc(READ_SIZE);
      x.submit(buf, 0);
    }
  }

  private readonly onRead = (x: Xfer): void => {
    this.posted--;
    this.free.push(x);
    const e = x.error;
    if (e === undefined) {
      this.sink.iu(x.buffer ?? Buffer.alloc(0), x.actual);
      this.fill();
      return;
    }
    if (this.stopped || isUsbError(e, 'CANCELLED')) return;
    if (isUsbError(e, 'STALL')) {
      if (this.clearing) return;
      this.clearing = true;
      log('status pipe stalled: clearing the halt');
      void this.clear();
      return;
    }
    this.sink.failed(e);
  };

  private async clear(): Promise<void> {
    // Every read still posted stalls too: wait until they are back, then clear once and post again.
    await Promise.all(this.all.map((x) => x.settled));
    try {
      await this.port.clearHalt('status');
    } catch (e) {
      this.sink.wedged(e);
      return;
    }
    this.clearing = false;
    this.fill();
  }
}

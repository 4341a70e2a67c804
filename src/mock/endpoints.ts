/**
 * The bulk endpoints of the software device, modelled at the packet level.
 *
 * Host side: transfers queue on an endpoint in submission order. Device side: the device sends a message (IN)
 * or takes packets (OUT) with an awaitable call. IN data is cut into max-packet-size packets; a transfer
 * completes when its buffer is full or a short packet lands in it, and data a transfer cannot take waits for
 * the next one (so a device that stops early without stalling puts its CSW into the host's data buffer, as
 * real hardware does). A packet bigger than the room left is babble: UsbOverflowError.
 */
import { UsbOverflowError, UsbStallError, type UsbError } from '../usb/errors.js';
import type { Pipe } from '../usb/port.js';
import { UsbmsError, UsbmsInternalError } from '../util/errors.js';

/** One host transfer as the device sees it. */
export interface HostXfer {
  readonly buffer: Buffer;
  /** Bytes moved so far. */
  actual: number;
  /** Called exactly once, when the endpoint is done with it (error undefined = success). */
  finish(error: UsbError | undefined): void;
}

/**
 * Thrown into the device's own await points when a reset or disconnect ends what it was doing (the device side of
 * a cancelled transfer: code USB_CANCELLED; it never reaches the host).
 */
export class DeviceAbort extends UsbmsError {
  override readonly name = 'DeviceAbort';
  constructor(readonly why: string) { super('USB_CANCELLED', `device activity aborted: ${why}`); }
}

interface Waiter<T> { resolve(v: T): void; reject(e: Error): void }

abstract class BulkEndpoint {
  protected readonly queue: HostXfer[] = [];
  private halt = false;
  private clearWaiters: Waiter<void>[] = [];

  constructor(readonly pipe: Pipe, readonly maxPacketSize: number) {}

  get halted(): boolean { return this.halt; }

  /** Host submits. A halted endpoint answers STALL to everything. */
  submit(x: HostXfer): void {
    if (this.halt) {
      x.finish(new UsbStallError(`bulk-${this.pipe} endpoint halted`, { pipe: this.pipe, actualLength: 0 }));
      return;
    }
    this.queue.push(x);
    this.pump();
  }

  /** Host gives up on a transfer (timeout, cancel). Returns false if the endpoint had already finished it. */
  withdraw(x: HostXfer): boolean {
    const i = this.queue.indexOf(x);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  /** Device halts the endpoint: everything queued stalls, with the bytes it already moved. */
  stall(): void {
    this.halt = true;
    this.failAll((x) => new UsbStallError(`bulk-${this.pipe} endpoint stalled`, { pipe: this.pipe, actualLength: x.actual }));
  }

  /** CLEAR_FEATURE(ENDPOINT_HALT) took effect. */
  clearHalt(): void {
    this.halt = false;
    const waiters = this.clearWaiters;
    this.clearWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** Device waits for the host to clear the halt. */
  untilCleared(): Promise<void> {
    if (!this.halt) return Promise.resolve();
    return new Promise((resolve, reject) => this.clearWaiters.push({ resolve, reject }));
  }

  failAll(makeError: (x: HostXfer) => UsbError): void {
    const all = this.queue.splice(0, this.queue.length);
    for (const x of all) x.finish(makeError(x));
  }

  /** Reset, disconnect: whatever the device was waiting for here will not happen. */
  abortDevice(err: DeviceAbort): void {
    const waiters = this.clearWaiters;
    this.clearWaiters = [];
    for (const w of waiters) w.reject(err);
    this.abortDeviceSide(err);
  }

  protected finishHead(error: UsbError | undefined): void {
    const head = this.queue.shift();
    head?.finish(error);
  }

  protected abstract abortDeviceSide(err: DeviceAbort): void;
  protected abstract pump(): void;
}

interface OutgoingMessage extends Waiter<void> { data: Buffer; pos: number }

/** Bulk-IN: device to host. */
export class InEndpoint extends BulkEndpoint {
  private message: OutgoingMessage | undefined;

  constructor(maxPacketSize: number, private readonly onMoved: (bytes: number) => void, pipe: Pipe = 'in') {
    super(pipe, maxPacketSize);
  }

  /** Device sends `data` (one message: a run of full packets ending, if not a multiple, in a short one). */
  send(data: Buffer): Promise<void> {
    if (data.length === 0) return Promise.resolve();
    if (this.message !== undefined) return Promise.reject(new UsbmsInternalError('bulk-in: device is already sending'));
    return new Promise((resolve, reject) => {
      this.message = { data, pos: 0, resolve, reject };
      this.pump();
    });
  }

  /**
   * The device's data phase is over: a host transfer it left partly filled completes now, short (the short packet
   * or zero-length packet that ends a data phase whose length is a multiple of the packet size). A transfer the
   * device has put nothing into stays queued.
   */
  endTransfer(): void {
    const head = this.queue[0];
    if (this.message === undefined && head !== undefined && head.actual > 0 && head.actual < head.buffer.length) {
      this.finishHead(undefined);
    }
  }

  protected override abortDeviceSide(err: DeviceAbort): void {
    const m = this.message;
    this.message = undefined;
    m?.reject(err);
  }

  protected override pump(): void {
    const mps = this.maxPacketSize;
    for (;;) {
      const m = this.message;
      const head = this.queue[0];
      if (m === undefined || head === undefined) return;
      const room = head.buffer.length - head.actual;
      const remaining = m.data.length - m.pos;
      if (room === 0) { this.finishHead(undefined); continue; }
      const packet = Math.min(mps, remaining);
      if (packet > room) {
        // Babble: the packet does not fit. The bytes that fit land, the rest of the packet is lost.
        m.data.copy(head.buffer, head.actual, m.pos, m.pos + room);
        head.actual += room;
        m.pos += packet;
        this.onMoved(room);
        this.finishHead(new UsbOverflowError(undefined, { pipe: this.pipe, actualLength: head.actual }));
      } else {
        const take = remaining <= room ? remaining : Math.floor(room / mps) * mps;
        m.data.copy(head.buffer, head.actual, m.pos, m.pos + take);
        head.actual += take;
        m.pos += take;
        this.onMoved(take);
        const endedShort = m.pos === m.data.length && take % mps !== 0;
        if (endedShort || head.actual === head.buffer.length) this.finishHead(undefined);
      }
      if (m.pos >= m.data.length) {
        this.message = undefined;
        m.resolve();
      }
    }
  }
}

interface Taker extends Waiter<Buffer> { maxBytes: number; hold: boolean }

/** Bulk-OUT: host to device. */
export class OutEndpoint extends BulkEndpoint {
  private taker: Taker | undefined;
  private held: { xfer: HostXfer; bytes: number } | undefined;
  /** Whether the packets returned by the last take() ended in a short packet (end of the host's transfer). */
  lastShort = false;

  constructor(maxPacketSize: number, private readonly onMoved: (bytes: number) => void, pipe: Pipe = 'out') {
    super(pipe, maxPacketSize);
  }

  /**
   * Device accepts whole packets, at most enough to cover `maxBytes`, from the host's current transfer. Resolves
   * with a view of the host's own buffer (valid until the device next yields to the event loop). With `hold`,
   * the packets are only looked at: the device then either accepts them with commitHeld() or refuses them with
   * stall() (the host's transfer then fails with nothing moved), which is how a CBW can be stalled.
   */
  take(maxBytes: number, hold = false): Promise<Buffer> {
    if (this.taker !== undefined) return Promise.reject(new UsbmsInternalError('bulk-out: device is already receiving'));
    return new Promise((resolve, reject) => {
      this.taker = { maxBytes, hold, resolve, reject };
      this.pump();
    });
  }

  commitHeld(): void {
    const h = this.held;
    this.held = undefined;
    if (h === undefined || this.queue[0] !== h.xfer) return;
    this.advance(h.xfer, h.bytes);
  }

  override stall(): void {
    this.held = undefined;
    super.stall();
  }

  protected override abortDeviceSide(err: DeviceAbort): void {
    this.held = undefined;
    const t = this.taker;
    this.taker = undefined;
    t?.reject(err);
  }

  protected override pump(): void {
    const t = this.taker;
    const head = this.queue[0];
    if (t === undefined || head === undefined) return;
    const mps = this.maxPacketSize;
    const remaining = head.buffer.length - head.actual;
    const take = Math.min(remaining, Math.max(1, Math.ceil(t.maxBytes / mps)) * mps);
    const view = head.buffer.subarray(head.actual, head.actual + take);
    this.taker = undefined;
    if (t.hold) this.held = { xfer: head, bytes: take };
    else this.advance(head, take);
    t.resolve(view);
  }

  private advance(head: HostXfer, take: number): void {
    head.actual += take;
    this.onMoved(take);
    // A zero-length transfer is a zero-length packet: short by definition.
    this.lastShort = take % this.maxPacketSize !== 0 || take === 0;
    if (head.actual === head.buffer.length) this.finishHead(undefined);
  }
}

/**
 * MockUsbPort: the `UsbPort` contract (src/usb/port.ts) over the software device, so the BOT engine runs
 * against it exactly as against libusb: reusable zero-copy transfers, asynchronous completion, timeouts,
 * cancel, close with transfers in flight, surprise removal.
 */
import {
  UsbCancelledError, UsbClosedError, UsbDeviceGoneError, UsbError, UsbTimeoutError,
} from '../usb/errors.js';
import type { ControlSetup, Pipe, PortInfo, UsbPort, UsbTransfer } from '../usb/port.js';
import type { HostXfer } from './endpoints.js';
import { asError, UsbmsArgumentError } from '../util/errors.js';

/** What a port may do to its device (internal to src/mock). */
export interface DeviceWire {
  connected(): boolean;
  submit(pipe: Pipe, x: HostXfer): void;
  withdraw(pipe: Pipe, x: HostXfer): boolean;
  control(setup: ControlSetup, data: Buffer | undefined, length: number): Buffer | undefined;
  clearHalt(pipe: Pipe): void;
  portReset(): void;
  released(port: MockUsbPort): void;
  /** Run `fn` when a completion is due (setImmediate, or after the device's latency). */
  schedule(fn: () => void): void;
}

class MockTransfer implements UsbTransfer {
  private current: HostXfer | undefined;
  private settled: Promise<void> = Promise.resolve();

  constructor(readonly pipe: Pipe, private readonly port: MockUsbPort, private readonly wire: DeviceWire) {}

  get inFlight(): boolean { return this.current !== undefined; }

  /** Resolves when the submit in progress (if any) has settled. */
  whenSettled(): Promise<void> { return this.settled; }

  submit(buffer: Buffer, timeoutMs: number): Promise<number> {
    const refused = this.port.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (this.current !== undefined) return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe} transfer is already in flight`));
    if (!Buffer.isBuffer(buffer)) return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe} submit needs a Buffer`, { argument: 'buffer' }));
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe}: bad timeout ${timeoutMs}`, { argument: 'timeoutMs' }));
    }
    let markSettled!: () => void;
    this.settled = new Promise((r) => { markSettled = r; });
    return new Promise<number>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const xfer: HostXfer = {
        buffer,
        actual: 0,
        finish: (error) => {
          if (finished) return;
          finished = true;
          if (timer !== undefined) clearTimeout(timer);
          this.wire.schedule(() => {
            this.current = undefined;
            markSettled();
            if (error === undefined) resolve(xfer.actual);
            else reject(error);
          });
        },
      };
      this.current = xfer;
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          // Cancel first (take it off the endpoint), then report: the buffer is free when the caller sees this.
          if (this.wire.withdraw(this.pipe, xfer)) {
            xfer.finish(new UsbTimeoutError(`bulk-${this.pipe} transfer timed out after ${timeoutMs} ms`,
              { pipe: this.pipe, actualLength: xfer.actual }));
          }
        }, timeoutMs);
      }
      this.wire.submit(this.pipe, xfer);
    });
  }

  cancel(): void {
    const x = this.current;
    if (x === undefined) return;
    if (this.wire.withdraw(this.pipe, x)) {
      x.finish(new UsbCancelledError(undefined, { pipe: this.pipe, actualLength: x.actual }));
    }
  }
}

/** The UsbPort of a MockUsbDevice: the same contract as LibusbPort, asynchronous like real I/O. */
export class MockUsbPort implements UsbPort {
  private readonly transfers = new Set<MockTransfer>();
  private readonly listeners = new Set<(error: UsbError) => void>();
  private state: 'open' | 'closing' | 'closed' | 'gone' = 'open';

  constructor(private readonly wire: DeviceWire, readonly info: PortInfo) {}

  /** Whether close() was called. */
  get closed(): boolean { return this.state === 'closing' || this.state === 'closed'; }

  /** The error any new call gets right now, if any. */
  refusal(): UsbError | undefined {
    if (this.state === 'closing' || this.state === 'closed') return new UsbClosedError();
    if (this.state === 'gone' || !this.wire.connected()) return new UsbDeviceGoneError();
    return undefined;
  }

  createTransfer(pipe: Pipe): UsbTransfer {
    if (pipe !== 'in' && pipe !== 'out') throw new UsbmsArgumentError(`no such pipe ${String(pipe)}`, { argument: 'pipe' });
    const t = new MockTransfer(pipe, this, this.wire);
    this.transfers.add(t);
    return t;
  }

  controlIn(setup: ControlSetup, length: number, _timeoutMs: number): Promise<Buffer> {
    return this.controlCall(() => this.wire.control(setup, undefined, length) ?? Buffer.alloc(0));
  }

  controlOut(setup: ControlSetup, data: Buffer | undefined, _timeoutMs: number): Promise<void> {
    return this.controlCall(() => { this.wire.control(setup, data, 0); });
  }

  clearHalt(pipe: Pipe): Promise<void> {
    return this.controlCall(() => this.wire.clearHalt(pipe));
  }

  resetDevice(): Promise<void> {
    return this.controlCall(() => this.wire.portReset());
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'closing') return this.whenAllSettled();
    const wasGone = this.state === 'gone';
    this.state = 'closing';
    for (const t of this.transfers) t.cancel();
    await this.whenAllSettled();
    this.state = 'closed';
    this.listeners.clear();
    if (!wasGone) this.wire.released(this);
  }

  onDisconnect(listener: (error: UsbError) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** The device went away (called by the device). */
  deviceGone(): void {
    if (this.state !== 'open') { if (this.state === 'closing') this.listeners.clear(); return; }
    this.state = 'gone';
    const listeners = [...this.listeners];
    this.listeners.clear();
    const err = new UsbDeviceGoneError();
    for (const l of listeners) l(err);
  }

  private async whenAllSettled(): Promise<void> {
    await Promise.all([...this.transfers].map((t) => t.whenSettled()));
  }

  /** A control-pipe operation: refused when closed or gone, answered asynchronously otherwise. */
  private controlCall<T>(op: () => T): Promise<T> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise<T>((resolve, reject) => {
      this.wire.schedule(() => {
        const late = this.refusal();
        if (late !== undefined) { reject(late); return; }
        try { resolve(op()); } catch (e) { reject(asError(e)); }
      });
    });
  }
}

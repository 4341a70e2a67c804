/**
 * MockUsbPort: the `UsbPort` contract (src/usb/port.ts) over the software device, so the BOT engine runs
 * against it exactly as against libusb: reusable zero-copy transfers, asynchronous completion, timeouts,
 * cancel, close with transfers in flight, surprise removal.
 */
import {
  UsbCancelledError, UsbClosedError, UsbDeviceGoneError, UsbError, UsbTimeoutError,
} from '../usb/errors.js';
import type {
  AltSettingInfo, ControlSetup, Pipe, PipeBinding, PortInfo, UsbPort, UsbTransfer,
} from '../usb/port.js';
import type { HostXfer } from './endpoints.js';
import { asError, UsbmsArgumentError } from '../util/errors.js';

/** What a port may do to its device (internal to src/mock). Endpoints are named by address, as on the wire. */
export interface DeviceWire {
  connected(): boolean;
  submit(address: number, x: HostXfer): void;
  withdraw(address: number, x: HostXfer): boolean;
  control(setup: ControlSetup, data: Buffer | undefined, length: number): Buffer | undefined;
  clearHalt(address: number): void;
  /** SET_INTERFACE: the device switches to that alternate setting's function. */
  setInterface(alternateSetting: number): void;
  portReset(): void;
  released(port: MockUsbPort): void;
  /** Run `fn` when a completion is due (setImmediate, or after the device's latency). */
  schedule(fn: () => void): void;
}

class MockTransfer implements UsbTransfer {
  private current: HostXfer | undefined;
  private settled: Promise<void> = Promise.resolve();

  constructor(readonly pipe: Pipe, private readonly port: MockUsbPort, private readonly wire: DeviceWire,
    /** The endpoint this transfer was made for, and the port's binding generation then. */
    private readonly address: number, private readonly generation: number) {}

  get inFlight(): boolean { return this.current !== undefined; }

  /** Resolves when the submit in progress (if any) has settled. */
  whenSettled(): Promise<void> { return this.settled; }

  submit(buffer: Buffer, timeoutMs: number): Promise<number> {
    const refused = this.port.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (this.current !== undefined) return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe} transfer is already in flight`));
    if (this.generation !== this.port.generation) {
      return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe} transfer made before the alternate setting changed`));
    }
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
          if (this.wire.withdraw(this.address, xfer)) {
            xfer.finish(new UsbTimeoutError(`bulk-${this.pipe} transfer timed out after ${timeoutMs} ms`,
              { pipe: this.pipe, actualLength: xfer.actual }));
          }
        }, timeoutMs);
      }
      this.wire.submit(this.address, xfer);
    });
  }

  cancel(): void {
    const x = this.current;
    if (x === undefined) return;
    if (this.wire.withdraw(this.address, x)) {
      x.finish(new UsbCancelledError(undefined, { pipe: this.pipe, actualLength: x.actual }));
    }
  }
}

/** The UsbPort of a MockUsbDevice: the same contract as LibusbPort, asynchronous like real I/O. */
export class MockUsbPort implements UsbPort {
  private readonly transfers = new Set<MockTransfer>();
  private readonly listeners = new Set<(error: UsbError) => void>();
  private state: 'open' | 'closing' | 'closed' | 'gone' = 'open';
  private current: PortInfo;
  /** Bumped by every selectAltSetting: transfers of an older binding are refused. */
  generation = 0;

  private readonly openedIn: number;

  constructor(private readonly wire: DeviceWire, info: PortInfo, readonly altSettings: readonly AltSettingInfo[]) {
    this.current = info;
    this.openedIn = info.alternateSetting;
  }

  get info(): PortInfo { return this.current; }

  /** Whether close() was called. */
  get closed(): boolean { return this.state === 'closing' || this.state === 'closed'; }

  /** The error any new call gets right now, if any. */
  refusal(): UsbError | undefined {
    if (this.state === 'closing' || this.state === 'closed') return new UsbClosedError();
    if (this.state === 'gone' || !this.wire.connected()) return new UsbDeviceGoneError();
    return undefined;
  }

  createTransfer(pipe: Pipe): UsbTransfer {
    const address = this.addressOf(pipe);
    const t = new MockTransfer(pipe, this, this.wire, address, this.generation);
    this.transfers.add(t);
    return t;
  }

  async selectAltSetting(alternateSetting: number, binding: PipeBinding, _timeoutMs: number): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    const alt = this.altSettings.find((a) => a.alternateSetting === alternateSetting);
    if (alt === undefined) throw new UsbmsArgumentError(`no alternate setting ${alternateSetting}`);
    for (const address of [binding.in, binding.out, binding.status, binding.command]) {
      if (address !== undefined && !alt.endpoints.some((e) => e.address === address)) {
        throw new UsbmsArgumentError(`alternate setting ${alternateSetting} has no endpoint 0x${address.toString(16)}`);
      }
    }
    if ([...this.transfers].some((t) => t.inFlight)) {
      throw new UsbmsArgumentError('selectAltSetting with transfers in flight');
    }
    await this.controlCall(() => this.wire.setInterface(alternateSetting));
    const mps = (address: number): number => alt.endpoints.find((e) => e.address === address)?.maxPacketSize ?? 0;
    this.generation += 1;
    this.current = { ...this.current, alternateSetting, endpoints: { ...binding },
      maxPacketSize: { in: mps(binding.in), out: mps(binding.out) } };
  }

  /** The endpoint address bound to `pipe` now. */
  private addressOf(pipe: Pipe): number {
    const address = this.current.endpoints[pipe];
    if (address === undefined) throw new UsbmsArgumentError(`no ${String(pipe)} pipe in alternate setting ${this.current.alternateSetting}`, { argument: 'pipe' });
    return address;
  }

  controlIn(setup: ControlSetup, length: number, _timeoutMs: number): Promise<Buffer> {
    return this.controlCall(() => this.wire.control(setup, undefined, length) ?? Buffer.alloc(0));
  }

  controlOut(setup: ControlSetup, data: Buffer | undefined, _timeoutMs: number): Promise<void> {
    return this.controlCall(() => { this.wire.control(setup, data, 0); });
  }

  clearHalt(pipe: Pipe): Promise<void> {
    const address = this.current.endpoints[pipe];
    if (address === undefined) return Promise.reject(new UsbmsArgumentError(`no ${pipe} pipe to clear`, { argument: 'pipe' }));
    return this.controlCall(() => this.wire.clearHalt(address));
  }

  resetDevice(): Promise<void> {
    // As libusb does: the device comes back in setting 0, and the port puts back the setting it had selected.
    const alt = this.current.alternateSetting;
    return this.controlCall(() => {
      this.wire.portReset();
      if (alt !== 0) this.wire.setInterface(alt);
    });
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
    if (wasGone) return;
    // The next program to claim the interface finds it in the setting it was opened in (as LibusbPort leaves it).
    if (this.current.alternateSetting !== this.openedIn && this.wire.connected()) {
      try { this.wire.setInterface(this.openedIn); } catch { /* the device refused: the next open selects again */ }
    }
    this.wire.released(this);
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

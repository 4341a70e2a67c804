/**
 * The adversary's side of the USB port contract (src/usb/port.ts): reusable transfers over two bulk pipes and
 * the control pipe, with stalls, timeouts, babble, cancel, close and surprise removal as the contract words
 * them. Everything protocol-level (what the device sends when) lives in device.ts, which drives this port
 * through the small `PortDevice` interface; this file only moves bytes between host buffers and packets.
 */
import {
  UsbCancelledError, UsbClosedError, UsbDeviceGoneError, UsbError, UsbOverflowError, UsbStallError, UsbTimeoutError,
} from '../../src/usb/errors.js';
import type {
  AltSettingInfo, ControlSetup, Pipe, PipeBinding, PortInfo, UsbPort, UsbTransfer,
} from '../../src/usb/port.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

/** One host transfer the device has not finished yet. */
export interface Pending {
  readonly pipe: Pipe;
  readonly buf: Buffer;
  filled: number;
}

/** What the port needs from the device behind it. */
export interface PortDevice {
  /** Bulk traffic may have become possible: move bytes. */
  pump(port: AdversaryPort): void;
  /** A control request; resolves with IN data, rejects with a UsbError. */
  control(port: AdversaryPort, kind: 'in' | 'out' | 'clear' | 'reset', setup: ControlSetup | Pipe | undefined,
    length: number, timeoutMs: number): Promise<Buffer | undefined>;
  released(port: AdversaryPort): void;
}

interface Slot extends Pending {
  readonly t: AdvTransfer;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve(n: number): void;
  reject(e: Error): void;
}

class AdvTransfer implements UsbTransfer {
  slot: Slot | undefined;
  constructor(readonly pipe: Pipe, private readonly port: AdversaryPort) {}
  get inFlight(): boolean { return this.slot !== undefined; }

  submit(buffer: Buffer, timeoutMs: number): Promise<number> {
    const refused = this.port.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    if (this.slot !== undefined) return Promise.reject(new UsbmsArgumentError('transfer already in flight'));
    if (!Buffer.isBuffer(buffer) || !(timeoutMs >= 0)) return Promise.reject(new UsbmsArgumentError('bad submit'));
    return new Promise<number>((resolve, reject) => {
      const s: Slot = { t: this, pipe: this.pipe, buf: buffer, filled: 0, done: false, timer: undefined, resolve, reject };
      this.slot = s;
      if (timeoutMs > 0) {
        s.timer = setTimeout(() => {
          s.timer = undefined;
          this.port.finish(s, new UsbTimeoutError(`bulk-${this.pipe} timed out after ${timeoutMs} ms`,
            { pipe: this.pipe, actualLength: s.filled }));
        }, timeoutMs);
      }
      this.port.queue(s);
    });
  }

  cancel(): void {
    const s = this.slot;
    if (s !== undefined && !s.done) this.port.finish(s, new UsbCancelledError(undefined, { pipe: this.pipe, actualLength: s.filled }));
  }
}

/** SET_INTERFACE, as the host sends it (the device sees it as a control request). */
const setInterface = (alt: number, iface: number): ControlSetup => ({ bmRequestType: 0x01, bRequest: 0x0b, wValue: alt, wIndex: iface });

export class AdversaryPort implements UsbPort {
  /** Unfinished transfers per pipe, oldest first (BOT: in and out; UAS adds status and command). */
  private readonly pending = new Map<Pipe, Slot[]>();
  /** Completions not yet delivered (they settle one macrotask later, as libusb's event thread would). */
  private settling = 0;
  private controlsInFlight = 0;
  private readonly listeners = new Set<(e: UsbError) => void>();
  private readonly settledWaiters: (() => void)[] = [];
  private state: 'open' | 'closing' | 'closed' | 'gone' = 'open';
  private pumpQueued = false;

  private current: PortInfo;

  /** `altSettings`: a device whose interface has settings to choose (UAS); the port then binds pipes on request. */
  constructor(info: PortInfo, private readonly dev: PortDevice, readonly plugNumber: number,
    readonly altSettings?: readonly AltSettingInfo[]) {
    this.current = info;
    for (const p of ['in', 'out', 'status', 'command'] as const) this.pending.set(p, []);
  }

  get info(): PortInfo { return this.current; }

  /** SET_INTERFACE on the control pipe (the device decides), then the pipes of that setting. */
  async selectAltSetting(alternateSetting: number, binding: PipeBinding, timeoutMs: number): Promise<void> {
    if (this.altSettings?.some((a) => a.alternateSetting === alternateSetting) !== true) {
      throw new UsbmsArgumentError(`no alternate setting ${alternateSetting}`);
    }
    if (this.outstanding !== 0) throw new UsbmsArgumentError('selectAltSetting with transfers in flight');
    await this.controlCall(() => this.dev.control(this, 'out', setInterface(alternateSetting, this.current.interfaceNumber), 0, timeoutMs));
    this.current = { ...this.current, alternateSetting, endpoints: { ...binding } };
  }
  get closed(): boolean { return this.state === 'closing' || this.state === 'closed'; }
  get gone(): boolean { return this.state === 'gone'; }
  /** Transfers and control requests the host still has outstanding on this port (LEAK accounting). */
  get outstanding(): number {
    let n = this.settling + this.controlsInFlight;
    for (const q of this.pending.values()) n += q.length;
    return n;
  }

  refusal(): UsbError | undefined {
    if (this.state === 'closing' || this.state === 'closed') return new UsbClosedError();
    if (this.state === 'gone') return new UsbDeviceGoneError();
    return undefined;
  }

  createTransfer(pipe: Pipe): UsbTransfer {
    if (this.current.endpoints[pipe] === undefined) throw new UsbmsArgumentError(`no pipe ${String(pipe)}`);
    return new AdvTransfer(pipe, this);
  }

  private queueOf(pipe: Pipe): Slot[] { return this.pending.get(pipe) ?? []; }

  /** The oldest unfinished transfer of a pipe (what the device's next packet goes to). */
  head(pipe: Pipe): Pending | undefined { return this.queueOf(pipe)[0]; }

  queue(s: Slot): void {
    this.queueOf(s.pipe).push(s);
    this.kick();
  }

  /** Ask the device to look at the pipes again (on the next macrotask: devices answer asynchronously). */
  kick(): void {
    if (this.pumpQueued || this.state !== 'open') return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      if (this.state === 'open') this.dev.pump(this);
    });
  }

  /** Complete the head transfer of `pipe` (device side). */
  complete(pipe: Pipe, error?: UsbError): void {
    const s = this.queueOf(pipe)[0];
    if (s !== undefined) this.finish(s, error);
  }

  stall(pipe: Pipe): void {
    const s = this.head(pipe);
    if (s !== undefined) this.complete(pipe, new UsbStallError(undefined, { pipe, actualLength: s.filled }));
  }

  overflow(pipe: Pipe = 'in'): void {
    const s = this.head(pipe);
    if (s !== undefined) this.complete(pipe, new UsbOverflowError(undefined, { pipe, actualLength: s.filled }));
  }

  finish(s: Slot, error?: UsbError): void {
    if (s.done) return;
    s.done = true;
    if (s.timer !== undefined) clearTimeout(s.timer);
    const q = this.queueOf(s.pipe);
    const i = q.indexOf(s);
    if (i >= 0) q.splice(i, 1);
    this.settling++;
    setImmediate(() => {
      this.settling--;
      s.t.slot = undefined;
      if (error === undefined) s.resolve(s.filled);
      else s.reject(error);
      this.wakeSettled();
      if (this.state === 'open') this.kick();
    });
  }

  controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer> {
    return this.controlCall(() => this.dev.control(this, 'in', setup, length, timeoutMs)).then((b) => b ?? Buffer.alloc(0));
  }
  async controlOut(setup: ControlSetup, _data: Buffer | undefined, timeoutMs: number): Promise<void> {
    await this.controlCall(() => this.dev.control(this, 'out', setup, 0, timeoutMs));
  }
  async clearHalt(pipe: Pipe): Promise<void> {
    await this.controlCall(() => this.dev.control(this, 'clear', pipe, 0, 0));
  }
  async resetDevice(): Promise<void> {
    await this.controlCall(() => this.dev.control(this, 'reset', undefined, 0, 0));
  }

  async controlCall(op: () => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    this.controlsInFlight++;
    try {
      await new Promise((r) => setImmediate(r));
      const late = this.refusal();
      if (late !== undefined) throw late;
      return await op();
    } finally {
      this.controlsInFlight--;
      this.wakeSettled();
    }
  }

  /** Every transfer in flight rejects with `error` (port reset: cancelled; removal: gone). */
  failAll(error: () => UsbError): void {
    for (const q of this.pending.values()) for (const s of [...q]) this.finish(s, error());
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'closing') { await this.whenSettled(); return; }
    const wasGone = this.state === 'gone';
    this.state = 'closing';
    this.failAll(() => new UsbCancelledError());
    await this.whenSettled();
    this.state = 'closed';
    this.listeners.clear();
    if (!wasGone) this.dev.released(this);
  }

  onDisconnect(listener: (e: UsbError) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** Surprise removal (device side). */
  disconnect(listenersFirst: boolean): void {
    if (this.state !== 'open') return;
    this.state = 'gone';
    const ls = [...this.listeners];
    this.listeners.clear();
    const run = (): void => { for (const l of ls) l(new UsbDeviceGoneError()); };
    if (listenersFirst) run();
    this.failAll(() => new UsbDeviceGoneError());
    if (!listenersFirst) setImmediate(run);
  }

  private whenSettled(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((r) => this.settledWaiters.push(r));
  }

  private wakeSettled(): void {
    if (this.outstanding !== 0) return;
    for (const w of this.settledWaiters.splice(0)) w();
  }
}

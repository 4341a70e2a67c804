/**
 * LibusbPort: the UsbPort contract (src/usb/port.ts) over node-usb `usb@2` and libusb.
 * Opening (device lookup, interface choice, kernel driver) lives in open.ts; this file is the open port.
 */
import { usb, type Device, type Interface, type InEndpoint, type OutEndpoint, type LibUSBException } from 'usb';
import { UsbClosedError, UsbDeviceGoneError, UsbError } from '../errors.js';
import type { AltSettingInfo, ControlSetup, Pipe, PipeBinding, PortInfo, UsbPort, UsbTransfer } from '../port.js';
import { LibusbErrorCode, libusbErrno, usbErrorFromLibusb } from './errors.js';
import { releaseHandle, retryClose } from './handles.js';
import { LibusbTransfer, type TransferHost } from './transfer.js';
import { logger } from '../../util/log.js';
import { UsbmsArgumentError } from '../../util/errors.js';

const log = logger('libusb');

/** libusb takes an unsigned int of ms where 0 means forever, but node-usb turns device.timeout 0 into 1000 ms. */
const CONTROL_FOREVER_MS = 0x7fffffff;

export interface LibusbPortParts {
  device: Device;
  iface: Interface;
  bulkIn: InEndpoint;
  bulkOut: OutEndpoint;
  info: PortInfo;
  /** We detached a kernel driver in open: re-attach it on close. */
  detachedKernelDriver: boolean;
  /** Every alternate setting of the claimed interface (UsbPort.altSettings). */
  altSettings?: readonly AltSettingInfo[];
  /** Bound on how long close() waits for cancelled transfers to come back; default 2000 ms. */
  closeTimeoutMs?: number;
}

/** UsbPort on node-usb (libusb): the claimed mass-storage interface of a real device. */
export class LibusbPort implements UsbPort, TransferHost {
  readonly altSettings: readonly AltSettingInfo[];
  private current: PortInfo;
  private readonly device: Device;
  private readonly iface: Interface;
  /** The endpoints bound to each pipe now (selectAltSetting rebinds them). */
  private pipes: Partial<Record<Pipe, InEndpoint | OutEndpoint>>;
  /** Bumped by selectAltSetting: transfers made for an older binding are refused. */
  private generation = 0;
  /** The setting the port was opened in (close puts it back). */
  private readonly openedIn: number;
  private readonly detachedKernelDriver: boolean;
  private readonly closeTimeoutMs: number;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private goneError: UsbDeviceGoneError | undefined;
  private readonly inFlight = new Set<LibusbTransfer>();
  /** Bulk transfers plus control/clear-halt/reset requests that libusb still holds (device.close() refuses them). */
  private pendingOps = 0;
  private drained: (() => void) | undefined;
  private readonly disconnectListeners = new Set<(error: UsbError) => void>();
  /** close() could not close the handle (a request was still in flight): close it when the last one is back. */
  private closeWhenDrained = false;

  constructor(parts: LibusbPortParts) {
    this.device = parts.device;
    this.iface = parts.iface;
    this.pipes = { in: parts.bulkIn, out: parts.bulkOut };
    this.current = parts.info;
    this.openedIn = parts.info.alternateSetting;
    this.altSettings = parts.altSettings ?? [];
    this.detachedKernelDriver = parts.detachedKernelDriver;
    this.closeTimeoutMs = parts.closeTimeoutMs ?? 2000;
    usb.on('detach', this.onUsbDetach);
    // The detach listener must not keep the process alive on its own (node-usb refs its hotplug queue).
    usb.unrefHotplugEvents();
  }

  /** What the port is and which pipes are bound now. */
  get info(): PortInfo { return this.current; }

  /** Whether close() was called (or the device is gone). */
  get closed(): boolean {
    return this.isClosed;
  }

  get gone(): boolean {
    return this.goneError !== undefined;
  }

  createTransfer(pipe: Pipe): UsbTransfer {
    const unusable = this.unusableReason();
    if (unusable !== undefined) throw unusable;
    const ep = this.pipes[pipe];
    if (ep === undefined) {
      throw new UsbmsArgumentError(`no ${String(pipe)} pipe in alternate setting ${this.current.alternateSetting}`, { argument: 'pipe' });
    }
    const generation = this.generation;
    return new LibusbTransfer(pipe, this, (cb) => ep.makeTransfer(0, cb), () => generation === this.generation);
  }

  async selectAltSetting(alternateSetting: number, binding: PipeBinding, timeoutMs: number): Promise<void> {
    const unusable = this.unusableReason();
    if (unusable !== undefined) throw unusable;
    const alt = this.altSettings.find((a) => a.alternateSetting === alternateSetting);
    if (alt === undefined) throw new UsbmsArgumentError(`interface ${this.current.interfaceNumber} has no alternate setting ${alternateSetting}`);
    const pairs = Object.entries(binding) as [Pipe, number | undefined][];
    for (const [pipe, address] of pairs) {
      if (address !== undefined && !alt.endpoints.some((e) => e.address === address)) {
        throw new UsbmsArgumentError(`alternate setting ${alternateSetting} has no endpoint 0x${address.toString(16)} for the ${pipe} pipe`);
      }
    }
    if (this.inFlight.size > 0) throw new UsbmsArgumentError('selectAltSetting with transfers in flight');
    this.device.timeout = timeoutMs > 0 ? timeoutMs : CONTROL_FOREVER_MS;
    await this.operation(`select alternate setting ${alternateSetting}`, 'control',
      (done) => this.iface.setAltSetting(alternateSetting, (error) => done(error, undefined)));
    const pipes: Partial<Record<Pipe, InEndpoint | OutEndpoint>> = {};
    for (const [pipe, address] of pairs) {
      if (address === undefined) continue;
      const ep = this.iface.endpoint(address) as InEndpoint | OutEndpoint | undefined;
      if (ep === undefined) throw new UsbError('NOT_FOUND', `endpoint 0x${address.toString(16)} is missing after SET_INTERFACE`);
      pipes[pipe] = ep;
    }
    const mps = (address: number): number => alt.endpoints.find((e) => e.address === address)?.maxPacketSize ?? 0;
    this.pipes = pipes;
    this.generation += 1;
    this.current = { ...this.current, alternateSetting, endpoints: { ...binding },
      maxPacketSize: { in: mps(binding.in), out: mps(binding.out) } };
    log('alternate setting %d: %s', alternateSetting,
      pairs.filter(([, a]) => a !== undefined).map(([p, a]) => `${p} 0x${(a ?? 0).toString(16)}`).join(', '));
  }

  controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer> {
    if ((setup.bmRequestType & 0x80) === 0) {
      return Promise.reject(new UsbmsArgumentError('controlIn needs a device-to-host bmRequestType (bit 7 set)', { argument: 'bmRequestType' }));
    }
    if (!Number.isInteger(length) || length < 0 || length > 0xffff) {
      return Promise.reject(new UsbmsArgumentError(`control length must be 0..65535, got ${length}`, { argument: 'length' }));
    }
    return this.control(setup, length, timeoutMs).then((data) => data ?? Buffer.alloc(0));
  }

  async controlOut(setup: ControlSetup, data: Buffer | undefined, timeoutMs: number): Promise<void> {
    if ((setup.bmRequestType & 0x80) !== 0) {
      throw new UsbmsArgumentError('controlOut needs a host-to-device bmRequestType (bit 7 clear)', { argument: 'bmRequestType' });
    }
    await this.control(setup, data ?? Buffer.alloc(0), timeoutMs);
  }

  private control(setup: ControlSetup, dataOrLength: Buffer | number, timeoutMs: number): Promise<Buffer | undefined> {
    return this.operation('control transfer', 'control', (done) => {
      this.device.timeout = timeoutMs > 0 ? timeoutMs : CONTROL_FOREVER_MS;
      this.device.controlTransfer(setup.bmRequestType, setup.bRequest, setup.wValue, setup.wIndex, dataOrLength,
        (error, data) => done(error, Buffer.isBuffer(data) ? data : undefined));
    });
  }

  clearHalt(pipe: Pipe): Promise<void> {
    const ep = this.pipes[pipe];
    if (ep === undefined) return Promise.reject(new UsbmsArgumentError(`no ${pipe} pipe to clear`, { argument: 'pipe' }));
    return this.operation(`clear halt on bulk-${pipe}`, pipe, (done) => ep.clearHalt((error) => done(error, undefined)));
  }

  async resetDevice(): Promise<void> {
    try {
      await this.operation('reset device', 'control', (done) => this.device.reset((error) => done(error, undefined)));
    } catch (e) {
      // libusb answers NOT_FOUND when the device re-enumerated as something else (or did not come back).
      if (e instanceof UsbError && e.kind === 'NOT_FOUND') throw this.markGone('device did not come back from reset');
      throw e;
    }
    // libusb re-claims the interface itself after a reset; make sure, and restore the alternate setting.
    try {
      this.iface.claim();
      if (this.info.alternateSetting !== 0) {
        await new Promise<void>((resolve, reject) => this.iface.setAltSetting(this.info.alternateSetting,
          (error) => (error === undefined ? resolve() : reject(error))));
      }
    } catch (e) {
      throw this.noteError(usbErrorFromLibusb(e, { what: 're-claim after reset' }));
    }
  }

  /** Run one libusb request with close/disconnect bookkeeping and error mapping. */
  private operation<T>(what: string, pipe: Pipe | 'control',
    start: (done: (error: LibUSBException | Error | undefined, value: T) => void) => void): Promise<T> {
    const unusable = this.unusableReason();
    if (unusable !== undefined) return Promise.reject(unusable);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (error: LibUSBException | Error | undefined, value: T): void => {
        if (settled) return;
        settled = true;
        this.opFinished();
        if (error === undefined || error === null) resolve(value);
        else reject(this.noteError(usbErrorFromLibusb(error, { what, pipe })));
      };
      this.pendingOps++;
      try {
        start(done);
      } catch (e) {
        done(e as Error, undefined as T);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.isClosed = true;
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const t of this.inFlight) t.cancelFor('close');
    if (this.pendingOps > 0) {
      const allBack = new Promise<boolean>((resolve) => { this.drained = () => resolve(true); });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.closeTimeoutMs); });
      const ok = await Promise.race([allBack, timedOut]);
      clearTimeout(timer);
      this.drained = undefined;
      if (!ok) log('close: %d request(s) did not come back within %d ms', this.pendingOps, this.closeTimeoutMs);
    }
    usb.removeListener('detach', this.onUsbDetach);
    if (this.current.alternateSetting !== this.openedIn && !this.gone) {
      // usbfs keeps the setting across a release: put back the one the interface was opened in, so the next
      // program (or a later session choosing Bulk-Only) finds the device speaking what its descriptors lead with.
      await new Promise<void>((resolve) => this.iface.setAltSetting(this.openedIn, (error) => {
        if (error !== undefined) log('restore alternate setting %d: %s', this.openedIn, error.message);
        resolve();
      }));
    }
    await new Promise<void>((resolve) => this.iface.release((error) => {
      if (error !== undefined) log('release interface %d: %s', this.info.interfaceNumber, error.message);
      resolve();
    }));
    if (this.detachedKernelDriver && !this.gone) {
      try {
        this.iface.attachKernelDriver();
        log('re-attached the kernel driver to interface %d', this.info.interfaceNumber);
      } catch (e) {
        log('re-attach kernel driver to interface %d: %s', this.info.interfaceNumber, (e as Error).message);
      }
    }
    // The handle is shared with listings running at the same time (handles.ts): the last user closes it. libusb
    // refuses while a request is still in flight after the bounded wait; an open handle keeps node from exiting,
    // so the close is tried again as soon as the last request comes back.
    if (!releaseHandle(this.device)) this.closeWhenDrained = true;
    this.disconnectListeners.clear();
  }

  onDisconnect(listener: (error: UsbError) => void): () => void {
    this.disconnectListeners.add(listener);
    if (this.goneError !== undefined) {
      const error = this.goneError;
      queueMicrotask(() => { if (this.disconnectListeners.delete(listener)) listener(error); });
    }
    return () => { this.disconnectListeners.delete(listener); };
  }

  // ---- TransferHost ----

  unusableReason(): UsbError | undefined {
    if (this.isClosed) return new UsbClosedError();
    if (this.goneError !== undefined) return new UsbDeviceGoneError(this.goneError.message);
    return undefined;
  }

  /** Bookkeeping of a transfer going in flight (close waits for it). */
  transferStarted(t: LibusbTransfer): void {
    this.inFlight.add(t);
    this.pendingOps++;
  }

  /** Bookkeeping of a transfer that settled; a NO_DEVICE error marks the port gone. */
  transferSettled(t: LibusbTransfer, error: UsbError | undefined): void {
    if (this.inFlight.delete(t)) this.opFinished();
    if (error !== undefined) this.noteError(error);
  }

  // ---- disconnect ----

  private opFinished(): void {
    this.pendingOps--;
    if (this.pendingOps !== 0) return;
    this.drained?.();
    if (this.closeWhenDrained) {
      // Called from inside node-usb's completion callback: close after it has returned.
      setImmediate(() => {
        if (this.closeWhenDrained && this.pendingOps === 0 && retryClose(this.device)) {
          this.closeWhenDrained = false;
          log('closed the handle once the last request came back');
        }
      });
    }
  }

  /** Every error passes here: a NO_DEVICE marks the port gone. Returns the error for throwing. */
  private noteError(error: UsbError): UsbError {
    if (error.kind === 'NO_DEVICE' || libusbErrno(error.cause) === LibusbErrorCode.NO_DEVICE) this.markGone(error.message);
    return error;
  }

  private readonly onUsbDetach = (device: Device): void => {
    if (device === this.device ||
      (device.busNumber === this.info.busNumber && device.deviceAddress === this.info.deviceAddress)) {
      this.markGone('device detached (hotplug event)');
    }
  };

  private markGone(reason: string): UsbDeviceGoneError {
    if (this.goneError !== undefined) return this.goneError;
    const error = new UsbDeviceGoneError(reason);
    this.goneError = error;
    log('device gone: %s', reason);
    // Transfers still queued would never complete on some platforms: cancel them (they reject as gone).
    for (const t of this.inFlight) t.cancelFor('gone');
    if (!this.isClosed) {
      for (const listener of [...this.disconnectListeners]) {
        try { listener(error); } catch (e) { log('onDisconnect listener threw: %s', (e as Error).message); }
      }
      this.disconnectListeners.clear();
    }
    return error;
  }
}

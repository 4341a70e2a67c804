/**
 * Just enough of node-usb's Device / Interface / Endpoint / Transfer to drive LibusbPort without hardware:
 * every libusb completion is triggered by the test, so timing-dependent paths (cancel racing completion, a
 * device that never answers) are deterministic.
 */
import type { Device, InEndpoint, Interface, LibUSBException, OutEndpoint } from 'usb';
import { LibusbPort } from '../../../src/usb/libusb/port.js';
import type { PortInfo } from '../../../src/usb/port.js';

type Callback = (error: LibUSBException | undefined, buffer: Buffer, actual: number) => void;

export function libusbError(errno: number): LibUSBException {
  return Object.assign(new Error(`LIBUSB errno ${errno}`), { errno });
}

export class FakeTransfer {
  buffer: Buffer | undefined;
  cancels = 0;
  /** When false, cancel() is accepted but libusb never reports back (a wedged host controller). */
  cancelCompletes = true;
  constructor(readonly endpoint: number, private readonly cb: Callback) {}
  submit(buffer: Buffer): this {
    if (this.buffer !== undefined) throw new Error('Transfer is already active');
    this.buffer = buffer;
    return this;
  }
  cancel(): boolean {
    this.cancels++;
    if (this.buffer === undefined) return false;
    if (this.cancelCompletes) setImmediate(() => this.complete(3, 0));
    return true;
  }
  /** libusb reports the transfer done: status 0 = completed, else a LIBUSB_TRANSFER_* number. */
  complete(status: number, actual: number): void {
    const buffer = this.buffer;
    if (buffer === undefined) return;
    this.buffer = undefined;
    this.cb(status === 0 ? undefined : libusbError(status), buffer, actual);
  }
}

export class FakeEndpoint {
  readonly transfers: FakeTransfer[] = [];
  clearHaltError: number | undefined;
  clearHalts = 0;
  constructor(readonly address: number) {}
  makeTransfer(_timeout: number, cb: Callback): FakeTransfer {
    const t = new FakeTransfer(this.address, cb);
    this.transfers.push(t);
    return t;
  }
  clearHalt(cb: (error?: LibUSBException) => void): void {
    this.clearHalts++;
    const errno = this.clearHaltError;
    setImmediate(() => cb(errno === undefined ? undefined : libusbError(errno)));
  }
}

export class FakeDevice {
  timeout = 1000;
  closed = false;
  resetError: number | undefined;
  controlReply: { errno?: number; data?: Buffer } = { data: Buffer.from([0]) };
  readonly controlCalls: { bmRequestType: number; timeout: number }[] = [];
  busNumber = 1;
  deviceAddress = 2;
  pendingRequests = 0;
  controlTransfer(bmRequestType: number, _bRequest: number, _wValue: number, _wIndex: number,
    dataOrLength: Buffer | number, cb: (error: LibUSBException | undefined, data?: Buffer | number) => void): void {
    this.controlCalls.push({ bmRequestType, timeout: this.timeout });
    const { errno, data } = this.controlReply;
    setImmediate(() => cb(errno === undefined ? undefined : libusbError(errno),
      typeof dataOrLength === 'number' ? data : dataOrLength.length));
  }
  reset(cb: (error?: LibUSBException) => void): void {
    const errno = this.resetError;
    setImmediate(() => cb(errno === undefined ? undefined : libusbError(errno)));
  }
  close(): void {
    if (this.pendingRequests > 0) throw new Error("Can't close device with a pending request");
    this.closed = true;
  }
}

export class FakeInterface {
  released = false;
  attached = 0;
  claims = 0;
  claim(): void { this.claims++; }
  release(cb: (error?: LibUSBException) => void): void {
    this.released = true;
    setImmediate(() => cb(undefined));
  }
  attachKernelDriver(): void { this.attached++; }
  setAltSetting(_alt: number, cb: (error?: LibUSBException) => void): void { setImmediate(() => cb(undefined)); }
}

export const FAKE_INFO: PortInfo = {
  vendorId: 0x1234, productId: 0x5678, serialNumber: 'S', manufacturer: 'M', product: 'P', busNumber: 1,
  deviceAddress: 2, speed: 'high', interfaceNumber: 0, alternateSetting: 0, endpoints: { in: 0x81, out: 0x02 },
  maxPacketSize: { in: 512, out: 512 },
};

export function makeFakePort(opts: { detached?: boolean; closeTimeoutMs?: number } = {}) {
  const device = new FakeDevice();
  const iface = new FakeInterface();
  const bulkIn = new FakeEndpoint(0x81);
  const bulkOut = new FakeEndpoint(0x02);
  const port = new LibusbPort({
    device: device as unknown as Device, iface: iface as unknown as Interface,
    bulkIn: bulkIn as unknown as InEndpoint, bulkOut: bulkOut as unknown as OutEndpoint,
    info: FAKE_INFO, detachedKernelDriver: opts.detached ?? false, closeTimeoutMs: opts.closeTimeoutMs ?? 200,
  });
  return { port, device, iface, bulkIn, bulkOut };
}


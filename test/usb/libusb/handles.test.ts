/**
 * libusb handles shared by listings and ports (src/usb/libusb/handles.ts), over a fake node-usb that keeps the
 * rules of the real one (usb@2 src/device.cc Device::Open/Close, dist/usb/device.js open/close): one Device object
 * per device for the whole process; open() on an open Device keeps its one handle; close() closes it for everyone,
 * or throws "Can't close device with a pending request" while any request is in flight and leaves it open. An open
 * handle keeps node's event loop alive (its completion queue), so a handle left open means a process that never
 * exits: the lab's `usbms validate` on two real sticks at once (issue 11).
 */
import { describe, expect, it, vi } from 'vitest';
import { FAKE_STICK_CONFIG_DESCRIPTOR, FAKE_STICK_DEVICE_DESCRIPTOR } from './fake-stick-descriptors.js';

class FakeNodeUsbDevice {
  /** libusb_open happened and libusb_close did not: what keeps a real process alive. */
  handleOpen = false;
  handleOpens = 0;
  refusedCloses = 0;
  /** Requests in flight (node-usb's refs_): close() refuses while any. */
  pending = 0;
  interfaces: FakeInterface[] | undefined = undefined;
  timeout = 1000;
  readonly deviceDescriptor = FAKE_STICK_DEVICE_DESCRIPTOR;
  readonly configDescriptor = FAKE_STICK_CONFIG_DESCRIPTOR;
  constructor(readonly busNumber: number, readonly portNumbers: number[], readonly deviceAddress: number,
    readonly serial: string) {}

  open(): void {
    if (!this.handleOpen) { this.handleOpen = true; this.handleOpens++; }
    this.interfaces = [new FakeInterface(this)];
  }
  close(): void {
    if (this.pending > 0) { this.refusedCloses++; throw new Error("Can't close device with a pending request"); }
    this.handleOpen = false;
    this.interfaces = undefined;
  }
  /** A request that completes a few turns of the event loop later (interleaving with other devices' requests). */
  request<T>(value: T, cb: (error: Error | undefined, value?: T) => void): void {
    if (!this.handleOpen) throw new Error('Device is not opened');
    this.pending++;
    setTimeout(() => { this.pending--; cb(undefined, value); }, 1);
  }
  getStringDescriptor(index: number, cb: (error: Error | undefined, value?: string) => void): void {
    this.request(['', 'Fake', 'Stick', this.serial][index] ?? '', cb);
  }
  controlTransfer(_t: number, _r: number, _v: number, _i: number, length: Buffer | number,
    cb: (error: Error | undefined, data?: Buffer | number) => void): void {
    this.request(typeof length === 'number' ? Buffer.alloc(length) : length.length, cb);
  }
}

class FakeInterface {
  claimed = false;
  constructor(private readonly device: FakeNodeUsbDevice) {}
  isKernelDriverActive(): boolean { return false; }
  claim(): void { this.claimed = true; }
  release(cb: (error?: Error) => void): void { this.claimed = false; setImmediate(() => cb(undefined)); }
  endpoint(address: number): object { return { address, device: this.device, makeTransfer: () => ({}) }; }
}

const sticks = [
  new FakeNodeUsbDevice(1, [1, 1], 4, 'RIG1'), new FakeNodeUsbDevice(1, [1, 2], 5, 'RIG2'),
  new FakeNodeUsbDevice(1, [1, 3], 7, 'RIG3'), new FakeNodeUsbDevice(1, [1, 4], 8, 'RIG4'),
  new FakeNodeUsbDevice(1, [2, 1], 6, 'RIGNS'),
];
const usbEvents = { on: vi.fn(), removeListener: vi.fn(), unrefHotplugEvents: vi.fn() };
vi.mock('usb', () => ({ getDeviceList: () => sticks, usb: usbEvents }));

const { LibusbBackend } = await import('../../../src/usb/libusb/backend.js');
const { acquireHandle, handleUsers, openHandleCount, releaseHandle, retryClose } = await import('../../../src/usb/libusb/handles.js');
const { parseDeviceSelector } = await import('../../../src/usb/selector.js');
const { rigDevicesOf } = await import('../../../src/apps/rig/index.js');

const { makeFakePort } = await import('./fake-node-usb.js');

const openNow = (): string[] => sticks.filter((d) => d.handleOpen).map((d) => d.serial);

describe('libusb handles shared by listings and ports', () => {
  it('two ports opened at once (validate on two sticks) leave no handle open once closed (issue 11)', async () => {
    const b = new LibusbBackend();
    // both opens list every device while the other one is reading string descriptors
    const ports = await Promise.all(['1-1.1', '1-1.3'].map((p) => b.open(parseDeviceSelector(p))));
    expect(ports.map((p) => p.info.serialNumber)).toEqual(['RIG1', 'RIG3']);
    expect(openNow()).toEqual(['RIG1', 'RIG3']); // the listings closed the others; the ports hold theirs
    await Promise.all(ports.map((p) => p.close()));
    expect(openNow()).toEqual([]);
    expect(openHandleCount()).toBe(0);
    expect(sticks.map((d) => d.refusedCloses)).toEqual([0, 0, 0, 0, 0]);
  });

  it('the same through the rig: sessions on two slots opened at once, closed, nothing left open', async () => {
    const b = new LibusbBackend();
    const slots = (await rigDevicesOf(b)).filter((d) => ['1-1.2', '1-2.1'].includes(d.key.port));
    const ports = await Promise.all(slots.map((s) => s.slot.open()));
    await Promise.all(ports.map((p) => p.close()));
    expect(openNow()).toEqual([]);
    expect(openHandleCount()).toBe(0);
  });

  it('a listing running while a port opens never closes the port\'s handle under it', async () => {
    const b = new LibusbBackend();
    const [, port] = await Promise.all([b.list(), b.open(parseDeviceSelector('1-1.4')), b.list()]);
    expect(openNow()).toEqual(['RIG4']);
    expect(handleUsers(sticks[3] as never)).toBe(1);
    // the port's handle still works after both listings gave their uses back
    await expect(port.controlIn({ bmRequestType: 0xa1, bRequest: 0xfe, wValue: 0, wIndex: 0 }, 1, 1000))
      .resolves.toHaveLength(1);
    await port.close();
    expect(openNow()).toEqual([]);
  });

  it('counts uses: the first opens, the last closes; a refused close is retried; a handle opened elsewhere is left open', () => {
    const [d, e] = sticks as [FakeNodeUsbDevice, FakeNodeUsbDevice];
    const opensBefore = d.handleOpens;
    acquireHandle(d as never);
    acquireHandle(d as never);
    expect(d.handleOpens - opensBefore).toBe(1);
    expect(releaseHandle(d as never)).toBe(true);
    expect(d.handleOpen).toBe(true);
    d.pending = 1;
    expect(releaseHandle(d as never)).toBe(false); // libusb refused: still open, and counted
    expect(d.handleOpen).toBe(true);
    expect(openHandleCount()).toBe(1);
    d.pending = 0;
    expect(retryClose(d as never)).toBe(true);
    expect(d.handleOpen).toBe(false);
    expect(openHandleCount()).toBe(0);
    e.open(); // opened by code that does not take uses
    acquireHandle(e as never);
    releaseHandle(e as never);
    expect(e.handleOpen).toBe(true);
    e.close();
  });

  it('a port whose close libusb refused (a wedged transfer) closes its handle once that transfer comes back', async () => {
    const { port, device, bulkIn } = makeFakePort({ closeTimeoutMs: 20 });
    const t = port.createTransfer('in');
    const done = t.submit(Buffer.alloc(13), 0).catch((e: unknown) => e);
    bulkIn.transfers[0]!.cancelCompletes = false;
    device.pendingRequests = 1; // node-usb refuses to close a device with a request pending
    await port.close();
    expect(device.closed).toBe(false);
    expect(openHandleCount()).toBe(1); // the open handle is accounted for, not forgotten
    device.pendingRequests = 0;
    bulkIn.transfers[0]!.complete(3, 0); // libusb finally reports the cancelled transfer
    await done;
    await new Promise((r) => setImmediate(r));
    expect(device.closed).toBe(true);
    expect(openHandleCount()).toBe(0);
  });
});

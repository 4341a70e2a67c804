/**
 * Issue 11's defect end to end, without hardware: the rig (runRig, what `usbms validate` runs) over the real
 * LibusbBackend, whose node-usb is a fake keeping node-usb's handle rules (one Device object per device; open() on
 * an open Device keeps its handle; close() throws "Can't close device with a pending request" while any request is
 * in flight). Behind each fake Device is a software disk (src/mock), so the BOT engine, the disk and the plan run
 * for real. In the lab, `validate` on two of five sticks passed every step and never exited: the two sessions'
 * listings left the other sticks' libusb handles open, and an open handle keeps node's event loop alive.
 */
import { describe, expect, it, vi } from 'vitest';
import { MockUsbDevice } from '../../../src/mock/index.js';
import type { MockUsbPort } from '../../../src/mock/index.js';
import { UsbError } from '../../../src/usb/errors.js';
import type { ControlSetup } from '../../../src/usb/port.js';
import { FAKE_STICK_CONFIG_DESCRIPTOR, FAKE_STICK_DEVICE_DESCRIPTOR } from './fake-stick-descriptors.js';

type Cb<T> = (error: (Error & { errno: number }) | undefined, value?: T) => void;
type TransferCb = (error: (Error & { errno: number }) | undefined, buffer: Buffer, actual: number) => void;

/** libusb transfer status numbers (libusb.h enum libusb_transfer_status) for the port's errors. */
function statusOf(e: unknown): number {
  const kind = e instanceof UsbError ? e.kind : undefined;
  return ({ STALL: 4, CANCELLED: 3, TIMEOUT: 2, NO_DEVICE: 5, OVERFLOW: 6 } as Record<string, number>)[kind ?? ''] ?? 1;
}
const libusbError = (errno: number): Error & { errno: number } => Object.assign(new Error(`LIBUSB status ${errno}`), { errno });

class BridgedStick {
  handleOpen = false;
  pending = 0;
  interfaces: object[] | undefined = undefined;
  timeout = 1000;
  private port: MockUsbPort | undefined;
  readonly disk = new MockUsbDevice({ luns: [{ blocks: 2048 }] });
  readonly deviceDescriptor = FAKE_STICK_DEVICE_DESCRIPTOR;
  readonly configDescriptor = FAKE_STICK_CONFIG_DESCRIPTOR;
  constructor(readonly busNumber: number, readonly portNumbers: number[], readonly deviceAddress: number,
    readonly serial: string) {}

  private get open_(): MockUsbPort {
    if (!this.handleOpen || this.port === undefined) throw new Error('Device is not opened');
    return this.port;
  }
  open(): void {
    if (!this.handleOpen) { this.handleOpen = true; this.port = this.disk.open(); }
    this.interfaces = [this.iface()];
  }
  close(): void {
    if (this.pending > 0) throw new Error("Can't close device with a pending request");
    this.handleOpen = false;
    this.interfaces = undefined;
    void this.port?.close();
    this.port = undefined;
  }
  /** One libusb request: counted while in flight, answered from the software disk's port. */
  private request<T>(work: () => Promise<T>, cb: (error: (Error & { errno: number }) | undefined, value: T | undefined) => void): void {
    const go = work();
    this.pending++;
    go.then((v) => { this.pending--; cb(undefined, v); }, (e: unknown) => { this.pending--; cb(libusbError(statusOf(e)), undefined); });
  }
  getStringDescriptor(index: number, cb: Cb<string>): void {
    if (!this.handleOpen) throw new Error('Device is not opened');
    this.request(() => new Promise<string>((r) => { setTimeout(() => r(['', 'Fake', 'Stick', this.serial][index] ?? ''), 1); }), cb);
  }
  controlTransfer(bmRequestType: number, bRequest: number, wValue: number, wIndex: number, data: Buffer | number,
    cb: Cb<Buffer | number>): void {
    const port = this.open_;
    const setup: ControlSetup = { bmRequestType, bRequest, wValue, wIndex };
    this.request<Buffer | number>(() => (typeof data === 'number' ? port.controlIn(setup, data, this.timeout)
      : port.controlOut(setup, data, this.timeout).then(() => data.length)), cb);
  }
  reset(cb: (error?: Error) => void): void {
    const port = this.open_;
    this.request(() => port.resetDevice(), (e) => cb(e));
  }
  private iface(): object {
    const endpoint = (address: number): object => ({
      address,
      makeTransfer: (_timeout: number, cb: TransferCb) => {
        const pipe = address & 0x80 ? 'in' : 'out';
        let current: ReturnType<MockUsbPort['createTransfer']> | undefined;
        return {
          submit: (buffer: Buffer) => {
            current = this.open_.createTransfer(pipe);
            this.pending++;
            current.submit(buffer, 0).then((actual) => { this.pending--; cb(undefined, buffer, actual); },
              (e: unknown) => { this.pending--; cb(libusbError(statusOf(e)), buffer, e instanceof UsbError ? e.actualLength : 0); });
          },
          cancel: () => { current?.cancel(); return true; },
        };
      },
      clearHalt: (cb: (error?: Error) => void) => { const port = this.open_; this.request(() => port.clearHalt(pipeOf(address)), (e) => cb(e)); },
    });
    const pipeOf = (address: number): 'in' | 'out' => (address & 0x80 ? 'in' : 'out');
    return {
      isKernelDriverActive: () => false,
      claim: () => undefined,
      release: (cb: (error?: Error) => void) => { setImmediate(() => cb(undefined)); },
      endpoint,
    };
  }
}

const sticks = [
  new BridgedStick(1, [1, 1], 4, 'RIG1'), new BridgedStick(1, [1, 2], 5, 'RIG2'), new BridgedStick(1, [1, 3], 7, 'RIG3'),
  new BridgedStick(1, [1, 4], 8, 'RIG4'), new BridgedStick(1, [2, 1], 6, 'RIGNS'),
];
vi.mock('usb', () => ({ getDeviceList: () => sticks, usb: { on: () => undefined, removeListener: () => undefined,
  unrefHotplugEvents: () => undefined } }));

const { LibusbBackend } = await import('../../../src/usb/libusb/backend.js');
const { openHandleCount } = await import('../../../src/usb/libusb/handles.js');
const { resolvePlan, rigDevicesOf, runRig, selectRigDevices } = await import('../../../src/apps/rig/index.js');

describe('validate on two of five sticks over libusb (issue 11)', () => {
  it('passes on both and leaves no libusb handle open (the process can exit)', async () => {
    const present = await rigDevicesOf(new LibusbBackend());
    const { devices } = selectRigDevices(present, { devices: ['1-1.1', '1-1.3'], all: false, match: [] });
    const result = await runRig(devices, { plan: resolvePlan('quick'), write: false, seed: 12, readyPollMs: 5 });
    expect(result.devices.map((d) => `${d.device.key.port} ${d.status}`)).toEqual(['1-1.1 pass', '1-1.3 pass']);
    expect(result.exitCode).toBe(0);
    expect(sticks.filter((s) => s.handleOpen).map((s) => s.serial)).toEqual([]);
    expect(openHandleCount()).toBe(0);
  });
});

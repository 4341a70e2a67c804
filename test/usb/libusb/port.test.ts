import { describe, it, expect } from 'vitest';
import { usb, type Device } from 'usb';
import { makeFakePort } from './fake-node-usb.js';
import {
  UsbCancelledError, UsbClosedError, UsbDeviceGoneError, UsbError, UsbStallError, UsbTimeoutError,
} from '../../../src/usb/errors.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const outcome = <T>(p: Promise<T>): Promise<unknown> => p.then((v) => v, (e: unknown) => e);

describe('LibusbPort over a fake node-usb', () => {
  it('submits the caller\'s own buffer and resolves with the bytes libusb moved', async () => {
    const { port, bulkIn } = makeFakePort();
    const t = port.createTransfer('in');
    const buf = Buffer.alloc(512);
    const p = t.submit(buf, 0);
    const native = bulkIn.transfers[0]!;
    expect(native.buffer).toBe(buf); // the same memory, not a copy
    expect(t.inFlight).toBe(true);
    native.complete(0, 36);
    expect(await p).toBe(36);
    expect(t.inFlight).toBe(false);
    expect(bulkIn.transfers).toHaveLength(1); // reused, never re-made
    await port.close();
  });

  it('maps a STALL completion to UsbStallError with actualLength and pipe', async () => {
    const { port, bulkOut } = makeFakePort();
    const p = outcome(port.createTransfer('out').submit(Buffer.alloc(31), 0));
    bulkOut.transfers[0]!.complete(4, 7);
    const e = (await p) as UsbError;
    expect(e).toBeInstanceOf(UsbStallError);
    expect(e.actualLength).toBe(7);
    expect(e.pipe).toBe('out');
    await port.close();
  });

  it('times out by cancelling, and settles only once libusb has given the buffer back', async () => {
    const { port, bulkIn } = makeFakePort();
    const native = bulkIn.transfers.length;
    const t = port.createTransfer('in');
    const fakeT = bulkIn.transfers[native]!;
    fakeT.cancelCompletes = false;
    let settled = false;
    const p = outcome(t.submit(Buffer.alloc(13), 20)).finally(() => { settled = true; });
    await new Promise((r) => setTimeout(r, 60));
    expect(fakeT.cancels).toBe(1);
    expect(settled).toBe(false); // libusb still owns the buffer
    fakeT.complete(3, 5);
    const e = (await p) as UsbError;
    expect(e).toBeInstanceOf(UsbTimeoutError);
    expect(e.actualLength).toBe(5);
    await port.close();
  });

  it('cancel() rejects UsbCancelledError; on an idle transfer it does nothing; double submit is INVALID', async () => {
    const { port, bulkIn } = makeFakePort();
    const t = port.createTransfer('in');
    t.cancel();
    expect(bulkIn.transfers[0]!.cancels).toBe(0);
    const p = outcome(t.submit(Buffer.alloc(13), 0));
    const again = (await outcome(t.submit(Buffer.alloc(13), 0))) as UsbError;
    expect(again.code).toBe('ARG_INVALID');
    t.cancel();
    expect(await p).toBeInstanceOf(UsbCancelledError);
    await port.close();
  });

  it('close cancels in flight, waits, releases, re-attaches a detached driver, closes; later calls reject closed', async () => {
    const { port, device, iface, bulkIn } = makeFakePort({ detached: true });
    const p = outcome(port.createTransfer('in').submit(Buffer.alloc(13), 0));
    await port.close();
    expect(await p).toBeInstanceOf(UsbCancelledError);
    expect(bulkIn.transfers[0]!.cancels).toBe(1);
    expect(iface.released).toBe(true);
    expect(iface.attached).toBe(1);
    expect(device.closed).toBe(true);
    expect(port.closed).toBe(true);
    await expect(port.controlIn({ bmRequestType: 0xa1, bRequest: 0xfe, wValue: 0, wIndex: 0 }, 1, 10)).rejects.toBeInstanceOf(UsbClosedError);
    expect(() => port.createTransfer('out')).toThrow(UsbClosedError);
    await port.close();
    expect(iface.attached).toBe(1);
  });

  it('close does not hang when libusb never returns a cancelled transfer', async () => {
    const { port, device, bulkIn } = makeFakePort({ closeTimeoutMs: 30 });
    const t = port.createTransfer('in');
    bulkIn.transfers[0]!.cancelCompletes = false;
    void outcome(t.submit(Buffer.alloc(13), 0));
    device.pendingRequests = 1; // node-usb refuses to close a device with a request pending
    const t0 = Date.now();
    await port.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(device.closed).toBe(false);
  });

  it('a NO_DEVICE completion marks the port gone: listeners once, in-flight and later calls reject gone', async () => {
    const { port, bulkIn, bulkOut } = makeFakePort();
    const seen: UsbError[] = [];
    port.onDisconnect((e) => seen.push(e));
    const a = outcome(port.createTransfer('in').submit(Buffer.alloc(13), 0));
    const b = outcome(port.createTransfer('out').submit(Buffer.alloc(31), 0));
    bulkIn.transfers[0]!.complete(5, 0);
    expect(await a).toBeInstanceOf(UsbDeviceGoneError);
    expect(await b).toBeInstanceOf(UsbDeviceGoneError); // cancelled by the port, reported as the disconnect
    expect(bulkOut.transfers[0]!.cancels).toBe(1);
    await expect(port.clearHalt('in')).rejects.toBeInstanceOf(UsbDeviceGoneError);
    await expect(port.resetDevice()).rejects.toBeInstanceOf(UsbDeviceGoneError);
    expect(seen).toHaveLength(1);
    await port.close();
    expect(seen).toHaveLength(1);
  });

  it('a usb "detach" event for this device marks it gone; the listener is removed on close', async () => {
    const before = usb.listenerCount('detach');
    const { port, device } = makeFakePort();
    expect(usb.listenerCount('detach')).toBe(before + 1);
    const seen: UsbError[] = [];
    port.onDisconnect((e) => seen.push(e));
    usb.emit('detach', { busNumber: 9, deviceAddress: 9 } as unknown as Device);
    expect(seen).toHaveLength(0);
    usb.emit('detach', device as unknown as Device);
    expect(seen).toHaveLength(1);
    await port.close();
    expect(usb.listenerCount('detach')).toBe(before);
  });

  it('control transfers: direction checked, a STALL is UsbStallError, timeout 0 means no libusb timeout', async () => {
    const { port, device } = makeFakePort();
    const setup = { bmRequestType: 0xa1, bRequest: 0xfe, wValue: 0, wIndex: 0 };
    expect(((await outcome(port.controlIn({ ...setup, bmRequestType: 0x21 }, 1, 0))) as UsbError).code).toBe('ARG_INVALID');
    device.controlReply = { data: Buffer.from([3]) };
    expect(await port.controlIn(setup, 1, 0)).toEqual(Buffer.from([3]));
    expect(device.controlCalls.at(-1)!.timeout).toBeGreaterThan(24 * 3600 * 1000);
    device.controlReply = { errno: 4 };
    const e = (await outcome(port.controlIn(setup, 1, 250))) as UsbError;
    expect(e).toBeInstanceOf(UsbStallError);
    expect(e.pipe).toBe('control');
    expect(device.controlCalls.at(-1)!.timeout).toBe(250);
    await port.close();
  });

  it('reset: NOT_FOUND (device re-enumerated as another) is UsbDeviceGoneError; success re-claims', async () => {
    const ok = makeFakePort();
    await ok.port.resetDevice();
    expect(ok.iface.claims).toBe(1);
    await ok.port.close();
    const { port, device } = makeFakePort();
    device.resetError = -5;
    await expect(port.resetDevice()).rejects.toBeInstanceOf(UsbDeviceGoneError);
    await tick();
    await expect(port.clearHalt('out')).rejects.toBeInstanceOf(UsbDeviceGoneError);
    await port.close();
  });
});

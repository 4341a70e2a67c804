/**
 * The device boundary on the software rig: listing by port path, opening by port, a slot finding its device
 * again after it re-enumerates (and refusing another one), and port power through the hub class requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MockBackend } from '../../src/mock/backend.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import { DeviceMismatchError, DeviceWaitTimeoutError, PortPowerError } from '../../src/usb/device-errors.js';
import { UsbDeviceGoneError, UsbError } from '../../src/usb/errors.js';
import { parseDeviceSelector } from '../../src/usb/selector.js';
import { DeviceAtPort, portStatus, setPortPower, waitForArrival } from '../../src/usb/device-at-port.js';
import { openUsbms } from '../../src/open.js';
import { closing } from '../support/session.js';

const sel = parseDeviceSelector;
const backends: MockBackend[] = [];

async function rig(): Promise<MockBackend> {
  const b = new MockBackend({ enumerationDelayMs: 5 });
  backends.push(b);
  b.addHub('0-1', { ports: 4 });
  b.addHub('0-2', { ports: 4, powerSwitching: 'none' });
  b.addHub('0-3', { ports: 2, powerSwitching: 'ganged' });
  await b.plug('0-1.1', new MockUsbDevice({ serialNumber: 'A', luns: [{ blocks: 64 }] }));
  await b.plug('0-1.2', new MockUsbDevice({ serialNumber: 'B', luns: [{ blocks: 64 }] }));
  await b.plug('0-2.1', new MockUsbDevice({ serialNumber: 'C', luns: [{ blocks: 64 }] }));
  await b.plug('0-3.1', new MockUsbDevice({ serialNumber: 'D', luns: [{ blocks: 64 }] }));
  return b;
}
afterEach(() => { for (const b of backends.splice(0)) b.dispose(); });

describe('MockBackend: listed and opened like libusb devices', () => {
  it('lists every device by port path, in port order, with a distinct address each', async () => {
    const b = await rig();
    const rows = await b.list();
    expect(rows.map((r) => `${r.portPath}=${r.serialNumber}`)).toEqual(['0-1.1=A', '0-1.2=B', '0-2.1=C', '0-3.1=D']);
    expect(new Set(rows.map((r) => r.deviceAddress)).size).toBe(4);
    expect(rows[1]).toMatchObject({ busNumber: 0, portNumbers: [1, 2], vendorId: 0xf055, protocol: 'BOT',
      kernelDriverActive: false, accessDenied: false });
  });

  it('opens by port path, and the port knows where it is plugged', async () => {
    const b = await rig();
    await using port = closing(await b.open(sel('0-1.2')));
    expect(port.info.serialNumber).toBe('B');
    expect(port.info.portNumbers).toEqual([1, 2]);
    expect(port.info.busNumber).toBe(0);
  });

  it('openUsbms({ backend, device }) runs a whole session on the port path', async () => {
    const b = await rig();
    await using s = closing(await openUsbms({ backend: b, device: '0-3.1' }));
    const disk = await s.openDisk(0);
    expect(disk.blocks).toBe(64n);
    expect(s.port.info.serialNumber).toBe('D');
  });

  it('an absent port: NOT_FOUND listing what is there', async () => {
    const b = await rig();
    await expect(b.open(sel('0-1.4'))).rejects.toThrow(/no USB mass-storage device matches 0-1\.4 \(devices present: f055:5b00 at 0-1\.1/);
  });
});

describe('a slot across re-enumeration', () => {
  it('finds its device again after a re-plug, with a new address', async () => {
    const b = await rig();
    const slot = await DeviceAtPort.find(b, sel('f055:5b00:B'));
    expect(slot.portPath).toBe('0-1.2');
    const before = await slot.current();
    const dev = b.unplug('0-1.2');
    await slot.waitGone({ timeoutMs: 1000 });
    expect(await slot.current()).toBeUndefined();
    await b.plug('0-1.2', dev);
    const back = await slot.waitBack({ timeoutMs: 1000 });
    expect(back.serialNumber).toBe('B');
    expect(back.deviceAddress).not.toBe(before?.deviceAddress);
    const port = await slot.open();
    expect(port.info.serialNumber).toBe('B');
    await port.close();
  });

  it('refuses another device in its port: waitBack, current and open all throw DeviceMismatchError', async () => {
    const b = await rig();
    const slot = await DeviceAtPort.find(b, sel('0-1.2'));
    b.unplug('0-1.2');
    const waiting = slot.waitBack({ timeoutMs: 2000 });
    await b.plug('0-1.2', new MockUsbDevice({ serialNumber: 'IMPOSTOR' }));
    const e = await waiting.then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DeviceMismatchError);
    expect((e as DeviceMismatchError).found.serialNumber).toBe('IMPOSTOR');
    expect((e as Error).message).toBe('port 0-1.2 now holds f055:5b00 serial IMPOSTOR, not the device first found there ' +
      '(f055:5b00 serial B); refusing to use it');
    await expect(slot.current()).rejects.toBeInstanceOf(DeviceMismatchError);
    await expect(slot.open()).rejects.toBeInstanceOf(DeviceMismatchError);
    // another VID:PID with the same serial is another device too
    b.unplug('0-1.2');
    await b.plug('0-1.2', new MockUsbDevice({ serialNumber: 'B', productId: 0x1234 }));
    await expect(slot.current()).rejects.toBeInstanceOf(DeviceMismatchError);
  });

  it('the identity is checked by open itself, not only by the listing', async () => {
    const b = await rig();
    const slot = await DeviceAtPort.find(b, sel('0-1.1'));
    await expect(b.open(sel('0-1.2'), { expect: slot.identity })).rejects.toBeInstanceOf(DeviceMismatchError);
  });

  it('waits are bounded: a device that never leaves or never comes back is a typed TIMEOUT', async () => {
    const b = await rig();
    const slot = await DeviceAtPort.find(b, sel('0-1.1'));
    const t0 = Date.now();
    const e = await slot.waitGone({ timeoutMs: 150, pollMs: 20 }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DeviceWaitTimeoutError);
    expect((e as UsbError).code).toBe('USB_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(1000);
    b.unplug('0-1.1');
    await expect(slot.waitBack({ timeoutMs: 100, pollMs: 20 })).rejects.toThrow(/did not come back within 100 ms/);
  });
});

describe('port power through the hub', () => {
  it('power cycle: the device drops off (its session sees it gone), comes back with a new address, same identity', async () => {
    const b = await rig();
    const slot = await DeviceAtPort.find(b, sel('0-1.2'));
    const before = await slot.current();
    const s = await openUsbms({ backend: b, device: '0-1.2' });
    const gone = new Promise((resolve) => s.port.onDisconnect(resolve));
    const back = await slot.powerCycle({ offMs: 20, timeoutMs: 2000 });
    expect(await gone).toBeInstanceOf(UsbDeviceGoneError);
    await s.close();
    expect(back.serialNumber).toBe('B');
    expect(back.deviceAddress).not.toBe(before?.deviceAddress);
    // the neighbour on the same hub was not touched
    expect((await b.list()).map((r) => r.portPath)).toContain('0-1.1');
    // the exact requests uhubctl sends: CLEAR_FEATURE then SET_FEATURE(PORT_POWER = 8) to port 2, class/other
    const hub = b.hubAt('0-1')!;
    const power = hub.requests.filter((r) => r.bmRequestType === 0x23);
    expect(power).toEqual([{ bmRequestType: 0x23, bRequest: 0x01, wValue: 8, wIndex: 2 },
      { bmRequestType: 0x23, bRequest: 0x03, wValue: 8, wIndex: 2 }]);
    expect(hub.requests.some((r) => r.bmRequestType === 0xa0 && r.bRequest === 0x06 && r.wValue === 0x2900)).toBe(true);
  });

  it('power off / on: off leaves the port unpowered and empty, on brings the same device back', async () => {
    const b = await rig();
    const slot = await DeviceAtPort.find(b, sel('0-1.1'));
    await slot.powerOff({ timeoutMs: 1000 });
    expect(await portStatus(b, slot.identity)).toMatchObject({ powered: false, connected: false });
    expect((await b.list()).some((r) => r.portPath === '0-1.1')).toBe(false);
    const back = await slot.powerOn({ timeoutMs: 1000 });
    expect(back.serialNumber).toBe('A');
    expect(await portStatus(b, slot.identity)).toMatchObject({ powered: true, connected: true });
  });

  it('power on of an empty slot (no identity known yet) waits for whatever arrives there', async () => {
    const b = await rig();
    const at = { busNumber: 0, portNumbers: [1, 2] };
    await setPortPower(b, at, false);
    await expect(waitForArrival(b, at, { timeoutMs: 60, pollMs: 10 })).rejects.toBeInstanceOf(DeviceWaitTimeoutError);
    await setPortPower(b, at, true);
    expect((await waitForArrival(b, at, { timeoutMs: 1000 })).serialNumber).toBe('B');
  });

  it('a hub without power switching is refused with PortPowerError, and nothing changes', async () => {
    const b = await rig();
    const e = await setPortPower(b, { busNumber: 0, portNumbers: [2, 1] }, false)
      .then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(PortPowerError);
    expect((e as PortPowerError).code).toBe('USB_NOT_SUPPORTED');
    expect((e as PortPowerError).reason).toBe('no-switching');
    expect((e as Error).message).toMatch(/hub 0-2 cannot switch port power \(wHubCharacteristics 0x000a: no power switching\)/);
    expect(b.hubAt('0-2')!.requests.some((r) => r.bmRequestType === 0x23)).toBe(false);
    expect((await b.list()).some((r) => r.portPath === '0-2.1')).toBe(true);
    const slot = await DeviceAtPort.find(b, sel('0-2.1'));
    await expect(slot.powerCycle({ offMs: 1 })).rejects.toBeInstanceOf(PortPowerError);
  });

  it('a ganged hub (two ports switched together) is refused; the root hub too', async () => {
    const b = await rig();
    await expect(DeviceAtPort.find(b, sel('0-3.1')).then((s) => s.powerOff())).rejects.toMatchObject({ reason: 'ganged' });
    await expect(setPortPower(b, { busNumber: 0, portNumbers: [1] }, false)).rejects.toMatchObject({ reason: 'no-switching' });
    await expect(setPortPower(b, { busNumber: 0, portNumbers: [] }, false)).rejects.toMatchObject({ reason: 'not-a-hub' });
  });

  it('switching power of a hub port takes everything behind it down, and back', async () => {
    const b = new MockBackend({ rootPowerSwitching: 'individual', enumerationDelayMs: 5 });
    backends.push(b);
    b.addHub('0-4', { ports: 2 });
    await b.plug('0-4.2', new MockUsbDevice({ serialNumber: 'E' }));
    await setPortPower(b, { busNumber: 0, portNumbers: [4] }, false);
    expect(await b.list()).toEqual([]);
    await setPortPower(b, { busNumber: 0, portNumbers: [4] }, true);
    const slot = DeviceAtPort.of(b, { busNumber: 0, portNumbers: [4, 2], vendorId: 0xf055, productId: 0x5b00, serialNumber: 'E' });
    expect((await slot.waitBack({ timeoutMs: 1000 })).serialNumber).toBe('E');
  });

  it('a SuperSpeed hub answers descriptor type 0x2A only, and reports PORT_POWER at bit 9', async () => {
    const b = new MockBackend({ enumerationDelayMs: 5 });
    backends.push(b);
    const hub = b.addHub('0-5', { ports: 4, superSpeed: true });
    await b.plug('0-5.3', new MockUsbDevice({ serialNumber: 'S', speed: 'super', maxPacketSize: 1024 }));
    const slot = await DeviceAtPort.find(b, sel('0-5.3'));
    expect((await slot.powerCycle({ offMs: 1, timeoutMs: 1000 })).serialNumber).toBe('S');
    expect(hub.requests.some((r) => r.bmRequestType === 0xa0 && r.wValue === 0x2a00)).toBe(true);
    const status = await hub.pipe().controlIn({ bmRequestType: 0xa3, bRequest: 0, wValue: 0, wIndex: 3 }, 4, 100);
    expect(status.readUInt16LE(0) & 0x0200).toBe(0x0200);
    await expect(hub.pipe().controlIn({ bmRequestType: 0xa0, bRequest: 6, wValue: 0x2900, wIndex: 0 }, 12, 100))
      .rejects.toMatchObject({ code: 'USB_STALL' });
  });
});

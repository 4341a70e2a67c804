/**
 * LibusbBackend's hub side over a fake node-usb: the hub is opened without a configuration or a claim, the
 * exact uhubctl requests go out on its default pipe, and a hub shared by two slots is closed once, by the last.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';

interface Call { bmRequestType: number; bRequest: number; wValue: number; wIndex: number; data: Buffer | number }
class FakeUsbDevice {
  opened = 0;
  closed = 0;
  openArgs: unknown[] = [];
  timeout = 1000;
  interfaces: undefined = undefined;
  readonly calls: Call[] = [];
  constructor(readonly busNumber: number, readonly portNumbers: number[], readonly deviceAddress: number,
    readonly deviceDescriptor: { bDeviceClass: number; bcdUSB: number; idVendor: number; idProduct: number },
    private readonly characteristics = 0x0009) {}
  open(defaultConfig?: boolean): void { this.opened++; this.openArgs.push(defaultConfig); }
  close(): void { this.closed++; }
  controlTransfer(bmRequestType: number, bRequest: number, wValue: number, wIndex: number, data: Buffer | number,
    cb: (e: undefined, d?: Buffer | number) => void): void {
    this.calls.push({ bmRequestType, bRequest, wValue, wIndex, data });
    const desc = Buffer.from([9, 0x29, 4, this.characteristics & 0xff, this.characteristics >> 8, 50, 0, 0, 0xff]);
    setImmediate(() => cb(undefined, typeof data === 'number' ? desc.subarray(0, data) : 0));
  }
}

const hub = new FakeUsbDevice(1, [2], 3, { bDeviceClass: 9, bcdUSB: 0x0200, idVendor: 0x0409, idProduct: 0x005a });
const plainHub = new FakeUsbDevice(1, [3], 4, { bDeviceClass: 9, bcdUSB: 0x0110, idVendor: 0x0409, idProduct: 0x0001 }, 0x000a);
const stick = new FakeUsbDevice(1, [2, 1], 5, { bDeviceClass: 0, bcdUSB: 0x0200, idVendor: 0x0781, idProduct: 0x5567 });
vi.mock('usb', () => ({ getDeviceList: () => [hub, plainHub, stick], usb: {} }));

const { LibusbBackend } = await import('../../../src/usb/libusb/backend.js');
const { setPortPower } = await import('../../../src/usb/device-at-port.js');

beforeEach(() => { for (const d of [hub, plainHub, stick]) { d.calls.length = 0; d.opened = 0; d.closed = 0; d.openArgs = []; } });

describe('LibusbBackend hubs', () => {
  const noSysfs = { sysfsRoot: join(tmpdir(), 'usbms-no-such-sysfs') };

  it('switches a port with GET_DESCRIPTOR(HUB) then CLEAR_FEATURE(PORT_POWER), without configuring the hub', async () => {
    await setPortPower(new LibusbBackend(noSysfs), { busNumber: 1, portNumbers: [2, 1] }, false);
    expect(hub.openArgs).toEqual([false]);
    expect(hub.calls.map(({ bmRequestType, bRequest, wValue, wIndex }) => [bmRequestType, bRequest, wValue, wIndex]))
      .toEqual([[0xa0, 0x06, 0x2900, 0], [0x23, 0x01, 8, 1]]);
    expect(hub.calls[1]?.data).toEqual(Buffer.alloc(0));
    expect(hub.closed).toBe(1);
  });

  it('refuses a hub without power switching before sending any power request', async () => {
    await expect(setPortPower(new LibusbBackend(noSysfs), { busNumber: 1, portNumbers: [3, 1] }, false))
      .rejects.toMatchObject({ name: 'PortPowerError', reason: 'no-switching' });
    expect(plainHub.calls.map((c) => c.bmRequestType)).toEqual([0xa0]);
    expect(plainHub.closed).toBe(1);
  });

  it('on Linux 6.0+ switches through the port\'s sysfs disable file (the hub driver would re-power it otherwise)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'usbms-sysfs-'));
    const portDir = join(root, '1-2', '1-2:1.0', '1-2-port1');
    mkdirSync(portDir, { recursive: true });
    writeFileSync(join(root, '1-2', 'bConfigurationValue'), '1\n');
    writeFileSync(join(portDir, 'disable'), '0\n');
    const b = new LibusbBackend({ sysfsRoot: root });
    await setPortPower(b, { busNumber: 1, portNumbers: [2, 1] }, false);
    expect(readFileSync(join(portDir, 'disable'), 'utf8')).toBe('1');
    // the descriptor is still read (and checked) first; no PORT_POWER request goes out on the pipe
    expect(hub.calls.map((c) => c.bmRequestType)).toEqual([0xa0]);
    await setPortPower(b, { busNumber: 1, portNumbers: [2, 1] }, true);
    expect(readFileSync(join(portDir, 'disable'), 'utf8')).toBe('0');
    // a hub that cannot switch is refused before the file is touched
    mkdirSync(join(root, '1-3', '1-3:1.0', '1-3-port1'), { recursive: true });
    writeFileSync(join(root, '1-3', 'bConfigurationValue'), '1\n');
    writeFileSync(join(root, '1-3', '1-3:1.0', '1-3-port1', 'disable'), '0');
    await expect(setPortPower(b, { busNumber: 1, portNumbers: [3, 1] }, false)).rejects.toMatchObject({ reason: 'no-switching' });
    expect(readFileSync(join(root, '1-3', '1-3:1.0', '1-3-port1', 'disable'), 'utf8')).toBe('0');
  });

  it('refuses what is not a hub, and an empty location, with typed errors', async () => {
    const b = new LibusbBackend();
    await expect(b.openHub({ busNumber: 1, portNumbers: [2, 1] })).rejects.toMatchObject({ kind: 'NOT_SUPPORTED' });
    await expect(b.openHub({ busNumber: 1, portNumbers: [7] })).rejects.toMatchObject({ kind: 'NOT_FOUND' });
  });

  it('two users of one hub share its handle; the last close closes it', async () => {
    const b = new LibusbBackend();
    const one = await b.openHub({ busNumber: 1, portNumbers: [2] });
    const two = await b.openHub({ busNumber: 1, portNumbers: [2] });
    expect(hub.opened).toBe(1);
    await one.close();
    await one.close(); // a second close of the same control does not count twice
    expect(hub.closed).toBe(0);
    await two.close();
    expect(hub.closed).toBe(1);
  });
});

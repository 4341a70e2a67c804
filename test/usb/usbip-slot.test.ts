/**
 * A device attached through USB/IP as a slot: named `usbip:HOST:BUSID`, found again wherever vhci attaches it next,
 * another device under that name refused, port power refused with the recipe for the host that holds the hub; a
 * device exported from here left to its importer. On the software rig, whose rows carry what the kernel's files
 * would say (MockBackend.plug's usbip / exported options).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MockBackend } from '../../src/mock/backend.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import { DeviceMismatchError, PortPowerError, UsbipExportedError } from '../../src/usb/device-errors.js';
import {
  DeviceSelectorError, formatDeviceSelector, matchesSelector, parseDeviceSelector, selectOne,
} from '../../src/usb/selector.js';
import { DeviceAtPort, setPortPower } from '../../src/usb/device-at-port.js';
import type { UsbipExport, UsbipImport } from '../../src/usb/usbip.js';

const imported = (host: string, busid: string, vhciPort = 15): UsbipImport =>
  ({ host, busid, tcpPort: 3240, vhciPort, remoteBus: 2, remoteAddress: 2 });
const EXPORT: UsbipExport = { busid: '0-1.1', status: 'in-use', to: ['127.0.0.1'] };
const disk = (serial: string): MockUsbDevice => new MockUsbDevice({ serialNumber: serial, luns: [{ blocks: 64 }] });

const backends: MockBackend[] = [];
async function rig(): Promise<{ b: MockBackend; stick: MockUsbDevice }> {
  const b = new MockBackend({ enumerationDelayMs: 5 });
  backends.push(b);
  b.addHub('0-1', { ports: 4 });
  b.addHub('0-2', { ports: 4 });
  const stick = disk('USBVM0');
  // The stick exported at 0-1.1 and attached back (through "vhci") at 0-2.1, as in the lab guest; a local disk beside.
  await b.plug('0-1.1', disk('USBVM0'), { exported: EXPORT });
  await b.plug('0-2.1', stick, { usbip: imported('lab2', '1-3') });
  await b.plug('0-1.2', disk('LOCAL'));
  return { b, stick };
}
afterEach(() => { for (const b of backends.splice(0)) b.dispose(); });

describe('--device usbip:HOST:BUSID', () => {
  it('parses and formats (an IPv6 host in brackets)', () => {
    expect(parseDeviceSelector('usbip:127.0.0.1:2-1')).toEqual({ kind: 'usbip', host: '127.0.0.1', busid: '2-1' });
    expect(parseDeviceSelector('USBIP:lab2.example:1-1.4')).toEqual({ kind: 'usbip', host: 'lab2.example', busid: '1-1.4' });
    const v6 = parseDeviceSelector('usbip:[fe80::1]:3-2');
    expect(v6).toEqual({ kind: 'usbip', host: 'fe80::1', busid: '3-2' });
    expect(formatDeviceSelector(v6)).toBe('usbip:[fe80::1]:3-2');
    expect(formatDeviceSelector(parseDeviceSelector('usbip:h:1-2'))).toBe('usbip:h:1-2');
  });

  it('refuses what cannot name a USB/IP device', () => {
    for (const bad of ['usbip:', 'usbip:host', 'usbip::1-2', 'usbip:host:usb1', 'usbip:host:1-2:3', 'usbip:a b:1-1']) {
      expect(() => parseDeviceSelector(bad), bad).toThrow(DeviceSelectorError);
    }
  });

  it('matches the remote name (host without case), never a device without a record', () => {
    const sel = parseDeviceSelector('usbip:LAB2:1-3');
    const base = { vendorId: 1, productId: 2, busNumber: 4, portNumbers: [1], deviceAddress: 2, serialNumber: 'S' };
    expect(matchesSelector(sel, { ...base, usbip: { host: 'lab2', busid: '1-3' } })).toBe(true);
    expect(matchesSelector(sel, { ...base, usbip: { host: 'lab2', busid: '1-4' } })).toBe(false);
    expect(matchesSelector(sel, { ...base, usbip: { host: undefined, busid: undefined } })).toBe(false);
    expect(matchesSelector(sel, base)).toBe(false);
  });

  it('a VID:PID that names the export and its import picks the import; the export alone is still named', async () => {
    const { b } = await rig();
    const rows = await b.list();
    expect(selectOne(parseDeviceSelector('f055:5b00:USBVM0'), rows).portPath).toBe('0-2.1');
    expect(selectOne(parseDeviceSelector('0-1.1'), rows).exported).toEqual(EXPORT);
  });
});

describe('an exported device is refused unless forced', () => {
  it('open refuses it with UsbipExportedError (exit 15 class USB_BUSY); --force-exported opens it', async () => {
    const { b } = await rig();
    const e = await openUsbms({ backend: b, device: '0-1.1' }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(UsbipExportedError);
    expect(e).toMatchObject({ code: 'USB_BUSY' });
    const s = await openUsbms({ backend: b, device: '0-1.1', forceExported: true });
    await s.close();
  });
});

describe('a USB/IP slot', () => {
  it('is named by host and bus id and opens through that name', async () => {
    const { b } = await rig();
    const slot = await DeviceAtPort.find(b, parseDeviceSelector('usbip:lab2:1-3'));
    expect(slot.name).toBe('usbip:lab2:1-3');
    expect(slot.selector).toEqual({ kind: 'usbip', host: 'lab2', busid: '1-3' });
    expect(slot.toString()).toBe('usbip:lab2:1-3 (f055:5b00 serial USBVM0)');
    const port = await slot.open();
    expect(port.info.serialNumber).toBe('USBVM0');
    await port.close();
  });

  it('finds its device again on another vhci port after a detach and re-attach', async () => {
    const { b, stick } = await rig();
    const slot = await DeviceAtPort.find(b, parseDeviceSelector('usbip:lab2:1-3'));
    b.unplug('0-2.1');
    expect(await slot.current()).toBeUndefined();
    const back = slot.waitBack({ timeoutMs: 2000, pollMs: 5 });
    setTimeout(() => { void b.plug('0-2.3', stick, { usbip: imported('lab2', '1-3', 17) }); }, 20);
    const row = await back;
    expect(row.portPath).toBe('0-2.3');
    const port = await slot.open();
    expect(port.info.portNumbers).toEqual([2, 3]);
    await port.close();
  });

  it('refuses another device attached under its name, and does not take the old port for it', async () => {
    const { b } = await rig();
    const slot = await DeviceAtPort.find(b, parseDeviceSelector('usbip:lab2:1-3'));
    b.unplug('0-2.1');
    // another stick at the same remote bus id, and the old vhci port taken by something else
    await b.plug('0-2.2', disk('IMPOSTOR'), { usbip: imported('lab2', '1-3', 16) });
    await b.plug('0-2.1', disk('USBVM0'));
    await expect(slot.waitBack({ timeoutMs: 1000, pollMs: 5 })).rejects.toBeInstanceOf(DeviceMismatchError);
    await expect(slot.open()).rejects.toThrow(/usbip:lab2:1-3 \(port 0-2\.1\) now holds f055:5b00 serial IMPOSTOR/);
  });

  it('refuses port power with the recipe for the host that holds the hub, switching nothing', async () => {
    const { b } = await rig();
    const slot = await DeviceAtPort.find(b, parseDeviceSelector('usbip:lab2:1-3'));
    const e = await slot.powerCycle({ offMs: 1 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(PortPowerError);
    expect(e).toMatchObject({ reason: 'usbip' });
    expect((e as Error).message).toMatch(/its hub is on lab2.*run `usbms power cycle --device 1-3` on lab2/);
    expect(b.hubAt('0-2')?.isPowered(1)).toBe(true);
    // the local slot beside it still switches
    await setPortPower(b, { busNumber: 0, portNumbers: [1, 2] }, false);
    expect(b.hubAt('0-1')?.isPowered(2)).toBe(false);
  });
});

describe('usbms list over USB/IP', () => {
  it('shows the remote identity of an import and the export as exported, never opening the export', async () => {
    const { listRows, formatListRow } = await import('../../src/apps/cli/commands/list.js');
    const { b } = await rig();
    const rows = await listRows(b);
    const exp = rows.find((r) => r.port === '0-1.1');
    const imp = rows.find((r) => r.port === '0-2.1');
    expect(imp?.usbip).toEqual({ host: 'lab2', busid: '1-3', tcpPort: 3240, vhciPort: 15 });
    expect(imp?.exported).toBeNull();
    expect(imp?.luns).toBe(1);
    expect(exp?.exported).toEqual({ status: 'in-use', to: ['127.0.0.1'] });
    expect(exp?.luns).toBeNull();
    expect(rows.find((r) => r.port === '0-1.2')).toMatchObject({ usbip: null, exported: null });
    expect(formatListRow(imp!)).toMatch(/^0-2\.1 f055:5b00 .* usbip: usbip:lab2:1-3 \(vhci port 15; port power on lab2\)$/);
    expect(formatListRow(exp!)).toMatch(/^0-1\.1 .* EXPORTED through usbip-host \(in-use by 127\.0\.0\.1\): left out, --force-exported to use it here$/);
  });
});

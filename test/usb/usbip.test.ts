/**
 * USB/IP as the kernel's files say it (src/usb/usbip.ts, src/usb/libusb/usbip.ts): vhci status lines, the records
 * `usbip attach` writes, usbip-host's bound devices and their importers, and listing rows annotated from them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceListing } from '../../src/usb/backend.js';
import { PortPowerError, UsbipExportedError } from '../../src/usb/device-errors.js';
import { LibusbBackend } from '../../src/usb/libusb/backend.js';
import { refuseExported, withUsbip } from '../../src/usb/libusb/usbip.js';
import {
  isVhciBus, parseVhciRecord, parseVhciStatus, peersOfLocalPort, procNetAddress, readUsbipExports, readUsbipImports,
  readVhciPorts,
} from '../../src/usb/usbip.js';
import { UsbipTree, USED_PORT_15, vhciStatusFile } from './usbip-fixture.js';

const trees: UsbipTree[] = [];
const tree = (t: UsbipTree): UsbipTree => { trees.push(t); return t; };
afterEach(() => { for (const t of trees.splice(0)) t.dispose(); });

function row(portPath: string, serial = 'USBVM0'): DeviceListing {
  const [bus = '0', chain = ''] = portPath.split('-');
  return { vendorId: 0x46f4, productId: 0x0001, busNumber: Number(bus), deviceAddress: 2,
    portNumbers: chain.split('.').map(Number), portPath, serialNumber: serial, manufacturer: 'QEMU',
    product: 'QEMU USB HARDDRIVE', accessDenied: false, speed: 'super', interfaceNumber: 0, protocol: 'BOT',
    protocolCode: 0x50, hasBotAltSetting: true, hasUasAltSetting: false, kernelDriverActive: false };
}

describe('vhci status files (drivers/usb/usbip/vhci_sysfs.c)', () => {
  it('reads every port of a status file, the attached one with its remote bus and device', () => {
    const ports = parseVhciStatus(vhciStatusFile(0, { 15: USED_PORT_15 }));
    expect(ports).toHaveLength(30);
    expect(ports[0]).toEqual({ hub: 'hs', port: 0, status: 4, speed: 0, devid: 0, localBusid: '0-0' });
    expect(ports[15]).toEqual({ hub: 'ss', port: 15, status: 6, speed: 5, devid: 0x20002, localBusid: '4-1' });
  });

  it('numbers ports over all controllers (status.1 holds 30..59) and skips a line of another shape', () => {
    const text = vhciStatusFile(1).replace('hs  0031 004', 'garbage');
    const ports = parseVhciStatus(text);
    expect(ports[0]?.port).toBe(30);
    expect(ports.map((p) => p.port)).not.toContain(31);
    expect(ports).toHaveLength(29);
  });

  it('reads the pre-4.14 layout without the hub column', () => {
    const old = 'port sta spd dev      sockfd local_busid\n0000 006 003 00010002 000003 3-1\n';
    expect(parseVhciStatus(old)).toEqual([{ hub: 'hs', port: 0, status: 6, speed: 3, devid: 0x10002, localBusid: '3-1' }]);
  });

  it('finds all 240 ports of the eight controllers, and none without vhci-hcd', () => {
    const t = tree(new UsbipTree().vhci());
    expect(readVhciPorts(t.roots)).toHaveLength(240);
    expect(readVhciPorts(tree(new UsbipTree()).roots)).toEqual([]);
  });
});

describe('/var/run/vhci_hcd/port<N> (usbip_attach.c record_connection)', () => {
  it('parses HOST TCPPORT BUSID', () => {
    expect(parseVhciRecord('127.0.0.1 3240 2-1\n')).toEqual({ host: '127.0.0.1', tcpPort: 3240, busid: '2-1' });
    expect(parseVhciRecord('fe80::1%eth0 3240 1-1.4\n')).toEqual({ host: 'fe80::1%eth0', tcpPort: 3240, busid: '1-1.4' });
  });

  it('refuses what is not that shape', () => {
    for (const bad of ['', '127.0.0.1 3240\n', '127.0.0.1 port 2-1\n', '127.0.0.1 3240 2-1 extra\n', 'h 3240 usb2\n']) {
      expect(parseVhciRecord(bad)).toBeUndefined();
    }
  });
});

describe('imports: devices attached here through vhci', () => {
  it('maps the local bus id to the remote host and bus id', () => {
    const t = tree(UsbipTree.labGuest());
    expect([...readUsbipImports(t.roots)]).toEqual([['4-1', { host: '127.0.0.1', busid: '2-1', tcpPort: 3240,
      vhciPort: 15, remoteBus: 2, remoteAddress: 2 }]]);
  });

  it('a record without a port in use is stale (the link dropped): not an import', () => {
    const t = tree(new UsbipTree().vhci()).write('run/vhci_hcd/port15', '127.0.0.1 3240 2-1\n');
    expect(readUsbipImports(t.roots).size).toBe(0);
  });

  it('a port in use without a record is an import from an unknown host', () => {
    const t = tree(new UsbipTree().vhci({ 15: USED_PORT_15 }));
    expect(readUsbipImports(t.roots).get('4-1')).toEqual({ host: undefined, busid: undefined, tcpPort: undefined,
      vhciPort: 15, remoteBus: 2, remoteAddress: 2 });
  });

  it('tells a vhci bus from a host controller bus', () => {
    const t = tree(UsbipTree.labGuest());
    expect(isVhciBus(4, t.roots)).toBe(true);
    expect(isVhciBus(18, t.roots)).toBe(true);
    expect(isVhciBus(2, t.roots)).toBe(false);
  });
});

describe('exports: devices bound to usbip-host here', () => {
  it('lists the bound bus ids (not the driver\'s own files), their status and the hosts connected to usbipd', () => {
    const t = tree(UsbipTree.labGuest());
    expect([...readUsbipExports(t.roots)]).toEqual([['2-1', { busid: '2-1', status: 'in-use', to: ['127.0.0.1'] }]]);
  });

  it('a device bound but not imported is available, with nobody to name', () => {
    const t = tree(new UsbipTree().bound('1-2', 1));
    expect(readUsbipExports(t.roots).get('1-2')).toEqual({ busid: '1-2', status: 'available', to: [] });
  });

  it('reads /proc/net/tcp addresses in the host byte order, IPv6 and IPv4-mapped too', () => {
    expect(procNetAddress('0100007F', true)).toBe('127.0.0.1');
    expect(procNetAddress('7F000001', false)).toBe('127.0.0.1');
    expect(procNetAddress('0000000000000000FFFF00000200000A', true)).toBe('10.0.0.2');
    expect(procNetAddress('00000000000000000000000001000000', true)).toBe('::1');
    expect(procNetAddress('000080FE00000000FF005002FB1601FE', true)).toBe('fe80::250:ff:fe01:16fb');
  });

  it('takes peers only of established connections to the given local port', () => {
    const t = tree(UsbipTree.labGuest());
    expect(peersOfLocalPort(t.roots, 3240, true)).toEqual(['127.0.0.1']);
    expect(peersOfLocalPort(t.roots, 22, true)).toEqual([]);
  });
});

describe('listing rows with their USB/IP side', () => {
  it('marks the vhci device with its remote identity and the original as exported; others unchanged', () => {
    const t = tree(UsbipTree.labGuest());
    const [orig, imported, other] = withUsbip([row('2-1'), row('4-1'), row('2-2', 'OTHER')], t.roots);
    expect(orig?.exported).toEqual({ busid: '2-1', status: 'in-use', to: ['127.0.0.1'] });
    expect(orig?.usbip).toBeUndefined();
    expect(imported?.usbip).toMatchObject({ host: '127.0.0.1', busid: '2-1', vhciPort: 15 });
    expect(imported?.exported).toBeUndefined();
    expect(other).toEqual(row('2-2', 'OTHER'));
  });

  it('refuses an exported device with a typed error that says what to do, unless forced', () => {
    const t = tree(UsbipTree.labGuest());
    const [orig, imported] = withUsbip([row('2-1'), row('4-1')], t.roots);
    if (orig === undefined || imported === undefined) throw new Error('rows');
    const e = (() => { try { refuseExported(orig, false); } catch (x) { return x; } return undefined; })();
    expect(e).toBeInstanceOf(UsbipExportedError);
    expect(e).toMatchObject({ code: 'USB_BUSY', exported: { busid: '2-1' } });
    expect((e as Error).message).toMatch(/2-1 is exported through USB\/IP .*in use by 127\.0\.0\.1.*--force-exported/);
    expect(() => { refuseExported(orig, true); }).not.toThrow();
    expect(() => { refuseExported(imported, false); }).not.toThrow();
  });

  it('libusb port power refuses a port of the vhci root hub, saying where the hub really is', async () => {
    const t = tree(UsbipTree.labGuest());
    const backend = new LibusbBackend({ usbipRoots: t.roots });
    const e = await backend.openHub({ busNumber: 4, portNumbers: [] }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(PortPowerError);
    expect(e).toMatchObject({ reason: 'usbip', code: 'USB_NOT_SUPPORTED' });
    expect((e as Error).message).toMatch(/vhci-hcd.*usbms power.*on the host that holds the hub/);
  });
});

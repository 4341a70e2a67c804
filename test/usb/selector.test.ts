import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DeviceSelectorError, formatDeviceSelector, matchesSelector, parseDeviceSelector, selectOne,
  type SelectableDevice,
} from '../../src/usb/selector.js';
import { speedFromBulkMaxPacket, speedFromSysfs } from '../../src/usb/libusb/list.js';
import { UsbError } from '../../src/usb/errors.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';
import { openLibusbPort } from '../../src/usb/libusb/index.js';

describe('parseDeviceSelector', () => {
  it('reads vid:pid in hex, as lsusb prints it', () => {
    expect(parseDeviceSelector('46f4:0001')).toEqual({ kind: 'ids', vendorId: 0x46f4, productId: 0x0001 });
    expect(parseDeviceSelector('1D6B:104')).toEqual({ kind: 'ids', vendorId: 0x1d6b, productId: 0x0104 });
  });

  it('reads vid:pid:serial, keeping colons inside the serial', () => {
    expect(parseDeviceSelector('0781:5567:AA:BB')).toEqual({ kind: 'ids', vendorId: 0x0781, productId: 0x5567, serialNumber: 'AA:BB' });
  });

  it('reads two short decimal numbers as bus:address (also with lsusb zero padding)', () => {
    expect(parseDeviceSelector('1:4')).toEqual({ kind: 'location', busNumber: 1, deviceAddress: 4 });
    expect(parseDeviceSelector('001:004')).toEqual({ kind: 'location', busNumber: 1, deviceAddress: 4 });
    // four digits each is the vid:pid form, even when all of them are decimal
    expect(parseDeviceSelector('0001:0004')).toEqual({ kind: 'ids', vendorId: 1, productId: 4 });
  });

  it.each([
    ['', 'two numbers'], ['46f4', 'two numbers'], [':0001', 'empty'], ['46f4:', 'empty'], ['xyz:0001', 'vendor id'],
    ['46f4:12345', 'product id'], ['0:4', 'bus 0'], ['1:200', 'address 200'], ['46f4:0001:', 'empty serial'],
  ])('rejects %j with a typed INVALID error naming the problem (%s)', (input, reason) => {
    let caught: unknown;
    try { parseDeviceSelector(input); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(DeviceSelectorError);
    expect(caught).toBeInstanceOf(UsbmsArgumentError);
    expect((caught as UsbmsArgumentError).code).toBe('ARG_INVALID');
    expect((caught as Error).message).toContain(reason);
    expect((caught as Error).message).toContain('vid:pid');
  });

  it('round-trips every vid:pid[:serial] through format and parse', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }),
      fc.option(fc.stringMatching(/^[A-Za-z0-9:._-]{1,20}$/), { nil: undefined }), (vendorId, productId, serial) => {
        const sel = serial === undefined ? { kind: 'ids' as const, vendorId, productId }
          : { kind: 'ids' as const, vendorId, productId, serialNumber: serial };
        expect(parseDeviceSelector(formatDeviceSelector(sel))).toEqual(sel);
      }));
  });

  it('reads a port path, sysfs style: bus, dash, the hub port chain', () => {
    expect(parseDeviceSelector('1-2.3')).toEqual({ kind: 'port', busNumber: 1, portNumbers: [2, 3] });
    expect(parseDeviceSelector(' 3-1 ')).toEqual({ kind: 'port', busNumber: 3, portNumbers: [1] });
    expect(parseDeviceSelector('2-1.4.2.1')).toEqual({ kind: 'port', busNumber: 2, portNumbers: [1, 4, 2, 1] });
    // bus 0 is the software disk's bus (no host has one), allowed in a port path only
    expect(parseDeviceSelector('0-1.1')).toEqual({ kind: 'port', busNumber: 0, portNumbers: [1, 1] });
  });

  it('tells the three forms apart by punctuation: dash = port path, colon = ids or location', () => {
    expect(parseDeviceSelector('1-2').kind).toBe('port');
    expect(parseDeviceSelector('1:2').kind).toBe('location');
    expect(parseDeviceSelector('1:2:SER-1').kind).toBe('ids'); // a dash inside a serial is still the ids form
    expect(parseDeviceSelector('abcd:0001').kind).toBe('ids');
  });

  it.each([
    ['1-', 'port'], ['-2', 'bus'], ['1-2..3', 'port'], ['1-2.x', 'port'], ['1-0', 'port 0'], ['1-256', 'port 256'],
    ['256-1', 'bus 256'], ['1-1.1.1.1.1.1.1.1', 'at most 7'],
  ])('rejects the port path %j with a typed INVALID error (%s)', (input, reason) => {
    let caught: unknown;
    try { parseDeviceSelector(input); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(DeviceSelectorError);
    expect((caught as UsbError).code).toBe('ARG_INVALID');
    expect((caught as Error).message).toContain(reason);
    expect((caught as Error).message).toContain('port path (1-2.3)');
  });

  it('round-trips every port path', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 7 }),
      (busNumber, portNumbers) => {
        const sel = { kind: 'port' as const, busNumber, portNumbers };
        expect(formatDeviceSelector(sel)).toBe(`${busNumber}-${portNumbers.join('.')}`);
        expect(parseDeviceSelector(formatDeviceSelector(sel))).toEqual(sel);
      }));
  });

  it('round-trips every bus:address', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 127 }), (busNumber, deviceAddress) => {
      const sel = { kind: 'location' as const, busNumber, deviceAddress };
      expect(parseDeviceSelector(formatDeviceSelector(sel))).toEqual(sel);
    }));
  });
});

describe('device speed', () => {
  it('maps the Linux sysfs speed file (Mb/s)', () => {
    expect(speedFromSysfs('1.5\n')).toBe('low');
    expect(speedFromSysfs('12\n')).toBe('full');
    expect(speedFromSysfs('480\n')).toBe('high');
    expect(speedFromSysfs('5000\n')).toBe('super');
    expect(speedFromSysfs('10000\n')).toBe('super-plus');
    expect(speedFromSysfs('weird')).toBe('unknown');
  });

  it('infers the speed from a bulk max packet size when sysfs is missing', () => {
    expect(speedFromBulkMaxPacket(64)).toBe('full');
    expect(speedFromBulkMaxPacket(512)).toBe('high');
    expect(speedFromBulkMaxPacket(1024)).toBe('super');
    expect(speedFromBulkMaxPacket(0)).toBe('unknown');
  });
});

describe('openLibusbPort on devices that are not there', () => {
  it('rejects a bad selector with INVALID before touching libusb', async () => {
    const e = await openLibusbPort('not-a-device').then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(DeviceSelectorError);
  });

  it('rejects an absent device with NOT_FOUND that lists what is present', async () => {
    const e = await openLibusbPort('dead:beef').then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(UsbError);
    expect((e as UsbError).code).toBe('USB_NOT_FOUND');
    expect((e as Error).message).toMatch(/no USB mass-storage device matches dead:beef \(devices present: /);
  });
});

describe('matching a selector against the devices present', () => {
  const dev = (o: Partial<SelectableDevice>): SelectableDevice => ({ vendorId: 0x0781, productId: 0x5567, busNumber: 1,
    deviceAddress: 5, portNumbers: [2, 3], serialNumber: 'A', ...o });
  const a = dev({});
  const b = dev({ deviceAddress: 6, portNumbers: [2, 4], serialNumber: 'B' });
  const c = dev({ vendorId: 0x46f4, productId: 1, deviceAddress: 7, portNumbers: [1], serialNumber: undefined });

  it('a port path matches the device in that port only, whatever its address', () => {
    expect(matchesSelector(parseDeviceSelector('1-2.3'), a)).toBe(true);
    expect(matchesSelector(parseDeviceSelector('1-2.3'), { ...a, deviceAddress: 99 })).toBe(true);
    expect(matchesSelector(parseDeviceSelector('1-2'), a)).toBe(false); // the hub's port, not the stick's
    expect(matchesSelector(parseDeviceSelector('1-2.3.1'), a)).toBe(false);
    expect(matchesSelector(parseDeviceSelector('2-2.3'), a)).toBe(false);
  });

  it('bus:address and vid:pid[:serial] match as lsusb names them', () => {
    expect(matchesSelector(parseDeviceSelector('1:5'), a)).toBe(true);
    expect(matchesSelector(parseDeviceSelector('1:6'), a)).toBe(false);
    expect(matchesSelector(parseDeviceSelector('0781:5567'), b)).toBe(true);
    expect(matchesSelector(parseDeviceSelector('0781:5567:B'), b)).toBe(true);
    expect(matchesSelector(parseDeviceSelector('0781:5567:B'), a)).toBe(false);
    // a serial selector never matches a device whose serial is unknown
    expect(matchesSelector(parseDeviceSelector('46f4:0001:X'), c)).toBe(false);
  });

  it('selectOne: the one device, NOT_FOUND listing what is there, an argument error when ambiguous', () => {
    expect(selectOne(parseDeviceSelector('1-2.4'), [a, b, c])).toBe(b);
    // two interfaces of one device are one device
    expect(selectOne(parseDeviceSelector('1-2.3'), [a, { ...a }])).toEqual(a);
    expect(() => selectOne(parseDeviceSelector('1-9'), [a, b])).toThrow(/no USB mass-storage device matches 1-9 \(devices present: 0781:5567 at 1-2\.3 \(1:5\), 0781:5567 at 1-2\.4 \(1:6\)\)/);
    let e: unknown;
    try { selectOne(parseDeviceSelector('0781:5567'), [a, b, c]); } catch (err) { e = err; }
    expect(e).toBeInstanceOf(UsbmsArgumentError);
    expect((e as UsbmsArgumentError).code).toBe('ARG_INVALID');
    expect((e as Error).message).toMatch(/2 devices match 0781:5567 .*port path/);
    expect(() => selectOne(parseDeviceSelector('1:1'), [])).toThrow(/devices present: none/);
  });
});

describe('root hubs (node-usb leaves portNumbers undefined there)', () => {
  it('formatPortPath and samePortLocation take a device without portNumbers as a root hub', async () => {
    const { formatPortPath, samePortLocation } = await import('../../src/usb/selector.js');
    const rootHub = { busNumber: 2 } as unknown as { busNumber: number; portNumbers: number[] };
    expect(formatPortPath(rootHub)).toBe('usb2');
    expect(samePortLocation(rootHub, { busNumber: 2, portNumbers: [] })).toBe(true);
    expect(samePortLocation(rootHub, { busNumber: 2, portNumbers: [1] })).toBe(false);
  });
});

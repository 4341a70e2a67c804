import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DeviceSelectorError, formatDeviceSelector, parseDeviceSelector, speedFromBulkMaxPacket, speedFromSysfs,
} from '../../src/usb/find.js';
import { UsbError } from '../../src/usb/errors.js';
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
    expect(caught).toBeInstanceOf(UsbError);
    expect((caught as UsbError).code).toBe('INVALID');
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
    expect((e as UsbError).code).toBe('NOT_FOUND');
    expect((e as Error).message).toMatch(/no USB device matches dead:beef \(devices present: /);
  });
});

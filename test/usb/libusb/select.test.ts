import { describe, it, expect } from 'vitest';
import {
  altSettingsOf, chooseBotInterface, chooseMassStorageInterface, summarizeMassStorageInterfaces,
  type InterfaceDescriptorLike, type EndpointDescriptorLike,
} from '../../../src/usb/libusb/select.js';
import { UsbError } from '../../../src/usb/errors.js';

const bulk = (address: number, mps: number): EndpointDescriptorLike => ({ bEndpointAddress: address, bmAttributes: 0x02, wMaxPacketSize: mps });
const intr = (address: number): EndpointDescriptorLike => ({ bEndpointAddress: address, bmAttributes: 0x03, wMaxPacketSize: 8 });

function alt(num: number, altSetting: number, cls: number, sub: number, proto: number,
  endpoints: EndpointDescriptorLike[]): InterfaceDescriptorLike {
  return { bInterfaceNumber: num, bAlternateSetting: altSetting, bInterfaceClass: cls, bInterfaceSubClass: sub,
    bInterfaceProtocol: proto, endpoints };
}

const botStick = [[alt(0, 0, 0x08, 0x06, 0x50, [bulk(0x81, 512), bulk(0x02, 512)])]];
// A UAS-capable bridge: alt 0 Bulk-Only, alt 1 UAS with four bulk pipes (as most UAS enclosures do).
const uasBridge = [[
  alt(0, 0, 0x08, 0x06, 0x50, [bulk(0x81, 1024), bulk(0x02, 1024)]),
  alt(0, 1, 0x08, 0x06, 0x62, [bulk(0x81, 1024), bulk(0x02, 1024), bulk(0x83, 1024), bulk(0x04, 1024)]),
]];
// QEMU usb-uas: one interface, UAS only.
const uasOnly = [[alt(0, 0, 0x08, 0x06, 0x62, [bulk(0x81, 1024), bulk(0x02, 1024), bulk(0x83, 1024), bulk(0x04, 1024)])]];

function errorOf(fn: () => unknown): UsbError {
  try { fn(); } catch (e) { expect(e).toBeInstanceOf(UsbError); return e as UsbError; }
  throw new Error('expected a UsbError');
}

describe('chooseBotInterface', () => {
  it('picks the Bulk-Only interface of a plain stick and its bulk pipes', () => {
    expect(chooseBotInterface(botStick)).toEqual({
      index: 0, interfaceNumber: 0, alternateSetting: 0, subclass: 0x06,
      bulkIn: { address: 0x81, maxPacketSize: 512 }, bulkOut: { address: 0x02, maxPacketSize: 512 },
    });
  });

  it('picks the Bulk-Only alternate setting of a UAS-capable device, whichever order the settings come in', () => {
    expect(chooseBotInterface(uasBridge)).toMatchObject({ interfaceNumber: 0, alternateSetting: 0 });
    const reversed = [[...uasBridge[0]!].reverse().map((a, i) => ({ ...a, bAlternateSetting: i }))];
    expect(chooseBotInterface(reversed)).toMatchObject({ alternateSetting: 1, bulkIn: { address: 0x81, maxPacketSize: 1024 } });
  });

  it('fails with NOT_SUPPORTED naming UAS when the device offers no Bulk-Only alternate setting', () => {
    const e = errorOf(() => chooseBotInterface(uasOnly));
    expect(e.code).toBe('USB_NOT_SUPPORTED');
    expect(e.message).toMatch(/no Bulk-Only/);
    expect(e.message).toMatch(/UAS/);
  });

  it('fails with NOT_FOUND when there is no mass-storage interface', () => {
    const hid = [[alt(0, 0, 0x03, 0x01, 0x02, [intr(0x81)])]];
    expect(errorOf(() => chooseBotInterface(hid)).code).toBe('USB_NOT_FOUND');
    expect(errorOf(() => chooseBotInterface([])).code).toBe('USB_NOT_FOUND');
  });

  it('skips other classes, uses the interface index for node-usb, and honours an explicit interface number', () => {
    const composite = [
      [alt(0, 0, 0x03, 0, 0, [intr(0x83)])],
      [alt(1, 0, 0x08, 0x06, 0x50, [bulk(0x81, 64), bulk(0x01, 64)])],
      [alt(2, 0, 0x08, 0x06, 0x50, [bulk(0x82, 64), bulk(0x02, 64)])],
    ];
    expect(chooseBotInterface(composite)).toMatchObject({ index: 1, interfaceNumber: 1 });
    expect(chooseBotInterface(composite, 2)).toMatchObject({ index: 2, interfaceNumber: 2, bulkIn: { address: 0x82 } });
    const e = errorOf(() => chooseBotInterface(composite, 0));
    expect(e.code).toBe('USB_NOT_FOUND');
    expect(e.message).toContain('interface 0');
  });

  it('prefers the SCSI subclass but accepts another subclass with Bulk-Only', () => {
    const sff = [[alt(0, 0, 0x08, 0x05, 0x50, [bulk(0x81, 64), bulk(0x02, 64)])]];
    expect(chooseBotInterface(sff)).toMatchObject({ subclass: 0x05 });
    const both = [...sff, [alt(1, 0, 0x08, 0x06, 0x50, [bulk(0x83, 64), bulk(0x04, 64)])]];
    expect(chooseBotInterface(both)).toMatchObject({ interfaceNumber: 1, subclass: 0x06 });
  });

  it('rejects a Bulk-Only setting without a bulk in/out pair, and reads only bits 10:0 of wMaxPacketSize', () => {
    const broken = [[alt(0, 0, 0x08, 0x06, 0x50, [bulk(0x81, 512), intr(0x02)])]];
    expect(errorOf(() => chooseBotInterface(broken)).code).toBe('USB_NOT_SUPPORTED');
    const mult = [[alt(0, 0, 0x08, 0x06, 0x50, [bulk(0x81, 0x1200), bulk(0x02, 512)])]];
    expect(chooseBotInterface(mult).bulkIn.maxPacketSize).toBe(512);
  });
});

describe('summarizeMassStorageInterfaces', () => {
  it('lists protocol and Bulk-Only availability per mass-storage interface', () => {
    expect(summarizeMassStorageInterfaces(uasBridge)).toEqual([
      { index: 0, interfaceNumber: 0, protocol: 'BOT', protocolCode: 0x50, hasBotAltSetting: true, hasUasAltSetting: true }]);
    expect(summarizeMassStorageInterfaces(uasOnly)).toEqual([
      { index: 0, interfaceNumber: 0, protocol: 'UAS', protocolCode: 0x62, hasBotAltSetting: false, hasUasAltSetting: true }]);
    const cbi = [[alt(0, 0, 0x08, 0x04, 0x00, [bulk(0x81, 64), bulk(0x02, 64), intr(0x83)])]];
    expect(summarizeMassStorageInterfaces(cbi)[0]).toMatchObject({ protocol: 'other', hasBotAltSetting: false });
    expect(summarizeMassStorageInterfaces([[alt(0, 0, 0x03, 0, 0, [])]])).toEqual([]);
  });
});

describe('chooseMassStorageInterface (what a port opens in)', () => {
  it('prefers the Bulk-Only setting, takes the UAS one when there is no other, refuses CBI', () => {
    expect(chooseMassStorageInterface(uasBridge)).toMatchObject({ alternateSetting: 0 });
    expect(chooseMassStorageInterface(uasOnly)).toMatchObject({ alternateSetting: 0, interfaceNumber: 0 });
    const cbi = [[alt(0, 0, 0x08, 0x04, 0x00, [bulk(0x81, 64), bulk(0x02, 64), intr(0x83)])]];
    const e = errorOf(() => chooseMassStorageInterface(cbi));
    expect(e.code).toBe('USB_NOT_SUPPORTED');
    expect(e.message).toMatch(/Bulk-Only Transport and UAS/);
  });

  it('lists every alternate setting with its endpoints and their extra descriptors', () => {
    const usage = Uint8Array.from([4, 0x24, 2, 0]);
    const table = [[alt(0, 0, 0x08, 0x06, 0x62, [{ ...bulk(0x83, 512), extra: usage }, bulk(0x04, 512)])]];
    expect(altSettingsOf(table, 0)).toEqual([{ alternateSetting: 0, interfaceClass: 8, interfaceSubClass: 6,
      interfaceProtocol: 0x62, endpoints: [{ address: 0x83, attributes: 2, maxPacketSize: 512, extra: usage },
        { address: 0x04, attributes: 2, maxPacketSize: 512, extra: new Uint8Array(0) }] }]);
  });
});

/**
 * USB descriptors: the synthetic ones a usbms capture opens with (so Wireshark learns that the interface is
 * mass storage, class 08 subclass 06 protocol 50, and decodes the SCSI inside), and the parsing of the ones a
 * recording holds (so a replayed device gets its identity and endpoints back). USB 2.0 §9.6.
 */
import type { AltSettingInfo, PortInfo, UsbSpeed } from '../port.js';
import { BOT_INTERFACE } from '../wire/bot.js';

export const DESC_DEVICE = 1;
export const DESC_CONFIGURATION = 2;
export const DESC_STRING = 3;
export const DESC_INTERFACE = 4;
export const DESC_ENDPOINT = 5;
export const LANGID_EN_US = 0x0409;
/** String descriptor indexes the synthetic device descriptor uses. */
export const STRING_INDEX = { manufacturer: 1, product: 2, serialNumber: 3 } as const;

const bcdUsb = (speed: UsbSpeed): number => (speed === 'super' || speed === 'super-plus' ? 0x0300 : 0x0200);

export function deviceDescriptor(info: PortInfo): Buffer {
  const d = Buffer.alloc(18);
  d[0] = 18; d[1] = DESC_DEVICE;
  d.writeUInt16LE(bcdUsb(info.speed), 2);
  d[7] = info.speed === 'super' || info.speed === 'super-plus' ? 9 : 64; // bMaxPacketSize0 (2^9 at SuperSpeed)
  d.writeUInt16LE(info.vendorId, 8);
  d.writeUInt16LE(info.productId, 10);
  d.writeUInt16LE(0x0100, 12);
  d[14] = info.manufacturer === undefined ? 0 : STRING_INDEX.manufacturer;
  d[15] = info.product === undefined ? 0 : STRING_INDEX.product;
  d[16] = info.serialNumber === undefined ? 0 : STRING_INDEX.serialNumber;
  d[17] = 1;
  return d;
}

/**
 * Configuration 1 with the mass-storage interface: every alternate setting the port lists, each endpoint followed
 * by its extra descriptors (UAS's Pipe Usage descriptors, which Wireshark's UASP dissector reads to tell the four
 * pipes apart), or, for a port that lists none, the one Bulk-Only setting with its two bulk endpoints.
 */
export function configurationDescriptor(info: PortInfo, alts?: readonly AltSettingInfo[]): Buffer {
  if (alts !== undefined && alts.length > 0) return configurationOf(info, alts);
  const d = Buffer.alloc(9 + 9 + 7 + 7);
  d[0] = 9; d[1] = DESC_CONFIGURATION; d.writeUInt16LE(d.length, 2); d[4] = 1; d[5] = 1; d[7] = 0x80; d[8] = 50;
  const i = 9;
  d[i] = 9; d[i + 1] = DESC_INTERFACE; d[i + 2] = info.interfaceNumber; d[i + 3] = info.alternateSetting;
  d[i + 4] = 2; d[i + 5] = BOT_INTERFACE.CLASS; d[i + 6] = BOT_INTERFACE.SUBCLASS_SCSI; d[i + 7] = BOT_INTERFACE.PROTOCOL_BOT;
  const ep = (at: number, address: number, mps: number): void => {
    d[at] = 7; d[at + 1] = DESC_ENDPOINT; d[at + 2] = address; d[at + 3] = 0x02; d.writeUInt16LE(mps, at + 4);
  };
  ep(18, info.endpoints.in, info.maxPacketSize.in);
  ep(25, info.endpoints.out, info.maxPacketSize.out);
  return d;
}

function configurationOf(info: PortInfo, alts: readonly AltSettingInfo[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of alts) {
    parts.push(Buffer.from([9, DESC_INTERFACE, info.interfaceNumber, a.alternateSetting, a.endpoints.length,
      a.interfaceClass, a.interfaceSubClass, a.interfaceProtocol, 0]));
    for (const e of a.endpoints) {
      const ep = Buffer.from([7, DESC_ENDPOINT, e.address, e.attributes, 0, 0, 0]);
      ep.writeUInt16LE(e.maxPacketSize, 4);
      parts.push(ep, Buffer.from(e.extra));
    }
  }
  const body = Buffer.concat(parts);
  const head = Buffer.from([9, DESC_CONFIGURATION, 0, 0, 1, 1, 0, 0x80, 50]);
  head.writeUInt16LE(9 + body.length, 2);
  return Buffer.concat([head, body]);
}

/** String descriptor 0 (the language list) or a UTF-16LE string. */
export function stringDescriptor(text: string | undefined): Buffer {
  if (text === undefined) return Buffer.from([4, DESC_STRING, LANGID_EN_US & 0xff, LANGID_EN_US >> 8]);
  const body = Buffer.from(text.slice(0, 126), 'utf16le');
  return Buffer.concat([Buffer.from([2 + body.length, DESC_STRING]), body]);
}

export function decodeStringDescriptor(d: Buffer): string | undefined {
  if (d.length < 2 || d[1] !== DESC_STRING) return undefined;
  return d.subarray(2, Math.min(d.length, d[0] ?? 0)).toString('utf16le');
}

export interface DeviceDescriptorFields {
  readonly vendorId: number;
  readonly productId: number;
  readonly bcdUsb: number;
  readonly stringIndex: { manufacturer: number; product: number; serialNumber: number };
}

export function parseDeviceDescriptor(d: Buffer): DeviceDescriptorFields | undefined {
  if (d.length < 18 || d[1] !== DESC_DEVICE) return undefined;
  return {
    vendorId: d.readUInt16LE(8), productId: d.readUInt16LE(10), bcdUsb: d.readUInt16LE(2),
    stringIndex: { manufacturer: d[14] ?? 0, product: d[15] ?? 0, serialNumber: d[16] ?? 0 },
  };
}

export interface MassStorageInterface {
  readonly interfaceNumber: number;
  readonly alternateSetting: number;
  readonly endpoints: { in: number; out: number };
  readonly maxPacketSize: { in: number; out: number };
}

/** The first Bulk-Only mass-storage interface (08/06/50) of a configuration descriptor, with its bulk endpoints. */
export function findMassStorageInterface(config: Buffer): MassStorageInterface | undefined {
  let at = 0;
  let current: { number: number; alt: number; bot: boolean } | undefined;
  let inEp: { address: number; mps: number } | undefined;
  let outEp: { address: number; mps: number } | undefined;
  while (at + 2 <= config.length) {
    const len = config[at] ?? 0;
    const type = config[at + 1];
    if (len < 2 || at + len > config.length) break;
    if (type === DESC_INTERFACE && len >= 9) {
      if (current?.bot === true && inEp !== undefined && outEp !== undefined) break;
      current = { number: config[at + 2] ?? 0, alt: config[at + 3] ?? 0,
        bot: config[at + 5] === BOT_INTERFACE.CLASS && config[at + 7] === BOT_INTERFACE.PROTOCOL_BOT };
      inEp = undefined; outEp = undefined;
    } else if (type === DESC_ENDPOINT && len >= 7 && current?.bot === true && ((config[at + 3] ?? 0) & 3) === 2) {
      const address = config[at + 2] ?? 0;
      const mps = config.readUInt16LE(at + 4) & 0x7ff;
      if ((address & 0x80) !== 0) inEp ??= { address, mps }; else outEp ??= { address, mps };
    }
    at += len;
  }
  if (current?.bot !== true || inEp === undefined || outEp === undefined) return undefined;
  return { interfaceNumber: current.number, alternateSetting: current.alt,
    endpoints: { in: inEp.address, out: outEp.address }, maxPacketSize: { in: inEp.mps, out: outEp.mps } };
}

/** The speed a bulk max packet size implies (USB 2.0 §5.8.3: 64 full, 512 high; 1024 SuperSpeed). */
export function speedOfMaxPacket(mps: number, bcd: number | undefined): UsbSpeed {
  if (mps >= 1024 || (bcd !== undefined && bcd >= 0x0300)) return 'super';
  if (mps === 512) return 'high';
  if (mps > 0) return 'full';
  return 'unknown';
}

/**
 * Every alternate setting of the first mass-storage interface (class 08) of a configuration descriptor, as the
 * port contract describes them: endpoints with their extra descriptors (a UAS setting's Pipe Usage descriptors).
 */
export function massStorageAltSettings(config: Buffer): { interfaceNumber: number; alts: AltSettingInfo[] } | undefined {
  let at = 0;
  let number: number | undefined;
  const alts: AltSettingInfo[] = [];
  let current: { alternateSetting: number; cls: number; sub: number; proto: number;
    endpoints: { address: number; attributes: number; maxPacketSize: number; extra: number[] }[] } | undefined;
  const flush = (): void => {
    if (current === undefined || current.cls !== 0x08) return;
    alts.push({ alternateSetting: current.alternateSetting, interfaceClass: current.cls, interfaceSubClass: current.sub,
      interfaceProtocol: current.proto, endpoints: current.endpoints.map((e) => ({ ...e, extra: Uint8Array.from(e.extra) })) });
  };
  while (at + 2 <= config.length) {
    const len = config[at] ?? 0;
    const type = config[at + 1];
    if (len < 2 || at + len > config.length) break;
    if (type === DESC_INTERFACE && len >= 9) {
      flush();
      const ifNum = config[at + 2] ?? 0;
      const cls = config[at + 5] ?? 0;
      current = undefined;
      if (cls === 0x08 && (number === undefined || number === ifNum)) {
        number = ifNum;
        current = { alternateSetting: config[at + 3] ?? 0, cls, sub: config[at + 6] ?? 0, proto: config[at + 7] ?? 0, endpoints: [] };
      }
    } else if (type === DESC_ENDPOINT && len >= 7 && current !== undefined) {
      current.endpoints.push({ address: config[at + 2] ?? 0, attributes: config[at + 3] ?? 0,
        maxPacketSize: config.readUInt16LE(at + 4) & 0x7ff, extra: [] });
    } else if (current !== undefined && current.endpoints.length > 0) {
      const last = current.endpoints[current.endpoints.length - 1];
      last?.extra.push(...config.subarray(at, at + len));
    }
    at += len;
  }
  flush();
  return number === undefined ? undefined : { interfaceNumber: number, alts };
}

/**
 * Reading captures: classic pcap (either byte order, microsecond or nanosecond magic) and pcapng (what dumpcap
 * and `tshark -i usbmonN` write by default: Section Header, Interface Description and Enhanced/Simple Packet
 * blocks), holding usbmon records (LINKTYPE_USB_LINUX_MMAPPED 220, or the older 48-byte LINKTYPE_USB_LINUX 189).
 */
import { UsbmsError } from '../../util/errors.js';
import { readFileSync } from 'node:fs';
import {
  decodeUsbmonRecord, LINKTYPE_USB_LINUX, LINKTYPE_USB_LINUX_MMAPPED, USBMON_HEADER_LENGTH,
  USBMON_LEGACY_HEADER_LENGTH, type UsbmonRecord,
} from './usbmon.js';

/** A file that is not a usbmon capture usbms can read; the message says what is wrong. */
export class TraceFormatError extends UsbmsError {
  override readonly name = 'TraceFormatError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('TRACE_FORMAT', message, options); }
}

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER = 0x1a2b3c4d;

function headerLength(linktype: number, file: string): number {
  if (linktype === LINKTYPE_USB_LINUX_MMAPPED) return USBMON_HEADER_LENGTH;
  if (linktype === LINKTYPE_USB_LINUX) return USBMON_LEGACY_HEADER_LENGTH;
  throw new TraceFormatError(`${file}: link type ${linktype} is not a Linux usbmon capture (189 or 220); ` +
    'capture with usbms --pcap, Linux usbmon (tshark -i usbmonN) or QEMU pcap=');
}

function readClassic(buf: Buffer, file: string): UsbmonRecord[] {
  const magicLe = buf.readUInt32LE(0);
  const le = magicLe === PCAP_US || magicLe === PCAP_NS;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const hdr = headerLength(u32(20), file);
  const out: UsbmonRecord[] = [];
  let at = 24;
  while (at + 16 <= buf.length) {
    const incl = u32(at + 8);
    const body = buf.subarray(at + 16, at + 16 + incl);
    if (body.length < incl) break; // a capture cut short while being written: keep what is whole
    if (body.length >= hdr) out.push(decodeUsbmonRecord(body, le, hdr));
    at += 16 + incl;
  }
  return out;
}

function readPcapng(buf: Buffer, file: string): UsbmonRecord[] {
  const out: UsbmonRecord[] = [];
  let le = true;
  let interfaces: number[] = [];
  let at = 0;
  while (at + 12 <= buf.length) {
    const typeLe = buf.readUInt32LE(at);
    if (typeLe === PCAPNG_SHB) {
      le = buf.readUInt32LE(at + 8) === PCAPNG_BYTE_ORDER;
      interfaces = [];
    }
    const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    const type = u32(at);
    const len = u32(at + 4);
    if (len < 12 || at + len > buf.length) break;
    if (type === 1) interfaces.push(le ? buf.readUInt16LE(at + 8) : buf.readUInt16BE(at + 8));
    else if (type === 6 || type === 3) {
      const iface = type === 6 ? u32(at + 8) : 0;
      const caplen = type === 6 ? u32(at + 20) : Math.min(u32(at + 8), len - 16);
      const start = at + (type === 6 ? 28 : 12);
      const linktype = interfaces[iface];
      if (linktype === undefined) throw new TraceFormatError(`${file}: packet of an undeclared interface ${iface}`);
      const hdr = headerLength(linktype, file);
      const body = buf.subarray(start, start + caplen);
      if (body.length >= hdr) out.push(decodeUsbmonRecord(body, le, hdr));
    }
    at += len;
  }
  return out;
}

/** Every usbmon record of the capture `file`, in file order. */
export function readCapture(file: string): UsbmonRecord[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new TraceFormatError(`cannot read capture ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (buf.length < 24) throw new TraceFormatError(`${file} is too short to be a pcap file`);
  const magic = buf.readUInt32LE(0);
  if (magic === PCAPNG_SHB) return readPcapng(buf, file);
  if ([PCAP_US, PCAP_NS].includes(magic) || [PCAP_US, PCAP_NS].includes(buf.readUInt32BE(0))) return readClassic(buf, file);
  throw new TraceFormatError(`${file} is neither a pcap nor a pcapng file (magic 0x${magic.toString(16)})`);
}

/**
 * INQUIRY (SPC-5 6.7): the CDB and the standard inquiry data. VPD pages are in vpd.ts.
 */
import { ScsiDataError, ScsiParamError } from './errors.js';
import { BitLayout, bitsAt, flag } from './fields.js';
import { countField, defineCommand, type ControlParam } from './spec.js';

export interface InquiryParams extends ControlParam {
  /** EVPD: return the vital product data page `pageCode` instead of the standard data. */
  evpd?: boolean;
  pageCode?: number;
  allocationLength: number;
}

/** Peripheral device type names (SPC-5 table 144), as sg_inq prints them. */
export const PERIPHERAL_DEVICE_TYPES: Readonly<Record<number, string>> = {
  0x00: 'disk', 0x01: 'tape', 0x02: 'printer', 0x03: 'processor', 0x04: 'write once optical disk',
  0x05: 'cd/dvd', 0x07: 'optical memory device', 0x08: 'medium changer', 0x0c: 'storage array controller',
  0x0d: 'enclosure services device', 0x0e: 'simplified direct access device', 0x0f: 'optical card reader/writer',
  0x11: 'object based storage', 0x12: 'automation/driver interface', 0x14: 'host managed zoned block',
  0x1e: 'well known logical unit', 0x1f: 'unknown or no device type',
};

export interface StandardInquiryFlags {
  peripheralQualifier: number;
  peripheralDeviceType: number;
  /** RMB: removable medium. */
  removable: boolean;
  /** VERSION: 0 none claimed, 5 SPC-3, 6 SPC-4, 7 SPC-5. */
  version: number;
  normaca: boolean;
  hisup: boolean;
  responseDataFormat: number;
  additionalLength: number;
  sccs: boolean;
  acc: boolean;
  tpgs: number;
  threePc: boolean;
  protect: boolean;
  encserv: boolean;
  multip: boolean;
  cmdque: boolean;
}

/** Standard INQUIRY data (SPC-5 6.7.2). */
export interface StandardInquiryData extends StandardInquiryFlags {
  /** T10 VENDOR IDENTIFICATION, trailing spaces and NULs trimmed. */
  vendor: string;
  product: string;
  revision: string;
  /** Fewer than the 36 bytes of the standard part (or of 5 + ADDITIONAL LENGTH) were transferred. */
  truncated: boolean;
}

const header = new BitLayout<StandardInquiryFlags>([
  bitsAt('peripheralQualifier', 0, 5, 3),
  bitsAt('peripheralDeviceType', 0, 0, 5),
  flag('removable', 1, 7),
  { name: 'version', at: 2, bytes: 1 },
  flag('normaca', 3, 5),
  flag('hisup', 3, 4),
  bitsAt('responseDataFormat', 3, 0, 4),
  { name: 'additionalLength', at: 4, bytes: 1 },
  flag('sccs', 5, 7),
  flag('acc', 5, 6),
  bitsAt('tpgs', 5, 4, 2),
  flag('threePc', 5, 3),
  flag('protect', 5, 0),
  flag('encserv', 6, 6),
  flag('multip', 6, 4),
  flag('cmdque', 7, 1),
]);

/** The standard part every device must return (SPC-5: at least 36 bytes). */
export const STANDARD_INQUIRY_LENGTH = 36;

/** Printable ASCII field, right-trimmed; non-printable bytes (a buggy bridge's garbage) become '.'. */
export function asciiField(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < Math.min(end, b.length); i++) {
    const c = b[i] ?? 0;
    s += c === 0 ? ' ' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return s.trimEnd();
}

/** Decode standard INQUIRY data; at least 8 bytes. */
export function decodeStandardInquiry(b: Uint8Array, length = b.length): StandardInquiryData {
  const n = Math.min(length, b.length);
  // Below 8 bytes not even the flags are there: nothing trustworthy to report.
  if (n < 8) throw new ScsiDataError('SCSI_DATA_SHORT', `standard INQUIRY data needs at least 8 bytes, got ${n}`);
  const data = b.subarray(0, n);
  const flags = header.decode(data);
  return {
    ...flags,
    vendor: asciiField(data, 8, 16),
    product: asciiField(data, 16, 32),
    revision: asciiField(data, 32, 36),
    truncated: n < Math.min(STANDARD_INQUIRY_LENGTH, 5 + flags.additionalLength),
  };
}

function padAscii(out: Buffer, s: string, at: number, len: number): void {
  if (s.length > len) throw new ScsiParamError('SCSI_PARAM_RANGE', `"${s}" longer than ${len} bytes`);
  out.write(s.padEnd(len, ' '), at, len, 'latin1');
}

/** 36 bytes of standard data; ADDITIONAL LENGTH is set to 31 whatever the input says. */
export function encodeStandardInquiry(d: Omit<StandardInquiryData, 'truncated' | 'additionalLength'>): Buffer {
  const out = Buffer.alloc(STANDARD_INQUIRY_LENGTH);
  header.encode({ ...d, additionalLength: STANDARD_INQUIRY_LENGTH - 5 }, out);
  padAscii(out, d.vendor, 8, 8);
  padAscii(out, d.product, 16, 16);
  padAscii(out, d.revision, 32, 4);
  return out;
}

export const inquiry = defineCommand<InquiryParams, StandardInquiryData>({
  name: 'INQUIRY', opcode: 0x12, cdbLength: 6, direction: 'in',
  fields: [flag('evpd', 1, 0), { name: 'pageCode', at: 2, bytes: 1 }, countField('allocationLength', 3, 2)],
  check: (p) => {
    if (p.evpd !== true && (p.pageCode ?? 0) !== 0) {
      throw new ScsiParamError('SCSI_PARAM_INVALID', 'INQUIRY page code needs EVPD (SPC-5 6.7.1)', 'pageCode');
    }
  },
  dataLength: (p) => p.allocationLength,
  decodeData: decodeStandardInquiry,
  encodeData: encodeStandardInquiry,
});

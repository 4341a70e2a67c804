/**
 * Vital product data pages (SPC-5 7.7, SBC-4 6.6): 0x00 supported pages, 0x80 unit serial number,
 * 0x83 device identification, 0xB0 block limits, 0xB1 block device characteristics, 0xB2 logical block
 * provisioning. Other pages decode as raw bytes.
 */
import { ScsiDataError } from './errors.js';
import { BitLayout, bitsAt, flag } from './fields.js';
import { asciiField } from './inquiry.js';

export interface VpdHeader {
  peripheralQualifier: number;
  peripheralDeviceType: number;
  pageCode: number;
  /** PAGE LENGTH: bytes after the 4-byte header as the device states it. */
  pageLength: number;
  /** The page is longer than what was transferred; fields past the end are absent. */
  truncated: boolean;
}

/** One designator of the Device Identification VPD page (0x83). */
export interface Designator {
  protocolIdentifier: number;
  /** CODE SET: 1 binary, 2 ASCII, 3 UTF-8. */
  codeSet: number;
  piv: boolean;
  /** ASSOCIATION: 0 logical unit, 1 target port, 2 target device. */
  association: number;
  designatorType: number;
  /** Name of the designator type: "NAA", "T10 vendor ID", "EUI-64", ... */
  typeName: string;
  /** Text for ASCII/UTF-8 designators; lower-case hex for binary ones (NAA, EUI-64, ...). */
  value: string;
  /** NAA field (first nibble) for NAA designators. */
  naa?: number;
  /** T10 vendor ID designators: the 8-byte vendor part and the vendor-specific rest. */
  t10Vendor?: string;
}

/** The Block Limits VPD page (0xB0). */
export interface BlockLimits {
  wsnz: boolean;
  maxCompareAndWriteLength: number;
  optimalTransferLengthGranularity: number;
  /** MAXIMUM TRANSFER LENGTH in logical blocks, 0 = not reported. */
  maxTransferLength: number;
  optimalTransferLength: number;
  maxPrefetchLength: number;
  maxUnmapLbaCount?: number;
  maxUnmapDescriptorCount?: number;
  optimalUnmapGranularity?: number;
  ugavalid?: boolean;
  unmapGranularityAlignment?: number;
  maxWriteSameLength?: bigint;
}

/** The Block Device Characteristics VPD page (0xB1). */
export interface BlockDeviceCharacteristics {
  /** MEDIUM ROTATION RATE: 0 not reported, 1 non-rotating (solid state), else rpm. */
  rotationRate: number;
  productType: number;
  /** NOMINAL FORM FACTOR: 0 not reported, 1 5.25", 2 3.5", 3 2.5", 4 1.8", 5 less than 1.8". */
  formFactor: number;
  formFactorName: string;
  zoned: number;
  fuab: boolean;
  vbuls: boolean;
}

/** The Logical Block Provisioning VPD page (0xB2). */
export interface LogicalBlockProvisioning {
  thresholdExponent: number;
  lbpu: boolean;
  lbpws: boolean;
  lbpws10: boolean;
  lbprz: number;
  anc: boolean;
  dp: boolean;
  minimumPercentage: number;
  provisioningType: number;
  thresholdPercentage: number;
}

/** A decoded VPD page, by page code. */
export type VpdPage = VpdHeader & (
  | { kind: 'supported-pages'; pages: number[] }
  | { kind: 'unit-serial'; serial: string }
  | { kind: 'device-identification'; designators: Designator[] }
  | { kind: 'block-limits'; limits: BlockLimits }
  | { kind: 'block-device-characteristics'; characteristics: BlockDeviceCharacteristics }
  | { kind: 'logical-block-provisioning'; provisioning: LogicalBlockProvisioning }
  | { kind: 'raw'; bytes: Uint8Array }
);

const DESIGNATOR_TYPES = ['vendor specific', 'T10 vendor ID', 'EUI-64', 'NAA', 'relative target port',
  'target port group', 'logical unit group', 'MD5 logical unit identifier', 'SCSI name string',
  'protocol specific port identifier', 'UUID'];
const FORM_FACTORS = ['not reported', '5.25 inch', '3.5 inch', '2.5 inch', '1.8 inch', 'less than 1.8 inch'];

const limitsLayout = new BitLayout<BlockLimits>([
  flag('wsnz', 4, 0),
  { name: 'maxCompareAndWriteLength', at: 5, bytes: 1 },
  { name: 'optimalTransferLengthGranularity', at: 6, bytes: 2 },
  { name: 'maxTransferLength', at: 8, bytes: 4 },
  { name: 'optimalTransferLength', at: 12, bytes: 4 },
  { name: 'maxPrefetchLength', at: 16, bytes: 4 },
]);
// Fields SPC-4 added when the page grew from 0x10 to 0x3C bytes; absent on older devices.
const unmapLayout = new BitLayout<Required<BlockLimits>>([
  { name: 'maxUnmapLbaCount', at: 20, bytes: 4 },
  { name: 'maxUnmapDescriptorCount', at: 24, bytes: 4 },
  { name: 'optimalUnmapGranularity', at: 28, bytes: 4 },
  flag('ugavalid', 32, 7),
  { name: 'unmapGranularityAlignment', at: 32, bytes: 4, bits: 31 },
  { name: 'maxWriteSameLength', at: 36, bytes: 8, kind: 'bigint' },
]);
const characteristicsLayout = new BitLayout<Omit<BlockDeviceCharacteristics, 'formFactorName'>>([
  { name: 'rotationRate', at: 4, bytes: 2 },
  { name: 'productType', at: 6, bytes: 1 },
  bitsAt('formFactor', 7, 0, 4),
  bitsAt('zoned', 8, 4, 2),
  flag('fuab', 8, 1),
  flag('vbuls', 8, 0),
]);
const provisioningLayout = new BitLayout<LogicalBlockProvisioning>([
  { name: 'thresholdExponent', at: 4, bytes: 1 },
  flag('lbpu', 5, 7), flag('lbpws', 5, 6), flag('lbpws10', 5, 5), bitsAt('lbprz', 5, 2, 3),
  flag('anc', 5, 1), flag('dp', 5, 0),
  bitsAt('minimumPercentage', 6, 3, 5), bitsAt('provisioningType', 6, 0, 3),
  { name: 'thresholdPercentage', at: 7, bytes: 1 },
]);

function decodeDesignator(d: Uint8Array): Designator {
  const b0 = d[0] ?? 0;
  const b1 = d[1] ?? 0;
  const body = d.subarray(4, 4 + (d[3] ?? 0));
  const codeSet = b0 & 0x0f;
  const designatorType = b1 & 0x0f;
  const text = codeSet === 2 || codeSet === 3;
  const des: Designator = {
    protocolIdentifier: b0 >> 4, codeSet, piv: (b1 & 0x80) !== 0, association: (b1 >> 4) & 3, designatorType,
    typeName: DESIGNATOR_TYPES[designatorType] ?? `reserved [0x${designatorType.toString(16)}]`,
    value: text ? Buffer.from(body).toString(codeSet === 3 ? 'utf8' : 'latin1').replace(/\0+$/, '').trimEnd()
      : Buffer.from(body).toString('hex'),
  };
  if (designatorType === 3 && body.length > 0) des.naa = (body[0] ?? 0) >> 4;
  if (designatorType === 1) {
    des.t10Vendor = asciiField(body, 0, 8);
    des.value = asciiField(body, 0, body.length);
  }
  return des;
}

/** Decode any VPD page; the page code is taken from byte 1. */
export function decodeVpdPage(b: Uint8Array, length = b.length): VpdPage {
  const n = Math.min(length, b.length);
  if (n < 4) throw new ScsiDataError('SCSI_DATA_SHORT', `VPD page needs a 4-byte header, got ${n}`);
  const pageLength = ((b[2] ?? 0) << 8) | (b[3] ?? 0);
  const page = b.subarray(0, Math.min(n, 4 + pageLength));
  const head: VpdHeader = {
    peripheralQualifier: (b[0] ?? 0) >> 5, peripheralDeviceType: (b[0] ?? 0) & 0x1f, pageCode: b[1] ?? 0,
    pageLength, truncated: 4 + pageLength > n,
  };
  switch (head.pageCode) {
    case 0x00: return { ...head, kind: 'supported-pages', pages: [...page.subarray(4)] };
    case 0x80: return { ...head, kind: 'unit-serial', serial: asciiField(page, 4, page.length).trimStart() };
    case 0x83: {
      const designators: Designator[] = [];
      for (let off = 4; off + 4 <= page.length;) {
        const len = page[off + 3] ?? 0;
        if (off + 4 + len > page.length) break; // a designator cut off by the transfer: drop it, flag stays set
        designators.push(decodeDesignator(page.subarray(off, off + 4 + len)));
        off += 4 + len;
      }
      return { ...head, kind: 'device-identification', designators };
    }
    case 0xb0: {
      const limits = limitsLayout.decode(page);
      if (page.length >= unmapLayout.span) Object.assign(limits, unmapLayout.decode(page));
      return { ...head, kind: 'block-limits', limits };
    }
    case 0xb1: {
      const c = characteristicsLayout.decode(page);
      return { ...head, kind: 'block-device-characteristics',
        characteristics: { ...c, formFactorName: FORM_FACTORS[c.formFactor] ?? 'reserved' } };
    }
    case 0xb2: return { ...head, kind: 'logical-block-provisioning', provisioning: provisioningLayout.decode(page) };
    default: return { ...head, kind: 'raw', bytes: page.subarray(4) };
  }
}

/** Build a VPD page as a device returns it (header from the page, body from its decoded fields). */
export function encodeVpdPage(p: VpdPage): Buffer {
  const body = encodeVpdBody(p);
  const out = Buffer.alloc(4 + body.length);
  out[0] = (p.peripheralQualifier << 5) | p.peripheralDeviceType;
  out[1] = p.pageCode;
  out.writeUInt16BE(body.length, 2);
  out.set(body, 4);
  return out;
}

function encodeVpdBody(p: VpdPage): Uint8Array {
  switch (p.kind) {
    case 'supported-pages': return Uint8Array.from(p.pages);
    case 'unit-serial': return Buffer.from(p.serial, 'latin1');
    case 'device-identification': return Buffer.concat(p.designators.map(encodeDesignator));
    case 'raw': return p.bytes;
    case 'block-limits': return encodeWith(0x3c, (buf) => {
      limitsLayout.encode(p.limits, buf);
      if (p.limits.maxUnmapLbaCount !== undefined) unmapLayout.encode(p.limits, buf);
    });
    case 'block-device-characteristics': return encodeWith(0x3c, (buf) => characteristicsLayout.encode(p.characteristics, buf));
    case 'logical-block-provisioning': return encodeWith(0x04, (buf) => provisioningLayout.encode(p.provisioning, buf));
  }
}

/** Encode a fixed-layout page body of `pageLength` bytes (layouts count offsets from the page start). */
function encodeWith(pageLength: number, fill: (page: Buffer) => void): Uint8Array {
  const page = Buffer.alloc(4 + pageLength);
  fill(page);
  return page.subarray(4);
}

function encodeDesignator(d: Designator): Buffer {
  const text = d.codeSet === 2 || d.codeSet === 3;
  const body = text ? Buffer.from(d.value, d.codeSet === 3 ? 'utf8' : 'latin1') : Buffer.from(d.value, 'hex');
  const head = Buffer.from([(d.protocolIdentifier << 4) | d.codeSet,
    (d.piv ? 0x80 : 0) | (d.association << 4) | d.designatorType, 0, body.length]);
  return Buffer.concat([head, body]);
}

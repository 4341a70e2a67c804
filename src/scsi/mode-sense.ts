/**
 * MODE SENSE(6)/(10) (SPC-5 6.13, 6.14): CDBs, and the mode parameter data: header (with the WP bit of the
 * direct-access device-specific parameter), block descriptors (short and LONGLBA), and pages, with the
 * caching page (0x08, SBC-4 6.5.5) decoded.
 */
import { ScsiDataError } from './errors.js';
import { bitsAt, flag } from './fields.js';
import { countField, defineCommand, type ControlParam } from './spec.js';

/** PAGE CONTROL: 0 current, 1 changeable, 2 default, 3 saved. */
export type PageControl = 0 | 1 | 2 | 3;
/** MODE SENSE page code: return all pages. */
export const ALL_PAGES = 0x3f;
/** MODE SENSE page code of the Caching mode page. */
export const CACHING_PAGE = 0x08;

export interface ModeSense6Params extends ControlParam {
  /** DBD: disable block descriptors. */
  dbd?: boolean;
  /** PAGE CONTROL: 0 current, 1 changeable, 2 default, 3 saved. */
  pc?: number;
  pageCode: number;
  subpageCode?: number;
  allocationLength: number;
}

export interface ModeSense10Params extends ModeSense6Params {
  /** LLBAA: the application client accepts long LBA block descriptors. */
  llbaa?: boolean;
}

/** A mode parameter block descriptor. */
export interface BlockDescriptor {
  densityCode: number;
  blocks: bigint;
  blockLength: number;
}

/** The Caching mode page (0x08): write cache and read cache bits. */
export interface CachingPage {
  ic: boolean; abpf: boolean; cap: boolean; disc: boolean; size: boolean;
  /** WCE: write cache enabled. */
  wce: boolean;
  mf: boolean;
  /** RCD: read cache disabled. */
  rcd: boolean;
}

/** One mode page, raw, with its code and subpage. */
export interface ModePage {
  pageCode: number;
  subpageCode: number;
  /** PS: the page can be saved. */
  ps: boolean;
  /** SPF: sub_page format (4-byte page header). */
  spf: boolean;
  /** Page bytes after the page header. */
  data: Uint8Array;
  caching?: CachingPage;
}

/** A decoded MODE SENSE answer: header (with the WP bit), block descriptors and pages. */
export interface ModeParameterData {
  modeDataLength: number;
  mediumType: number;
  deviceSpecific: number;
  /** WP bit of the direct-access device-specific parameter. */
  writeProtected: boolean;
  /** DPOFUA: the device honours DPO and FUA. */
  dpofua: boolean;
  longLba: boolean;
  blockDescriptors: BlockDescriptor[];
  pages: ModePage[];
  /** MODE DATA LENGTH said more than was transferred; trailing pages may be missing. */
  truncated: boolean;
}

const CACHING_BITS: (keyof CachingPage)[] = ['ic', 'abpf', 'cap', 'disc', 'size', 'wce', 'mf', 'rcd'];

function decodePages(b: Uint8Array, start: number, end: number): ModePage[] {
  const pages: ModePage[] = [];
  let off = start;
  while (off + 2 <= end) {
    const b0 = b[off] ?? 0;
    const spf = (b0 & 0x40) !== 0;
    const headerLen = spf ? 4 : 2;
    if (off + headerLen > end) break;
    const len = spf ? ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0) : (b[off + 1] ?? 0);
    if (off + headerLen + len > end) break; // cut off by the allocation length: not reported half-decoded
    const page: ModePage = { pageCode: b0 & 0x3f, subpageCode: spf ? (b[off + 1] ?? 0) : 0, ps: (b0 & 0x80) !== 0, spf,
      data: b.subarray(off + headerLen, off + headerLen + len) };
    if (page.pageCode === CACHING_PAGE && page.subpageCode === 0 && len >= 1) {
      const bits = page.data[0] ?? 0;
      page.caching = Object.fromEntries(CACHING_BITS.map((k, i) => [k, (bits & (0x80 >> i)) !== 0])) as unknown as CachingPage;
    }
    pages.push(page);
    off += headerLen + len;
  }
  return pages;
}

function decodeModeData(b: Uint8Array, length: number | undefined, ten: boolean): ModeParameterData {
  const n = Math.min(length ?? b.length, b.length);
  const headerLen = ten ? 8 : 4;
  if (n < headerLen) throw new ScsiDataError('SCSI_DATA_SHORT', `mode parameter header is ${headerLen} bytes, got ${n}`);
  const v = new DataView(b.buffer, b.byteOffset, n);
  const modeDataLength = ten ? v.getUint16(0) : v.getUint8(0);
  const mediumType = v.getUint8(ten ? 2 : 1);
  const deviceSpecific = v.getUint8(ten ? 3 : 2);
  const longLba = ten && (v.getUint8(4) & 1) !== 0;
  const bdLength = ten ? v.getUint16(6) : v.getUint8(3);
  // MODE DATA LENGTH excludes itself: the whole payload is that plus 1 (6) or 2 (10) bytes.
  const end = Math.min(n, modeDataLength + (ten ? 2 : 1));
  const bdSize = longLba ? 16 : 8;
  if (bdLength % bdSize !== 0) {
    throw new ScsiDataError('SCSI_DATA_INVALID', `block descriptor length ${bdLength} is not a multiple of ${bdSize}`);
  }
  const blockDescriptors: BlockDescriptor[] = [];
  for (let off = headerLen; off + bdSize <= Math.min(end, headerLen + bdLength); off += bdSize) {
    blockDescriptors.push(longLba
      ? { densityCode: v.getUint8(off + 8), blocks: v.getBigUint64(off), blockLength: v.getUint32(off + 12) }
      : { densityCode: 0, blocks: BigInt(v.getUint32(off)), blockLength: v.getUint32(off + 4) & 0xffffff });
  }
  return {
    modeDataLength, mediumType, deviceSpecific,
    writeProtected: (deviceSpecific & 0x80) !== 0, dpofua: (deviceSpecific & 0x10) !== 0, longLba,
    blockDescriptors, pages: decodePages(b, headerLen + bdLength, end),
    truncated: modeDataLength + (ten ? 2 : 1) > n,
  };
}

/**
 * Short descriptors follow SBC-4's direct-access form (NUMBER OF LOGICAL BLOCKS in bytes 0-3, so
 * densityCode is not carried); long ones carry the density code byte.
 */
function encodeModeData(d: ModeParameterData, ten: boolean): Buffer {
  const headerLen = ten ? 8 : 4;
  const bdSize = d.longLba ? 16 : 8;
  const pages = d.pages.map((p) => {
    const head = p.spf ? Buffer.from([0x40 | p.pageCode | (p.ps ? 0x80 : 0), p.subpageCode, p.data.length >> 8, p.data.length & 0xff])
      : Buffer.from([p.pageCode | (p.ps ? 0x80 : 0), p.data.length]);
    return Buffer.concat([head, p.data]);
  });
  const out = Buffer.alloc(headerLen + bdSize * d.blockDescriptors.length + pages.reduce((s, p) => s + p.length, 0));
  const deviceSpecific = (d.deviceSpecific & 0x6f) | (d.writeProtected ? 0x80 : 0) | (d.dpofua ? 0x10 : 0);
  if (ten) {
    out.writeUInt16BE(out.length - 2, 0);
    out[2] = d.mediumType; out[3] = deviceSpecific; out[4] = d.longLba ? 1 : 0;
    out.writeUInt16BE(bdSize * d.blockDescriptors.length, 6);
  } else {
    out[0] = out.length - 1; out[1] = d.mediumType; out[2] = deviceSpecific; out[3] = bdSize * d.blockDescriptors.length;
  }
  d.blockDescriptors.forEach((bd, i) => {
    const off = headerLen + bdSize * i;
    if (d.longLba) {
      out.writeBigUInt64BE(bd.blocks, off); out[off + 8] = bd.densityCode; out.writeUInt32BE(bd.blockLength, off + 12);
    } else {
      out.writeUInt32BE(Number(bd.blocks), off); out.writeUIntBE(bd.blockLength, off + 5, 3);
    }
  });
  Buffer.concat(pages).copy(out, headerLen + bdSize * d.blockDescriptors.length);
  return out;
}

/** Build a caching page (0x08, 20 bytes as SBC-4 defines it) with the given bits; the rest zero. */
export function cachingPage(bits: Partial<CachingPage>): ModePage {
  const data = new Uint8Array(18);
  CACHING_BITS.forEach((k, i) => { if (bits[k] === true) data[0] = (data[0] ?? 0) | (0x80 >> i); });
  return { pageCode: CACHING_PAGE, subpageCode: 0, ps: false, spf: false, data };
}

const pageFields = <P extends ModeSense6Params>() => [
  flag<P>('dbd', 1, 3),
  bitsAt<P>('pc', 2, 6, 2),
  { ...bitsAt<P>('pageCode', 2, 0, 6), always: true },
  { name: 'subpageCode' as const, at: 3, bytes: 1 as const },
];

/** Decode MODE SENSE(6) data. */
export const decodeModeSense6 = (b: Uint8Array, length?: number): ModeParameterData => decodeModeData(b, length, false);
/** Decode MODE SENSE(10) data. */
export const decodeModeSense10 = (b: Uint8Array, length?: number): ModeParameterData => decodeModeData(b, length, true);

export const modeSense6 = defineCommand<ModeSense6Params, ModeParameterData>({
  name: 'MODE SENSE(6)', opcode: 0x1a, cdbLength: 6, direction: 'in',
  fields: [...pageFields<ModeSense6Params>(), countField('allocationLength', 4, 1)],
  dataLength: (p) => p.allocationLength,
  decodeData: decodeModeSense6,
  encodeData: (d) => encodeModeData(d, false),
});

export const modeSense10 = defineCommand<ModeSense10Params, ModeParameterData>({
  name: 'MODE SENSE(10)', opcode: 0x5a, cdbLength: 10, direction: 'in',
  fields: [flag('llbaa', 1, 4), ...pageFields<ModeSense10Params>(), countField('allocationLength', 7, 2)],
  dataLength: (p) => p.allocationLength,
  decodeData: decodeModeSense10,
  encodeData: (d) => encodeModeData(d, true),
});

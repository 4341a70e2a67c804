/**
 * Byte layouts the software disk answers with: sense data (fixed and descriptor), INQUIRY and VPD pages, mode
 * parameter headers and pages. Each builder writes into a caller's buffer and returns the full length it would
 * have (callers then cut to the allocation length). Layouts: SPC-4 and SBC-3.
 */

export interface SenseValue { key: number; asc: number; ascq: number; info: bigint | undefined }

export const SENSE = {
  noSense: [0x0, 0x00, 0x00],
  notReadyNoMedium: [0x2, 0x3a, 0x00],
  mediumError: [0x3, 0x11, 0x00],
  invalidOpcode: [0x5, 0x20, 0x00],
  lbaOutOfRange: [0x5, 0x21, 0x00],
  invalidFieldInCdb: [0x5, 0x24, 0x00],
  invalidFieldInParameterList: [0x5, 0x26, 0x00],
  logicalUnitNotSupported: [0x5, 0x25, 0x00],
  savingNotSupported: [0x5, 0x39, 0x00],
  removalPrevented: [0x5, 0x53, 0x02],
  mediumChanged: [0x6, 0x28, 0x00],
  powerOnReset: [0x6, 0x29, 0x00],
  writeProtected: [0x7, 0x27, 0x00],
  miscompare: [0xe, 0x1d, 0x00],
} as const satisfies Record<string, readonly [number, number, number]>;

export type SenseName = keyof typeof SENSE;

/** Fixed format (0x70), 18 bytes. INFORMATION holds 32 bits; a larger value leaves VALID clear. */
export function writeFixedSense(dst: Buffer, s: SenseValue): number {
  dst.fill(0, 0, 18);
  const infoFits = s.info !== undefined && s.info <= 0xffff_ffffn;
  dst[0] = 0x70 | (infoFits ? 0x80 : 0);
  dst[2] = s.key & 0x0f;
  if (infoFits) dst.writeUInt32BE(Number(s.info), 3);
  dst[7] = 10;
  dst[12] = s.asc;
  dst[13] = s.ascq;
  return 18;
}

/** Descriptor format (0x72): 8-byte header plus an information descriptor (64-bit) when there is one. */
export function writeDescriptorSense(dst: Buffer, s: SenseValue): number {
  const total = s.info === undefined ? 8 : 20;
  dst.fill(0, 0, total);
  dst[0] = 0x72;
  dst[1] = s.key & 0x0f;
  dst[2] = s.asc;
  dst[3] = s.ascq;
  dst[7] = total - 8;
  if (s.info !== undefined) {
    dst[8] = 0x00; // information descriptor
    dst[9] = 0x0a;
    dst[10] = 0x80; // VALID
    dst.writeBigUInt64BE(s.info, 12);
  }
  return total;
}

function ascii(dst: Buffer, at: number, width: number, text: string): void {
  dst.fill(0x20, at, at + width);
  dst.write(text.slice(0, width), at, 'latin1');
}

export interface Identity {
  deviceType: number;
  removable: boolean;
  vendor: string;
  product: string;
  revision: string;
  serial: string;
  lun: number;
  /** Block limits of a thin-provisioned LUN (pages 0xB0 and 0xB2); undefined for a fully provisioned one. */
  provisioning: { maxUnmapBlocks: number; maxUnmapDescriptors: number; maxWriteSameBlocks: number } | undefined;
}

/** Standard INQUIRY data, 36 bytes (SPC-4 §6.6.2). */
export function writeStandardInquiry(dst: Buffer, id: Identity): number {
  dst.fill(0, 0, 36);
  dst[0] = id.deviceType & 0x1f;
  dst[1] = id.removable ? 0x80 : 0;
  dst[2] = 0x06; // SPC-4
  dst[3] = 0x02; // response data format 2
  dst[4] = 36 - 5;
  ascii(dst, 8, 8, id.vendor);
  ascii(dst, 16, 16, id.product);
  ascii(dst, 32, 4, id.revision);
  return 36;
}

export const SUPPORTED_VPD = [0x00, 0x80, 0x83, 0xb0, 0xb1] as const;
/** Logical Block Provisioning: listed (after SUPPORTED_VPD) only by a thin-provisioned LUN. */
export const PROVISIONING_VPD = 0xb2;

/** FNV-1a, 32 bits: a stable per-device number for the NAA identifier. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A VPD page; returns undefined for a page this device does not have. */
export function writeVpdPage(dst: Buffer, page: number, id: Identity, maxTransferBlocks: number): number | undefined {
  dst.fill(0, 0, 4);
  dst[0] = id.deviceType & 0x1f;
  dst[1] = page;
  let len: number;
  switch (page) {
    case 0x00:
      SUPPORTED_VPD.forEach((p, i) => { dst[4 + i] = p; });
      len = SUPPORTED_VPD.length;
      if (id.provisioning !== undefined) dst[4 + len++] = PROVISIONING_VPD;
      break;
    case 0x80:
      len = dst.write(id.serial, 4, 'latin1');
      break;
    case 0x83: {
      // T10 vendor ID designator (ASCII): vendor, product, serial.
      const t10 = 8 + 16 + id.serial.length;
      dst[4] = 0x02; dst[5] = 0x01; dst[6] = 0; dst[7] = t10;
      ascii(dst, 8, 8, id.vendor);
      ascii(dst, 16, 16, id.product);
      dst.write(id.serial, 32, 'latin1');
      // NAA 5 (IEEE registered) designator, binary: a locally made OUI and a hash of serial and LUN.
      const at = 8 + t10;
      dst[at] = 0x01; dst[at + 1] = 0x03; dst[at + 2] = 0; dst[at + 3] = 8;
      dst.writeUInt32BE((0x5 << 28) | 0x0abcde0, at + 4);
      dst.writeUInt32BE(fnv1a(`${id.serial}/${id.lun}`), at + 8);
      len = at + 12 - 4;
      break;
    }
    case 0xb0: // Block Limits
      dst.fill(0, 4, 64);
      dst.writeUInt32BE(maxTransferBlocks, 8);
      if (id.provisioning !== undefined) {
        dst[4] = 0x01; // WSNZ: a WRITE SAME of 0 blocks is refused (it would mean "to the end of the medium")
        dst.writeUInt32BE(id.provisioning.maxUnmapBlocks, 20);
        dst.writeUInt32BE(id.provisioning.maxUnmapDescriptors, 24);
        dst.writeUInt32BE(1, 28); // OPTIMAL UNMAP GRANULARITY: one block
        dst.writeBigUInt64BE(BigInt(id.provisioning.maxWriteSameBlocks), 36);
      }
      len = 0x3c;
      break;
    case PROVISIONING_VPD: // Logical Block Provisioning
      if (id.provisioning === undefined) return undefined;
      dst.fill(0, 4, 8);
      dst[5] = 0x80 | 0x40 | (1 << 2); // LBPU, LBPWS, LBPRZ=1: deallocated blocks read as zeros
      dst[6] = 0x02; // provisioning type: thin
      len = 4;
      break;
    case 0xb1: // Block Device Characteristics
      dst.fill(0, 4, 64);
      dst.writeUInt16BE(0x0001, 4); // non-rotating medium
      len = 0x3c;
      break;
    default:
      return undefined;
  }
  dst.writeUInt16BE(len, 2);
  return 4 + len;
}

/** The caching mode page (0x08), 20 bytes; `changeable` gives the mask page (nothing changeable). */
export function writeCachingPage(dst: Buffer, at: number, writeCache: boolean, changeable: boolean): number {
  dst.fill(0, at, at + 20);
  dst[at] = 0x08;
  dst[at + 1] = 0x12;
  if (!changeable && writeCache) dst[at + 2] = 0x04; // WCE
  return 20;
}

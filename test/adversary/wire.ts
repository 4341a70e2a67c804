/**
 * The device side of the Bulk-Only wire format, written from BOT 1.0 §5.1/§5.2 (not from src/bot): parse a
 * CBW the way a device must validate it, and build a CSW, including the malformed ones the adversary sends.
 */
export const CBW_SIG = 0x43425355; // "USBC"
export const CSW_SIG = 0x53425355; // "USBS"
export const CBW_LEN = 31;
export const CSW_LEN = 13;

export interface Cbw {
  tag: number;
  /** dCBWDataTransferLength: what the host expects to move. */
  length: number;
  /** 'in' when bit 7 of bmCBWFlags is set; 'none' when the length is 0. */
  dir: 'in' | 'out' | 'none';
  lun: number;
  cdb: Buffer;
}

/** A CBW is valid when it is 31 bytes with the signature; meaningful when reserved bits are 0 and CB length 1..16. */
export function parseCbw(b: Buffer, n: number, maxLun: number): Cbw | string {
  if (n !== CBW_LEN) return `CBW of ${n} bytes`;
  if (b.readUInt32LE(0) !== CBW_SIG) return `CBW signature 0x${b.readUInt32LE(0).toString(16)}`;
  const flags = b[12]!;
  const lun = b[13]!;
  const cbLen = b[14]!;
  if ((flags & 0x7f) !== 0) return `CBW flags 0x${flags.toString(16)}`;
  if ((lun & 0xf0) !== 0 || lun > maxLun) return `CBW LUN ${lun}`;
  if ((cbLen & 0xe0) !== 0 || cbLen < 1 || cbLen > 16) return `CBW CB length ${cbLen}`;
  const length = b.readUInt32LE(8);
  return {
    tag: b.readUInt32LE(4), length, lun,
    dir: length === 0 ? 'none' : (flags & 0x80) !== 0 ? 'in' : 'out',
    cdb: Buffer.from(b.subarray(15, 15 + cbLen)),
  };
}

export interface CswShape {
  tag: number;
  residue: number;
  status: number;
  signature?: number;
  /** Bytes on the wire: 13 normally; fewer cut it, more append junk. */
  length?: number;
}

export function buildCsw(s: CswShape): Buffer {
  const len = s.length ?? CSW_LEN;
  const b = Buffer.alloc(Math.max(len, CSW_LEN), 0x5a);
  b.writeUInt32LE(s.signature ?? CSW_SIG, 0);
  b.writeUInt32LE(s.tag >>> 0, 4);
  b.writeUInt32LE(s.residue >>> 0, 8);
  b[12] = s.status & 0xff;
  return b.subarray(0, len);
}

/**
 * Splitting READ/WRITE(10) and (16) that are larger than one BOT command may move (the dma-max capability)
 * into several commands, as scsa2usb does for READ/WRITE(10). LBAs are exact BigInts so a 64-bit LBA of
 * READ(16) survives arithmetic past 2^53.
 */
export const SCMD_READ_G1 = 0x28;
export const SCMD_WRITE_G1 = 0x2a;
export const SCMD_READ_G4 = 0x88;
export const SCMD_WRITE_G4 = 0x8a;

export function isSplittable(cdb: Buffer, cdblen: number): boolean {
  const op = cdb[0];
  if (op === SCMD_READ_G1 || op === SCMD_WRITE_G1) return cdblen >= 10;
  if (op === SCMD_READ_G4 || op === SCMD_WRITE_G4) return cdblen >= 16;
  return false;
}

export function rwLba(cdb: Buffer): bigint {
  return cdb[0] === SCMD_READ_G4 || cdb[0] === SCMD_WRITE_G4 ? cdb.readBigUInt64BE(2) : BigInt(cdb.readUInt32BE(2));
}

export function rwBlocks(cdb: Buffer): number {
  return cdb[0] === SCMD_READ_G4 || cdb[0] === SCMD_WRITE_G4 ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
}

/** Copy `src` into `dst` with a new LBA and block count (everything else, e.g. FUA and group, kept). */
export function writeRwPiece(src: Buffer, cdblen: number, dst: Buffer, lba: bigint, blocks: number): void {
  src.copy(dst, 0, 0, cdblen);
  if (src[0] === SCMD_READ_G4 || src[0] === SCMD_WRITE_G4) {
    dst.writeBigUInt64BE(lba, 2);
    dst.writeUInt32BE(blocks, 10);
  } else {
    dst.writeUInt32BE(Number(lba), 2);
    dst.writeUInt16BE(blocks, 7);
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Bytes per piece: the most whole blocks within maxBytes that is also a multiple of the bulk max packet size
 * (every segment but the last of a BOT command must be). 0 when no such piece exists.
 */
export function pieceBytes(blockSize: number, maxPacket: number, maxBytes: number): number {
  const unit = (blockSize / gcd(blockSize, maxPacket)) * maxPacket;
  return Math.floor(maxBytes / unit) * unit;
}

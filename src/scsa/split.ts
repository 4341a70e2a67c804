/**
 * Splitting a READ/WRITE (10), (12) or (16) that is larger than one transport command may move (the dma-max
 * capability) into several commands, as scsa2usb does for READ/WRITE(10). Each piece's CDB is the original with its
 * LBA and TRANSFER LENGTH fields rewritten through the command's own declaration (src/scsi/rw.ts), the same field
 * table that built it, so every other field (FUA, DPO, protection, group, CONTROL) is kept. LBAs are exact BigInts
 * so a 64-bit LBA of READ(16) survives arithmetic past 2^53.
 */
import { read10, read12, read16, write10, write12, write16, type BlockCommandSpec } from '../scsi/rw.js';

const SPLITTABLE: ReadonlyMap<number, BlockCommandSpec> = new Map<number, BlockCommandSpec>(
  [read10, write10, read12, write12, read16, write16].map((s) => [s.opcode, s]));

/** The declaration of `cdb` when it is a READ/WRITE this HBA may split (and is long enough to be one). */
export function splittableSpec(cdb: Buffer, cdblen: number): BlockCommandSpec | undefined {
  const spec = SPLITTABLE.get(cdb[0] ?? -1);
  return spec !== undefined && cdblen >= spec.cdbLength ? spec : undefined;
}

export function rwLba(spec: BlockCommandSpec, cdb: Buffer): bigint {
  return spec.readField(cdb, 'lba') as bigint;
}

export function rwBlocks(spec: BlockCommandSpec, cdb: Buffer): number {
  return spec.readField(cdb, 'blocks') as number;
}

/** Copy `src` into `dst` with a new LBA and block count (everything else, e.g. FUA and group, kept). */
export function writeRwPiece(spec: BlockCommandSpec, src: Buffer, cdblen: number, dst: Buffer, lba: bigint,
  blocks: number): void {
  src.copy(dst, 0, 0, cdblen);
  spec.writeField(dst, 'lba', lba);
  spec.writeField(dst, 'blocks', blocks);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Bytes per piece: the most whole blocks within maxBytes that is also a multiple of the bulk max packet size
 * (every segment but the last of a transport command must be). 0 when no such piece exists.
 */
export function pieceBytes(blockSize: number, maxPacket: number, maxBytes: number): number {
  const unit = (blockSize / gcd(blockSize, maxPacket)) * maxPacket;
  return Math.floor(maxBytes / unit) * unit;
}

/**
 * Address-and-seed stamps: every 24 bytes of a block carry a magic, the block's own LBA and the run's seed, so a
 * block read back can say which address it was written to (a wrap-around shows as another LBA's stamp) and in
 * which run (stale data from an earlier run, or from before a reset, shows as another seed).
 */
const MAGIC = 0x5553424d53505242n; // "USBMSPRB"
const RECORD = 24;

/** Fill `into` (one block or many) with the stamps of `firstLba`, `firstLba + 1`, ... */
export function stampBlocks(into: Buffer, firstLba: bigint, blockSize: number, seed: bigint): void {
  for (let b = 0; b * blockSize < into.length; b++) {
    const lba = firstLba + BigInt(b);
    const end = Math.min(into.length, (b + 1) * blockSize);
    let off = b * blockSize;
    for (; off + RECORD <= end; off += RECORD) {
      into.writeBigUInt64BE(MAGIC, off);
      into.writeBigUInt64BE(lba, off + 8);
      into.writeBigUInt64BE(seed, off + 16);
    }
    into.fill(0, off, end);
  }
}

/** The LBA a block's stamp names, or undefined when it carries no intact stamp of this seed. */
export function stampOf(block: Buffer, seed: bigint): bigint | undefined {
  if (block.length < RECORD || block.readBigUInt64BE(0) !== MAGIC || block.readBigUInt64BE(16) !== seed) return undefined;
  const lba = block.readBigUInt64BE(8);
  let off = RECORD;
  for (; off + RECORD <= block.length; off += RECORD) {
    if (block.readBigUInt64BE(off) !== MAGIC || block.readBigUInt64BE(off + 8) !== lba ||
      block.readBigUInt64BE(off + 16) !== seed) return undefined;
  }
  for (; off < block.length; off++) if (block[off] !== 0) return undefined;
  return lba;
}

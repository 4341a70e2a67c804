/**
 * Block contents the write checks use. Every pattern names its LBA and a per-run seed in every block, so a
 * device that maps two LBAs to the same flash (a counterfeit "wrap-around") or drops a write shows up as a
 * block that holds another block's stamp, not as a silent pass.
 */

/** Fill `into` (a whole number of blocks starting at `lba`) with a stamp of LBA + seed per 16 bytes. */
export function fillStamp(into: Buffer, lba: bigint, blockSize: number, seed: number): Buffer {
  for (let off = 0; off < into.length; off += 16) {
    const block = lba + BigInt(Math.floor(off / blockSize));
    into.writeBigUInt64BE(block, off);
    into.writeUInt32BE(seed >>> 0, off + 8);
    into.writeUInt32BE(((off % blockSize) * 2654435761 + seed) >>> 0, off + 12);
  }
  return into;
}

/** The LBA whose stamp `block` holds (undefined when it holds no stamp of this seed). */
export function stampedLba(block: Buffer, seed: number): bigint | undefined {
  if (block.length < 16 || block.readUInt32BE(8) !== seed >>> 0) return undefined;
  return block.readBigUInt64BE(0);
}

/**
 * The block the lab leaves at USBMS_TEST_STAMP_LBA for its host-side check (run-lab.sh rebuilds the same bytes):
 * "usbms-lab-stamp lba=N " repeated.
 */
export function labStamp(lba: number, blockSize: number): Buffer {
  const text = Buffer.from(`usbms-lab-stamp lba=${lba} `, 'latin1');
  const out = Buffer.alloc(blockSize);
  for (let i = 0; i < blockSize; i += text.length) text.copy(out, i);
  return out;
}

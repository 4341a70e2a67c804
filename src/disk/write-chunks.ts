/**
 * The write side of forEachChunk (streams.ts): blocks written in order from chunks the caller fills, in two lent
 * buffers that take turns, so restoring an image keeps the device busy and makes no garbage.
 */
import { DiskArgumentError } from './errors.js';
import { checkChunk, defaultChunkBlocks, type BlockDevice } from './streams.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/** Where forEachWrite writes: `blocks` blocks from `start`, `chunkBlocks` per WRITE. */
export interface WriteRange {
  /** First LBA (default 0). */
  start?: bigint;
  /** How many blocks. */
  blocks: bigint;
  /** Blocks per WRITE (default: the device's maxTransferBytes, at most 8 MiB, else 128). */
  chunkBlocks?: number;
}

const WRITE_RANGE_KEYS = { start: true, blocks: true, chunkBlocks: true } as const satisfies KnownKeys<WriteRange>;

/**
 * Writes `range` in order: `fill` fills each chunk (all of it) with the blocks that go at `lba`, and while one
 * chunk's WRITE is on the wire the next chunk is filled in the other buffer (a file read in libuv's thread pool, a
 * hash on this thread). A chunk is lent: it is written once `fill`'s promise settles and is filled again later,
 * so `fill` must not keep it. A failed WRITE is thrown once the fill running beside it has settled (the WRITE's
 * error first, with the range it names); a failed fill once the WRITE beside it has settled. Nothing after the
 * first failure is written.
 */
export async function forEachWrite(disk: BlockDevice, range: WriteRange,
  fill: (chunk: Buffer, lba: bigint) => Promise<void> | void): Promise<void> {
  rejectUnknownKeys(range, WRITE_RANGE_KEYS, 'forEachWrite range');
  const start = range.start ?? 0n;
  const end = start + range.blocks; // exclusive
  const chunkBlocks = range.chunkBlocks ?? defaultChunkBlocks(disk);
  checkChunk(chunkBlocks);
  if (start < 0n || range.blocks < 0n || end > disk.blocks) {
    throw new DiskArgumentError(`${range.blocks} blocks from LBA ${start} are not on the disk (0..${disk.blocks - 1n})`);
  }
  if (range.blocks === 0n) return;
  const bs = disk.blockSize;
  const chunkBytes = chunkBlocks * bs;
  const sizeAt = (lba: bigint): number => (end - lba < BigInt(chunkBlocks) ? Number(end - lba) : chunkBlocks) * bs;
  const lend = (buf: Buffer, bytes: number): Buffer => (bytes === buf.length ? buf : buf.subarray(0, bytes));
  // Zeroed, not allocUnsafe: a fill that falls short must not put this process's old heap on the disk.
  let buf: Buffer = Buffer.alloc(chunkBytes);
  let other: Buffer | undefined;
  let lba = start;
  let chunk: Buffer = lend(buf, sizeAt(lba));
  await fill(chunk, lba);
  for (;;) {
    const writing = disk.write(lba, chunk);
    const next = lba + BigInt(chunk.length / bs);
    if (next >= end) {
      await writing;
      return;
    }
    other ??= Buffer.alloc(chunkBytes);
    [buf, other] = [other, buf];
    const nextChunk = lend(buf, sizeAt(next));
    const filling = (async () => { await fill(nextChunk, next); })(); // a synchronous throw becomes a rejection
    const [wrote, filled] = await Promise.allSettled([writing, filling]);
    if (wrote.status === 'rejected') throw wrote.reason;
    if (filled.status === 'rejected') throw filled.reason;
    lba = next;
    chunk = nextChunk;
  }
}

/**
 * forEachChunk (what `usbms image` copies with): every block once, in order, one READ ahead of the consumer, in
 * two buffers that take turns, and a failing consumer never leaves a READ on the wire.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { forEachChunk, type BlockDevice } from '../../src/disk/streams.js';
import { DiskArgumentError } from '../../src/disk/errors.js';

const BS = 512;

function memDisk(blocks: number, maxTransferBytes: number): BlockDevice & {
  data: Buffer; busy: number; peak: number; targets: Set<ArrayBufferLike>;
} {
  const data = Buffer.alloc(blocks * BS);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i ^ 0x5a5a5a5a, i);
  const d = {
    blockSize: BS, blocks: BigInt(blocks), maxTransferBytes, data, busy: 0, peak: 0, targets: new Set<ArrayBufferLike>(),
    async read(lba: bigint, n: number, into?: Buffer): Promise<Buffer> {
      d.peak = Math.max(d.peak, ++d.busy);
      await new Promise((r) => setTimeout(r, 2));
      const out = into === undefined ? Buffer.alloc(n * BS) : into.subarray(0, n * BS);
      d.targets.add(out.buffer);
      data.copy(out, 0, Number(lba) * BS, (Number(lba) + n) * BS);
      d.busy--;
      return out;
    },
    write(): Promise<void> { return Promise.reject(new Error('read only')); },
  };
  return d;
}

describe('forEachChunk', () => {
  it('lends every block once, in order, at the device size, the next READ running while the consumer works', async () => {
    const disk = memDisk(1000, 64 * 1024); // 128 blocks per chunk: 7 full chunks and a short one of 104
    const hash = createHash('sha256');
    const seen: [bigint, number][] = [];
    let readingWhileConsuming = 0;
    await forEachChunk(disk, {}, async (chunk, lba) => {
      seen.push([lba, chunk.length / BS]);
      const copy = Buffer.from(chunk);
      if (disk.busy > 0) readingWhileConsuming++;
      await new Promise((r) => setTimeout(r, 3));
      // The lent chunk is not overwritten before the consumer's promise settles.
      expect(Buffer.compare(chunk, copy)).toBe(0);
      hash.update(chunk);
    });
    expect(hash.digest('hex')).toBe(createHash('sha256').update(disk.data).digest('hex'));
    expect(seen.map(([l]) => l)).toEqual([0n, 128n, 256n, 384n, 512n, 640n, 768n, 896n]);
    expect(seen.map(([, n]) => n)).toEqual([128, 128, 128, 128, 128, 128, 128, 104]);
    expect(readingWhileConsuming).toBe(7); // all but the last chunk had the next READ in flight
    expect(disk.peak).toBe(1);
    expect(disk.targets.size).toBe(2); // two buffers, taking turns, for 8 READs
  });

  it('a range and chunkBlocks of the caller are honoured; bad ones are typed errors', async () => {
    const disk = memDisk(100, 64 * 1024);
    const got: Buffer[] = [];
    await forEachChunk(disk, { start: 10n, end: 29n, chunkBlocks: 7 }, (chunk) => { got.push(Buffer.from(chunk)); });
    expect(got.map((c) => c.length / BS)).toEqual([7, 7, 6]);
    expect(Buffer.compare(Buffer.concat(got), disk.data.subarray(10 * BS, 30 * BS))).toBe(0);
    await expect(forEachChunk(disk, { end: 100n }, () => undefined)).rejects.toBeInstanceOf(DiskArgumentError);
    await expect(forEachChunk(disk, { chunkBlocks: 0 }, () => undefined)).rejects.toBeInstanceOf(DiskArgumentError);
  });

  it('a consumer that fails ends the copy with its error after the READ in flight has finished', async () => {
    const disk = memDisk(1000, 64 * 1024);
    const err = new Error('disk full');
    let calls = 0;
    await expect(forEachChunk(disk, {}, () => { if (++calls === 2) throw err; })).rejects.toBe(err);
    expect(calls).toBe(2);
    expect(disk.busy).toBe(0);
  });

  it('a READ that fails ends the copy with the disk error', async () => {
    const disk = memDisk(1000, 64 * 1024);
    const read = disk.read.bind(disk);
    const bad = new Error('medium error');
    disk.read = (lba, n, into) => (lba === 256n ? Promise.reject(bad) : read(lba, n, into));
    const lbas: bigint[] = [];
    await expect(forEachChunk(disk, {}, (_c, lba) => { lbas.push(lba); })).rejects.toBe(bad);
    expect(lbas).toEqual([0n, 128n]);
  });
});

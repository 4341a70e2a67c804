/**
 * forEachWrite (what `usbms restore` writes with): every block once, in order, at the device size, the next chunk
 * filled while the WRITE before it runs, in two buffers; a failure on either side stops the copy with that error
 * and never leaves a WRITE on the wire or a fill running.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { forEachWrite } from '../../src/disk/write-chunks.js';
import type { BlockDevice } from '../../src/disk/streams.js';
import { DiskArgumentError } from '../../src/disk/errors.js';

const BS = 512;
const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A disk in memory whose WRITEs take 3 ms; `failAt` makes the WRITE at that LBA fail. */
function memDisk(blocks: number, maxTransferBytes: number, failAt?: bigint) {
  const data = Buffer.alloc(blocks * BS);
  const d = {
    blockSize: BS, blocks: BigInt(blocks), maxTransferBytes, data, busy: 0, peak: 0,
    writes: [] as [bigint, number][], sources: new Set<ArrayBufferLike>(),
    read(): Promise<Buffer> { return Promise.reject(new Error('write only')); },
    async write(lba: bigint, chunk: Buffer): Promise<void> {
      d.peak = Math.max(d.peak, ++d.busy);
      d.sources.add(chunk.buffer);
      const copy = Buffer.from(chunk);
      await tick(3);
      d.busy--;
      // The lent chunk did not change while its WRITE was on the wire.
      expect(Buffer.compare(chunk, copy)).toBe(0);
      if (lba === failAt) throw new Error(`WRITE at ${lba} failed`);
      d.writes.push([lba, chunk.length / BS]);
      chunk.copy(data, Number(lba) * BS);
    },
  };
  return d satisfies BlockDevice;
}

/** The image a fill copies from: every 4 bytes their own offset, scrambled. */
function image(bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
  return b;
}

describe('forEachWrite', () => {
  it('writes every block once, in order, at the device size, filling the next chunk while a WRITE runs', async () => {
    const disk = memDisk(1000, 64 * 1024); // 128 blocks per chunk: 7 full chunks and a short one of 104
    const src = image(1000 * BS);
    let fillingWhileWriting = 0;
    await forEachWrite(disk, { blocks: 1000n }, async (chunk, lba) => {
      if (disk.busy > 0) fillingWhileWriting++;
      await tick(1);
      src.copy(chunk, 0, Number(lba) * BS, Number(lba) * BS + chunk.length);
    });
    expect(disk.writes).toEqual([0n, 128n, 256n, 384n, 512n, 640n, 768n, 896n].map((l, i) => [l, i < 7 ? 128 : 104]));
    expect(createHash('sha256').update(disk.data).digest('hex')).toBe(createHash('sha256').update(src).digest('hex'));
    expect(fillingWhileWriting).toBe(7); // every fill but the first ran beside the WRITE before it
    expect(disk.peak).toBe(1); // one WRITE at a time
    expect(disk.sources.size).toBe(2); // two buffers taking turns for 8 WRITEs
  });

  it('a start and chunkBlocks of the caller are honoured; ranges off the disk are typed errors', async () => {
    const disk = memDisk(100, 64 * 1024);
    await forEachWrite(disk, { start: 10n, blocks: 20n, chunkBlocks: 7 }, (chunk) => { chunk.fill(1); });
    expect(disk.writes).toEqual([[10n, 7], [17n, 7], [24n, 6]]);
    await forEachWrite(disk, { blocks: 0n }, () => { throw new Error('not called'); });
    await expect(forEachWrite(disk, { start: 90n, blocks: 11n }, () => undefined)).rejects.toThrow(DiskArgumentError);
    await expect(forEachWrite(disk, { start: -1n, blocks: 1n }, () => undefined)).rejects.toThrow(DiskArgumentError);
    await expect(forEachWrite(disk, { blocks: 1n, chunkBlocks: 0 }, () => undefined)).rejects.toThrow(DiskArgumentError);
    expect(disk.writes).toHaveLength(3);
  });

  it('a failed WRITE is thrown once the fill beside it settled, and nothing after it is written', async () => {
    const disk = memDisk(1000, 64 * 1024, 256n);
    const fills: bigint[] = [];
    let filling = 0;
    const run = forEachWrite(disk, { blocks: 1000n }, async (_chunk, lba) => {
      filling++;
      await tick(6); // slower than the WRITE: the error waits for this fill
      fills.push(lba);
      filling--;
    });
    await expect(run).rejects.toThrow('WRITE at 256 failed');
    expect(filling).toBe(0);
    expect(fills).toEqual([0n, 128n, 256n, 384n]);
    expect(disk.writes.map(([l]) => l)).toEqual([0n, 128n]);
    expect(disk.busy).toBe(0);
  });

  it('a failed fill (thrown or rejected) is thrown once the WRITE beside it settled; its chunk is never written', async () => {
    for (const how of ['throw', 'reject'] as const) {
      const disk = memDisk(1000, 64 * 1024);
      const run = forEachWrite(disk, { blocks: 1000n }, (chunk, lba) => {
        if (lba === 384n) {
          if (how === 'throw') throw new Error('file ended');
          return Promise.reject(new Error('file ended'));
        }
        chunk.fill(2);
        return undefined;
      });
      await expect(run, how).rejects.toThrow('file ended');
      expect(disk.busy, how).toBe(0); // the WRITE of 256.. was waited for
      expect(disk.writes.map(([l]) => l), how).toEqual([0n, 128n, 256n]);
    }
  });
});

import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createDiskReadStream, createDiskWriteStream, defaultChunkBlocks, STREAM_CHUNK_CAP_BYTES, type BlockDevice } from '../../src/disk/streams.js';

const BS = 512;

/** An in-memory disk that records every command and how many were on the wire at once. */
function memDisk(blocks: number, maxTransferBytes?: number, delayMs = 1): BlockDevice & {
  data: Buffer; reads: number[]; writes: number[]; peak: number;
} {
  const data = Buffer.alloc(blocks * BS);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
  let busy = 0;
  const d = {
    blockSize: BS, blocks: BigInt(blocks), data, reads: [] as number[], writes: [] as number[], peak: 0,
    ...(maxTransferBytes === undefined ? {} : { maxTransferBytes }),
    async read(lba: bigint, n: number): Promise<Buffer> {
      d.reads.push(n);
      d.peak = Math.max(d.peak, ++busy);
      await new Promise((r) => setTimeout(r, delayMs));
      busy--;
      return Buffer.from(data.subarray(Number(lba) * BS, (Number(lba) + n) * BS));
    },
    async write(lba: bigint, buf: Buffer): Promise<void> {
      d.writes.push(buf.length / BS);
      d.peak = Math.max(d.peak, ++busy);
      await new Promise((r) => setTimeout(r, delayMs));
      busy--;
      buf.copy(data, Number(lba) * BS);
    },
  };
  return d;
}

describe('disk streams at the speed of the device', () => {
  it('the read stream uses the device transfer size and keeps one READ on the wire while the consumer works', async () => {
    const disk = memDisk(4096, 256 * 1024);
    let busyWhileConsuming = 0;
    let chunks = 0;
    const hash = createHash('sha256');
    const sink = new Writable({
      write(chunk: Buffer, _e, cb): void {
        chunks++;
        hash.update(chunk);
        // The next READ is already on the wire while this chunk is hashed (except after the last one).
        if (disk.reads.length > chunks) busyWhileConsuming++;
        setTimeout(cb, 2);
      },
    });
    await pipeline(createDiskReadStream(disk), sink);
    expect(disk.reads.every((n) => n === 512)).toBe(true); // 256 KiB / 512
    expect(disk.reads.reduce((a, b) => a + b, 0)).toBe(4096);
    expect(busyWhileConsuming).toBeGreaterThanOrEqual(chunks - 2);
    expect(disk.peak).toBe(1); // one command at a time: BOT has no queueing
    expect(hash.digest('hex')).toBe(createHash('sha256').update(disk.data).digest('hex'));
  });

  it('without a transfer size it falls back to 128 blocks; a range ends exactly at its last block', async () => {
    const disk = memDisk(1000);
    const got: Buffer[] = [];
    await pipeline(createDiskReadStream(disk, { start: 10n, end: 299n }),
      new Writable({ write(c: Buffer, _e, cb): void { got.push(c); cb(); } }));
    expect(disk.reads).toEqual([128, 128, 34]);
    expect(Buffer.concat(got).equals(disk.data.subarray(10 * BS, 300 * BS))).toBe(true);
  });

  it('the default chunk is one command of the device, capped at 8 MiB (bounded memory)', () => {
    const dev = (max?: number): BlockDevice => ({ blockSize: 512, blocks: 1n << 30n, ...(max === undefined ? {} : { maxTransferBytes: max }),
      read: () => Promise.resolve(Buffer.alloc(0)), write: () => Promise.resolve() });
    expect(defaultChunkBlocks(dev(120 * 1024))).toBe(240);
    expect(defaultChunkBlocks(dev(16 * 1024 * 1024))).toBe(STREAM_CHUNK_CAP_BYTES / 512);
    expect(defaultChunkBlocks(dev())).toBe(128);
  });

  it('the write stream gathers small chunks into whole commands of the transfer size, in order', async () => {
    const disk = memDisk(2048, 128 * 1024);
    const src = Buffer.alloc(600 * BS);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
    const pieces: Buffer[] = [];
    for (let off = 0; off < src.length; off += 4096 + 100) pieces.push(src.subarray(off, Math.min(src.length, off + 4096 + 100)));
    await pipeline(Readable.from(pieces), createDiskWriteStream(disk, { start: 100n }));
    expect(disk.writes).toEqual([256, 256, 88]);
    expect(disk.data.subarray(100 * BS, 700 * BS).equals(src)).toBe(true);
    expect(disk.peak).toBe(1);
  });

  it('a failed WRITE fails the stream, and a trailing partial block is refused', async () => {
    const disk = memDisk(64, 8 * BS);
    disk.write = () => Promise.reject(new Error('medium error'));
    await expect(pipeline(Readable.from([Buffer.alloc(32 * BS)]), createDiskWriteStream(disk))).rejects.toThrow(/medium error/);
    const ok = memDisk(64, 8 * BS);
    await expect(pipeline(Readable.from([Buffer.alloc(3 * BS + 5)]), createDiskWriteStream(ok)))
      .rejects.toThrow(/inside a block/);
  });
});

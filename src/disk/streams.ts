/**
 * Node streams over a Disk, for imaging and restoring. Backpressure is the stream machinery's own: the read
 * stream issues the next READ only when `_read` is asked for more, and the write stream acknowledges a chunk
 * only after its WRITE completed, so memory stays at highWaterMark plus one command whatever the pace.
 */
import { Readable, Writable } from 'node:stream';
import { DiskArgumentError } from './errors.js';

/** The part of Disk the streams use (so tests and wrappers can pass anything shaped like it). */
export interface BlockDevice {
  readonly blockSize: number;
  readonly blocks: bigint;
  read(lba: bigint, blocks: number, into?: Buffer): Promise<Buffer>;
  write(lba: bigint, data: Buffer): Promise<void>;
}

export interface DiskReadStreamOptions {
  /** First LBA (default 0). */
  start?: bigint;
  /** Last LBA, inclusive like fs.createReadStream's `end` (default: the last block). */
  end?: bigint;
  /** Blocks per READ (default 128, 64 KiB of 512-byte blocks). */
  chunkBlocks?: number;
}

export interface DiskWriteStreamOptions {
  /** First LBA (default 0). */
  start?: bigint;
  /** Blocks per WRITE (default 128). */
  chunkBlocks?: number;
}

function checkChunk(chunkBlocks: number): void {
  if (!Number.isSafeInteger(chunkBlocks) || chunkBlocks < 1) {
    throw new DiskArgumentError(`chunkBlocks ${chunkBlocks} is not a positive integer`);
  }
}

/** Blocks start..end of the disk, in chunks of chunkBlocks. */
export function createDiskReadStream(disk: BlockDevice, opts: DiskReadStreamOptions = {}): Readable {
  const start = opts.start ?? 0n;
  const end = opts.end ?? disk.blocks - 1n;
  const chunkBlocks = opts.chunkBlocks ?? 128;
  checkChunk(chunkBlocks);
  if (start < 0n || end < start - 1n || end >= disk.blocks) {
    throw new DiskArgumentError(`range ${start}..${end} is not on the disk (0..${disk.blocks - 1n})`);
  }
  let next = start;
  return new Readable({
    highWaterMark: chunkBlocks * disk.blockSize * 2,
    read(this: Readable): void {
      if (next > end) { this.push(null); return; }
      const n = Number(end - next + 1n < BigInt(chunkBlocks) ? end - next + 1n : BigInt(chunkBlocks));
      const lba = next;
      next += BigInt(n);
      // Each chunk is its own buffer: once pushed, the consumer owns it (no reuse under its feet).
      disk.read(lba, n).then((data) => { this.push(data); }, (e: unknown) => { this.destroy(e as Error); });
    },
  });
}

/** Writes whole blocks from `start`; partial blocks are staged until complete, a trailing partial block fails. */
export function createDiskWriteStream(disk: BlockDevice, opts: DiskWriteStreamOptions = {}): Writable {
  const chunkBlocks = opts.chunkBlocks ?? 128;
  checkChunk(chunkBlocks);
  const blockSize = disk.blockSize;
  let lba = opts.start ?? 0n;
  if (lba < 0n || lba >= disk.blocks) throw new DiskArgumentError(`start LBA ${lba} is not on the disk`);
  // Stage only what does not fill a whole block; whole blocks go to the device straight from the caller's chunk.
  const staging = Buffer.allocUnsafe(blockSize);
  let staged = 0;

  async function writeBlocks(data: Buffer): Promise<void> {
    const step = chunkBlocks * blockSize;
    for (let off = 0; off < data.length; off += step) {
      const part = data.subarray(off, Math.min(off + step, data.length));
      await disk.write(lba, part);
      lba += BigInt(part.length / blockSize);
    }
  }

  async function take(chunk: Buffer): Promise<void> {
    let rest = chunk;
    if (staged > 0) {
      const n = Math.min(blockSize - staged, rest.length);
      rest.copy(staging, staged, 0, n);
      staged += n;
      rest = rest.subarray(n);
      if (staged < blockSize) return;
      await writeBlocks(staging);
      staged = 0;
    }
    const whole = rest.length - (rest.length % blockSize);
    if (whole > 0) await writeBlocks(rest.subarray(0, whole));
    const tail = rest.subarray(whole);
    if (tail.length > 0) { tail.copy(staging, 0); staged = tail.length; }
  }

  return new Writable({
    highWaterMark: chunkBlocks * blockSize,
    write(chunk: Buffer, _encoding, callback): void {
      take(chunk).then(() => { callback(); }, (e: unknown) => { callback(e as Error); });
    },
    final(callback): void {
      if (staged === 0) { callback(); return; }
      callback(new DiskArgumentError(`stream ended inside a block: ${staged} bytes left over ` +
        `(the data must be a whole number of ${blockSize}-byte blocks)`));
    },
  });
}

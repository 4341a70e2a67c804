/**
 * Node streams over a Disk, for imaging and restoring, at the device's transfer size (`maxTransferBytes`, else
 * 128 blocks) and with the device kept busy: the read stream has the next READ on the wire while the consumer
 * hashes and writes the chunk before it, and the write stream gathers small chunks into whole commands, copying
 * into one of two staging buffers while the other one's WRITE runs. Memory stays bounded whatever the pace: the
 * read stream holds at most one chunk buffered plus one READ in flight (and the consumer's own), the write
 * stream two staging buffers.
 */
import { Readable, Writable } from 'node:stream';
import { DiskArgumentError } from './errors.js';
import { asError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/** The part of Disk the streams use (so tests and wrappers can pass anything shaped like it). */
export interface BlockDevice {
  readonly blockSize: number;
  readonly blocks: bigint;
  /** Bytes one command may move (Disk: the HBA's dma-max); the default chunk. */
  readonly maxTransferBytes?: number;
  /** Read `blocks` blocks at `lba`. */
  read(lba: bigint, blocks: number, into?: Buffer): Promise<Buffer>;
  /** Write whole blocks at `lba`. */
  write(lba: bigint, data: Buffer): Promise<void>;
}

/** Options of Disk.createReadStream: the range and the chunk size. */
export interface DiskReadStreamOptions {
  /** First LBA (default 0). */
  start?: bigint;
  /** Last LBA, inclusive like fs.createReadStream's `end` (default: the last block). */
  end?: bigint;
  /** Blocks per READ (default: the device's maxTransferBytes, else 128). */
  chunkBlocks?: number;
}

/** Options of Disk.createWriteStream: where to start and the chunk size. */
export interface DiskWriteStreamOptions {
  /** First LBA (default 0). */
  start?: bigint;
  /** Blocks per WRITE (default: the device's maxTransferBytes, else 128). */
  chunkBlocks?: number;
}

const READ_STREAM_KEYS = { start: true, end: true, chunkBlocks: true } as const satisfies KnownKeys<DiskReadStreamOptions>;
const WRITE_STREAM_KEYS = { start: true, chunkBlocks: true } as const satisfies KnownKeys<DiskWriteStreamOptions>;

const FALLBACK_CHUNK_BLOCKS = 128;
/**
 * A stream's default chunk stops here even when the device takes more per command: three chunks are alive at
 * once (buffered, in flight, being consumed) and more wait for the garbage collector, so 16 MiB chunks put an
 * image of a 2 GiB disk at 183 MB of RSS, 8 MiB ones at 123 MB (npm run bench, BENCH_RSS_GIB); commands beyond
 * 8 MiB buy little more. An explicit chunkBlocks is not capped.
 */
export const STREAM_CHUNK_CAP_BYTES = 8 * 1024 * 1024;

/** chunkBlocks must be a positive integer (the streams, forEachChunk and forEachWrite share this check). */
export function checkChunk(chunkBlocks: number): void {
  if (!Number.isSafeInteger(chunkBlocks) || chunkBlocks < 1) {
    throw new DiskArgumentError(`chunkBlocks ${chunkBlocks} is not a positive integer`);
  }
}

/** One command's worth of blocks: what the device takes per command. */
export function defaultChunkBlocks(disk: BlockDevice): number {
  const max = disk.maxTransferBytes;
  if (max === undefined || !(max >= disk.blockSize) || disk.blockSize <= 0) return FALLBACK_CHUNK_BLOCKS;
  return Math.max(1, Math.floor(Math.min(max, STREAM_CHUNK_CAP_BYTES) / disk.blockSize));
}

/** The range and chunk size a read of the disk asked for, with the defaults filled in and checked. */
function readRange(disk: BlockDevice, opts: DiskReadStreamOptions): { start: bigint; end: bigint; chunkBlocks: number } {
  rejectUnknownKeys(opts, READ_STREAM_KEYS, 'read options');
  const start = opts.start ?? 0n;
  const end = opts.end ?? disk.blocks - 1n;
  const chunkBlocks = opts.chunkBlocks ?? defaultChunkBlocks(disk);
  checkChunk(chunkBlocks);
  if (start < 0n || end < start - 1n || end >= disk.blocks) {
    throw new DiskArgumentError(`range ${start}..${end} is not on the disk (0..${disk.blocks - 1n})`);
  }
  return { start, end, chunkBlocks };
}

/** Blocks start..end of the disk, in chunks of chunkBlocks, one READ ahead of the consumer. */
export function createDiskReadStream(disk: BlockDevice, opts: DiskReadStreamOptions = {}): Readable {
  const { start, end, chunkBlocks } = readRange(disk, opts);
  const chunkBytes = chunkBlocks * disk.blockSize;
  let next = start;
  let reading = false;
  let wanted = false;

  const stream = new Readable({
    // One chunk buffered: with the READ in flight and the chunk the consumer holds, three chunks at most.
    highWaterMark: chunkBytes,
    read(): void {
      wanted = true;
      issue();
    },
  });

  function issue(): void {
    if (reading || !wanted || stream.destroyed) return;
    if (next > end) { stream.push(null); return; }
    const n = Number(end - next + 1n < BigInt(chunkBlocks) ? end - next + 1n : BigInt(chunkBlocks));
    const lba = next;
    next += BigInt(n);
    reading = true;
    wanted = false;
    // Each chunk is its own buffer: once pushed, the consumer owns it (no reuse under its feet).
    disk.read(lba, n).then(onData, onError);
  }

  function onData(data: Buffer): void {
    reading = false;
    if (stream.destroyed) return;
    const more = next <= end;
    // The next READ goes on the wire before this chunk is handed on, so the device works while the consumer
    // hashes and writes it; only when nothing is buffered yet (push() decides whether more is wanted after).
    if (more && stream.readableLength === 0) { wanted = true; issue(); }
    const room = stream.push(data);
    if (!more) { stream.push(null); return; }
    if (room) { wanted = true; issue(); }
  }

  function onError(e: unknown): void {
    reading = false;
    stream.destroy(asError(e));
  }

  return stream;
}

/**
 * Writes whole blocks from `start`, one command per chunkBlocks: chunks are gathered into a staging buffer, and
 * a full buffer's WRITE runs while the next one fills. A chunk is acknowledged once it is staged; a WRITE's
 * failure fails the next write or the final one. A trailing partial block fails the stream.
 */
export function createDiskWriteStream(disk: BlockDevice, opts: DiskWriteStreamOptions = {}): Writable {
  rejectUnknownKeys(opts, WRITE_STREAM_KEYS, 'write stream options');
  const chunkBlocks = opts.chunkBlocks ?? defaultChunkBlocks(disk);
  checkChunk(chunkBlocks);
  const blockSize = disk.blockSize;
  let lba = opts.start ?? 0n;
  if (lba < 0n || lba >= disk.blocks) throw new DiskArgumentError(`start LBA ${lba} is not on the disk`);
  const chunkBytes = chunkBlocks * blockSize;
  let fill: Buffer | undefined;
  let spare: Buffer | undefined;
  let filled = 0;
  let writing: Promise<void> | undefined;

  /** WRITE what is staged (whole blocks), after the WRITE before it; the buffers swap roles. */
  async function flush(): Promise<void> {
    if (writing !== undefined) await writing;
    writing = undefined;
    if (fill === undefined || filled === 0) return;
    const buf = fill.subarray(0, filled);
    const at = lba;
    lba += BigInt(filled / blockSize);
    [fill, spare] = [spare, fill];
    filled = 0;
    writing = disk.write(at, buf);
    writing.catch(() => undefined); // observed by the next flush or final
  }

  async function take(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      fill ??= Buffer.allocUnsafe(chunkBytes);
      const n = Math.min(chunkBytes - filled, chunk.length - off);
      chunk.copy(fill, filled, off, off + n);
      filled += n;
      off += n;
      if (filled === chunkBytes) await flush();
    }
  }

  return new Writable({
    highWaterMark: chunkBytes,
    write(chunk: Buffer, _encoding, callback): void {
      take(chunk).then(() => { callback(); }, (e: unknown) => { callback(e as Error); });
    },
    final(callback): void {
      const tail = filled % blockSize;
      if (tail !== 0) {
        callback(new DiskArgumentError(`stream ended inside a block: ${tail} bytes left over ` +
          `(the data must be a whole number of ${blockSize}-byte blocks)`));
        return;
      }
      flush().then(() => writing).then(() => { callback(); }, (e: unknown) => { callback(e as Error); });
    },
  });
}

/**
 * Blocks start..end handed to `consume` in order, one READ ahead of it, in two buffers that take turns: while
 * `consume` hashes or writes one chunk, the next READ fills the other. Unlike the read stream, a chunk is lent,
 * not given: it is valid until `consume`'s promise settles, then its buffer is read into again. So a copy of any
 * size holds two chunks and makes no garbage (the read stream's chunks are new buffers, and how many wait for the
 * garbage collector depends on the pace). If `consume` fails, the READ in flight is waited for, then the error
 * is thrown.
 */
export async function forEachChunk(disk: BlockDevice, opts: DiskReadStreamOptions,
  consume: (chunk: Buffer, lba: bigint) => Promise<void> | void): Promise<void> {
  const { start, end, chunkBlocks } = readRange(disk, opts);
  const chunkBytes = chunkBlocks * disk.blockSize;
  let lba = start;
  const size = (at: bigint): number => Number(end - at + 1n < BigInt(chunkBlocks) ? end - at + 1n : BigInt(chunkBlocks));
  if (lba > end) return;
  let ready: Buffer = Buffer.allocUnsafe(chunkBytes);
  let spare: Buffer | undefined;
  let reading: Promise<Buffer> | undefined = disk.read(lba, size(lba), ready);
  while (reading !== undefined) {
    const chunk = await reading;
    const at = lba;
    lba += BigInt(size(lba));
    reading = undefined;
    if (lba <= end) {
      spare ??= Buffer.allocUnsafe(chunkBytes);
      [ready, spare] = [spare, ready];
      reading = disk.read(lba, size(lba), ready);
    }
    try {
      await consume(chunk, at);
    } catch (e) {
      if (reading !== undefined) await reading.catch(() => undefined);
      throw e;
    }
  }
}

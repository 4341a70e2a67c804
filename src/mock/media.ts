/**
 * Media stores for the software disk: sparse memory, a (sparse) file, and the wrap-around store of a
 * counterfeit drive.
 */
import * as fs from 'node:fs';
import type { MediaStore } from './types.js';
import { UsbmsArgumentError, UsbmsError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/** An access outside the media (the emulated target checks LBAs first, so this is a bug or a caller's mistake). */
export class MediaRangeError extends UsbmsArgumentError {
  override readonly name = 'MediaRangeError';
  constructor(offset: bigint, length: number, size: bigint) {
    super(`media access [${offset}, +${length}) outside 0..${size}`);
  }
}

function checkRange(offset: bigint, length: number, size: bigint): void {
  if (offset < 0n || offset + BigInt(length) > size) throw new MediaRangeError(offset, length, size);
}

/** 64 KiB chunks: small enough that scattered writes stay cheap, large enough that the Map stays small. */
const CHUNK_SHIFT = 16n;
const CHUNK = 1 << 16;

/**
 * Sparse in-memory media: a chunk is allocated on its first write, and unwritten bytes read as zeros, so a 4 TiB
 * disk costs nothing until it is written.
 */
export class MemoryMedia implements MediaStore {
  readonly size: bigint;
  private readonly chunks = new Map<number, Buffer>();

  constructor(size: bigint | number) {
    this.size = BigInt(size);
    if (this.size < 0n) throw new UsbmsArgumentError('media size must not be negative');
  }

  /** Bytes actually allocated (for tests that check sparseness). */
  get allocatedBytes(): number { return this.chunks.size * CHUNK; }

  /** Fill `dst` with the bytes at `offset`. */
  read(offset: bigint, dst: Buffer): void {
    checkRange(offset, dst.length, this.size);
    this.walk(offset, dst.length, (chunk, within, done, n) => {
      if (chunk === undefined) dst.fill(0, done, done + n);
      else chunk.copy(dst, done, within, within + n);
    }, false);
  }

  /** Store `src` at `offset`. */
  write(offset: bigint, src: Buffer): void {
    checkRange(offset, src.length, this.size);
    this.walk(offset, src.length, (chunk, within, done, n) => {
      src.copy(chunk as Buffer, within, done, done + n);
    }, true);
  }

  /** Deallocate `length` bytes at `offset`: whole chunks are freed, the parts of others zeroed. */
  discard(offset: bigint, length: number): void {
    checkRange(offset, length, this.size);
    let index = Number(offset >> CHUNK_SHIFT);
    let within = Number(offset & BigInt(CHUNK - 1));
    for (let done = 0; done < length; index += 1, within = 0) {
      const n = Math.min(CHUNK - within, length - done);
      if (n === CHUNK) this.chunks.delete(index);
      else this.chunks.get(index)?.fill(0, within, within + n);
      done += n;
    }
  }

  private walk(offset: bigint, length: number, visit: (c: Buffer | undefined, within: number, done: number, n: number) => void,
    allocate: boolean): void {
    let index = Number(offset >> CHUNK_SHIFT);
    let within = Number(offset & BigInt(CHUNK - 1));
    let done = 0;
    while (done < length) {
      const n = Math.min(CHUNK - within, length - done);
      let chunk = this.chunks.get(index);
      if (chunk === undefined && allocate) {
        chunk = Buffer.alloc(CHUNK);
        this.chunks.set(index, chunk);
      }
      visit(chunk, within, done, n);
      done += n;
      index += 1;
      within = 0;
    }
  }
}

/** Options of FileMedia. */
export interface FileMediaOptions {
  /** Size in bytes. Default: the file's current size. A larger size extends the file sparsely (ftruncate). */
  size?: bigint | number;
  readOnly?: boolean;
}

const FILE_MEDIA_KEYS = { size: true, readOnly: true } as const satisfies KnownKeys<FileMediaOptions>;

/** A write to a media file opened read-only (code MOCK_MEDIA_READ_ONLY). */
export class MediaReadOnlyError extends UsbmsError {
  override readonly name = 'MediaReadOnlyError';
  constructor(path: string) { super('MOCK_MEDIA_READ_ONLY', `media file ${path} is read-only`); }
}

/** Media backed by a file, with synchronous fs calls (the device model is single-threaded anyway). */
export class FileMedia implements MediaStore {
  readonly size: bigint;
  readonly readOnly: boolean;
  private fd: number | undefined;

  constructor(readonly path: string, opts: FileMediaOptions = {}) {
    rejectUnknownKeys(opts, FILE_MEDIA_KEYS, 'FileMedia options');
    this.readOnly = opts.readOnly ?? false;
    const exists = fs.existsSync(path);
    this.fd = fs.openSync(path, this.readOnly ? 'r' : exists ? 'r+' : 'w+');
    const current = BigInt(fs.fstatSync(this.fd).size);
    const wanted = opts.size === undefined ? current : BigInt(opts.size);
    if (wanted > current) {
      if (this.readOnly) {
        fs.closeSync(this.fd);
        throw new UsbmsArgumentError(`read-only media file ${path} is ${current} bytes, smaller than ${wanted}`);
      }
      fs.ftruncateSync(this.fd, Number(wanted));
    }
    this.size = wanted;
  }

  /** Fill `dst` with the bytes at `offset`. */
  read(offset: bigint, dst: Buffer): void {
    checkRange(offset, dst.length, this.size);
    const fd = this.openFd();
    let done = 0;
    while (done < dst.length) {
      const n = fs.readSync(fd, dst, done, dst.length - done, offset + BigInt(done));
      if (n === 0) { dst.fill(0, done); return; } // beyond EOF of a shorter file: zeros, like a hole
      done += n;
    }
  }

  /** Store `src` at `offset`. */
  write(offset: bigint, src: Buffer): void {
    if (this.readOnly) throw new MediaReadOnlyError(this.path);
    checkRange(offset, src.length, this.size);
    const fd = this.openFd();
    let done = 0;
    // fs.writeSync takes a Number position: exact up to 2^53 bytes (8 PiB), far beyond any file here.
    while (done < src.length) done += fs.writeSync(fd, src, done, src.length - done, Number(offset) + done);
  }

  /** Make written data durable. */
  flush(): void { if (!this.readOnly) fs.fsyncSync(this.openFd()); }

  /** Release the store. */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new UsbmsArgumentError(`media file ${this.path} is closed`);
    return this.fd;
  }
}

/**
 * What a counterfeit flash drive does: it claims `size` bytes but only has `backing.size`; the address wraps, so
 * writes beyond the real size overwrite the start (what f3probe calls a wrap-around drive).
 */
export class WrappingMedia implements MediaStore {
  readonly size: bigint;
  constructor(private readonly backing: MediaStore, claimedSize: bigint | number) {
    this.size = BigInt(claimedSize);
    if (backing.size <= 0n) throw new UsbmsArgumentError('backing media must not be empty');
  }
  get readOnly(): boolean { return this.backing.readOnly ?? false; }

  /** Fill `dst` with the bytes at `offset`. */
  read(offset: bigint, dst: Buffer): void { this.split(offset, dst, (o, view) => this.backing.read(o, view)); }
  /** Store `src` at `offset`. */
  write(offset: bigint, src: Buffer): void { this.split(offset, src, (o, view) => this.backing.write(o, view)); }
  /** Make written data durable. */
  flush(): void { this.backing.flush?.(); }
  /** Release the store. */
  close(): void { this.backing.close?.(); }

  private split(offset: bigint, buf: Buffer, op: (offset: bigint, view: Buffer) => void): void {
    checkRange(offset, buf.length, this.size);
    const real = this.backing.size;
    let done = 0;
    while (done < buf.length) {
      const at = (offset + BigInt(done)) % real;
      const n = Math.min(buf.length - done, Number(real - at));
      op(at, buf.subarray(done, done + n));
      done += n;
    }
  }
}

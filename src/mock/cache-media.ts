/**
 * The RAM cache of a cheap flash controller, as a media store wrapper: the last `cacheBlocks` blocks written are
 * kept in RAM and reads of them are answered from there, whatever the flash behind holds. Until a reset or a
 * power loss the host reads back exactly what it wrote, so a write-then-read probe over a few blocks passes on a
 * counterfeit drive; after a reset the cache is gone and the flash (for example a wrapping one) tells the truth.
 * That is why f3probe resets the device between writing and reading (facts.md §5).
 */
import type { MediaStore } from './types.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/** Options of CachingMedia: how much a drive cache holds. */
export interface CachingMediaOptions {
  /** Blocks the controller keeps in RAM (default 1024, 512 KiB at 512-byte blocks). */
  cacheBlocks?: number;
  /** Cache granularity in bytes (default 512). */
  blockSize?: number;
}

const CACHING_MEDIA_KEYS = { cacheBlocks: true, blockSize: true } as const satisfies KnownKeys<CachingMediaOptions>;

export class CachingMedia implements MediaStore {
  readonly size: bigint;
  private readonly cacheBlocks: number;
  private readonly blockSize: number;
  /** Block index -> contents, in write order (oldest first), so eviction drops the least recently written. */
  private readonly cache = new Map<bigint, Buffer>();

  constructor(private readonly backing: MediaStore, opts: CachingMediaOptions = {}) {
    rejectUnknownKeys(opts, CACHING_MEDIA_KEYS, 'CachingMedia options');
    this.size = backing.size;
    this.cacheBlocks = opts.cacheBlocks ?? 1024;
    this.blockSize = opts.blockSize ?? 512;
    if (!Number.isInteger(this.cacheBlocks) || this.cacheBlocks < 1) throw new UsbmsArgumentError('cacheBlocks must be >= 1', { argument: 'cacheBlocks' });
    if (!Number.isInteger(this.blockSize) || this.blockSize < 1) throw new UsbmsArgumentError('blockSize must be >= 1', { argument: 'blockSize' });
  }

  get readOnly(): boolean { return this.backing.readOnly ?? false; }
  /** Blocks held in RAM now (for tests). */
  get cachedBlocks(): number { return this.cache.size; }

  /** Fill `dst` with the bytes at `offset`. */
  read(offset: bigint, dst: Buffer): void {
    this.backing.read(offset, dst);
    this.eachBlock(offset, dst.length, (block, within, done, n) => {
      this.cache.get(block)?.copy(dst, done, within, within + n);
    });
  }

  /** Store `src` at `offset`. */
  write(offset: bigint, src: Buffer): void {
    this.backing.write(offset, src);
    this.eachBlock(offset, src.length, (block, within, done, n) => {
      let cached = this.cache.get(block);
      if (cached === undefined) {
        // A partial block write caches what the block reads as now, so the RAM copy is always a whole block.
        cached = Buffer.alloc(this.blockSize);
        this.backing.read(block * BigInt(this.blockSize), cached);
      }
      src.copy(cached, within, done, done + n);
      this.cache.delete(block);
      this.cache.set(block, cached);
      while (this.cache.size > this.cacheBlocks) {
        const oldest = this.cache.keys().next();
        if (oldest.done === true) break;
        this.cache.delete(oldest.value);
      }
    });
  }

  /** Reset or power loss: the RAM is gone (the flash keeps what reached it). */
  reset(): void { this.cache.clear(); }

  /** Make written data durable. */
  flush(): void { this.backing.flush?.(); }
  /** Release the store. */
  close(): void { this.backing.close?.(); }

  private eachBlock(offset: bigint, length: number, visit: (block: bigint, within: number, done: number, n: number) => void): void {
    const bs = BigInt(this.blockSize);
    let done = 0;
    while (done < length) {
      const at = offset + BigInt(done);
      const block = at / bs;
      const within = Number(at % bs);
      const n = Math.min(this.blockSize - within, length - done);
      visit(block, within, done, n);
      done += n;
    }
  }
}

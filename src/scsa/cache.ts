/**
 * A kmem_cache(9F)-style object cache for packets. An object is constructed once (the constructor allocates
 * its expensive resources: for usbms a BOT slot with its CBW/CSW buffers and reusable transfers), handed out
 * and taken back many times without being rebuilt, and destructed only when the cache shrinks.
 */
import { logger } from '../util/log.js';

const log = logger('hba', 'cache');

export interface PktCacheOps<T> {
  /** Make the raw object (buffers set, nothing HBA-specific yet). */
  create(): T;
  /**
   * kmem constructor: 0 = ready, -1 = could not allocate its resources (the object is dropped). `kmflags` is
   * the allocation's KM_SLEEP or KM_NOSLEEP.
   */
  construct(obj: T, kmflags: number): number;
  /** kmem destructor: release what construct allocated. */
  destruct(obj: T): void;
}

/** A kmem_cache-style cache of constructed packets: the constructor runs once per object, the destructor when the cache frees it. */
export class PktCache<T> {
  private readonly free: T[] = [];
  private inUse = 0;
  constructedCount = 0;
  destructedCount = 0;

  constructor(readonly name: string, private readonly ops: PktCacheOps<T>) {}

  /**
   * kmem_cache_alloc: a constructed object, reusing a free one when there is one; null when the constructor
   * fails. `kmflags` (KM_SLEEP or KM_NOSLEEP) goes to the constructor.
   */
  alloc(kmflags: number): T | null {
    let obj = this.free.pop();
    if (obj === undefined) {
      obj = this.ops.create();
      if (this.ops.construct(obj, kmflags) !== 0) {
        log('%s: constructor failed', this.name);
        return null;
      }
      this.constructedCount++;
    }
    this.inUse++;
    return obj;
  }

  /** Give an object back; it stays constructed for the next alloc. */
  release(obj: T): void {
    this.inUse--;
    this.free.push(obj);
  }

  /** kmem_cache_reap: destruct free objects until at most `keep` remain. Returns how many were destructed. */
  shrink(keep = 0): number {
    let n = 0;
    while (this.free.length > keep) {
      const obj = this.free.pop() as T;
      this.ops.destruct(obj);
      this.destructedCount++;
      n++;
    }
    return n;
  }

  /** Objects in use, free, constructed and destructed so far. */
  get stats(): { inUse: number; free: number; constructed: number; destructed: number } {
    return { inUse: this.inUse, free: this.free.length, constructed: this.constructedCount,
      destructed: this.destructedCount };
  }
}

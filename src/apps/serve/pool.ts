/**
 * Buffers for data in flight, reused: READ runs land in them and go to the socket from them (no copy); WRITE
 * payloads are read into them from the socket. Sizes are rounded up to a power of two (at least 64 KiB); a few
 * free buffers of each size are kept, so a steady stream of requests allocates nothing.
 */
const MIN_CLASS = 16; // 64 KiB
const KEEP_PER_CLASS = 8;

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();

  /** A buffer of at least `n` bytes (its length is the size class; use a view of the bytes you need). */
  acquire(n: number): Buffer {
    const cls = Math.max(MIN_CLASS, Math.ceil(Math.log2(Math.max(1, n))));
    return this.free.get(cls)?.pop() ?? Buffer.allocUnsafeSlow(2 ** cls);
  }

  /** Give `buf` (as acquire returned it, not a view) back for reuse. */
  release(buf: Buffer): void {
    const cls = Math.log2(buf.length);
    if (!Number.isInteger(cls) || cls < MIN_CLASS) return;
    let list = this.free.get(cls);
    if (list === undefined) this.free.set(cls, list = []);
    if (list.length < KEEP_PER_CLASS) list.push(buf);
  }
}

/**
 * A pooled buffer shared by several users (the requests of one READ run, the WRITE payloads of one arena): back to
 * the pool when the last lets go.
 */
export class SharedBuffer {
  private refs = 1;
  constructor(private readonly pool: BufferPool, readonly buf: Buffer) {}

  /** One more user. */
  ref(): void { this.refs++; }

  /** One user fewer; the last one returns the buffer. */
  unref(): void {
    if (--this.refs === 0) this.pool.release(this.buf);
  }
}

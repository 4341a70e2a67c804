/**
 * The byte stream of one connection, read at the protocol's pace: `need(n)` waits until n bytes are here, `copy`
 * and `skip` consume them. The socket is paused while more than HIGH_WATER bytes wait unread (a client that sends
 * faster than the disk writes is held back by TCP, not by our memory), and resumed when the reader wants more.
 * A STARTTLS upgrade moves the reader from the plain socket to the TLS socket (detach, attach).
 */
import type { Duplex } from 'node:stream';
import { ServeError } from './errors.js';

const HIGH_WATER = 4 * 1024 * 1024;

/** The connection ended (or failed) before the bytes the protocol needs arrived. */
export class StreamEndedError extends ServeError {
  override readonly name = 'StreamEndedError';
  constructor(message: string) { super('SERVE_CLIENT_GONE', message); }
}

export class StreamReader {
  private readonly chunks: Buffer[] = [];
  private head = 0; // bytes of chunks[0] already consumed
  private buffered = 0;
  private stream: Duplex | undefined;
  private ended: Error | undefined;
  private wanted = 0;
  private wake: (() => void) | undefined;
  /** A payload being filled straight from the socket's chunks (copyStreaming), and what is left of it. */
  private sink: { into: Buffer; at: number; left: number; done: () => void; fail: (e: Error) => void } | undefined;
  private readonly onData = (chunk: Buffer): void => {
    let b = chunk;
    const sink = this.sink;
    if (sink !== undefined) {
      const take = Math.min(b.length, sink.left);
      b.copy(sink.into, sink.at, 0, take);
      sink.at += take;
      sink.left -= take;
      if (sink.left === 0) { this.sink = undefined; sink.done(); }
      if (take === b.length) return;
      b = b.subarray(take);
    }
    this.chunks.push(b);
    this.buffered += b.length;
    if (this.fixed === undefined && this.buffered >= HIGH_WATER && this.buffered >= this.wanted) this.stream?.pause();
    if (this.buffered >= this.wanted) this.signal();
  };
  /**
   * Fixed-buffer mode (own-buffer.ts): the socket reads into one buffer of ours and calls feed(). Bytes not taken
   * by a payload at once stay here as views of that buffer, so the socket is stopped (feed returns false) until
   * they are consumed, or copied out before reading resumes (own()).
   */
  private fixed: { resume: () => void; stopped: boolean; memory: ArrayBufferLike | undefined } | undefined;
  private readonly onEnd = (): void => { this.end(new StreamEndedError('the client closed the connection')); };
  private readonly onError = (e: Error): void => { this.end(new StreamEndedError(`connection error: ${e.message}`)); };

  /** `resume` given: `stream` reads into a buffer of ours and calls feed() (own-buffer.ts). */
  constructor(stream: Duplex, resume?: () => void) {
    if (resume === undefined) this.attach(stream); else this.attachFixed(stream, resume);
  }

  /** Bytes here and not consumed. */
  get available(): number { return this.buffered; }

  /** Read from `stream` from now on. */
  attach(stream: Duplex): void {
    this.stream = stream;
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  /**
   * Read a socket that reads into a buffer of ours (own-buffer.ts): its reads come through feed(), its end and
   * errors as events. `resume` starts its reading again after feed returned false.
   */
  attachFixed(stream: Duplex, resume: () => void): void {
    this.stream = stream;
    this.fixed = { resume, stopped: false, memory: undefined };
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  /**
   * `view` was just read into the socket's buffer (valid until the next read): a payload being filled takes its
   * share, the rest stays as views and the socket stops (false) until they are consumed.
   */
  readonly feed = (n: number, buf: Buffer): boolean => {
    const f = this.fixed;
    if (f === undefined) return false; // detached for TLS, whose own buffers carry the bytes from now on
    f.memory = buf.buffer;
    this.onData(buf.subarray(0, n));
    if (this.buffered === 0) return true;
    if (this.wake !== undefined) { this.own(); return true; } // a reader waits for more than is here: keep reading
    f.stopped = true;
    return false;
  };

  /** Stop reading the current stream (before it is wrapped by TLS); bytes already here stay. */
  detach(): void {
    const s = this.stream;
    if (s === undefined) return;
    this.own();
    this.fixed = undefined;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onEnd);
    s.off('error', this.onError);
    this.stream = undefined;
  }

  /** Resolves when `n` bytes are here; rejects with StreamEndedError when the stream ends first. */
  need(n: number): Promise<void> | undefined {
    if (this.buffered >= n) return undefined;
    if (this.ended !== undefined) return Promise.reject(this.ended);
    this.wanted = n;
    this.readMore();
    return new Promise<void>((resolve, reject) => {
      this.wake = () => {
        this.wake = undefined;
        this.wanted = 0;
        if (this.buffered >= n) resolve(); else reject(this.ended ?? new StreamEndedError('stream ended'));
      };
    });
  }

  /** Copy the next `n` bytes (they must be here: see need) into `into` at `at`, and consume them. */
  copy(into: Buffer, at: number, n: number): void {
    let done = 0;
    while (done < n) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, n - done);
      c.copy(into, at + done, this.head, this.head + take);
      done += take;
      this.consume(take);
    }
  }

  /** The next `n` bytes as one Buffer: a view of the chunk when it holds them all (no copy), else a copy of them. */
  take(n: number): Buffer {
    const c = this.chunks[0];
    // (a view of the socket's own buffer would be overwritten by its next read: copied in that mode)
    if (c !== undefined && c.length - this.head >= n && this.fixed === undefined) {
      const view = c.subarray(this.head, this.head + n);
      this.consume(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    this.copy(out, 0, n);
    return out;
  }

  /** Drop up to `n` bytes that are here; returns how many were dropped. */
  skip(n: number): number {
    let done = 0;
    while (done < n && this.buffered > 0) {
      const c = this.chunks[0]!;
      const take = Math.min(c.length - this.head, n - done);
      done += take;
      this.consume(take);
    }
    return done;
  }

  /**
   * Move the next `n` bytes into `into` at `at` as they arrive, without holding more than one chunk: for WRITE
   * payloads (the one copy Node leaves us, from the socket's buffers into the request's).
   */
  copyStreaming(into: Buffer, at: number, n: number): Promise<void> | undefined {
    // What is here already is copied now; the rest is copied by onData as each chunk arrives (no chunk queued, one
    // promise per payload rather than one per chunk: the lab's profile of WRITEs showed the per-chunk work).
    const here = Math.min(this.buffered, n);
    if (here > 0) this.copy(into, at, here);
    if (here === n) return undefined;
    if (this.ended !== undefined) return Promise.reject(this.ended);
    return new Promise<void>((done, fail) => {
      this.sink = { into, at: at + here, left: n - here, done, fail };
      this.readMore();
    });
  }

  /** Drop the next `n` bytes as they arrive (the payload of a request that is refused). */
  async skipStreaming(n: number): Promise<void> {
    let done = 0;
    while (done < n) {
      if (this.buffered === 0) await this.need(1);
      done += this.skip(n - done);
    }
  }

  private consume(n: number): void {
    this.head += n;
    this.buffered -= n;
    if (this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
    if (this.fixed !== undefined) {
      if (this.buffered === 0 && this.fixed.stopped) { this.fixed.stopped = false; this.fixed.resume(); }
      return;
    }
    if (this.buffered < HIGH_WATER && this.stream?.isPaused() === true && this.wanted === 0) this.stream.resume();
  }

  /** More bytes are wanted: start the stream again (in fixed-buffer mode, after copying out what is still held). */
  private readMore(): void {
    if (this.fixed === undefined) {
      if (this.stream?.isPaused() === true) this.stream.resume();
      return;
    }
    if (!this.fixed.stopped) return;
    this.own();
    this.fixed.stopped = false;
    this.fixed.resume();
  }

  /**
   * Copy the bytes still held as views of the socket's buffer into memory of our own (before it reads again). Only
   * those views are copied, so a client that sends a header a byte at a time costs each byte one copy, not one per
   * read.
   */
  private own(): void {
    const memory = this.fixed?.memory;
    if (memory === undefined) return;
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      if (c.buffer !== memory) continue;
      this.chunks[i] = Buffer.from(c.subarray(i === 0 ? this.head : 0));
      if (i === 0) this.head = 0;
    }
  }

  private end(e: Error): void {
    this.ended ??= e;
    const sink = this.sink;
    this.sink = undefined;
    sink?.fail(this.ended);
    this.signal();
  }

  private signal(): void { this.wake?.(); }
}

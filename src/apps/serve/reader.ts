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
    if (this.buffered >= HIGH_WATER && this.buffered >= this.wanted) this.stream?.pause();
    if (this.buffered >= this.wanted) this.signal();
  };
  private readonly onEnd = (): void => { this.end(new StreamEndedError('the client closed the connection')); };
  private readonly onError = (e: Error): void => { this.end(new StreamEndedError(`connection error: ${e.message}`)); };

  constructor(stream: Duplex) { this.attach(stream); }

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

  /** Stop reading the current stream (before it is wrapped by TLS); bytes already here stay. */
  detach(): void {
    const s = this.stream;
    if (s === undefined) return;
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
    if (this.stream?.isPaused() === true) this.stream.resume();
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

  /** The next `n` bytes as one Buffer: a view of the chunk when it holds them all (no copy), else a copy. */
  take(n: number): Buffer {
    const c = this.chunks[0];
    if (c !== undefined && c.length - this.head >= n) {
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
      if (this.stream?.isPaused() === true) this.stream.resume();
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
    if (this.buffered < HIGH_WATER && this.stream?.isPaused() === true && this.wanted === 0) this.stream.resume();
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

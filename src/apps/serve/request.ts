/**
 * One NBD request on its way through an export: the fields off the wire, its payload or its data, and its
 * outcome. The connection that read it sends its reply (ReplySink) and then releases it.
 */
import type { RequestFailure } from './errors.js';
import type { SharedBuffer } from './pool.js';

/** Where a finished request goes: its connection, which sends the reply and then calls `release()`. */
export interface ReplySink {
  complete(req: NbdRequest): void;
}

export class NbdRequest {
  type = 0;
  flags = 0;
  /** Byte offset and length as the client sent them. */
  offset = 0;
  length = 0;
  /** The client's cookie (handle), 8 bytes, echoed in the reply. */
  readonly cookie = Buffer.alloc(8);
  /**
   * WRITE: the payload, once it has arrived. READ: the data to send, once read (or, after a failure at a known
   * offset, the part before it).
   */
  data: Buffer | undefined = undefined;
  /** The pooled buffer `data` is a view of, given back after the reply is written. */
  holder: SharedBuffer | undefined = undefined;
  /** Why the request failed; undefined when it succeeded. */
  failure: RequestFailure | undefined = undefined;
  /** A failed request's first failing byte (absolute), when the device named the block. */
  failedAt: number | undefined = undefined;
  /** Bytes of this request's blocks that its run's commands have still to move before it can be answered. */
  pendingBytes = 0;
  /** One of the run's commands covering this request failed: it is re-read alone to find its first bad block. */
  pieceFailed: unknown = undefined;

  constructor(readonly sink: ReplySink) {}

  get end(): number { return this.offset + this.length; }

  /** Give the buffers back (after the reply was written, or when the connection is gone). */
  release(): void {
    this.holder?.unref();
    this.holder = undefined;
    this.data = undefined;
  }
}

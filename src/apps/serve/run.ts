/**
 * A run: consecutive READs or WRITEs served by transfer-size commands over one buffer (export.ts), or a window of
 * blocks read ahead of a sequential reader (readahead.ts) that later READs attach to.
 */
import type { SharedBuffer } from './pool.js';
import type { NbdRequest } from './request.js';

/** A block-aligned byte range [start, end). */
export interface Span { start: number; end: number }

/** A command of a window that has come back (READs that attach later count it at once). */
export interface DonePiece { readonly at: number; readonly end: number; readonly error: unknown }

export interface Run {
  readonly kind: 'read' | 'write';
  readonly start: number;
  /** The end of what the run reads or writes (a window's is cut back when it is retired early). */
  end: number;
  readonly reqs: NbdRequest[];
  /** The memory of [start, end): a read's pooled buffer, or the view of the arena the payloads lie in. */
  readonly mem: Buffer;
  readonly holder: SharedBuffer;
  readonly fua: boolean;
  /** The next byte to hand to a command. */
  next: number;
  /** Commands of the run on the wire. */
  piecesInFlight: number;
  /** The buffer went back to the pool (once, when nothing uses it any more). */
  released: boolean;
  /** A WRITE run answered before the stick has it (write-behind): its locked blocks until it has. */
  behind: Span | undefined;
  /** A write-behind run's first failed command (the next FLUSH reports it). */
  failed?: unknown;
  /** Read ahead of any request: its commands that came back, and how far the READs attached to it reach. */
  readonly ahead: { readonly done: DonePiece[]; needed: number } | undefined;
}

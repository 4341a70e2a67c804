/**
 * Readahead for a sequential reader. The kernel's nbd client reads a `dd bs=4M iflag=direct` as 32 requests of
 * 128 KiB and sends the next 32 only when all are answered, so without readahead the device is idle while the
 * socket moves the replies and the client turns round, and the two costs add. Once two READ runs in a row
 * continue each other, the export reads the next WINDOW_BYTES into a window in the time it would otherwise idle;
 * READs the window covers attach to it and are answered from it (no command of their own), and when the reader is
 * half-way through the newest window the next one starts, so the device stays a window ahead.
 *
 * What it may never do: serve data older than a write. Any request that writes retires every window (cut back to
 * what attached READs still need: those were taken before the write and read before it). A window's failed
 * command is nobody's error: a READ that meets it reads its own blocks again (export.ts), and readahead rests for
 * a while (a failing stick is not read more than it is asked to).
 */
import type { Run } from './run.js';

/** How much one window reads ahead. */
export const WINDOW_BYTES = 8 * 1024 * 1024;
/** Windows at most: the one being read from and the one behind it being filled. */
const MAX_WINDOWS = 2;
/** READ runs that go by without readahead after a window's command failed. */
const REST_AFTER_FAILURE = 64;
/** Bytes read in order (over at least two runs) before the reader counts as sequential. */
const SEQUENTIAL_BYTES = 1024 * 1024;

export class Readahead {
  private readonly windows: Run[] = [];
  /** Retired windows whose attached READs still wait for commands not yet sent. */
  private readonly draining: Run[] = [];
  /** The end of the last READ run taken, how many runs in a row continued the one before, and their bytes. */
  private lastEnd = -1;
  private streak = 0;
  private streakBytes = 0;
  private resting = 0;

  /** `windowBytes` 0 turns readahead off. */
  constructor(private readonly windowBytes: number, private readonly deviceBytes: number,
    private readonly release: (w: Run) => void) {}

  /** The window that holds all of [start, end), if any. */
  covering(start: number, end: number): Run | undefined {
    for (const w of this.windows) if (start >= w.start && end <= w.end) return w;
    return undefined;
  }

  /** A READ run [start, end) was taken (`covered`: a window serves it). */
  noteRead(start: number, end: number, covered: boolean): void {
    const continues = start === this.lastEnd;
    this.streak = continues ? this.streak + 1 : 0;
    this.streakBytes = (continues ? this.streakBytes : 0) + (end - start);
    this.lastEnd = end;
    if (this.resting > 0) this.resting--;
    if (!covered) this.retireAll();
  }

  /** A request that writes was taken: nothing read before it may answer a READ after it. */
  noteWrite(): void {
    this.streak = 0;
    this.streakBytes = 0;
    this.lastEnd = -1;
    this.retireAll();
  }

  /** A window's command failed: rest before reading ahead again. */
  noteFailure(): void { this.resting = REST_AFTER_FAILURE; }

  /** A window whose attached READs wait for a command not yet sent (sent before anything else). */
  owed(): Run | undefined {
    while (this.draining.length > 0 && this.draining[0]!.next >= this.draining[0]!.end) this.draining.shift();
    if (this.draining.length > 0) return this.draining[0];
    for (const w of this.windows) if (w.next < Math.min(w.end, w.ahead!.needed)) return w;
    return undefined;
  }

  /** A window with commands still to send (sent when the export has nothing else to do). */
  unsent(): Run | undefined {
    for (const w of this.windows) if (w.next < w.end) return w;
    return undefined;
  }

  /** Where the next window should start and how long it is, if the reader is sequential and nearing the end. */
  nextWindow(): { start: number; bytes: number } | undefined {
    if (this.windowBytes <= 0 || this.resting > 0 || this.streak < 1 || this.streakBytes < SEQUENTIAL_BYTES) return undefined;
    const newest = this.windows[this.windows.length - 1];
    let start = this.lastEnd;
    if (newest !== undefined) {
      // the reader is not yet half-way through the newest window, or it went elsewhere
      if (this.lastEnd < newest.start || this.lastEnd > newest.end) return undefined;
      if (this.lastEnd - newest.start < (newest.end - newest.start) / 2) return undefined;
      start = newest.end;
    }
    const bytes = Math.min(this.windowBytes, this.deviceBytes - start);
    if (bytes <= 0) return undefined;
    return { start, bytes };
  }

  add(w: Run): void {
    this.windows.push(w);
    // the oldest window goes once the reader is past it (its replies keep its buffer until they are written)
    while (this.windows.length > MAX_WINDOWS || (this.windows.length > 1 && this.windows[0]!.end <= this.lastEnd)) {
      this.retire(this.windows.shift()!);
    }
  }

  /** Whether `w` is still a window (its buffer must stay even when every READ attached to it is answered). */
  holds(w: Run): boolean { return this.windows.includes(w); }

  retireAll(): void {
    for (const w of this.windows.splice(0)) this.retire(w);
  }

  /** No more speculation: the window ends at what its attached READs need (those commands still go out). */
  private retire(w: Run): void {
    w.end = Math.max(w.next, Math.min(w.end, w.ahead!.needed));
    if (w.next < w.end) this.draining.push(w);
    this.release(w);
  }
}

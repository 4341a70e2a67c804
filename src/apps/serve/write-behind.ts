/**
 * Write-behind (`--write-back`, off by default): an aligned WRITE without FUA is answered once its payload is here
 * and its command is queued, not once the stick has it, so the client sends the next while the stick writes (the
 * kernel's client waits for all 32 answers of a 4 MiB `dd oflag=direct` before it sends more). What that costs is
 * what every volatile write cache costs: a WRITE answered but not yet on the stick is lost if the stick never comes
 * back. So: at most LIMIT bytes are answered ahead of the stick (beyond that a WRITE is answered when written);
 * FLUSH waits until every one of them is on the stick, then SYNCHRONIZE CACHE; a command that failed after its
 * answer is logged when it fails and makes the next FLUSH fail (EIO), as fsync reports a lost write-back; the
 * blocks of a WRITE in flight are locked, so a READ or write of them waits for it (UAS devices may reorder); and
 * the server drains them before it closes the device.
 */

/** Bytes answered ahead of the stick at most, per export. */
export const WRITE_BEHIND_LIMIT = 32 * 1024 * 1024;

export class WriteBehind {
  private bytes = 0;
  private failure: unknown = undefined;
  private readonly waiters: (() => void)[] = [];

  /** `limit` 0: off. */
  constructor(private readonly limit: number) {}

  /** Whether a WRITE run of `n` bytes may be answered now (it is then counted until done()). */
  admit(n: number): boolean {
    if (this.limit <= 0 || this.bytes + n > this.limit) return false;
    this.bytes += n;
    return true;
  }

  /** A run admitted with `n` bytes is on the stick (or failed: `error`). */
  done(n: number, error: unknown): void {
    if (error !== undefined) this.failure ??= error;
    this.bytes -= n;
    if (this.bytes === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves when nothing answered is still on its way to the stick. */
  drain(): Promise<void> {
    if (this.bytes === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The first failure since the last call (FLUSH reports it). */
  takeFailure(): unknown {
    const f = this.failure;
    this.failure = undefined;
    return f;
  }
}

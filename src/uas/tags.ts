/**
 * UAS tags: one per command or task management function in flight, unique among them (UAS-2: a tag in use is an
 * overlapped tag). Handed out round-robin over 1..size, so a tag freed by an abort is not used again before every
 * other free tag has been: a status IU the device had already queued for the aborted task cannot land on a new
 * command at once. Linux uses tags 1..32 at high speed (uas.c: qdepth 32, tag = index + 1); so does usbms.
 */
export class TagPool {
  private readonly used: boolean[];
  private last = 0;
  private count = 0;

  constructor(readonly size: number) {
    this.used = new Array<boolean>(size + 1).fill(false);
  }

  /** Tags in use. */
  get inUse(): number { return this.count; }

  /** The next free tag after the last one handed out, or 0 when all are in use. */
  take(): number {
    for (let i = 1; i <= this.size; i++) {
      const tag = ((this.last + i - 1) % this.size) + 1;
      if (this.used[tag] === true) continue;
      this.used[tag] = true;
      this.last = tag;
      this.count++;
      return tag;
    }
    return 0;
  }

  release(tag: number): void {
    if (tag < 1 || tag > this.size || this.used[tag] !== true) return;
    this.used[tag] = false;
    this.count--;
  }
}

/**
 * One Timeout kept for the life of its owner and re-armed per use: refresh() when the duration is the one it was
 * made with (every healthy command, for a deadline), a new Timeout only when the duration changes. So arming it
 * per command makes no timer object and no closure. A firing after disarm() still calls `fire`: the owner ignores
 * it by its own state (what the deadline was armed for has ended). Disarmed, it does not keep the process alive.
 */
export class KeptTimer {
  private timer: NodeJS.Timeout | undefined;
  private ms = 0;

  constructor(private readonly fire: () => void) {}

  /** The duration the kept Timeout was made with (0 before the first arm). */
  get duration(): number { return this.ms; }

  arm(ms: number): void {
    const t = this.timer;
    if (t !== undefined && this.ms === ms) {
      t.refresh();
      t.ref();
      return;
    }
    if (t !== undefined) clearTimeout(t);
    this.ms = ms;
    this.timer = setTimeout(this.fire, ms);
  }

  /** Stop holding the process alive; a later firing is the owner's to ignore. */
  disarm(): void {
    this.timer?.unref();
  }

  /** Nothing stays scheduled. */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

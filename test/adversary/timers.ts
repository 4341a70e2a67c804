/**
 * Timer accounting for the LEAK check: while a schedule runs, every setTimeout is remembered with where it was
 * made (an Error, formatted only if it leaks) until it fires or is cleared. What is left after close and was
 * made by the host (src/) or the adversary is a leaked timer; the test runner's own timers are ignored.
 */
const realSet = globalThis.setTimeout;
const realClear = globalThis.clearTimeout;

export class TimerWatch {
  private readonly live = new Map<NodeJS.Timeout, Error>();

  start(): void {
    const live = this.live;
    const patched = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout => {
      const t: NodeJS.Timeout = realSet((...a: unknown[]) => { live.delete(t); fn(...a); }, ms, ...args);
      live.set(t, new Error('timer made here'));
      return t;
    };
    globalThis.setTimeout = patched as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((t: NodeJS.Timeout | string | number | undefined) => {
      if (typeof t === 'object') live.delete(t);
      realClear(t);
    });
  }

  stop(): void {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }

  /** Timers still pending that the host or the adversary made, with the frame that made each. */
  leaked(): string[] {
    const out: string[] = [];
    for (const [t, where] of this.live) {
      if (!t.hasRef()) continue;
      const frames = (where.stack ?? '').split('\n').slice(2);
      const own = frames.find((f) => f.includes('/src/') || f.includes('/test/adversary/'));
      if (own !== undefined && !own.includes('/test/adversary/timers.ts')) out.push(own.trim());
    }
    return out;
  }
}

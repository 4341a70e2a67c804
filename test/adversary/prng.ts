/**
 * The adversary's own PRNG (mulberry32): small, fast, and the same sequence on every machine, so a schedule
 * named SEED:INDEX replays exactly. Nothing here is shared with the host or with src/mock.
 */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }

  /** A generator for schedule INDEX of run SEED (independent streams, no correlation between neighbours). */
  static forSchedule(seed: number, index: number): Rng {
    const r = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    r.u32(); r.u32();
    return r;
  }

  /** 32 random bits. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number { return this.u32() / 4294967296; }
  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T {
    const v = items[Math.floor(this.next() * items.length)];
    if (v === undefined) throw new RangeError('pick from an empty list');
    return v;
  }
  /** Fill `buf` with random bytes. */
  fill(buf: Buffer): Buffer {
    let i = 0;
    for (; i + 4 <= buf.length; i += 4) buf.writeUInt32LE(this.u32(), i);
    for (; i < buf.length; i++) buf[i] = this.u32() & 0xff;
    return buf;
  }
}

/**
 * The rescue map: what is known about every byte of the source, as GNU ddrescue keeps it. The domain
 * [0, size) is covered by contiguous, non-overlapping areas, each with one status; neighbours of equal status are
 * always merged, so the list is as short as ddrescue's own and two maps of the same knowledge compare equal.
 *
 * Positions and sizes are BigInt: a mapfile of a 2 TB disk has positions past 2^32, and nothing here may round.
 */
import { UsbmsArgumentError } from '../../util/errors.js';

/** ddrescue's block status characters (its manual, "Mapfile structure"). */
export type AreaStatus =
  | '?' // non-tried: not read yet
  | '*' // non-trimmed: a large read failed here; its edges are not yet read block by block
  | '/' // non-scraped: the edges are done; the inside is not yet read block by block
  | '-' // bad sector(s): failed as single-block reads
  | '+'; // finished: the data is in the image

export const AREA_STATUSES: readonly AreaStatus[] = ['?', '*', '/', '-', '+'];

export interface Area {
  readonly pos: bigint;
  readonly size: bigint;
  readonly status: AreaStatus;
}

export class MapRangeError extends UsbmsArgumentError {
  override readonly name = 'MapRangeError';
}

export class RescueMap {
  private areas: Area[];

  /** A map of `size` bytes, all `initial` (non-tried by default). */
  constructor(readonly size: bigint, initial: AreaStatus = '?') {
    if (size < 0n) throw new MapRangeError(`map size ${size} is negative`);
    this.areas = size === 0n ? [] : [{ pos: 0n, size, status: initial }];
  }

  /** A map from areas that must cover [0, size) contiguously (a parsed mapfile). */
  static fromAreas(areas: readonly Area[]): RescueMap {
    let end = 0n;
    for (const a of areas) {
      if (a.pos !== end) throw new MapRangeError(`area at ${hex(a.pos)} does not start where the previous ends (${hex(end)})`);
      if (a.size <= 0n) throw new MapRangeError(`area at ${hex(a.pos)} has size ${a.size}`);
      end = a.pos + a.size;
    }
    const map = new RescueMap(end);
    map.areas = [];
    for (const a of areas) map.push(a);
    return map;
  }

  /** The areas in position order (a copy: safe to keep while the map changes). */
  list(): Area[] { return [...this.areas]; }

  get length(): number { return this.areas.length; }

  /** Set [pos, pos+size) to `status`, splitting and merging neighbours as needed. */
  set(pos: bigint, size: bigint, status: AreaStatus): void {
    if (size <= 0n) return;
    const end = pos + size;
    if (pos < 0n || end > this.size) {
      throw new MapRangeError(`range ${hex(pos)}+${hex(size)} is outside the map (size ${hex(this.size)})`);
    }
    const out: Area[] = [];
    let inserted = false;
    for (const a of this.areas) {
      const aEnd = a.pos + a.size;
      if (aEnd <= pos || a.pos >= end) {
        if (!inserted && a.pos >= end) { pushMerged(out, { pos, size, status }); inserted = true; }
        pushMerged(out, a);
        continue;
      }
      if (a.pos < pos) pushMerged(out, { pos: a.pos, size: pos - a.pos, status: a.status });
      if (!inserted) { pushMerged(out, { pos, size, status }); inserted = true; }
      if (aEnd > end) pushMerged(out, { pos: end, size: aEnd - end, status: a.status });
    }
    if (!inserted) pushMerged(out, { pos, size, status });
    this.areas = out;
  }

  /** The status of the byte at `pos`. */
  statusAt(pos: bigint): AreaStatus {
    const a = this.areaAt(pos);
    if (a === undefined) throw new MapRangeError(`position ${hex(pos)} is outside the map`);
    return a.status;
  }

  /** The area holding `pos` (binary search). */
  areaAt(pos: bigint): Area | undefined {
    let lo = 0;
    let hi = this.areas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const a = this.areas[mid];
      if (a === undefined) break;
      if (pos < a.pos) hi = mid - 1;
      else if (pos >= a.pos + a.size) lo = mid + 1;
      else return a;
    }
    return undefined;
  }

  /**
   * The next area of `status` in the direction of travel from `from`: forwards, the first one that ends after
   * `from` (clipped to start at `from`); backwards, the last one that starts before `from` (clipped to end there).
   */
  next(status: AreaStatus, from: bigint, direction: 'forward' | 'reverse'): Area | undefined {
    if (direction === 'forward') {
      for (const a of this.areas) {
        if (a.status !== status || a.pos + a.size <= from) continue;
        const pos = a.pos > from ? a.pos : from;
        return { pos, size: a.pos + a.size - pos, status };
      }
      return undefined;
    }
    for (let i = this.areas.length - 1; i >= 0; i--) {
      const a = this.areas[i];
      if (a === undefined || a.status !== status || a.pos >= from) continue;
      const end = a.pos + a.size < from ? a.pos + a.size : from;
      return { pos: a.pos, size: end - a.pos, status };
    }
    return undefined;
  }

  /** Bytes of each status. */
  totals(): Record<AreaStatus, bigint> {
    const t: Record<AreaStatus, bigint> = { '?': 0n, '*': 0n, '/': 0n, '-': 0n, '+': 0n };
    for (const a of this.areas) t[a.status] += a.size;
    return t;
  }

  /** Number of areas of `status`. */
  count(status: AreaStatus): number {
    return this.areas.reduce((n, a) => n + (a.status === status ? 1 : 0), 0);
  }

  /**
   * "Bad areas" as ddrescue's screen counts them: maximal runs of failed blocks (non-trimmed, non-scraped or
   * bad-sector, in any mix), whose data is not in the image.
   */
  badAreas(): number {
    let n = 0;
    let inRun = false;
    for (const a of this.areas) {
      const failed = a.status === '*' || a.status === '/' || a.status === '-';
      if (failed && !inRun) n += 1;
      inRun = failed;
    }
    return n;
  }

  private push(a: Area): void { pushMerged(this.areas, a); }
}

function pushMerged(out: Area[], a: Area): void {
  const last = out[out.length - 1];
  if (last !== undefined && last.status === a.status && last.pos + last.size === a.pos) {
    out[out.length - 1] = { pos: last.pos, size: last.size + a.size, status: a.status };
  } else {
    out.push(a);
  }
}

export function hex(n: bigint): string { return `0x${n.toString(16).toUpperCase()}`; }

/**
 * The faults of a dying flash drive that a medium error does not cover:
 *
 * - a **hang area**: reading any block of it wedges the controller: the command is taken and never answered,
 *   and so is every command after it, until a reset strong enough for that area (a BOT Mass Storage Reset, a USB
 *   port reset, or only a power cycle = disconnect and reconnect). `times` bounds how many reads of the area
 *   wedge the device; after that the area reads normally (a marginal block that the firmware got past);
 * - a **drop-out**: reading a given block makes the device fall off the bus, and come back (re-enumerated, new
 *   address, same serial) after `reconnectAfterMs`, or never.
 *
 * State is per device instance. The Bulk-Only function asks `onCommand` for every meaningful CBW; the device
 * reports its resets through `onReset`.
 */
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys } from '../util/options.js';
import type { KnownKeys } from '../util/options.js';

/** The keys of a hang area and of a drop-out (checked where they are given: a misspelt key is refused). */
export const HANG_AREA_KEYS = { lba: true, blocks: true, clearedBy: true, times: true, lun: true } as const satisfies KnownKeys<HangArea>;
export const DROP_OUT_KEYS = { lba: true, reconnectAfterMs: true, times: true } as const satisfies KnownKeys<DropOut>;

/** How strong a reset clears a hang area: a BOT reset, a USB port reset or a power cycle. */
export type WedgeReset = 'bot-reset' | 'port-reset' | 'power';

const RANK: Readonly<Record<WedgeReset, number>> = { 'bot-reset': 1, 'port-reset': 2, 'power': 3 };

/** Blocks whose read wedges the controller until a reset of the given strength. */
export interface HangArea {
  readonly lba: bigint;
  readonly blocks: number;
  /** The mildest reset that un-wedges the device (default 'bot-reset'). */
  readonly clearedBy?: WedgeReset;
  /** Reads of the area that wedge the device (default: every one). */
  readonly times?: number;
  readonly lun?: number;
}

/** A block whose read makes the device fall off the bus (and maybe come back). */
export interface DropOut {
  readonly lba: bigint;
  /** Time off the bus, ms; undefined: it never comes back. */
  readonly reconnectAfterMs?: number | undefined;
  /** Reads of that block that make it drop (default 1). */
  readonly times?: number;
}

export class WedgeConfigError extends UsbmsArgumentError {
  override readonly name = 'WedgeConfigError';
}

interface ActiveHang { area: HangArea; left: number }
interface ActiveDrop { drop: DropOut; left: number }

/** READ(10) / READ(16): the LBA range a CDB reads, or undefined for any other command. */
export function readRange(cdb: Buffer): { lba: bigint; blocks: number } | undefined {
  const op = cdb[0];
  if (op === 0x28) return { lba: BigInt(cdb.readUInt32BE(2)), blocks: cdb.readUInt16BE(7) };
  if (op === 0x88) return { lba: cdb.readBigUInt64BE(2), blocks: cdb.readUInt32BE(10) };
  return undefined;
}

/** The hang areas and drop-outs of one software device. */
export class WedgeController {
  private hangs: ActiveHang[] = [];
  private drops: ActiveDrop[] = [];
  private wedgedUntil: WedgeReset | undefined;
  private replug: (() => void) | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private deadFlag = false;
  /** Times the device wedged, and dropped off (for tests). */
  readonly counts = { hangs: 0, drops: 0, unwedged: 0 };

  /** The device's re-plug, for drop-outs that come back. */
  attach(replug: () => void): void { this.replug = replug; }

  /** Add a hang area. */
  hang(area: HangArea): void {
    rejectUnknownKeys(area, HANG_AREA_KEYS, 'hang area');
    if (area.lba < 0n || !Number.isInteger(area.blocks) || area.blocks < 1) {
      throw new WedgeConfigError(`hang area ${area.lba}+${area.blocks} is not a positive block range`);
    }
    if (area.times !== undefined && !(Number.isInteger(area.times) && area.times >= 1)) {
      throw new WedgeConfigError(`hang area times ${area.times} is not a positive integer`);
    }
    this.hangs.push({ area, left: area.times ?? Infinity });
  }

  /** Add a drop-out block. */
  dropOut(drop: DropOut): void {
    rejectUnknownKeys(drop, DROP_OUT_KEYS, 'drop-out');
    if (drop.lba < 0n) throw new WedgeConfigError(`drop-out LBA ${drop.lba} is negative`);
    if (drop.reconnectAfterMs !== undefined && !(drop.reconnectAfterMs >= 0)) {
      throw new WedgeConfigError(`drop-out reconnectAfterMs ${drop.reconnectAfterMs} is not a duration`);
    }
    this.drops.push({ drop, left: drop.times ?? 1 });
  }

  /** Whether the controller is wedged by a hang area now. */
  get wedged(): boolean { return this.wedgedUntil !== undefined; }
  /** A drop-out that never comes back happened: the device is dead (no power cycle revives it). */
  get dead(): boolean { return this.deadFlag; }

  /** Remove every hang area and drop-out. */
  clear(): void {
    this.hangs = [];
    this.drops = [];
    this.wedgedUntil = undefined;
    this.deadFlag = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** What the device does with this command: go silent ('hang'), fall off the bus ('drop'), or carry on. */
  onCommand(lun: number, cdb: Buffer): 'hang' | 'drop' | undefined {
    if (this.wedgedUntil !== undefined) return 'hang';
    const r = readRange(cdb);
    if (r === undefined || r.blocks === 0) return undefined;
    const end = r.lba + BigInt(r.blocks);
    for (const d of this.drops) {
      if (d.left > 0 && d.drop.lba >= r.lba && d.drop.lba < end) {
        d.left -= 1;
        this.counts.drops += 1;
        const after = d.drop.reconnectAfterMs;
        if (after !== undefined) {
          const t = setTimeout(() => { this.timers.delete(t); this.replug?.(); }, after);
          this.timers.add(t);
        } else {
          this.deadFlag = true;
        }
        return 'drop';
      }
    }
    for (const h of this.hangs) {
      const a = h.area;
      if (h.left <= 0 || (a.lun !== undefined && a.lun !== lun)) continue;
      if (a.lba < end && r.lba < a.lba + BigInt(a.blocks)) {
        h.left -= 1;
        this.counts.hangs += 1;
        this.wedgedUntil = a.clearedBy ?? 'bot-reset';
        return 'hang';
      }
    }
    return undefined;
  }

  /** A reset reached the device: un-wedges it when strong enough. */
  onReset(kind: WedgeReset): void {
    if (this.wedgedUntil !== undefined && RANK[kind] >= RANK[this.wedgedUntil]) {
      this.wedgedUntil = undefined;
      this.counts.unwedged += 1;
    }
  }
}

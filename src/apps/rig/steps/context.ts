/** What a step gets to work with, and what it hands back. */
import type { Disk } from '../../../disk/index.js';
import { EXIT, type Figures } from '../verdict.js';
import type { DeviceHandle } from '../handle.js';
import type { DeviceJournal } from '../journal.js';
import type { Plan, Step } from '../plan/types.js';
import type { BackupStore } from './backup-store.js';

// Declared beside the verdicts, which the journal records too (so the journal needs nothing from the steps).
export type { Figure, Figures } from '../verdict.js';

export interface StepOutcome {
  status: 'pass' | 'fail' | 'skip';
  figures: Figures;
  reason?: string;
  /** sg3_utils-style status of a failure (default: OTHER for fail, OK for pass and skip). */
  exitCode?: number;
}

export interface StepContext {
  readonly handle: DeviceHandle;
  readonly step: Step;
  readonly plan: Plan;
  /** --write was given (destructive steps are refused before the plan starts otherwise). */
  readonly write: boolean;
  /** Save the original data before the first writing step and put it back at the end. */
  readonly restore: boolean;
  readonly journal: DeviceJournal | undefined;
  readonly backup: BackupStore;
  /** The run's seed; a step's own `params.seed` wins. */
  readonly seed: number;
  /** A figure-only event while a long step runs (endurance cycles). */
  progress(figures: Figures): void;
  warn(message: string): void;
}

export type StepRunner = (ctx: StepContext) => Promise<StepOutcome>;

export const disk = (ctx: StepContext): Disk => ctx.handle.disk;

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Seconds since `t0` (process.hrtime.bigint()). */
export const since = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/** MB/s (10^6 bytes per second, as bench and SD speed classes count). */
export const mbps = (bytes: number, seconds: number): number => (seconds > 0 ? bytes / 1e6 / seconds : Number.POSITIVE_INFINITY);

/** A threshold held against a figure: the reason it fails, or undefined. */
export function below(value: number, min: number | undefined, what: string, unit: string): string | undefined {
  if (min === undefined || value >= min) return undefined;
  return `${what} ${round(value)} ${unit} is below the minimum ${min} ${unit}`;
}

/** Pass, or fail with every threshold that was missed (speed limits: exit OTHER, sg3_utils has no "too slow"). */
export function verdict(figures: Figures, reasons: (string | undefined)[], exitCode: number = EXIT.OTHER): StepOutcome {
  const missed = reasons.filter((r): r is string => r !== undefined);
  return missed.length === 0 ? { status: 'pass', figures } : { status: 'fail', figures, reason: missed.join('; '), exitCode };
}

/** Seeded 64-bit LCG (the one bench and probe use), so random positions repeat for a seed. */
export function lcg(seed: number): () => bigint {
  let x = BigInt(seed) | 1n;
  return () => {
    x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffff_ffff_ffff_ffffn;
    return x >> 11n;
  };
}

/**
 * Validation plans: an ordered list of steps, each with its parameters, its pass/fail thresholds and a timeout.
 * A plan file is the JSON form of {@link Plan} (see README "Validation rigs"); src/apps/rig/plan/parse.ts checks it.
 */

/** What a step does (`step` in a plan file); README "Validation rigs" lists them with their figures. */
export type StepKind =
  | 'identify' | 'capacity' | 'unit-ready' | 'read-points' | 'sequential-read' | 'random-read'
  | 'backup' | 'counterfeit' | 'write-verify' | 'sequential-write' | 'random-write' | 'restore'
  | 'power-cycle' | 'endurance';

/** Pass/fail limits a step's figures are held to (each optional; a step checks the ones that apply to it). */
export interface Thresholds {
  /** Minimum throughput, MB/s (10^6 bytes per second), of reading (or of writing, for write steps). */
  minMBps?: number;
  /** Minimum write throughput of write-verify and endurance, MB/s. */
  minWriteMBps?: number;
  /** Minimum random I/O operations per second. */
  minIops?: number;
  /**
   * SD Association application performance class, in its spirit: A1 = 1500 read / 500 write IOPS at 4 KiB,
   * A2 = 4000 read / 2000 write IOPS. Sets minIops for random-read / random-write when minIops is not given.
   */
  class?: 'A1' | 'A2';
  /** Maximum bad (unreadable or miscomparing) blocks of write-verify / endurance; default 0. */
  maxBadBlocks?: number;
  /** capacity: minimum capacity in bytes. */
  minBytes?: number;
}

/** A step's parameters (`params` in a plan file); each applies to the kinds its comment names. */
export interface StepParams {
  /** sequential-read / sequential-write: MiB to move (default 16, capped at the device). */
  sizeMiB?: number;
  /** Bytes per command of sequential and whole-device steps, KiB (default 1024). */
  chunkKiB?: number;
  /** random-read / random-write: number of I/Os (default 256) and their size in KiB (default 4). */
  ios?: number;
  ioKiB?: number;
  /** Seed of stamps and random positions (default: from the clock, recorded in the events). */
  seed?: number;
  /** counterfeit: extra random blocks (default 16) and the reset between writing and reading back. */
  random?: number;
  resetType?: 'none' | 'bot' | 'port' | 'power';
  /** endurance: write/verify cycles (default 3). */
  cycles?: number;
  /** endurance: power-cycle the device between writing and reading back (default false). */
  powerCycle?: boolean;
  /** power-cycle / endurance: how long the power stays off, ms (default 1000). */
  offMs?: number;
  /** endurance: seconds to wait between writing and reading back (default 0). */
  coolDownS?: number;
  /** write-verify / endurance: test only this many MiB from LBA 0 (default: the whole device). */
  limitMiB?: number;
}

/** One step of a plan, with its defaults filled in by the parser. */
export interface Step {
  readonly step: StepKind;
  /** Name in reports (default: the kind; must be unique in the plan). */
  readonly name: string;
  readonly params: StepParams;
  readonly thresholds: Thresholds;
  /** Per-step timeout, seconds; the step is cut off (status error, exit 33) when it takes longer. */
  readonly timeoutS: number;
}

/** A validation plan: what `--plan NAME|FILE` resolves to ({@link resolvePlan}). */
export interface Plan {
  readonly name: string;
  readonly description: string;
  readonly steps: readonly Step[];
  /** Save what the device held before the first writing step and put it back at the end. */
  readonly restore: boolean;
}

/** Steps that write to the device: a plan holding any of them needs --write. */
export const DESTRUCTIVE_STEPS: ReadonlySet<StepKind> = new Set<StepKind>([
  'counterfeit', 'write-verify', 'sequential-write', 'random-write', 'restore', 'endurance',
]);

/** Whether the plan writes to the devices (then it needs `write: true` / `--write`). */
export const isDestructive = (plan: Plan): boolean => plan.steps.some((s) => DESTRUCTIVE_STEPS.has(s.step));

/** Default per-step timeouts, seconds: whole-device steps get hours, the rest a few minutes. */
export const DEFAULT_TIMEOUT_S: Readonly<Record<StepKind, number>> = {
  'identify': 60, 'capacity': 60, 'unit-ready': 120, 'read-points': 120, 'sequential-read': 600, 'random-read': 600,
  'backup': 6 * 3600, 'counterfeit': 600, 'write-verify': 12 * 3600, 'sequential-write': 600, 'random-write': 600,
  'restore': 6 * 3600, 'power-cycle': 120, 'endurance': 72 * 3600,
};

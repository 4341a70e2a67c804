/**
 * Fault injection for one software device: scripted rules, seeded random faults, and the persistent media faults.
 * All state lives in the instance (never module globals), so parallel tests cannot disturb each other.
 */
import type { Fault, FaultKind, FaultRule, RandomFaultOptions } from './types.js';
import { WedgeController } from './wedge.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys } from '../util/options.js';
import { FAULT_KEYS, FAULT_MATCH_KEYS, FAULT_RULE_KEYS, RANDOM_FAULT_KEYS } from './option-keys.js';

/** A fault rule that cannot work (bad count, probability or kind): code ARG_INVALID. */
export class FaultConfigError extends UsbmsArgumentError {
  override readonly name = 'FaultConfigError';
}

/** Command context a rule is matched against. */
export interface CommandContext {
  opcode: number;
  lun: number;
  /** Host expectation: dCBWDataTransferLength and direction. */
  expected: number;
  direction: 'in' | 'out';
}

interface ActiveRule {
  readonly rule: FaultRule;
  skip: number;
  remaining: number;
}

const PERSISTENT: ReadonlySet<FaultKind> = new Set(['medium-error', 'capacity-off-by-one']);
const DATA_PHASE: ReadonlySet<FaultKind> = new Set(['short-data', 'babble', 'no-sense-corrupt']);

/** Does this fault make sense for this command? (Data-phase faults need a data phase; babble needs data-in.) */
function applicable(f: Fault, ctx: CommandContext): boolean {
  const hasData = ctx.expected > 0;
  if (f.kind === 'babble') return hasData && ctx.direction === 'in';
  if (DATA_PHASE.has(f.kind)) return hasData;
  if ('phase' in f && f.phase === 'data') return hasData;
  return f.kind !== 'get-max-lun-stall' && !PERSISTENT.has(f.kind);
}

const DEFAULT_SHAPE: Record<FaultKind, Fault | undefined> = {
  'stall': { kind: 'stall', phase: 'data' },
  'no-response': { kind: 'no-response', phase: 'csw' },
  'short-data': { kind: 'short-data', bytes: 0 },
  'babble': { kind: 'babble', extraBytes: 64 },
  'csw-signature': { kind: 'csw-signature' },
  'csw-tag': { kind: 'csw-tag' },
  'csw-length': { kind: 'csw-length', length: 12 },
  'csw-status': { kind: 'csw-status', status: 3 },
  'csw-residue': { kind: 'csw-residue', residue: 0x7fff_ffff },
  'lost-csw': { kind: 'lost-csw' },
  'phase-error': { kind: 'phase-error' },
  'delay': { kind: 'delay', phase: 'csw', ms: 5 },
  'disconnect': { kind: 'disconnect', phase: 'data' },
  'no-sense-corrupt': { kind: 'no-sense-corrupt' },
  'medium-error': undefined,
  'capacity-off-by-one': undefined,
  'get-max-lun-stall': undefined,
};

/** A fault object of a known kind with only that kind's keys. */
function checkFault(f: unknown, where: string): void {
  const kind = (f as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(FAULT_KEYS, kind)) {
    throw new FaultConfigError(`${where}: kind ${JSON.stringify(kind)} is not one of ${Object.keys(FAULT_KEYS).join(', ')}`);
  }
  rejectUnknownKeys(f, FAULT_KEYS[kind as FaultKind], `${where} ${kind}`);
}

/** mulberry32: tiny, fast and good enough to make fault sequences reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fault injection of one software device: scripted rules, seeded random faults and persistent media faults. */
export class FaultController {
  private rules: ActiveRule[] = [];
  private badLbas: { lun: number | undefined; lbas: Set<bigint> }[] = [];
  private offByOne: (number | undefined)[] = [];
  private randomState: { rand: () => number; probability: number; faults: Fault[] } | undefined;
  private readonly picked: Fault[] = [];
  /** Hang areas and drop-outs (src/mock/wedge.ts). */
  readonly wedge = new WedgeController();

  constructor(private readonly defaultSeed = 1) {}

  /** Add a rule. Persistent kinds (medium-error, capacity-off-by-one) hold until clear(). */
  inject(rule: FaultRule): void {
    rejectUnknownKeys(rule, FAULT_RULE_KEYS, 'fault rule');
    rejectUnknownKeys(rule.match, FAULT_MATCH_KEYS, 'fault rule match');
    checkFault(rule.fault, 'fault rule fault');
    const times = rule.times ?? 1;
    const nth = rule.match?.nth ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new FaultConfigError(`times must be a positive integer, got ${times}`);
    if (!Number.isInteger(nth) || nth < 1) throw new FaultConfigError(`match.nth must be a positive integer, got ${nth}`);
    const f = rule.fault;
    if (f.kind === 'medium-error') {
      this.badLbas.push({ lun: rule.match?.lun, lbas: new Set(f.lbas) });
      return;
    }
    if (f.kind === 'capacity-off-by-one') {
      this.offByOne.push(rule.match?.lun);
      return;
    }
    this.rules.push({ rule, skip: nth - 1, remaining: times });
  }

  /** Remove every rule, persistent fault and random setting. */
  clear(): void {
    this.rules = [];
    this.badLbas = [];
    this.offByOne = [];
    this.randomState = undefined;
    this.wedge.clear();
  }

  /** Random faults from a seeded PRNG: each command gets one of `kinds` with `probability`. */
  random(opts: RandomFaultOptions): void {
    rejectUnknownKeys(opts, RANDOM_FAULT_KEYS, 'random fault options');
    if (!(opts.probability >= 0 && opts.probability <= 1)) throw new FaultConfigError('probability must be in 0..1');
    const faults = opts.kinds.map((k) => {
      if (typeof k !== 'string') checkFault(k, 'random fault');
      const f = typeof k === 'string' ? DEFAULT_SHAPE[k] : k;
      if (f === undefined || PERSISTENT.has(f.kind) || f.kind === 'get-max-lun-stall') {
        throw new FaultConfigError(`fault kind ${typeof k === 'string' ? k : k.kind} cannot be random`);
      }
      return f;
    });
    if (faults.length === 0) throw new FaultConfigError('random faults need at least one kind');
    this.randomState = { rand: seededRandom(opts.seed ?? this.defaultSeed), probability: opts.probability, faults };
  }

  /** Scripted rules waiting to fire (for tests). */
  get pending(): number { return this.rules.length; }

  /**
   * The faults for the command now starting (consumes scripted rules). The returned array is reused: read it
   * before the next call.
   */
  takeCommandFaults(ctx: CommandContext): readonly Fault[] {
    this.picked.length = 0;
    for (const active of this.rules) {
      const m = active.rule.match;
      if (m?.opcode !== undefined && m.opcode !== ctx.opcode) continue;
      if (m?.lun !== undefined && m.lun !== ctx.lun) continue;
      if (!applicable(active.rule.fault, ctx)) continue;
      if (active.skip > 0) { active.skip -= 1; continue; }
      active.remaining -= 1;
      this.picked.push(active.rule.fault);
    }
    this.rules = this.rules.filter((r) => r.remaining > 0);
    const rnd = this.randomState;
    if (rnd !== undefined && rnd.rand() < rnd.probability) {
      const f = rnd.faults[Math.floor(rnd.rand() * rnd.faults.length)];
      if (f !== undefined && applicable(f, ctx)) this.picked.push(f);
    }
    return this.picked;
  }

  /** Consumes a get-max-lun-stall rule if one is waiting. */
  takeGetMaxLunStall(): boolean {
    const i = this.rules.findIndex((r) => r.rule.fault.kind === 'get-max-lun-stall');
    const active = this.rules[i];
    if (active === undefined) return false;
    if (active.skip > 0) { active.skip -= 1; return false; }
    active.remaining -= 1;
    if (active.remaining <= 0) this.rules.splice(i, 1);
    return true;
  }

  /** First LBA in [lba, lba + count) that has an injected medium error on `lun`. */
  firstBadLba(lun: number, lba: bigint, count: number): bigint | undefined {
    let first: bigint | undefined;
    const end = lba + BigInt(count);
    for (const entry of this.badLbas) {
      if (entry.lun !== undefined && entry.lun !== lun) continue;
      for (const bad of entry.lbas) {
        if (bad >= lba && bad < end && (first === undefined || bad < first)) first = bad;
      }
    }
    return first;
  }

  /** Whether READ CAPACITY of this LUN reports the block count instead of the last LBA (a FIX_CAPACITY device). */
  capacityOffByOne(lun: number): boolean {
    return this.offByOne.some((l) => l === undefined || l === lun);
  }
}

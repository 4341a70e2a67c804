/**
 * The UAS function's fault catalogue: what real UAS bridges get wrong on the wire, injectable per command (by
 * opcode, LUN, nth) and per task management function, scripted or seeded-random, in the style of the Bulk-Only
 * catalogue (src/mock/faults.ts). Medium errors and wedges are the SCSI target's and stay in `device.faults`.
 */
import { FaultConfigError, seededRandom } from '../faults.js';

/** One misbehaviour of the UAS function for one command. */
export type UasFault =
  /** Stall a pipe: the command pipe instead of taking the COMMAND IU, the status pipe instead of the SENSE IU, or the data pipe after `afterBytes`. */
  | { kind: 'stall'; pipe: 'command' | 'status' | 'data'; afterBytes?: number }
  /** The command is executed but its SENSE IU never comes (only ABORT TASK or a reset ends it). */
  | { kind: 'no-status' }
  /** The command's data phase is never announced (no READ/WRITE READY, no SENSE). */
  | { kind: 'no-ready' }
  /** Before its SENSE IU the device sends a SENSE IU whose tag no command has. */
  | { kind: 'spurious-iu' }
  /** The SENSE IU comes twice (the second names a tag that is no longer in flight). */
  | { kind: 'duplicate-status' }
  /** The command is refused with RESPONSE OVERLAPPED TAG ATTEMPTED, as if its tag were in use. */
  | { kind: 'overlapped-tag' }
  /** The data phase is announced in the wrong direction (WRITE READY for a read, READ READY for a write). */
  | { kind: 'wrong-ready' }
  /** The SENSE IU's length field says `length` whatever the sense sent is. */
  | { kind: 'sense-length'; length: number }
  /** Before the SENSE IU, an IU with an unknown IU ID naming the command's tag. */
  | { kind: 'bad-iu' }
  /** The command is answered TASK SET FULL without being queued. */
  | { kind: 'task-set-full' }
  /** Only `bytes` of a data-in phase are sent (a short transfer), then the status. */
  | { kind: 'short-data'; bytes: number }
  /** `extraBytes` more than the host's data-in transfer holds. */
  | { kind: 'babble'; extraBytes: number }
  /** A pause before the READ/WRITE READY or before the SENSE IU. */
  | { kind: 'delay'; phase: 'ready' | 'status'; ms: number }
  /** The device drops off the bus when the COMMAND IU arrives, during the data phase, or instead of the status. */
  | { kind: 'disconnect'; phase: 'command' | 'data' | 'status' };

export type UasFaultKind = UasFault['kind'];

/** One misbehaviour of the UAS function for one task management function. */
export type UasTmfFault =
  /** Answer with this response code (TMF NOT SUPPORTED 0x04, TMF FAILED 0x05, INCORRECT LUN 0x09 ...). */
  | { kind: 'tmf-refuse'; code: number }
  /** Never answer. */
  | { kind: 'tmf-no-response' };

/** When a per-command UAS fault fires. */
export interface UasFaultRule {
  match?: { opcode?: number; lun?: number; nth?: number };
  /** Matching commands it applies to; default 1. */
  times?: number;
  fault: UasFault;
}

/** When a task management fault fires. */
export interface UasTmfFaultRule {
  /** `fn`: the task management function (TMF.ABORT_TASK ...); any when absent. */
  match?: { fn?: number; nth?: number };
  times?: number;
  fault: UasTmfFault;
}

/** What a per-command rule is matched against. */
export interface UasCommandContext {
  opcode: number;
  lun: number;
  /** The device's intent for the data phase. */
  direction: 'none' | 'in' | 'out';
}

interface Armed<R> { readonly rule: R; skip: number; remaining: number }

function arm<R extends { times?: number; match?: { nth?: number } }>(rule: R): Armed<R> {
  const times = rule.times ?? 1;
  const nth = rule.match?.nth ?? 1;
  if (!Number.isInteger(times) || times < 1) throw new FaultConfigError(`times must be a positive integer, got ${times}`);
  if (!Number.isInteger(nth) || nth < 1) throw new FaultConfigError(`match.nth must be a positive integer, got ${nth}`);
  return { rule, skip: nth - 1, remaining: times };
}

/** Data-phase faults need a data phase; babble needs data-in. */
function applies(f: UasFault, ctx: UasCommandContext): boolean {
  if (f.kind === 'babble' || f.kind === 'short-data') return ctx.direction === 'in';
  if (f.kind === 'wrong-ready' || f.kind === 'no-ready') return ctx.direction !== 'none';
  if (f.kind === 'stall' && f.pipe === 'data') return ctx.direction !== 'none';
  if (f.kind === 'disconnect' && f.phase === 'data') return ctx.direction !== 'none';
  if (f.kind === 'delay' && f.phase === 'ready') return ctx.direction !== 'none';
  return true;
}

/** The default shape of each kind, for random faults named by kind. */
const DEFAULT_SHAPE: Record<UasFaultKind, UasFault> = {
  'stall': { kind: 'stall', pipe: 'data' },
  'no-status': { kind: 'no-status' },
  'no-ready': { kind: 'no-ready' },
  'spurious-iu': { kind: 'spurious-iu' },
  'duplicate-status': { kind: 'duplicate-status' },
  'overlapped-tag': { kind: 'overlapped-tag' },
  'wrong-ready': { kind: 'wrong-ready' },
  'sense-length': { kind: 'sense-length', length: 252 },
  'bad-iu': { kind: 'bad-iu' },
  'task-set-full': { kind: 'task-set-full' },
  'short-data': { kind: 'short-data', bytes: 0 },
  'babble': { kind: 'babble', extraBytes: 512 },
  'delay': { kind: 'delay', phase: 'status', ms: 5 },
  'disconnect': { kind: 'disconnect', phase: 'data' },
};

/** UAS fault injection of one software device; all state in the instance. */
export class UasFaultController {
  private rules: Armed<UasFaultRule>[] = [];
  private tmfRules: Armed<UasTmfFaultRule>[] = [];
  private randomState: { rand: () => number; probability: number; faults: UasFault[] } | undefined;
  private readonly picked: UasFault[] = [];

  /** Add a per-command rule. */
  inject(rule: UasFaultRule): void { this.rules.push(arm(rule)); }

  /** Add a task management rule. */
  injectTmf(rule: UasTmfFaultRule): void { this.tmfRules.push(arm(rule)); }

  /** Each command gets one of `kinds` with `probability`, from a PRNG seeded with `seed`. */
  random(opts: { seed?: number; probability: number; kinds: ReadonlyArray<UasFault | UasFaultKind> }): void {
    if (!(opts.probability >= 0 && opts.probability <= 1)) throw new FaultConfigError('probability must be in 0..1');
    if (opts.kinds.length === 0) throw new FaultConfigError('random faults need at least one kind');
    const faults = opts.kinds.map((k) => (typeof k === 'string' ? DEFAULT_SHAPE[k] : k));
    this.randomState = { rand: seededRandom(opts.seed ?? 1), probability: opts.probability, faults };
  }

  /** Remove every rule and the random setting. */
  clear(): void {
    this.rules = [];
    this.tmfRules = [];
    this.randomState = undefined;
  }

  /** Rules waiting to fire. */
  get pending(): number { return this.rules.length + this.tmfRules.length; }

  /** The faults of the command now starting (consumes rules). The array is reused: read it before the next call. */
  take(ctx: UasCommandContext): readonly UasFault[] {
    this.picked.length = 0;
    for (const a of this.rules) {
      const m = a.rule.match;
      if (m?.opcode !== undefined && m.opcode !== ctx.opcode) continue;
      if (m?.lun !== undefined && m.lun !== ctx.lun) continue;
      if (!applies(a.rule.fault, ctx)) continue;
      if (a.skip > 0) { a.skip -= 1; continue; }
      a.remaining -= 1;
      this.picked.push(a.rule.fault);
    }
    if (this.rules.some((a) => a.remaining <= 0)) this.rules = this.rules.filter((a) => a.remaining > 0);
    const rnd = this.randomState;
    if (rnd !== undefined && rnd.rand() < rnd.probability) {
      const f = rnd.faults[Math.floor(rnd.rand() * rnd.faults.length)];
      if (f !== undefined && applies(f, ctx)) this.picked.push(f);
    }
    return this.picked;
  }

  /** The fault of the task management function `fn` now arriving, if one is armed (consumed). */
  takeTmf(fn: number): UasTmfFault | undefined {
    for (const a of this.tmfRules) {
      if (a.rule.match?.fn !== undefined && a.rule.match.fn !== fn) continue;
      if (a.skip > 0) { a.skip -= 1; continue; }
      a.remaining -= 1;
      if (a.remaining <= 0) this.tmfRules = this.tmfRules.filter((r) => r !== a);
      return a.rule.fault;
    }
    return undefined;
  }
}

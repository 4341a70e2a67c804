/**
 * The rescue engine: runs the plan of plan.ts over a RescueDevice, keeping the map, writing rescued data into
 * the image at its offset, saving the mapfile (through the injected checkpoint) often enough that an abrupt end
 * loses seconds, and climbing the escalation ladder whenever the device, not the medium, failed.
 *
 * Order of effects for every successful read: data into the image, then the map says '+'; a checkpoint syncs
 * the image before it saves a mapfile, so no saved mapfile ever claims data the image does not hold.
 */
import { logger } from '../../util/log.js';
import { isDiskError } from '../../disk/index.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';
import { classifyReadFailure, type RescueDevice } from './device.js';
import { escalate, RescueDeviceLostError, RescueInterruptedError } from './escalation.js';
import type { EscalationRecord, RescueCounts, RescueEvent, RescueResult } from './events.js';
import { RescueMap, type AreaStatus } from './map.js';
import type { MapfileState } from './mapfile.js';
import { buildPlan, PHASE_CHAR, resumePoint, stepMessage, type Step } from './plan.js';
import { sleep } from '../../util/sleep.js';
import { UsbmsArgumentError, UsbmsError } from '../../util/errors.js';

const log = logger('rescue');

export interface RescueSink {
  write(offset: bigint, data: Buffer): void;
}

/** Saves image and mapfile; `message` is the status line for people ("Trimming failed blocks..."). */
export type Checkpoint = (map: RescueMap, state: MapfileState, message: string) => void;

export interface EngineOptions {
  /** Bytes per copy-phase read (a multiple of the block size). */
  readonly copyBytes: number;
  readonly retries: number;
  readonly reverse: boolean;
  /** Stop when more bad areas than this exist (ddrescue --max-bad-areas); undefined: no limit. */
  readonly maxBadAreas: number | undefined;
  readonly waitDeviceMs: number;
  /** Longest time between mapfile saves while only good data comes in. */
  readonly saveIntervalMs: number;
  readonly progressIntervalMs: number;
  readonly onEvent: (e: RescueEvent) => void;
  /** Polled before every read: true ends the run ("interrupted") with the mapfile saved. */
  readonly stopRequested: () => boolean;
}

const ENGINE_OPTION_KEYS = {
  copyBytes: true, retries: true, reverse: true, maxBadAreas: true, waitDeviceMs: true, saveIntervalMs: true,
  progressIntervalMs: true, onEvent: true, stopRequested: true,
} as const satisfies KnownKeys<EngineOptions>;

export interface RescueOutcome {
  readonly result: RescueResult;
  readonly message: string;
  readonly counts: RescueCounts;
  readonly escalations: EscalationRecord[];
  readonly elapsedS: number;
  readonly bytesPerSecond: number;
}

/** Ends a run early with its result (caught in run(); never escapes). */
class Stop extends UsbmsError {
  override readonly name = 'RescueStop';
  constructor(readonly result: RescueResult, message: string) { super('RESCUE_INTERRUPTED', message); }
}

const SKIP_INITIAL = 64n * 1024n;
const SKIP_MAX_CAP = 1024n * 1024n * 1024n;

export class RescueEngine {
  private readonly bs: bigint;
  private readonly size: bigint;
  private readonly buf: Buffer;
  private readonly escalations: EscalationRecord[] = [];
  private readonly started = Date.now();
  private state: MapfileState;
  private step: Step | undefined;
  private lastSave = 0;
  private lastProgress = 0;
  private rescuedThisRun = 0n;
  private readErrors = 0;
  private lastGoodLba: bigint | undefined;

  constructor(private readonly dev: RescueDevice, private readonly sink: RescueSink, readonly map: RescueMap,
    private readonly resumeFrom: MapfileState | undefined, private readonly opts: EngineOptions,
    private readonly checkpoint: Checkpoint) {
    rejectUnknownKeys(opts, ENGINE_OPTION_KEYS, 'RescueEngine options');
    this.bs = BigInt(dev.blockSize);
    this.size = map.size;
    if (opts.copyBytes <= 0 || opts.copyBytes % dev.blockSize !== 0) {
      throw new UsbmsArgumentError(`copy size ${opts.copyBytes} is not a positive multiple of the ${dev.blockSize}-byte block`);
    }
    this.buf = Buffer.alloc(opts.copyBytes);
    this.state = resumeFrom ?? { currentPos: 0n, currentStatus: '?', currentPass: 1 };
    const good = map.next('+', 0n, 'forward');
    if (good !== undefined) this.lastGoodLba = good.pos / this.bs;
  }

  async run(): Promise<RescueOutcome> {
    const plan = buildPlan(this.opts.reverse, this.opts.retries);
    let { index, pos } = resumePoint(plan, this.resumeFrom);
    // Nothing non-tried, non-trimmed or non-scraped left (a finished map): copy, trim and scrape have nothing to
    // read, so the run starts with the retry passes, and says so.
    const left = this.map.totals();
    const firstRetry = plan.findIndex((st) => st.phase === 'retry');
    if (left['?'] + left['*'] + left['/'] === 0n && index < (firstRetry < 0 ? plan.length : firstRetry)) {
      index = firstRetry < 0 ? plan.length : firstRetry;
      pos = undefined;
    }
    const first = plan[index];
    this.opts.onEvent({ type: 'start', device: this.dev.description, size: this.size, blockSize: this.dev.blockSize,
      copyBytes: this.opts.copyBytes, resumed: this.resumeFrom !== undefined, phase: first?.phase ?? 'finished',
      pass: first?.pass ?? 1, pos: pos ?? 0n });
    let result: RescueResult = 'finished';
    let message = 'rescue finished';
    try {
      for (let i = index; i < plan.length; i++) {
        const step = plan[i];
        if (step === undefined) break;
        await this.runStep(step, i === index ? pos : undefined);
      }
      this.enter(undefined);
      const left = this.map.totals();
      const unread = left['?'] + left['*'] + left['/'] + left['-'];
      message = unread === 0n ? 'rescue finished: every byte rescued'
        : `rescue finished: ${unread} bytes unreadable in ${this.map.badAreas()} areas`;
    } catch (e) {
      if (e instanceof Stop) { result = e.result; message = e.message; }
      else if (e instanceof RescueDeviceLostError) { result = 'device-lost'; message = e.message; }
      else if (e instanceof RescueInterruptedError) { result = 'interrupted'; message = `${e.message}: the mapfile is saved, run the same command again to resume`; }
      else throw e;
    } finally {
      this.save(true);
    }
    const elapsedS = (Date.now() - this.started) / 1000;
    return { result, message, counts: this.counts(), escalations: [...this.escalations], elapsedS,
      bytesPerSecond: elapsedS > 0 ? Number(this.rescuedThisRun) / elapsedS : 0 };
  }

  counts(): RescueCounts {
    const t = this.map.totals();
    return { size: this.size, rescued: t['+'], nonTried: t['?'], nonTrimmed: t['*'], nonScraped: t['/'],
      badSectors: t['-'], badAreas: this.map.badAreas(), readErrors: this.readErrors };
  }

  private enter(step: Step | undefined, pos?: bigint): void {
    this.step = step;
    const start = pos ?? (step === undefined || step.direction === 'forward' ? 0n : this.size);
    this.state = step === undefined
      ? { currentPos: this.state.currentPos, currentStatus: '+', currentPass: 1 }
      : { currentPos: start, currentStatus: PHASE_CHAR[step.phase], currentPass: step.pass };
    if (step !== undefined) this.opts.onEvent({ type: 'phase', phase: step.phase, pass: step.pass, direction: step.direction });
    this.save(true);
  }

  private async runStep(step: Step, resume: bigint | undefined): Promise<void> {
    const st: AreaStatus = step.phase === 'copy' ? '?' : step.phase === 'trim' ? '*' : step.phase === 'scrape' ? '/' : '-';
    if (this.map.next(st, 0n, 'forward') === undefined) return; // nothing for this step: not even in the mapfile
    this.enter(step, resume);
    const cursor = resume ?? (step.direction === 'forward' ? 0n : this.size);
    if (step.phase === 'copy') await this.copy(step, cursor);
    else if (step.phase === 'trim') await this.trim(step, cursor);
    else await this.blockByBlock(st, step, cursor);
    // A resumed trim or scrape started at the mapfile's position: areas behind it (another program's idea of
    // current_pos, an edited file) would wait for the next run. One more sweep from the start takes them.
    // (Copy passes 2 and 3 cover the whole device anyway; retry areas stay bad by nature.)
    if (resume !== undefined && (step.phase === 'trim' || step.phase === 'scrape') && this.map.next(st, 0n, 'forward') !== undefined) {
      const from = step.direction === 'forward' ? 0n : this.size;
      if (step.phase === 'trim') await this.trim(step, from);
      else await this.blockByBlock(st, step, from);
    }
  }

  /** Large reads over non-tried areas, aligned to the copy size, skipping ahead after a failure. */
  private async copy(step: Step, from: bigint): Promise<void> {
    const fwd = step.direction === 'forward';
    const chunk = BigInt(this.opts.copyBytes);
    const skipMax = maxBig(SKIP_INITIAL, minBig(SKIP_MAX_CAP, alignDown(this.size / 100n, this.bs)));
    const skipInitial = alignUp(SKIP_INITIAL, this.bs);
    let skip = skipInitial;
    let cursor = from;
    for (;;) {
      const area = this.map.next('?', cursor, step.direction);
      if (area === undefined) return;
      const areaEnd = area.pos + area.size;
      const pos = fwd ? area.pos : maxBig(area.pos, alignDown(areaEnd - 1n, chunk));
      const end = fwd ? minBig(areaEnd, alignDown(area.pos, chunk) + chunk) : areaEnd;
      if (await this.attempt(pos, end - pos, '*', fwd)) {
        skip = skipInitial;
        cursor = fwd ? end : pos;
        continue;
      }
      if (!step.skip) { cursor = fwd ? end : pos; continue; }
      cursor = fwd ? end + skip : pos - skip;
      if (cursor < 0n) cursor = 0n;
      if (fwd && cursor >= this.size) return;
      if (!fwd && cursor === 0n) return;
      skip = minBig(skip * 2n, skipMax);
    }
  }

  /** Each non-trimmed area: from the leading edge until a block fails, from the trailing edge back likewise. */
  private async trim(step: Step, from: bigint): Promise<void> {
    const fwd = step.direction === 'forward';
    let cursor = from;
    for (;;) {
      const clipped = this.map.next('*', cursor, step.direction);
      if (clipped === undefined) return;
      // Trim the whole area the cursor is in: both of its edges, wherever a resumed run's position fell.
      const area = this.map.areaAt(step.direction === 'forward' ? clipped.pos : clipped.pos + clipped.size - 1n) ?? clipped;
      const start = area.pos;
      const end = area.pos + area.size;
      const leading = async (): Promise<void> => {
        for (let p = start; p < end && this.map.statusAt(p) === '*'; p += this.bs) {
          if (!(await this.attempt(p, this.bs, '-', true))) return;
        }
      };
      const trailing = async (): Promise<void> => {
        for (let q = end; q > start && this.map.statusAt(q - this.bs) === '*'; q -= this.bs) {
          if (!(await this.attempt(q - this.bs, this.bs, '-', false))) return;
        }
      };
      if (fwd) { await leading(); await trailing(); } else { await trailing(); await leading(); }
      for (let rest = this.map.next('*', start, 'forward'); rest !== undefined && rest.pos < end;
        rest = this.map.next('*', start, 'forward')) {
        this.map.set(rest.pos, minBig(rest.size, end - rest.pos), '/');
      }
      this.save(true);
      cursor = fwd ? end : start;
    }
  }

  /** Scrape and retry: every block of the areas of `status`, one read each. */
  private async blockByBlock(status: AreaStatus, step: Step, from: bigint): Promise<void> {
    const fwd = step.direction === 'forward';
    let cursor = from;
    for (;;) {
      const area = this.map.next(status, cursor, step.direction);
      if (area === undefined) return;
      const p = fwd ? area.pos : area.pos + area.size - this.bs;
      await this.attempt(p, this.bs, '-', fwd);
      cursor = fwd ? p + this.bs : p;
    }
  }

  /**
   * One read of [pos, pos+size). Success: into the image, '+'. Failure: `failStatus`, and when the device
   * (not the medium) failed, the escalation ladder before anything else is read. Throws Stop or
   * RescueDeviceLostError to end the run.
   */
  private async attempt(pos: bigint, size: bigint, failStatus: AreaStatus, forward: boolean): Promise<boolean> {
    if (this.opts.stopRequested()) throw new Stop('interrupted', 'interrupted: the mapfile is saved, run the same command again to resume');
    this.state = { ...this.state, currentPos: forward ? pos : pos + size };
    const view = this.buf.subarray(0, Number(size));
    try {
      await this.dev.read(pos / this.bs, Number(size / this.bs), view);
    } catch (e) {
      const failure = classifyReadFailure(e);
      this.readErrors += 1;
      this.map.set(pos, size, failStatus);
      const msg = e instanceof Error ? e.message : String(e);
      log('read %d+%d failed (%s): %s', pos, size, failure, msg);
      this.opts.onEvent({ type: 'read-error', pos, size, status: failStatus, failure, message: msg });
      this.save(true);
      if (failure !== 'read-error') {
        await escalate(this.dev, msg, pos, failure === 'gone', {
          waitDeviceMs: this.opts.waitDeviceMs,
          healthy: () => this.healthy(),
          onRecord: (r) => { this.escalations.push(r); this.opts.onEvent({ type: 'escalation', ...r }); this.save(true); },
          stopRequested: this.opts.stopRequested,
        });
      }
      const max = this.opts.maxBadAreas;
      if (max !== undefined && this.map.badAreas() > max) {
        throw new Stop('too-many-bad-areas', `stopped: ${this.map.badAreas()} bad areas, more than --max-errors ${max}`);
      }
      this.progress(true);
      return false;
    }
    this.sink.write(pos, view);
    this.map.set(pos, size, '+');
    this.rescuedThisRun += size;
    this.lastGoodLba = pos / this.bs;
    this.save(false);
    this.progress(false);
    return true;
  }

  /** The device answers again: TEST UNIT READY (through a unit attention or two), then a block read before. */
  private async healthy(): Promise<boolean> {
    for (let i = 0; ; i++) {
      try {
        await this.dev.testUnitReady();
        break;
      } catch (e) {
        // A reset or re-plug is reported by a UNIT ATTENTION; a stick may take a moment to become ready again.
        const transient = isDiskError(e, 'unit-attention') || isDiskError(e, 'not-ready');
        if (!transient || i >= 20) return false;
        await sleep(100);
      }
    }
    if (this.lastGoodLba === undefined) return true;
    try {
      await this.dev.read(this.lastGoodLba, 1, Buffer.alloc(this.dev.blockSize));
      return true;
    } catch {
      return false;
    }
  }

  private save(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastSave < this.opts.saveIntervalMs) return;
    this.lastSave = now;
    this.checkpoint(this.map, this.state, stepMessage(this.step));
  }

  private progress(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastProgress < this.opts.progressIntervalMs) return;
    this.lastProgress = now;
    const elapsedS = (now - this.started) / 1000;
    this.opts.onEvent({ type: 'progress', phase: this.step?.phase ?? 'finished', pass: this.step?.pass ?? 1,
      pos: this.state.currentPos, bytesPerSecond: elapsedS > 0 ? Number(this.rescuedThisRun) / elapsedS : 0, elapsedS,
      ...this.counts() });
  }
}

function minBig(a: bigint, b: bigint): bigint { return a < b ? a : b; }
function maxBig(a: bigint, b: bigint): bigint { return a > b ? a : b; }
function alignDown(n: bigint, m: bigint): bigint { return n - (n % m); }
function alignUp(n: bigint, m: bigint): bigint { return alignDown(n + m - 1n, m); }

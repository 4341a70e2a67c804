/**
 * Runs a plan on every device of a rig at once: one session per device, all in this process. Each device's run
 * is its own chain of promises with its own session, so one device failing, hanging (cut off by the step's
 * timeout) or vanishing (reported, its slot watched for the same device to return) never stops the others;
 * they only share the event loop, and every wait here is asynchronous.
 */
import { isDiskError } from '../../disk/index.js';
import { UsbDeviceGoneError } from '../../api.js';
import { describeKey, slotName, type RigDevice } from './device.js';
import { deviceRef, type EventSink, type RigEventBody } from './events.js';
import { DeviceHandle, RigError } from './handle.js';
import { DeviceJournal } from './journal.js';
import { isDestructive, type Plan, type Step } from './plan/types.js';
import { BackupStore } from './steps/backup-store.js';
import { STEP_RUNNERS, type StepContext, type StepOutcome } from './steps/index.js';
import { deviceStatus, EXIT, worstOf, type StepStatus } from './verdict.js';
import { asError } from '../../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

/** Options of {@link runRig}. */
export interface RunOptions {
  plan: Plan;
  /** --write: destructive plans are refused without it (checked here too, not only by the CLI). */
  write: boolean;
  /** Save and restore the original data (--restore; the plan's own "restore" also turns it on). */
  restore?: boolean;
  /** Seed of stamps and random positions (a resumed journal's own seed wins). */
  seed: number;
  /** --journal DIR: one resumable journal per device. */
  journalDir?: string | undefined;
  /** Where whole-device backups go when not in memory. */
  backupDir?: string | undefined;
  /** How long a vanished device's slot is watched for its return, ms (default 30 000). */
  returnTimeoutMs?: number;
  lun?: number;
  readyPollMs?: number;
  /** The sg3_utils-style status of an error a step ended with (the CLI's mapping; default OTHER). */
  exitCodeOf?: (e: unknown) => number;
  onEvent?: EventSink;
}

const RUN_OPTION_KEYS = {
  plan: true, write: true, restore: true, seed: true, journalDir: true, backupDir: true, returnTimeoutMs: true, lun: true,
  readyPollMs: true, exitCodeOf: true, onEvent: true,
} as const satisfies KnownKeys<RunOptions>;

/** The result of one step on one device. */
export interface StepResult {
  name: string;
  kind: string;
  status: StepStatus;
  figures: StepOutcome['figures'];
  reason: string | null;
  exitCode: number;
  seconds: number;
  started: string;
  resumed: boolean;
}

/** One device's verdict and its steps. */
export interface DeviceResult {
  device: RigDevice;
  status: StepStatus;
  exitCode: number;
  reason: string | null;
  started: string;
  seconds: number;
  steps: StepResult[];
}

/** Every device's result, and the run's exit status (0 when every device passed, else the worst device's). */
export interface RigResult { devices: DeviceResult[]; exitCode: number }

/** The step was cut off by its timeout. */
class StepTimeout extends RigError {
  constructor(step: Step) { super('TIMEOUT', `step ${step.name} took longer than its timeout of ${step.timeoutS} s`); }
}

/** MEDIUM ERROR or HARDWARE ERROR from the device (an unreadable block, a write that did not take). */
function isDefect(e: unknown): boolean {
  return isDiskError(e, 'medium') || isDiskError(e, 'hardware');
}

function isGoneError(e: unknown): boolean {
  return isDiskError(e, 'device-gone') || e instanceof UsbDeviceGoneError;
}

/** Run `work`; after `ms` call `cutOff` (which makes `work` fail) and reject with `timeout` at once. */
function withTimeout<T>(work: Promise<T>, ms: number, cutOff: () => void, timeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { cutOff(); reject(timeout()); }, ms);
    work.then((v) => { clearTimeout(timer); resolve(v); }, (e: unknown) => { clearTimeout(timer); reject(asError(e)); });
  });
}

class DeviceRun {
  private readonly handle: DeviceHandle;
  private readonly results: StepResult[] = [];
  private readonly journal: DeviceJournal | undefined;
  private readonly backup: BackupStore;
  private readonly seed: number;
  private readonly exitCodeOf: (e: unknown) => number;
  /** The device is gone for good: what is left is skipped. */
  private lost: string | undefined;

  constructor(private readonly device: RigDevice, private readonly o: RunOptions) {
    this.handle = new DeviceHandle(device, {
      allowWrite: o.write, lun: o.lun ?? 0,
      ...(o.readyPollMs === undefined ? {} : { readyPollMs: o.readyPollMs }),
      ...(o.returnTimeoutMs === undefined ? {} : { returnTimeoutMs: o.returnTimeoutMs }),
    });
    this.journal = o.journalDir === undefined ? undefined : DeviceJournal.open(o.journalDir, device.key, o.plan.name, o.seed);
    this.seed = this.journal?.seed ?? o.seed;
    this.backup = new BackupStore(device.key, o.backupDir ?? o.journalDir, this.journal);
    this.exitCodeOf = o.exitCodeOf ?? (() => EXIT.OTHER);
  }

  private emit(body: RigEventBody): void {
    this.o.onEvent?.({ time: new Date().toISOString(), device: deviceRef(this.device.key), ...body });
  }

  async run(): Promise<DeviceResult> {
    const started = new Date();
    this.emit({ event: 'start', step: null, plan: this.o.plan.name, seed: this.seed, resumed: this.journal?.resumed === true });
    let refusal: { reason: string; exitCode: number } | undefined;
    if (isDestructive(this.o.plan)) {
      const mounted = this.device.mounted();
      if (!this.o.write) refusal = { reason: `plan ${this.o.plan.name} writes to the device: needs --write`, exitCode: EXIT.SYNTAX_ERROR };
      else if (mounted.length > 0) {
        refusal = { reason: `the kernel has filesystems of this disk mounted (${mounted.join(', ')}): unmount them first`,
          exitCode: EXIT.FILE_ERROR };
      }
    }
    if (refusal === undefined) {
      try {
        await this.handle.open();
      } catch (e) {
        refusal = { reason: `cannot open: ${(e as Error).message}`, exitCode: this.exitCodeOf(e) };
      }
    }
    for (const step of this.o.plan.steps) {
      if (refusal !== undefined) this.record(step, { status: 'skip', figures: {}, reason: refusal.reason }, 0, new Date(), false);
      else await this.runStep(step);
    }
    await this.handle.close();
    const statuses = this.results.map((r) => r.status);
    const status = refusal !== undefined ? 'error' : deviceStatus(statuses);
    const exitCode = refusal?.exitCode ?? (status === 'pass' || status === 'skip' ? EXIT.OK
      : worstOf(this.results.filter((r) => r.status === 'fail' || r.status === 'error').map((r) => r.exitCode)));
    const reason = refusal?.reason ?? this.lost ??
      (this.results.find((r) => r.status === 'error' || r.status === 'fail')?.reason ?? null);
    this.emit({ event: 'done', step: null, status, exitCode, reason });
    return { device: this.device, status, exitCode, reason, started: started.toISOString(),
      seconds: (Date.now() - started.getTime()) / 1000, steps: this.results };
  }

  private record(step: Step, out: StepOutcome | { status: 'error'; figures: StepOutcome['figures']; reason: string; exitCode: number },
    seconds: number, started: Date, resumed: boolean): void {
    const exitCode = out.exitCode ?? (out.status === 'fail' ? EXIT.OTHER : EXIT.OK);
    const r: StepResult = { name: step.name, kind: step.step, status: out.status, figures: out.figures,
      reason: out.reason ?? null, exitCode, seconds, started: started.toISOString(), resumed };
    this.results.push(r);
    // Only finished verdicts are kept: a skip (refused run, lost device) or an error (the rig stopped, the device
    // vanished) is tried again when the run is resumed.
    if (!resumed && (r.status === 'pass' || r.status === 'fail')) {
      this.journal?.recordStep(step.name, { status: r.status, figures: r.figures, reason: r.reason, exitCode, seconds });
    }
    this.emit({ event: 'step', step: step.name, kind: step.step, status: r.status, figures: r.figures, reason: r.reason,
      exitCode, seconds: Number(seconds.toFixed(3)), resumed });
  }

  private context(step: Step): StepContext {
    return {
      handle: this.handle, step, plan: this.o.plan, write: this.o.write, restore: this.o.restore === true || this.o.plan.restore,
      journal: this.journal, backup: this.backup, seed: this.seed,
      progress: (figures) => { this.emit({ event: 'progress', step: step.name, figures }); },
      warn: (message) => { this.emit({ event: 'progress', step: step.name, figures: { warning: message } }); },
    };
  }

  private async runStep(step: Step): Promise<void> {
    const done = this.journal?.step(step.name);
    if (done !== undefined) {
      this.record(step, { status: done.status, figures: done.figures, ...(done.reason === null ? {} : { reason: done.reason }),
        exitCode: done.exitCode } as StepOutcome, done.seconds, new Date(), true);
      return;
    }
    const started = new Date();
    if (this.lost !== undefined) {
      this.record(step, { status: 'skip', figures: {}, reason: this.lost }, 0, started, false);
      return;
    }
    this.emit({ event: 'step-start', step: step.name, kind: step.step });
    try {
      if (!this.handle.isOpen) await this.handle.open();
      const work = STEP_RUNNERS[step.step](this.context(step));
      work.catch(() => undefined); // a step cut off by its timeout still settles later: nobody waits for it then
      const out = await withTimeout(work, step.timeoutS * 1000, () => { void this.handle.close(); }, () => new StepTimeout(step));
      this.record(step, out, (Date.now() - started.getTime()) / 1000, started, false);
    } catch (e) {
      if (isDefect(e) && !this.handle.gone) {
        // The device answered, and what it said is a defect of the medium: the step fails (it did not error).
        this.record(step, { status: 'fail', figures: {}, reason: (e as Error).message, exitCode: EXIT.MEDIUM_HARD },
          (Date.now() - started.getTime()) / 1000, started, false);
        return;
      }
      const vanished = this.handle.gone || isGoneError(e);
      const exitCode = e instanceof StepTimeout ? EXIT.TIMEOUT : vanished ? EXIT.TRANSPORT_ERROR : this.exitCodeOf(e);
      const reason = vanished ? `device vanished: ${(e as Error).message}` : (e as Error).message;
      this.record(step, { status: 'error', figures: {}, reason, exitCode }, (Date.now() - started.getTime()) / 1000, started, false);
      if (vanished) await this.watchSlot(step);
      else if (e instanceof StepTimeout) await this.handle.close();
    }
  }

  /** The device left: wait for the same device in the same slot, then go on with the next step. */
  private async watchSlot(step: Step): Promise<void> {
    await this.handle.close();
    this.emit({ event: 'vanished', step: step.name, reason: `watching ${slotName(this.device.key)} for its return` });
    const timeoutMs = this.o.returnTimeoutMs ?? 30_000;
    if (await this.device.waitForReturn(timeoutMs)) {
      this.emit({ event: 'returned', step: step.name, reason: null });
      return;
    }
    this.lost = `device vanished during ${step.name} and did not come back within ${timeoutMs / 1000} s`;
    this.emit({ event: 'lost', step: step.name, reason: this.lost });
  }
}

/** Run `plan` on every device at once; resolves when all are done (each with its verdict). */
export async function runRig(devices: readonly RigDevice[], o: RunOptions): Promise<RigResult> {
  rejectUnknownKeys(o, RUN_OPTION_KEYS, 'runRig options');
  const keys = new Set<string>();
  for (const d of devices) {
    const k = describeKey(d.key);
    if (keys.has(k)) throw new RigError('NOT_OPEN', `${k} is selected twice`);
    keys.add(k);
  }
  const results = await Promise.all(devices.map((d) => new DeviceRun(d, o).run()));
  return { devices: results, exitCode: worstOf(results.map((r) => r.exitCode)) };
}

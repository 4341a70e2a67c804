/**
 * The journal of one device's run: a JSON file per device, named by port path and serial, rewritten atomically
 * (temporary file, then rename) after every step and every endurance phase. A run that stops (the process is
 * killed, the rig loses power) is resumed by running the same plan with the same --journal DIR: finished steps
 * are reported from the journal, an endurance step goes on from its last finished phase with the same seeds.
 */
import { UsbmsError } from '../../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyFileName, slotId, type DeviceKey } from './device.js';
import type { Figures, StepStatus } from './verdict.js';

export interface JournalStep {
  status: StepStatus;
  figures: Figures;
  reason: string | null;
  exitCode: number;
  seconds: number;
}

export interface EnduranceCycle { cycle: number; writeMBps: number; readMBps: number; badBlocks: number }

export interface EnduranceState {
  /** The cycle in progress (1-based). */
  cycle: number;
  /** Its write phase finished (the stamps are on the device): resume with the read-back. */
  written: boolean;
  done: EnduranceCycle[];
}

export interface JournalData {
  version: 1;
  key: DeviceKey;
  plan: string;
  seed: number;
  started: string;
  steps: Record<string, JournalStep>;
  endurance: Record<string, EnduranceState>;
  /** Where the original data was saved (a file, so that a resumed run can still restore it). */
  backup: { path: string; bytes: number } | null;
}

const JOURNAL_KEYS = {
  version: true, key: true, plan: true, seed: true, started: true, steps: true, endurance: true, backup: true,
} as const satisfies KnownKeys<JournalData>;

export class JournalError extends UsbmsError {
  override readonly name = 'JournalError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('RIG_JOURNAL', message, options); }
}

export class DeviceJournal {
  private constructor(readonly path: string, readonly data: JournalData, readonly resumed: boolean) {}

  static fileFor(dir: string, key: DeviceKey): string { return join(dir, `${keyFileName(key)}.journal.json`); }

  /** The journal of `key` in `dir`: resumed when one of the same plan and device is there, else a new one. */
  static open(dir: string, key: DeviceKey, plan: string, seed: number): DeviceJournal {
    mkdirSync(dir, { recursive: true });
    const path = DeviceJournal.fileFor(dir, key);
    let old: JournalData | undefined;
    try {
      old = JSON.parse(readFileSync(path, 'utf8')) as JournalData;
      // A key this version does not write would be lost on the next save: say so rather than drop it.
      rejectUnknownKeys(old, JOURNAL_KEYS, 'the journal');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new JournalError(`journal ${path}: ${(e as Error).message}`, { cause: e });
      }
    }
    const same = old !== undefined && old.version === 1 && old.plan === plan && slotId(old.key) === slotId(key) &&
      old.key.serial === key.serial && old.key.vendorId === key.vendorId && old.key.productId === key.productId;
    const j = same && old !== undefined ? new DeviceJournal(path, old, true)
      : new DeviceJournal(path, { version: 1, key, plan, seed, started: new Date().toISOString(), steps: {},
        endurance: {}, backup: null }, false);
    j.save();
    return j;
  }

  get seed(): number { return this.data.seed; }

  step(name: string): JournalStep | undefined { return this.data.steps[name]; }

  recordStep(name: string, s: JournalStep): void {
    this.data.steps[name] = s;
    this.save();
  }

  save(): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.data, null, 1)}\n`);
    renameSync(tmp, this.path);
  }
}

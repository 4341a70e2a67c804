/**
 * Recovery steps as the CLI shows them (src/util/recovery.ts): one line each on stderr, over any progress bar, and
 * one NDJSON event each where a command streams its progress as NDJSON (rescue --json, validate --json).
 */
import { formatWait, type RecoveryEvent, type RecoveryStep } from '../../util/recovery.js';
import { stderrLine } from './format.js';

const LABELS: Readonly<Record<RecoveryStep, string>> = {
  'timeout': 'timeout', 'clear-halt': 'reset', 'mass-storage-reset': 'reset', 'port-reset': 'reset',
  'abort-task': 'abort', 'lun-reset': 'reset', 'nexus-reset': 'reset',
  'retry': 'retry', 'wait-ready': 'not ready', 'start-unit': 'recovery',
};

/** "retry 1 of 3: READ(10) at LBA 2048 timed out; waiting up to 30 s for the answer". */
export function recoveryText(e: RecoveryEvent): string {
  const label = e.step === 'retry' ? `retry ${e.attempt ?? '?'} of ${e.attempts ?? '?'}` : LABELS[e.step];
  const limit = e.timeoutMs === undefined ? '' : `up to ${formatWait(e.timeoutMs)} `;
  return `${label}: ${e.detail}${e.waitingFor === undefined ? '' : `; waiting ${limit}for ${e.waitingFor}`}`;
}

/** The step as an NDJSON event's fields (stable keys, null for what the step does not have). */
export function recoveryFields(e: RecoveryEvent): Record<string, unknown> {
  return { step: e.step, detail: e.detail, waitingFor: e.waitingFor ?? null, timeoutMs: e.timeoutMs ?? null,
    attempt: e.attempt ?? null, attempts: e.attempts ?? null, text: recoveryText(e) };
}

/** The CLI's default sink: a line on stderr per step. */
export function printRecovery(e: RecoveryEvent): void {
  stderrLine(`usbms: ${recoveryText(e)}`);
}

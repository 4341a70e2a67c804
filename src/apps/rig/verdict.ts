/**
 * Step and device verdicts, and the exit status of a run: 0 when every device passed, else the worst device's
 * status, with sg3_utils' meanings (facts.md §2) where they apply: 14 miscompare (counterfeit capacity, data
 * that did not verify), 3 medium/hardware error, 35 transport error (a device vanished), 33 timeout, 2 not
 * ready, 7 data protect; 99 for a missed speed threshold (sg3_utils has no "too slow").
 */
import { scsi } from '../../api.js';
const { ExitStatus } = scsi;

/** One measured or observed value of a step (MB/s, a count, a verdict). */
export type Figure = number | string | boolean | null;
/** A step's figures by name. */
export type Figures = Record<string, Figure>;

export const EXIT = ExitStatus;

/**
 * A verdict: `pass`; `fail` (the device answered, and fell short: a threshold, a defect, a counterfeit capacity);
 * `error` (the step could not be carried out: timeout, vanished device, refused command); `skip` (not run).
 */
export type StepStatus = 'pass' | 'fail' | 'skip' | 'error';

/** First = worst: the order in which a device's step statuses and a rig's device statuses are weighed. */
const SEVERITY: readonly number[] = [
  EXIT.MISCOMPARE, EXIT.MEDIUM_HARD, EXIT.TRANSPORT_ERROR, EXIT.TIMEOUT, EXIT.DATA_PROTECT, EXIT.NOT_READY,
  EXIT.FILE_ERROR, EXIT.ILLEGAL_REQUEST, EXIT.ABORTED_COMMAND, EXIT.UNIT_ATTENTION, EXIT.MALFORMED, EXIT.SYNTAX_ERROR,
];

function rank(code: number): number {
  if (code === EXIT.OK) return Number.MAX_SAFE_INTEGER;
  const i = SEVERITY.indexOf(code);
  return i === -1 ? SEVERITY.length : i;
}

/** The worse of two exit statuses (0 is the best). */
export function worse(a: number, b: number): number {
  return rank(b) < rank(a) ? b : a;
}

export function worstOf(codes: Iterable<number>): number {
  let w: number = EXIT.OK;
  for (const c of codes) w = worse(w, c);
  return w;
}

/** A device's overall status from its steps: error beats fail beats pass; skips alone do not fail a device. */
export function deviceStatus(steps: readonly StepStatus[]): StepStatus {
  if (steps.includes('error')) return 'error';
  if (steps.includes('fail')) return 'fail';
  if (steps.includes('pass')) return 'pass';
  return 'skip';
}

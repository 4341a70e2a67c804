/**
 * The order of a rescue, as GNU ddrescue runs it (its manual, "Algorithm"), and where a mapfile's status line
 * says an interrupted one was:
 *
 * - copy, pass 1: the non-tried areas in large reads, skipping ahead past a failure (the skip doubles with each
 *   failure in a row, from 64 KiB up to 1% of the device or 1 GiB), failed reads marked non-trimmed;
 * - copy, pass 2: what pass 1 skipped, in the other direction, skipping too;
 * - copy, pass 3: whatever is left non-tried, in the first direction, without skipping;
 * - trim: each non-trimmed area read block by block from its leading edge until a block fails, then from its
 *   trailing edge back until one fails; the blocks that failed are bad, the rest of the area non-scraped;
 * - scrape: the non-scraped areas block by block;
 * - retry 1..N: the bad blocks again, one at a time, each pass in the other direction.
 *
 * `--reverse` swaps every direction.
 */
import type { MapfileState, MapPhase } from './mapfile.js';
import type { Direction, RescuePhase } from './events.js';

export interface Step {
  readonly phase: Exclude<RescuePhase, 'finished'>;
  /** 1-based within the phase (copy 1..3, retry 1..N; trim and scrape 1). */
  readonly pass: number;
  readonly direction: Direction;
  /** Copy passes 1 and 2 skip ahead after a failure. */
  readonly skip: boolean;
}

export const COPY_PASSES = 3;

/** The status line character ddrescue writes while in a phase. */
export const PHASE_CHAR: Readonly<Record<RescuePhase, MapPhase>> = {
  copy: '?', trim: '*', scrape: '/', retry: '-', finished: '+',
};

const flip = (d: Direction): Direction => (d === 'forward' ? 'reverse' : 'forward');

export function buildPlan(reverse: boolean, retries: number): Step[] {
  const first: Direction = reverse ? 'reverse' : 'forward';
  const steps: Step[] = [
    { phase: 'copy', pass: 1, direction: first, skip: true },
    { phase: 'copy', pass: 2, direction: flip(first), skip: true },
    { phase: 'copy', pass: 3, direction: first, skip: false },
    { phase: 'trim', pass: 1, direction: first, skip: false },
    { phase: 'scrape', pass: 1, direction: first, skip: false },
  ];
  for (let r = 1; r <= retries; r++) {
    steps.push({ phase: 'retry', pass: r, direction: r % 2 === 1 ? first : flip(first), skip: false });
  }
  return steps;
}

/**
 * Where to start: the step the status line names, with its position (an interrupted pass resumes where it
 * was, not from its start). A finished map, a fill/generate map or a new one starts at the beginning (a
 * finished map then only gets the retry passes, the other phases have nothing left to read).
 */
export function resumePoint(plan: readonly Step[], state: MapfileState | undefined)
  : { index: number; pos: bigint | undefined } {
  if (state === undefined) return { index: 0, pos: undefined };
  const s = state.currentStatus;
  if (s === '+' || s === 'F' || s === 'G') return { index: 0, pos: undefined };
  let index: number;
  if (s === '?') index = Math.min(Math.max(state.currentPass, 1), COPY_PASSES) - 1;
  else if (s === '*') index = COPY_PASSES;
  else if (s === '/') index = COPY_PASSES + 1;
  else index = COPY_PASSES + 1 + state.currentPass; // '-': retry pass N is step COPY_PASSES + 1 + N
  if (index >= plan.length) return { index: plan.length, pos: undefined };
  return { index, pos: state.currentPos };
}

export function stepMessage(step: Step | undefined): string {
  if (step === undefined) return 'Finished';
  const dir = step.direction === 'forward' ? '(forwards)' : '(backwards)';
  switch (step.phase) {
    case 'copy': return `Copying non-tried blocks... Pass ${step.pass} ${dir}`;
    case 'trim': return `Trimming failed blocks... ${dir}`;
    case 'scrape': return `Scraping failed blocks... ${dir}`;
    case 'retry': return `Retrying bad sectors... Retry ${step.pass} ${dir}`;
  }
}

/**
 * The two data pipes and who holds them. Without streams the data carries no tag, so each pipe moves one data phase
 * at a time: the command whose data phase holds it, those the device announced meanwhile (waiting, in the order
 * announced), and the recoveries that keep new data phases off it until they have flushed it. Here: starting a data
 * phase and its segments, handing the pipe to the next command, flushing it after an aborted one. What a READY or a
 * data completion means for the command is data-phase.ts's.
 */
import { logger } from '../util/log.js';
import { COMPLETION_GRACE_MS, type UasSlot } from './command.js';
import type { UasCore } from './core.js';

const log = logger('uas');


/** One data pipe: the command whose data phase holds it, announced ones waiting, and recoveries holding it. */
export interface DataPipe {
  readonly name: 'in' | 'out';
  active: UasSlot | undefined;
  readonly waiting: UasSlot[];
  /** Recoveries in progress that must finish (and flush the pipe) before another data phase starts. */
  blocked: number;
  /** A CLEAR_FEATURE(HALT) in progress on it. */
  clearing: Promise<void> | undefined;
  /** Called once no data phase holds the pipe. */
  readonly idleWaiters: (() => void)[];
}

export class DataPipes {
  readonly in: DataPipe = { name: 'in', active: undefined, waiting: [], blocked: 0, clearing: undefined, idleWaiters: [] };
  readonly out: DataPipe = { name: 'out', active: undefined, waiting: [], blocked: 0, clearing: undefined, idleWaiters: [] };
  private readonly graceTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly core: UasCore) {}

  /** Run `fn` after the completion grace; close() clears what is still waiting. */
  later(fn: () => void): void {
    const t = setTimeout(() => { this.graceTimers.delete(t); fn(); }, COMPLETION_GRACE_MS);
    this.graceTimers.add(t);
  }

  /** Drop every grace still waiting (the transport closes). */
  clearLater(): void {
    for (const t of this.graceTimers) clearTimeout(t);
    this.graceTimers.clear();
  }

  startData(pipe: DataPipe, s: UasSlot): void {
    pipe.active = s;
    s.state = 'data';
    s.segment = 0;
    s.arm(this.core.deviceBudget(s));
    this.submitSegment(s);
  }

  submitSegment(s: UasSlot): void {
    const seg = s.command?.segments[s.segment];
    if (seg === undefined) return;
    s.dataActive = true;
    s.dataXfer(s.direction === 'in' ? 'in' : 'out').submit(seg, s.seq);
  }

  /** `s` no longer holds `pipe`. */
  releasePipe(pipe: DataPipe, s: UasSlot): void {
    if (pipe.active !== s) return;
    pipe.active = undefined;
    for (const wake of pipe.idleWaiters.splice(0)) wake();
  }

  /** Resolves once no data phase holds `pipe` (recoveries block new ones meanwhile). */
  private whenIdle(pipe: DataPipe): Promise<void> {
    if (pipe.active === undefined) return Promise.resolve();
    return new Promise((resolve) => pipe.idleWaiters.push(resolve));
  }

  /** Start the next announced data phase, if the pipe is free. */
  kick(pipe: DataPipe): void {
    while (pipe.blocked === 0 && pipe.active === undefined) {
      const next = pipe.waiting.shift();
      if (next === undefined) return;
      if (next.state === 'waiting' && !next.finalSeen) this.startData(pipe, next);
    }
  }

  /** Take `s` off the waiting lists (its status came, or it is failing). */
  unwait(s: UasSlot): void {
    // Each pipe by name, not through an array of both: this runs once per command.
    dropWaiter(this.in, s);
    dropWaiter(this.out, s);
  }

  /**
   * After an aborted data phase: once no other data phase holds the pipe, CLEAR_FEATURE(HALT) resets the endpoint
   * (its data toggle, and whatever the device had queued there for the aborted task).
   */
  async flushPipe(pipe: DataPipe): Promise<void> {
    await this.whenIdle(pipe);
    await this.clearPipe(pipe).catch((e: unknown) => log('flush data-%s: %s', pipe.name, (e as Error).message));
  }

  /** CLEAR_FEATURE(HALT) on a data pipe, once however many ask at the same time. */
  clearPipe(pipe: DataPipe): Promise<void> {
    if (pipe.clearing === undefined) {
      this.core.report?.({ step: 'clear-halt', detail: `CLEAR_FEATURE(HALT) on the data-${pipe.name} pipe`, timeoutMs: this.core.timeouts.controlMs });
    }
    pipe.clearing ??= this.core.port.clearHalt(pipe.name).finally(() => { pipe.clearing = undefined; });
    return pipe.clearing;
  }
}

/** Take a command off a pipe's list of announced data phases waiting for it. */
function dropWaiter(pipe: DataPipe, s: UasSlot): void {
  const i = pipe.waiting.indexOf(s);
  if (i >= 0) pipe.waiting.splice(i, 1);
}

/**
 * One BOT command in flight, what scsa2usb_cmd_t is to scsa2usb: tag, expected length, bytes moved, the phase it
 * is in, stall, abort and timeout state, carried through CBW -> data -> CSW. One lives in each slot for the life
 * of the engine and is reset per command, so a command allocates no state object.
 *
 * The deadline: one timer, kept by the slot and re-armed per command, and no clock read at all on the way (in the lab guest every clock read is
 * a system call). The timer armed when the command starts fires after the CBW's budget; if the command has moved
 * on to a later phase by then, it re-arms once with that phase's budget, and so on. So a phase never times out
 * before its own budget is spent, and at most one CBW budget later than that; a healthy command never sees its
 * timer fire at all.
 */
import type { DataDirection } from '../transport/index.js';
import type { BotPhase } from './errors.js';
import { KeptTimer } from '../util/kept-timer.js';

export class BotCommand {
  tag = 0;
  /** dCBWDataTransferLength. */
  expected = 0;
  direction: DataDirection = 'none';
  /** Bytes the host moved in the data phase (counted here, never taken from the device). */
  transferred = 0;
  phase: BotPhase = 'cbw';
  /** The data phase ended in a STALL (cleared before the CSW). */
  dataStalled = false;
  /** abort() or close() cancelled it. */
  aborted = false;
  /** Its phase deadline passed: what is cancelled now fails as a timeout. */
  timedOut = false;
  /** The CSW read was queued behind the data (the engine then awaits that completion instead of reading). */
  cswQueued = false;
  /** Budget of the current phase (0 = none) and the phase the armed timer was armed for. */
  private budget = 0;
  private armedFor: BotPhase | undefined;

  /** The timeout of the phase the command is in, ms (0 = none): what a timed-out phase waited. */
  get phaseBudgetMs(): number { return this.budget; }

  /** `onExpire` cancels the command's transfers on the wire (the engine's). */
  constructor(private readonly onExpire: (cmd: BotCommand) => void) {}

  begin(tag: number, expected: number, direction: DataDirection, cbwMs: number): void {
    this.tag = tag;
    this.expected = expected;
    this.direction = direction;
    this.transferred = 0;
    this.dataStalled = false;
    this.aborted = false;
    this.timedOut = false;
    this.cswQueued = false;
    this.phase = 'cbw';
    this.budget = cbwMs;
    this.arm(cbwMs);
  }

  /** Enter `phase` with `ms` to complete it (0 = no limit). */
  enter(phase: BotPhase, ms: number): void {
    this.phase = phase;
    this.budget = ms;
    if (this.armedFor === undefined && !this.timedOut) this.arm(ms);
  }

  /** The command is over: its deadline no longer applies (the kept timer's next firing is ignored). */
  end(): void {
    this.armedFor = undefined;
    this.timer.disarm(); // an idle slot must not keep the process alive
  }

  /** The slot is freed: nothing of it stays scheduled. */
  dispose(): void {
    this.end();
    this.timer.dispose();
  }

  /** Arm the deadline (a KeptTimer: no timer object per command); a firing after the command ended is ignored. */
  private arm(ms: number): void {
    if (ms <= 0) return;
    this.armedFor = this.phase;
    this.timer.arm(ms);
  }

  private readonly fire = (): void => {
    const armedFor = this.armedFor;
    if (armedFor === undefined) return; // the command ended before its deadline: a stale firing
    this.armedFor = undefined;
    if (armedFor !== this.phase) {
      this.arm(this.budget); // the command moved on: the new phase gets its whole budget from now
      return;
    }
    this.timedOut = true;
    this.onExpire(this);
  };

  private readonly timer = new KeptTimer(this.fire);
}

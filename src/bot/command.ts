/**
 * One BOT command in flight, what scsa2usb_cmd_t is to scsa2usb: tag, expected length, bytes moved, the phase it
 * is in, stall, abort and timeout state, carried through CBW -> data -> CSW. One lives in each slot for the life
 * of the engine and is reset per command, so a command allocates no state object.
 *
 * The deadline: one timer per command, and no clock read at all on the way (in the lab guest every clock read is
 * a system call). The timer armed when the command starts fires after the CBW's budget; if the command has moved
 * on to a later phase by then, it re-arms once with that phase's budget, and so on. So a phase never times out
 * before its own budget is spent, and at most one CBW budget later than that; a healthy command never sees its
 * timer fire at all.
 */
import type { DataDirection } from './api.js';
import type { BotPhase } from './errors.js';

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
  private timer: NodeJS.Timeout | undefined;

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
    if (this.timer === undefined && !this.timedOut) this.arm(ms);
  }

  end(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }

  private arm(ms: number): void {
    if (ms <= 0) return;
    this.armedFor = this.phase;
    this.timer = setTimeout(this.fire, ms);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    if (this.armedFor !== this.phase) {
      this.arm(this.budget); // the command moved on: the new phase gets its whole budget from now
      return;
    }
    this.armedFor = undefined;
    this.timedOut = true;
    this.onExpire(this);
  };
}

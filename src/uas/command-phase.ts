/**
 * A command onto the wire: a tag, a status read posted first (as UAS asks), the COMMAND IU on the command pipe and
 * the command's deadline. A command issued while a reset runs, or after a recovery failed, waits for that reset (or
 * runs the port reset itself) first. Also what the COMMAND IU's completion means, and what a deadline that passes
 * does: the ladder from ABORT TASK.
 */
import { isUsbError } from '../usb/errors.js';
import { logger } from '../util/log.js';
import type { UasSlot } from './command.js';
import type { UasCore } from './core.js';
import { UasError, type UasPhase } from './errors.js';
import type { Failures } from './failure.js';
import { encodeCommandIu } from './iu.js';
import type { RecoveryLadder } from './ladder.js';
import type { Resets } from './resets.js';
import type { Xfer } from './xfer.js';

const log = logger('uas');

export class CommandPhase {
  constructor(private readonly core: UasCore, private readonly failures: Failures, private readonly resets: Resets,
    private readonly ladder: RecoveryLadder) {}

  /** Put the COMMAND IU on the wire (a status read is posted first, as UAS asks). */
  launch(s: UasSlot): void {
    const command = s.command;
    if (command === undefined) return;
    const tag = this.core.tags.take();
    if (tag === 0) { this.core.end(s, new UasError('busy', 'request', 'no free tag')); return; }
    s.tag = tag;
    this.core.owners[tag] = s;
    s.expecting = true;
    s.statusGeneration = this.core.status.generation;
    this.core.status.expect(1);
    encodeCommandIu(s.iu, tag, s.lun, command.cdb, command.cdbLength);
    s.arm(this.core.timeouts.commandMs);
    s.commandXfer.submit(s.iu, s.seq);
  }

  /** A reset is running, or the last recovery failed: the command waits for (or runs) it first. */
  async launchLater(s: UasSlot, seq: number): Promise<void> {
    for (let wait = this.resets.maintenance ?? this.ladder.quiet; wait !== undefined; wait = this.resets.maintenance ?? this.ladder.quiet) {
      await wait;
      if (s.seq !== seq || s.state !== 'command') return;
    }
    if (s.seq !== seq || s.state !== 'command') return;
    if (this.core.unrecovered) {
      log('device left unrecovered by an earlier failure: port reset before the next command');
      const ok = await this.resets.escalate(() => this.resets.portReset());
      if (s.seq !== seq || s.state !== 'command') return;
      if (!ok) {
        this.core.end(s, new UasError('transport', 'recovery',
          'the device did not recover from an earlier failure (the port reset failed); command not sent', { recovery: 'failed' }));
        return;
      }
    }
    const refused = this.core.refusal();
    if (refused !== undefined) { this.core.end(s, refused); return; }
    this.launch(s);
  }

  /** Completion of the COMMAND IU of `s` (the slot's command transfer calls this, made once per slot). */
  readonly onCommandSent = (s: UasSlot, x: Xfer): void => {
    if (x.seq !== s.seq || s.state !== 'command') return; // a status IU came first, or the command is failing
    const e = x.error;
    if (e === undefined) {
      s.state = 'waiting';
      s.arm(this.core.deviceBudget(s));
      return;
    }
    if (isUsbError(e, 'STALL')) {
      // The device refused the COMMAND IU: nothing of it runs there. Clear the halt, report it.
      void this.failures.giveUp(s, 'transport', 'command', 'the COMMAND IU was stalled', 'none', e, true);
      return;
    }
    this.failures.failFromUsb(s, 'command', e);
  };

  /** The deadline of the phase `s` is in passed (the slot's timer calls this). */
  readonly onExpire = (s: UasSlot): void => {
    if (s.state !== 'command' && s.state !== 'waiting' && s.state !== 'data') return;
    s.timedOut = true;
    const phase: UasPhase = s.state === 'command' ? 'command' : s.state === 'data' ? 'data' : 'status';
    log('tag %d: %s phase timed out', s.tag, phase);
    this.core.report?.({ step: 'timeout', detail: `the ${phase === 'command' ? 'COMMAND IU' : phase === 'data' ? 'data phase' : 'status IU'} ` +
      `of tag ${s.tag} had no answer within its deadline`, waitingFor: 'ABORT TASK of the tag', timeoutMs: this.core.timeouts.tmfMs });
    void this.failures.giveUp(s, 'timeout', phase, `no ${phase === 'command' ? 'COMMAND IU delivery' : phase === 'data' ? 'data' : 'status IU'} within the deadline`, 'ladder');
  };
}

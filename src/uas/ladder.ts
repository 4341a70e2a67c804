/**
 * The recovery ladder, a fixed order: ABORT TASK of the failed command's tag; when the device does not carry that
 * out, LOGICAL UNIT RESET of its LUN; when that fails too, a USB port reset (the rungs above ABORT TASK are
 * resets.ts's). reset('lun' | 'target') enters it at the LUN or target reset. Before such a reset goes out, the
 * commands it will end are taken off the wire and wait for its verdict, and new commands wait for it (quiet).
 */
import { TMF } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import type { UasSlot } from './command.js';
import type { GiveUp, UasCore } from './core.js';
import type { DataPipe, DataPipes } from './data-pipes.js';
import type { UasRecovery } from './errors.js';
import type { Resets } from './resets.js';
import type { TaskManagement } from './task-management.js';
import { describeOutcome, tmfDone } from './tmf.js';

const log = logger('uas');

export class RecoveryLadder {
  /** A LUN or target reset in progress: new commands wait for it (the device would end them with the old ones). */
  quiet: Promise<UasRecovery> | undefined;
  /** Verdicts of resets in progress, decided 'none' at once when the device goes or the transport closes. */
  private readonly verdicts = new Set<(r: UasRecovery) => void>();

  /** `giveUp`: failure.ts's, for the commands a reset will end. */
  constructor(private readonly core: UasCore, private readonly taskManagement: TaskManagement,
    private readonly pipes: DataPipes, private readonly resets: Resets, private readonly giveUp: GiveUp) {}

  /**
   * ABORT TASK, then LOGICAL UNIT RESET, then a port reset: the first rung the device carries out ends the
   * trouble. `pipe`: the data pipe the command held, flushed (CLEAR_FEATURE(HALT)) once the task is gone, so no
   * byte the device had queued for it is read as another command's.
   */
  async ladder(s: UasSlot, pipe: DataPipe | undefined): Promise<UasRecovery> {
    this.core.stats.abortTasks++;
    this.core.report?.({ step: 'abort-task', detail: `ABORT TASK of tag ${s.tag} (LUN ${s.lun})`, waitingFor: 'the device\'s RESPONSE IU',
      timeoutMs: this.core.timeouts.tmfMs });
    const abort = await this.taskManagement.tmf(TMF.ABORT_TASK, s.lun, s.tag);
    if (tmfDone(abort)) {
      log('tag %d: ABORT TASK done', s.tag);
      if (pipe !== undefined) await this.pipes.flushPipe(pipe);
      return 'abort-task';
    }
    if (s.collateral !== undefined) return s.collateral;
    if (this.core.goneError !== undefined || this.core.closing) return 'none';
    log('tag %d: ABORT TASK %s: LOGICAL UNIT RESET of LUN %d', s.tag, describeOutcome(abort), s.lun);
    const r = await this.resets.escalate(() => this.resetChain([s.lun], false, s));
    if (r === 'lun-reset' && pipe !== undefined) await this.pipes.flushPipe(pipe);
    return r;
  }

  /**
   * Reset `luns` (with `nexus`: the whole target by I_T NEXUS RESET where the device has it, else LUN by LUN), a
   * port reset when that fails. Before the task management function goes out, every command the reset will end is
   * taken off the wire (a data-out transfer left posted would hand its bytes to the device's next WRITE) and keeps
   * its tag until the reset is over; commands issued meanwhile wait for it.
   */
  async resetChain(luns: readonly number[], nexus: boolean, initiator?: UasSlot): Promise<UasRecovery> {
    if (initiator?.collateral !== undefined) return initiator.collateral;
    if (this.core.goneError !== undefined || this.core.closing) return 'none';
    let decide!: (r: UasRecovery) => void;
    const verdict = new Promise<UasRecovery>((resolve) => { decide = resolve; });
    this.verdicts.add(decide);
    this.quiet = verdict;
    const what = nexus ? 'a reset of the target' : `a reset of LUN ${luns.join(', ')}`;
    const victims = [...this.core.slots].filter((v) => v !== initiator && v.inFlight && v.tag !== 0 && v.state !== 'failing' && luns.includes(v.lun));
    for (const v of victims) {
      v.verdict = verdict;
      void this.giveUp(v, 'aborted', v.state === 'data' ? 'data' : v.state === 'command' ? 'command' : 'status', `ended by ${what}`, 'none');
    }
    let r: UasRecovery = 'failed';
    try {
      await Promise.all(victims.map((v) => v.settled()));
      r = await this.resetRungs(luns, nexus, initiator);
    } finally {
      this.verdicts.delete(decide);
      decide(r);
      if (this.quiet === verdict) this.quiet = undefined;
    }
    return r;
  }

  private async resetRungs(luns: readonly number[], nexus: boolean, initiator?: UasSlot): Promise<UasRecovery> {
    if (nexus && this.resets.nexusReset !== false && await this.resets.nexusResetTmf()) return 'nexus-reset';
    let all = true;
    for (const l of luns) {
      if (this.core.goneError !== undefined || this.core.closing) return 'none';
      if (!(await this.resets.lunReset(l, initiator))) { all = false; break; }
    }
    if (all) return 'lun-reset';
    if (initiator?.collateral !== undefined) return initiator.collateral;
    if (this.core.goneError !== undefined || this.core.closing) return 'none';
    log('LOGICAL UNIT RESET failed: port reset');
    return (await this.resets.portReset()) ? 'port-reset' : 'failed';
  }

  /** Decide every reset in progress (the device is gone or the transport closing: nothing more will run). */
  decideAll(r: UasRecovery): void {
    for (const decide of this.verdicts) decide(r);
    this.verdicts.clear();
  }
}

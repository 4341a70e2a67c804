/**
 * The rungs of the recovery ladder above ABORT TASK, each reaching further: LOGICAL UNIT RESET (every command of
 * one LUN), I_T NEXUS RESET (every command of the target, where the device implements it) and the USB port reset
 * (everything; the device comes back in its UAS setting). A reset that carries out also ends the tasks of commands
 * other than the one that asked for it: those are rejected 'aborted' with the rung that did (collateral). They
 * run one at a time (escalate). Which rung comes when is ladder.ts's.
 */
import { isUsbError, type UsbError } from '../usb/errors.js';
import { RESPONSE_CODE, TMF } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import type { UasSlot } from './command.js';
import type { GiveUp, UasCore } from './core.js';
import type { TaskManagement } from './task-management.js';
import { describeOutcome, tmfDone } from './tmf.js';

const log = logger('uas');

export class Resets {
  /** A port reset in progress: commands wait for it before going on the wire. */
  maintenance: Promise<boolean> | undefined;
  /** LOGICAL UNIT RESETs and port resets run one at a time. */
  private escalation: Promise<unknown> = Promise.resolve();
  /** Whether the device implements I_T NEXUS RESET (learnt from its first answer, or given). */
  nexusReset: boolean | undefined;

  /** `giveUp`: failure.ts's, for the commands a reset ends; `onGone`: the transport's, when the port reset finds no device. */
  constructor(private readonly core: UasCore, private readonly taskManagement: TaskManagement,
    private readonly giveUp: GiveUp, private readonly onGone: (e: UsbError) => void, itNexusReset: boolean | undefined) {
    if (itNexusReset === true) this.nexusReset = true;
  }

  /** Run `op` after every escalation before it (they change the whole device or LUN). */
  escalate<T>(op: () => Promise<T>): Promise<T> {
    const run = this.escalation.then(op, op);
    this.escalation = run.catch(() => undefined);
    return run;
  }

  /** LOGICAL UNIT RESET of `lun`: every other command of the LUN ends 'aborted'. */
  async lunReset(lun: number, initiator?: UasSlot): Promise<boolean> {
    this.core.stats.lunResets++;
    this.core.report?.({ step: 'lun-reset', detail: `LOGICAL UNIT RESET of LUN ${lun}${initiator === undefined ? '' : ` (ABORT TASK of tag ${initiator.tag} did not end it)`}`,
      waitingFor: 'the device\'s RESPONSE IU', timeoutMs: this.core.timeouts.tmfMs });
    const o = await this.taskManagement.tmf(TMF.LOGICAL_UNIT_RESET, lun, 0);
    if (!tmfDone(o)) {
      log('LOGICAL UNIT RESET of LUN %d: %s', lun, describeOutcome(o));
      return false;
    }
    for (const s of this.core.slots) if (s !== initiator && s.lun === lun && s.tag !== 0) this.collateral(s, 'lun-reset');
    return true;
  }

  /** I_T NEXUS RESET; false when the device refused or does not implement it. */
  async nexusResetTmf(): Promise<boolean> {
    this.core.stats.nexusResets++;
    this.core.report?.({ step: 'nexus-reset', detail: 'I_T NEXUS RESET of the target', waitingFor: 'the device\'s RESPONSE IU',
      timeoutMs: this.core.timeouts.tmfMs });
    const o = await this.taskManagement.tmf(TMF.I_T_NEXUS_RESET, 0, 0);
    if (o.kind === 'response' && (o.code === RESPONSE_CODE.TMF_NOT_SUPPORTED)) this.nexusReset = false;
    if (!tmfDone(o)) {
      log('I_T NEXUS RESET: %s', describeOutcome(o));
      return false;
    }
    this.nexusReset = true;
    for (const s of this.core.slots) if (s.tag !== 0) this.collateral(s, 'nexus-reset');
    return true;
  }

  /** A reset of the device or LUN ended `s`'s task: reject it 'aborted' (unless its own failure is in progress). */
  private collateral(s: UasSlot, rung: 'lun-reset' | 'nexus-reset' | 'port-reset'): void {
    if (!s.inFlight) return;
    s.collateral = rung;
    if (s.state === 'failing') return; // its own giveUp sees `collateral` and stops its ladder there
    void this.giveUp(s, 'aborted', s.state === 'data' ? 'data' : 'status', `ended by a ${rung.replace('-', ' ')}`, 'none');
  }

  /**
   * USB port reset: every command ends 'aborted', the device comes back in its UAS setting (the port restores it),
   * and the transport starts again. Resolves false when the reset failed (the device is then unrecovered).
   */
  portReset(): Promise<boolean> {
    if (this.maintenance !== undefined) return this.maintenance;
    const run = this.runPortReset();
    this.maintenance = run;
    void run.finally(() => { if (this.maintenance === run) this.maintenance = undefined; });
    return run;
  }

  private async runPortReset(): Promise<boolean> {
    const core = this.core;
    core.stats.portResets++;
    log('port reset');
    core.report?.({ step: 'port-reset', detail: 'USB port reset (every command in flight ends)', waitingFor: 'the device to re-enumerate' });
    for (const s of core.slots) if (s.tag !== 0) this.collateral(s, 'port-reset');
    for (const t of this.taskManagement.tmfSlots) { t.xfer.cancel(); t.end({ kind: 'ended', why: 'reset' }); }
    await core.status.stop();
    await Promise.all([...core.slots].map((s) => s.settled()));
    await Promise.all(this.taskManagement.tmfSlots.map((t) => t.xfer.settled));
    let ok = false;
    try {
      await core.port.resetDevice();
      ok = true;
    } catch (e) {
      if (isUsbError(e, 'NO_DEVICE')) this.onGone(e);
      log('port reset failed: %s', (e as Error).message);
    }
    core.unrecovered = !ok;
    core.status.restart();
    return ok;
  }
}

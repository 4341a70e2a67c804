/**
 * USB Attached SCSI at high speed, without streams (node-usb 2 has none): the {@link Transport} that keeps up to
 * `queueDepth` tagged commands in flight on one UAS interface.
 *
 * Per command: post a status read, send the COMMAND IU on the command pipe; the device names the tag whose data
 * phase may start with READ READY or WRITE READY on the status pipe (in any order it likes; at most one data phase
 * per data pipe at a time, since without streams the data itself carries no tag); the data moves on the data-in or
 * data-out pipe, segment after segment; a SENSE IU (status and sense data) or a RESPONSE IU ends the command.
 *
 * Recovery, a fixed ladder: a command that fails in a way that may leave its task on the device (no status in
 * time, a protocol violation, babble, abort()) is ended with ABORT TASK; when the device does not carry that out,
 * LOGICAL UNIT RESET (every command of the LUN ends 'aborted'); when that fails too, a USB port reset (every
 * command ends 'aborted'); when even that fails the device is unrecovered and the next command tries a port reset
 * first. A stall on a pipe is cleared where it happened. A disconnect ends everything 'device-gone' at once.
 *
 * Per command nothing is allocated but the promise execute returns: IU buffers, transfers, timers belong to the
 * slot, status reads to a pool, and data moves straight between the device and the caller's segments.
 *
 * This file is the transport's face (execute, abort, reset, close, a disconnect) and wires its parts, each with one
 * job: core.ts (shared state, a command's end), command-phase.ts (the COMMAND IU, deadlines), status-dispatch.ts
 * (IUs on the status pipe), data-phase.ts (READY, segments), data-pipes.ts (who holds a data pipe, flushing it),
 * failure.ts (a failed command), ladder.ts and resets.ts (the recovery ladder), task-management.ts (TMFs).
 */
import type {
  ResetLevel, Transport, TransportCommand, TransportResult, TransportSlot,
} from '../transport/index.js';
import { isUsbError, type UsbError } from '../usb/errors.js';
import type { UsbPort } from '../usb/port.js';
import { logger } from '../util/log.js';
import { asError, UsbmsArgumentError } from '../util/errors.js';
import { UasSlot } from './command.js';
import { CommandPhase } from './command-phase.js';
import { UasCore, type GiveUp, type UasStats } from './core.js';
import { DataPhase } from './data-phase.js';
import { DataPipes } from './data-pipes.js';
import { UasError } from './errors.js';
import { Failures } from './failure.js';
import { RecoveryLadder } from './ladder.js';
import {
  checkQueueDepth, checkUasMaxTransfer, commandLength, commandProblem, effectiveUasTimeouts, type UasOptions, type UasTimeouts,
} from './options.js';
import { Resets } from './resets.js';
import { StatusDispatch } from './status-dispatch.js';
import { TaskManagement } from './task-management.js';

export type { UasStats } from './core.js';

const log = logger('uas');

export class UasTransport implements Transport {
  readonly protocol = 'uas' as const;
  readonly carriesSense = true;
  readonly maxPacketSize: number;
  readonly maxTransferBytes: number;
  readonly queueDepth: number;
  readonly timeouts: Readonly<UasTimeouts>;
  readonly stats: UasStats;
  private lunCount = 1;
  private readonly core: UasCore;
  private readonly pipes: DataPipes;
  private readonly taskManagement: TaskManagement;
  private readonly resets: Resets;
  private readonly ladder: RecoveryLadder;
  private readonly failures: Failures;
  private readonly dataPhase: DataPhase;
  private readonly commandPhase: CommandPhase;
  private readonly dispatch: StatusDispatch;
  private closed: Promise<void> | undefined;
  private readonly unsubscribe: () => void;

  constructor(readonly port: UsbPort, opts: UasOptions = {}) {
    this.timeouts = effectiveUasTimeouts(opts);
    this.queueDepth = checkQueueDepth(opts.queueDepth);
    this.maxTransferBytes = checkUasMaxTransfer(opts.maxTransferBytes);
    this.maxPacketSize = port.info.maxPacketSize.in;
    const core = new UasCore(port, this.timeouts, opts.onRecovery, {
      iu: (buf, n) => this.dispatch.onStatusIu(buf, n),
      failed: (e) => this.dispatch.onStatusFailure(e),
      wedged: (e) => this.dispatch.onStatusWedged(e),
    });
    this.core = core;
    this.stats = core.stats;
    this.pipes = new DataPipes(core);
    this.taskManagement = new TaskManagement(core);
    // The failure path climbs to the resets, and the resets end other commands through the failure path: the parts
    // below failure.ts reach it through this one function.
    const giveUp: GiveUp = (s, kind, phase, message, recover, cause, clearCommandPipe) =>
      this.failures.giveUp(s, kind, phase, message, recover, cause, clearCommandPipe);
    const onGone = (e: UsbError): void => this.onGone(e);
    this.resets = new Resets(core, this.taskManagement, giveUp, onGone, opts.itNexusReset);
    this.ladder = new RecoveryLadder(core, this.taskManagement, this.pipes, this.resets, giveUp);
    this.failures = new Failures(core, this.pipes, this.ladder);
    this.dataPhase = new DataPhase(core, this.pipes, this.failures);
    this.commandPhase = new CommandPhase(core, this.failures, this.resets, this.ladder);
    this.dispatch = new StatusDispatch(core, this.pipes, this.dataPhase, this.failures, this.taskManagement, this.resets, onGone);
    this.unsubscribe = port.onDisconnect(onGone);
  }

  /** Highest LUN (from REPORT LUNS at open; 0 when the device would not say). */
  get maxLun(): number { return this.lunCount - 1; }

  /** Set by the LUN scan at open (lun-scan.ts). */
  setLunCount(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new UsbmsArgumentError(`LUN count ${n}`);
    this.lunCount = n;
  }

  /** Commands on the wire now. */
  get commandsInFlight(): number { return this.core.inFlight; }

  // ------------------------------------------------------------------ slots

  allocSlot(maxSegments: number): TransportSlot {
    if (!Number.isInteger(maxSegments) || maxSegments < 1) throw new UsbmsArgumentError(`maxSegments ${maxSegments} < 1`);
    const s = new UasSlot(this, this.port, maxSegments, this.commandPhase.onCommandSent, this.dataPhase.onData, this.commandPhase.onExpire);
    this.core.slots.add(s);
    return s;
  }

  freeSlot(slot: TransportSlot): void {
    const s = this.ownSlot(slot);
    if (s.inFlight) throw new UasError('busy', 'request', 'slot freed while its command runs');
    s.freed = true;
    s.dispose();
    this.core.slots.delete(s);
  }

  // ------------------------------------------------------------------ execute

  execute(slot: TransportSlot, command: TransportCommand): Promise<TransportResult> {
    const core = this.core;
    let s: UasSlot;
    try {
      const refused = core.refusal();
      if (refused !== undefined) throw refused;
      s = this.ownSlot(slot);
      const problem = commandProblem(command, s.maxSegments, this.maxLun, this.maxTransferBytes, this.maxPacketSize);
      if (problem !== undefined) throw new UasError('transport', 'request', `invalid command: ${problem}`);
      if (s.inFlight) throw new UasError('busy', 'request', 'the slot already has a command in flight');
      if (core.inFlight >= this.queueDepth) {
        throw new UasError('busy', 'request', `${core.inFlight} commands in flight: the queue depth is ${this.queueDepth}`);
      }
    } catch (e) {
      return Promise.reject(asError(e));
    }
    core.inFlight++;
    this.stats.commands++;
    if (core.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = core.inFlight;
    const done = s.begin(command, commandLength(command));
    if (this.resets.maintenance === undefined && this.ladder.quiet === undefined && !core.unrecovered) this.commandPhase.launch(s);
    else void this.commandPhase.launchLater(s, s.seq);
    return done;
  }

  // ------------------------------------------------------------------ abort, reset, close, gone

  async abort(slot: TransportSlot): Promise<void> {
    if (!(slot instanceof UasSlot) || slot.owner !== this || !slot.inFlight) return;
    const s = slot;
    s.aborted = true;
    if (s.state === 'failing') { await s.givingUp; return; }
    if (s.tag === 0) { this.core.end(s, new UasError('aborted', 'request', 'command aborted before it was sent')); return; }
    await this.failures.giveUp(s, 'aborted', s.state === 'data' ? 'data' : s.state === 'command' ? 'command' : 'status',
      'command aborted', 'ladder');
  }

  async reset(level: ResetLevel, lun?: number): Promise<void> {
    const refused = this.core.refusal();
    if (refused !== undefined) throw refused;
    if (level === 'bus') {
      if (!(await this.resets.escalate(() => this.resets.portReset()))) throw this.resetFailed('port reset failed');
      return;
    }
    const luns = level === 'lun' && lun !== undefined ? [lun] : Array.from({ length: this.lunCount }, (_, i) => i);
    const r = await this.resets.escalate(() => this.ladder.resetChain(luns, level === 'target'));
    if (this.core.goneError !== undefined) throw this.core.goneRefusal();
    if (r === 'failed') throw this.resetFailed(`${level === 'target' ? 'target' : 'LOGICAL UNIT'} reset and port reset failed`);
    if (r === 'none') throw new UasError('aborted', 'recovery', 'transport closed during the reset');
  }

  private resetFailed(message: string): UasError {
    if (this.core.goneError !== undefined) return this.core.goneRefusal();
    return new UasError('transport', 'recovery', message, { recovery: 'failed' });
  }

  async close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    const core = this.core;
    core.closing = true;
    this.ladder.decideAll('none');
    this.pipes.clearLater();
    for (const s of core.slots) {
      if (!s.inFlight) continue;
      s.cancelTransfers();
      core.end(s, new UasError('aborted', 'request', 'transport closed', { tag: s.tag, transferred: s.transferred }));
    }
    for (const t of this.taskManagement.tmfSlots) { t.xfer.cancel(); t.end({ kind: 'ended', why: 'closed' }); }
    await core.status.stop();
    this.unsubscribe();
    try {
      await this.port.close();
    } catch (e) {
      if (!isUsbError(e, 'NO_DEVICE') && !isUsbError(e, 'CLOSED')) log('close port: %s', (e as Error).message);
    }
    for (const s of core.slots) s.dispose();
  }

  private onGone(e: UsbError): void {
    const core = this.core;
    if (core.goneError !== undefined) return;
    core.goneError = e;
    log('device disconnected: %s', e.message);
    this.ladder.decideAll('none');
    for (const s of core.slots) {
      if (!s.inFlight) continue;
      s.cancelTransfers();
      core.end(s, new UasError('device-gone', s.state === 'data' ? 'data' : 'status', 'device disconnected',
        { cause: e, tag: s.tag, transferred: s.transferred }));
    }
    for (const t of this.taskManagement.tmfSlots) t.end({ kind: 'ended', why: 'gone' });
    void core.status.stop();
  }

  private ownSlot(slot: TransportSlot): UasSlot {
    if (!(slot instanceof UasSlot) || slot.owner !== this) {
      throw new UasError('transport', 'request', 'slot was not allocated by this transport');
    }
    if (slot.freed) throw new UasError('transport', 'request', 'slot was freed');
    return slot;
  }
}

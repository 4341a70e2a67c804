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
 */
import type {
  ResetLevel, Transport, TransportCommand, TransportResult, TransportSlot,
} from '../transport/index.js';
import { isUsbError, type UsbError } from '../usb/errors.js';
import type { UsbPort } from '../usb/port.js';
import { IU_ID, RESPONSE_CODE, TMF } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import { asError, UsbmsArgumentError } from '../util/errors.js';
import type { RecoverySink } from '../util/recovery.js';
import { UasSlot } from './command.js';
import { UasError, type UasErrorKind, type UasPhase, type UasRecovery } from './errors.js';
import {
  encodeCommandIu, encodeTmfIu, IU_HEADER_LENGTH, iuId, iuTag, RESPONSE_IU_LENGTH, responseCode, SENSE_IU_HEADER, senseLengthField,
  senseStatus,
} from './iu.js';
import {
  checkQueueDepth, checkUasMaxTransfer, commandLength, commandProblem, effectiveUasTimeouts, TAG_SPACE,
  type UasOptions, type UasTimeouts,
} from './options.js';
import { StatusPipe } from './status.js';
import { TagPool } from './tags.js';
import { describeOutcome, tmfDone, tmfName, TmfSlot, type TmfOutcome } from './tmf.js';
import type { Xfer } from './xfer.js';

const log = logger('uas');

/** Task management functions that may be in flight at once (their tags are kept free of commands). */
const TMF_SLOTS = TAG_SPACE - 30;
/**
 * How long a completion on one pipe may trail one on another that the device sent after it: libusb hands
 * completions to node in batches, and the data transfer of a command may come in the batch after its status IU.
 * Only a device that ends a data phase without a short packet ever waits this long.
 */
const COMPLETION_GRACE_MS = 5;

/** One data pipe: the command whose data phase holds it, announced ones waiting, and recoveries holding it. */
interface DataPipe {
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

/** What the transport counts, for logs, tests and the soak. */
export interface UasStats {
  commands: number;
  maxInFlight: number;
  unknownTagIus: number;
  protocolErrors: number;
  abortTasks: number;
  lunResets: number;
  nexusResets: number;
  portResets: number;
}

/** What the transport does with a failed command besides rejecting it. */
type Recover = 'ladder' | 'none';

export class UasTransport implements Transport {
  readonly protocol = 'uas' as const;
  readonly carriesSense = true;
  readonly maxPacketSize: number;
  readonly maxTransferBytes: number;
  readonly queueDepth: number;
  readonly timeouts: Readonly<UasTimeouts>;
  readonly stats: UasStats = {
    commands: 0, maxInFlight: 0, unknownTagIus: 0, protocolErrors: 0, abortTasks: 0, lunResets: 0, nexusResets: 0,
    portResets: 0,
  };
  private lunCount = 1;
  private readonly tags = new TagPool(TAG_SPACE);
  private readonly owners: (UasSlot | TmfSlot | undefined)[] = new Array<UasSlot | TmfSlot | undefined>(TAG_SPACE + 1).fill(undefined);
  private readonly slots = new Set<UasSlot>();
  private inFlight = 0;
  private readonly status: StatusPipe;
  private readonly pipes: { in: DataPipe; out: DataPipe };
  private readonly tmfSlots: TmfSlot[];
  private readonly tmfWaiters: (() => void)[] = [];
  private commandPipeClearing: Promise<void> | undefined;
  private goneError: UsbError | undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  /** The last recovery failed: the device is in an unknown state until a port reset brings it back. */
  private unrecovered = false;
  /** A port reset in progress: commands wait for it before going on the wire. */
  private maintenance: Promise<boolean> | undefined;
  /** A LUN or target reset in progress: new commands wait for it (the device would end them with the old ones). */
  private quiet: Promise<UasRecovery> | undefined;
  /** Verdicts of resets in progress, decided 'none' at once when the device goes or the transport closes. */
  private readonly verdicts = new Set<(r: UasRecovery) => void>();
  /** LOGICAL UNIT RESETs and port resets run one at a time. */
  private escalation: Promise<unknown> = Promise.resolve();
  /** Whether the device implements I_T NEXUS RESET (learnt from its first answer, or given). */
  private nexusReset: boolean | undefined;
  private readonly unsubscribe: () => void;
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  /** UasOptions.onRecovery: told of each recovery step. */
  private readonly report: RecoverySink | undefined;

  constructor(readonly port: UsbPort, opts: UasOptions = {}) {
    this.timeouts = effectiveUasTimeouts(opts);
    this.queueDepth = checkQueueDepth(opts.queueDepth);
    this.maxTransferBytes = checkUasMaxTransfer(opts.maxTransferBytes);
    this.maxPacketSize = port.info.maxPacketSize.in;
    if (opts.itNexusReset === true) this.nexusReset = true;
    this.report = opts.onRecovery;
    this.status = new StatusPipe(port, TAG_SPACE + 2, {
      iu: (buf, n) => this.onStatusIu(buf, n),
      failed: (e) => this.onStatusFailure(e),
      wedged: (e) => this.onStatusWedged(e),
    });
    this.pipes = {
      in: { name: 'in', active: undefined, waiting: [], blocked: 0, clearing: undefined, idleWaiters: [] },
      out: { name: 'out', active: undefined, waiting: [], blocked: 0, clearing: undefined, idleWaiters: [] },
    };
    this.tmfSlots = Array.from({ length: TMF_SLOTS }, () => new TmfSlot(port, this.onTmfSent));
    this.unsubscribe = port.onDisconnect((e) => this.onGone(e));
  }

  /** Highest LUN (from REPORT LUNS at open; 0 when the device would not say). */
  get maxLun(): number { return this.lunCount - 1; }

  /** Set by the LUN scan at open (lun-scan.ts). */
  setLunCount(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new UsbmsArgumentError(`LUN count ${n}`);
    this.lunCount = n;
  }

  /** Commands on the wire now. */
  get commandsInFlight(): number { return this.inFlight; }

  // ------------------------------------------------------------------ slots

  allocSlot(maxSegments: number): TransportSlot {
    if (!Number.isInteger(maxSegments) || maxSegments < 1) throw new UsbmsArgumentError(`maxSegments ${maxSegments} < 1`);
    const s = new UasSlot(this, this.port, maxSegments, this.onCommandSent, this.onData, this.onExpire);
    this.slots.add(s);
    return s;
  }

  freeSlot(slot: TransportSlot): void {
    const s = this.ownSlot(slot);
    if (s.inFlight) throw new UasError('busy', 'request', 'slot freed while its command runs');
    s.freed = true;
    s.dispose();
    this.slots.delete(s);
  }

  // ------------------------------------------------------------------ execute

  execute(slot: TransportSlot, command: TransportCommand): Promise<TransportResult> {
    let s: UasSlot;
    try {
      const refused = this.refusal();
      if (refused !== undefined) throw refused;
      s = this.ownSlot(slot);
      const problem = commandProblem(command, s.maxSegments, this.maxLun, this.maxTransferBytes, this.maxPacketSize);
      if (problem !== undefined) throw new UasError('transport', 'request', `invalid command: ${problem}`);
      if (s.inFlight) throw new UasError('busy', 'request', 'the slot already has a command in flight');
      if (this.inFlight >= this.queueDepth) {
        throw new UasError('busy', 'request', `${this.inFlight} commands in flight: the queue depth is ${this.queueDepth}`);
      }
    } catch (e) {
      return Promise.reject(asError(e));
    }
    this.inFlight++;
    this.stats.commands++;
    if (this.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = this.inFlight;
    const done = s.begin(command, commandLength(command));
    if (this.maintenance === undefined && this.quiet === undefined && !this.unrecovered) this.launch(s);
    else void this.launchLater(s, s.seq);
    return done;
  }

  /** Put the COMMAND IU on the wire (a status read is posted first, as UAS asks). */
  private launch(s: UasSlot): void {
    const command = s.command;
    if (command === undefined) return;
    const tag = this.tags.take();
    if (tag === 0) { this.end(s, new UasError('busy', 'request', 'no free tag')); return; }
    s.tag = tag;
    this.owners[tag] = s;
    s.expecting = true;
    s.statusGeneration = this.status.generation;
    this.status.expect(1);
    encodeCommandIu(s.iu, tag, s.lun, command.cdb, command.cdbLength);
    s.arm(this.timeouts.commandMs);
    s.commandXfer.submit(s.iu, s.seq);
  }

  /** A reset is running, or the last recovery failed: the command waits for (or runs) it first. */
  private async launchLater(s: UasSlot, seq: number): Promise<void> {
    for (let wait = this.maintenance ?? this.quiet; wait !== undefined; wait = this.maintenance ?? this.quiet) {
      await wait;
      if (s.seq !== seq || s.state !== 'command') return;
    }
    if (s.seq !== seq || s.state !== 'command') return;
    if (this.unrecovered) {
      log('device left unrecovered by an earlier failure: port reset before the next command');
      const ok = await this.escalate(() => this.portReset());
      if (s.seq !== seq || s.state !== 'command') return;
      if (!ok) {
        this.end(s, new UasError('transport', 'recovery',
          'the device did not recover from an earlier failure (the port reset failed); command not sent', { recovery: 'failed' }));
        return;
      }
    }
    const refused = this.refusal();
    if (refused !== undefined) { this.end(s, refused); return; }
    this.launch(s);
  }

  private readonly onCommandSent = (s: UasSlot, x: Xfer): void => {
    if (x.seq !== s.seq || s.state !== 'command') return; // a status IU came first, or the command is failing
    const e = x.error;
    if (e === undefined) {
      s.state = 'waiting';
      s.arm(this.deviceBudget(s));
      return;
    }
    if (isUsbError(e, 'STALL')) {
      // The device refused the COMMAND IU: nothing of it runs there. Clear the halt, report it.
      void this.giveUp(s, 'transport', 'command', 'the COMMAND IU was stalled', 'none', e, true);
      return;
    }
    this.failFromUsb(s, 'command', e);
  };

  /** Deadline of the device's part: the command's own data timeout, else the default. */
  private deviceBudget(s: UasSlot): number {
    const t = s.command?.dataTimeoutMs ?? 0;
    return t > 0 ? t : this.timeouts.dataMs;
  }

  private statusBudget(s: UasSlot): number {
    return Math.max(this.timeouts.statusMs, s.command?.dataTimeoutMs ?? 0);
  }

  private readonly onExpire = (s: UasSlot): void => {
    if (s.state !== 'command' && s.state !== 'waiting' && s.state !== 'data') return;
    s.timedOut = true;
    const phase: UasPhase = s.state === 'command' ? 'command' : s.state === 'data' ? 'data' : 'status';
    log('tag %d: %s phase timed out', s.tag, phase);
    this.report?.({ step: 'timeout', detail: `the ${phase === 'command' ? 'COMMAND IU' : phase === 'data' ? 'data phase' : 'status IU'} ` +
      `of tag ${s.tag} had no answer within its deadline`, waitingFor: 'ABORT TASK of the tag', timeoutMs: this.timeouts.tmfMs });
    void this.giveUp(s, 'timeout', phase, `no ${phase === 'command' ? 'COMMAND IU delivery' : phase === 'data' ? 'data' : 'status IU'} within the deadline`, 'ladder');
  };

  // ------------------------------------------------------------------ the status pipe

  private onStatusIu(buf: Buffer, n: number): void {
    if (n < IU_HEADER_LENGTH) {
      this.stats.protocolErrors++;
      log('a %d-byte transfer on the status pipe is no IU: ignored', n);
      return;
    }
    const id = iuId(buf);
    const tag = iuTag(buf);
    const owner = tag <= TAG_SPACE ? this.owners[tag] : undefined;
    if (owner === undefined) {
      // Linux's uas logs and drops these ("no pending cmd"): a tag nothing of ours holds says nothing about ours.
      this.stats.unknownTagIus++;
      log('IU 0x%s for tag %d, which no command or task management function holds: ignored', id.toString(16), tag);
      return;
    }
    if (owner instanceof TmfSlot) { this.onTmfIu(owner, id, buf, n); return; }
    const s = owner;
    if (s.state === 'failing' || s.state === 'done' || s.state === 'idle') return;
    switch (id) {
      case IU_ID.READ_READY: this.onReady(s, 'in'); return;
      case IU_ID.WRITE_READY: this.onReady(s, 'out'); return;
      case IU_ID.SENSE: this.onSense(s, buf, n); return;
      case IU_ID.RESPONSE: this.onCommandResponse(s, buf, n); return;
      default:
        this.protocolError(s, 'status', `unknown IU 0x${id.toString(16)} for the tag`);
    }
  }

  private onSense(s: UasSlot, buf: Buffer, n: number): void {
    if (n < SENSE_IU_HEADER) { this.protocolError(s, 'status', `a SENSE IU of ${n} bytes (at least 16)`); return; }
    this.consumeExpectation(s);
    const command = s.command;
    const status = senseStatus(buf);
    const declared = senseLengthField(buf);
    const arrived = n - SENSE_IU_HEADER;
    // Sense is what the IU's length field claims, and only when all of it arrived: bytes past the field are padding,
    // and a SENSE IU cut short of its own field carries no sense that can be trusted (the status still stands, so a
    // CHECK CONDITION without sense is a failure the disk driver retries, never a verdict).
    const complete = declared <= arrived;
    if (!complete) log('tag %d: SENSE IU says %d bytes of sense, %d arrived: sense not trusted', s.tag, declared, arrived);
    const keep = command === undefined || !complete ? 0 : Math.min(declared, command.sense.length);
    if (command !== undefined && keep > 0) buf.copy(command.sense, 0, SENSE_IU_HEADER, SENSE_IU_HEADER + keep);
    s.status = status;
    s.senseLength = keep;
    this.onFinal(s);
  }

  private onCommandResponse(s: UasSlot, buf: Buffer, n: number): void {
    if (n < RESPONSE_IU_LENGTH) { this.protocolError(s, 'status', `a RESPONSE IU of ${n} bytes (8)`); return; }
    this.consumeExpectation(s);
    s.finalSeen = true;
    const code = responseCode(buf);
    const hex = `0x${code.toString(16).padStart(2, '0')}`;
    if (code === RESPONSE_CODE.OVERLAPPED_TAG) {
      // The device holds a task with this tag that we do not: ABORT TASK clears it (SAM: an overlapped tag).
      this.stats.protocolErrors++;
      void this.giveUp(s, 'protocol', 'status', `the device refused the command: tag ${s.tag} overlaps a task it holds (RESPONSE ${hex})`, 'ladder');
      return;
    }
    // INVALID IU, INCORRECT LUN: refused, nothing of the command runs on the device.
    const why = code === RESPONSE_CODE.INCORRECT_LUN ? `LUN ${s.lun} does not exist` : code === RESPONSE_CODE.INVALID_IU
      ? 'the COMMAND IU is invalid' : 'an unexpected response code';
    this.stats.protocolErrors++;
    void this.giveUp(s, 'protocol', 'status', `the device refused the command: ${why} (RESPONSE ${hex})`, 'none');
  }

  /** The command's status IU arrived: it completes once its data transfer (if any) is back. */
  private onFinal(s: UasSlot): void {
    s.finalSeen = true;
    this.unwait(s);
    if (!s.dataActive) { this.complete(s); return; }
    // The device has ended the command, so the data it sent is all there is. Its last packets may still be on
    // their way to us (a completion on another pipe): a moment for them, then the transfer is taken back.
    const seq = s.seq;
    this.later(() => {
      if (s.seq === seq && s.dataActive && s.state === 'data') s.dataXfer(s.direction === 'in' ? 'in' : 'out').cancel();
    });
  }

  /** Run `fn` after the completion grace; close() clears what is still waiting. */
  private later(fn: () => void): void {
    const t = setTimeout(() => { this.graceTimers.delete(t); fn(); }, COMPLETION_GRACE_MS);
    this.graceTimers.add(t);
  }

  private onReady(s: UasSlot, dir: 'in' | 'out'): void {
    if (s.finalSeen || s.dataStarted || dir !== s.direction || s.expected === 0) {
      const what = dir === 'in' ? 'READ READY' : 'WRITE READY';
      const why = s.dataStarted ? 'a second time' : s.expected === 0 ? 'for a command without data'
        : s.finalSeen ? 'after its status' : `for a data-${s.direction} command`;
      this.protocolError(s, 'data', `${what} ${why}`);
      return;
    }
    s.dataStarted = true;
    if (s.state === 'command') s.state = 'waiting'; // the IU is on the device even if its completion is not here yet
    const pipe = this.pipes[dir];
    if (pipe.blocked > 0 || pipe.active !== undefined || pipe.waiting.length > 0) {
      pipe.waiting.push(s);
      if (pipe.active !== undefined && pipe.blocked === 0) this.later(() => this.checkOverlap(pipe, s));
      return;
    }
    this.startData(pipe, s);
  }

  /**
   * A second data phase was announced on a pipe whose first is still moving. Without streams the data carries no
   * tag, so neither command's data can be told apart any more: both fail and are aborted.
   */
  private checkOverlap(pipe: DataPipe, s: UasSlot): void {
    const a = pipe.active;
    if (a === undefined || pipe.blocked > 0 || !pipe.waiting.includes(s) || s.state === 'failing') return;
    const msg = `tag ${s.tag}'s data phase was announced while tag ${a.tag}'s was still moving on the data-${pipe.name} pipe`;
    this.stats.protocolErrors++;
    void this.giveUp(a, 'protocol', 'data', msg, 'ladder');
    void this.giveUp(s, 'protocol', 'data', msg, 'ladder');
  }

  private startData(pipe: DataPipe, s: UasSlot): void {
    pipe.active = s;
    s.state = 'data';
    s.segment = 0;
    s.arm(this.deviceBudget(s));
    this.submitSegment(s);
  }

  private submitSegment(s: UasSlot): void {
    const seg = s.command?.segments[s.segment];
    if (seg === undefined) return;
    s.dataActive = true;
    s.dataXfer(s.direction === 'in' ? 'in' : 'out').submit(seg, s.seq);
  }

  private readonly onData = (s: UasSlot, x: Xfer): void => {
    if (x.seq !== s.seq) return;
    s.dataActive = false;
    s.transferred += x.actual;
    if (s.state !== 'data') return; // failing: its giveUp owns what happens next
    const pipe = this.pipes[s.direction === 'in' ? 'in' : 'out'];
    const e = x.error;
    if (e !== undefined) {
      if (isUsbError(e, 'CANCELLED') && s.finalSeen) { this.dataDone(s, pipe); return; }
      if (isUsbError(e, 'STALL')) { void this.dataStalled(s, pipe); return; }
      if (isUsbError(e, 'OVERFLOW')) {
        void this.giveUp(s, 'overrun', 'data', `the device sent more than the ${s.expected} bytes expected`, 'ladder', e);
        return;
      }
      this.failFromUsb(s, 'data', e);
      return;
    }
    const count = s.command?.segmentCount ?? 0;
    // The status IU has come: the device has ended the command, no more of its data is coming or wanted.
    if (x.short || s.finalSeen || s.segment + 1 >= count) { this.dataDone(s, pipe); return; }
    s.segment++;
    this.submitSegment(s);
  };

  /** A stalled data pipe: clear its halt (the data phase is over), then the status IU ends the command. */
  private async dataStalled(s: UasSlot, pipe: DataPipe): Promise<void> {
    s.dataStalled = true;
    s.clearing = true;
    const seq = s.seq;
    log('tag %d: data-%s stalled after %d bytes: clearing the halt', s.tag, pipe.name, s.transferred);
    try {
      await this.clearPipe(pipe);
    } catch (e) {
      s.clearing = false;
      if (s.seq === seq) this.failFromUsb(s, 'data', e);
      return;
    }
    s.clearing = false;
    if (s.seq !== seq || s.state !== 'data') return;
    this.dataDone(s, pipe);
  }

  private dataDone(s: UasSlot, pipe: DataPipe): void {
    this.releasePipe(pipe, s);
    s.state = 'waiting';
    if (s.finalSeen) this.complete(s);
    else s.arm(this.statusBudget(s));
    this.kick(pipe);
  }

  /** `s` no longer holds `pipe`. */
  private releasePipe(pipe: DataPipe, s: UasSlot): void {
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
  private kick(pipe: DataPipe): void {
    while (pipe.blocked === 0 && pipe.active === undefined) {
      const next = pipe.waiting.shift();
      if (next === undefined) return;
      if (next.state === 'waiting' && !next.finalSeen) this.startData(pipe, next);
    }
  }

  /** Take `s` off the waiting lists (its status came, or it is failing). */
  private unwait(s: UasSlot): void {
    for (const pipe of [this.pipes.in, this.pipes.out]) {
      const i = pipe.waiting.indexOf(s);
      if (i >= 0) pipe.waiting.splice(i, 1);
    }
  }

  private complete(s: UasSlot): void {
    if (s.state === 'failing' || s.state === 'done' || s.clearing) return;
    if (s.commandXfer.busy) {
      // The status came before the COMMAND IU's own completion did: the slot is free only once that is back.
      const seq = s.seq;
      void s.commandXfer.settled.then(() => { if (s.seq === seq) this.complete(s); });
      return;
    }
    const result: TransportResult = {
      status: s.status, transferred: s.transferred, residue: s.expected - s.transferred, senseLength: s.senseLength,
    };
    this.release(s);
    this.inFlight--;
    s.settle(result);
  }

  // ------------------------------------------------------------------ failures

  private protocolError(s: UasSlot, phase: UasPhase, message: string): void {
    this.stats.protocolErrors++;
    log('tag %d: protocol violation: %s', s.tag, message);
    void this.giveUp(s, 'protocol', phase, message, 'ladder');
  }

  /** A USB failure of one of the command's own transfers. */
  private failFromUsb(s: UasSlot, phase: UasPhase, e: unknown): void {
    if (this.goneError !== undefined || isUsbError(e, 'NO_DEVICE')) {
      void this.giveUp(s, 'device-gone', phase, 'device disconnected', 'none', e);
      return;
    }
    if (s.aborted) { void this.giveUp(s, 'aborted', phase, 'command aborted', 'ladder', e); return; }
    const kind: UasErrorKind = s.timedOut || isUsbError(e, 'TIMEOUT') ? 'timeout' : 'transport';
    void this.giveUp(s, kind, phase, `${phase} transfer failed: ${e instanceof Error ? e.message : String(e)}`, 'ladder', e);
  }

  /**
   * End `s` with a failure: take its transfers off the wire, run the recovery (`recover`), give back its tag and
   * reject. Idempotent: a command already failing keeps the first failure.
   */
  private giveUp(s: UasSlot, kind: UasErrorKind, phase: UasPhase, message: string, recover: Recover,
    cause?: unknown, clearCommandPipe = false): Promise<void> {
    if (s.state === 'failing') return s.givingUp ?? Promise.resolve();
    if (s.state === 'done' || s.state === 'idle') return Promise.resolve();
    s.givingUp = this.runGiveUp(s, kind, phase, message, recover, cause, clearCommandPipe);
    return s.givingUp;
  }

  private async runGiveUp(s: UasSlot, kind: UasErrorKind, phase: UasPhase, message: string, recover: Recover,
    cause: unknown, clearCommandPipe: boolean): Promise<void> {
    const seq = s.seq;
    const wasSent = s.tag !== 0;
    s.state = 'failing';
    s.disarm();
    s.cancelTransfers();
    this.unwait(s);
    // A data pipe the command has used is kept from new data phases until the recovery has flushed it.
    const heldPipe = s.direction !== 'none' && s.dataStarted ? this.pipes[s.direction] : undefined;
    if (heldPipe !== undefined) heldPipe.blocked++;
    await s.settled();
    if (heldPipe !== undefined) this.releasePipe(heldPipe, s);
    let recovery: UasRecovery = s.collateral ?? 'none';
    if (this.goneError !== undefined) {
      kind = 'device-gone';
    } else if (s.verdict !== undefined) {
      // A reset of its LUN or the target ends this task: the tag stays taken (the device still knows it) until then.
      recovery = await s.verdict;
      if (heldPipe !== undefined && (recovery === 'lun-reset' || recovery === 'nexus-reset')) await this.flushPipe(heldPipe);
    } else if (clearCommandPipe) {
      try { await this.clearCommandPipe(); } catch (e) { log('clear halt on the command pipe failed: %s', (e as Error).message); this.unrecovered = true; }
    } else if (recover === 'ladder' && wasSent && !this.closing && s.collateral === undefined) {
      recovery = await this.ladder(s, heldPipe);
    }
    if (heldPipe !== undefined) {
      heldPipe.blocked--;
      this.kick(heldPipe);
    }
    if (s.seq !== seq) return;
    if (kind === 'device-gone') recovery = 'none';
    this.end(s, new UasError(kind, phase, message, { cause, transferred: s.transferred, tag: s.tag, recovery }));
  }

  /** Reject `s` and free what it held (its tag, its status read, its place in the queue). */
  private end(s: UasSlot, error: UasError): void {
    if (s.state === 'done' || s.state === 'idle') return;
    this.release(s);
    this.inFlight--;
    s.fail(error);
  }

  /** Give back the tag and the status expectation of `s`. */
  private release(s: UasSlot): void {
    this.consumeExpectation(s);
    if (s.tag !== 0) {
      if (this.owners[s.tag] === s) this.owners[s.tag] = undefined;
      this.tags.release(s.tag);
    }
  }

  /** The status read counted for `s` is no longer needed (its IU came, or it will never come). */
  private consumeExpectation(s: UasSlot): void {
    if (!s.expecting) return;
    s.expecting = false;
    if (s.statusGeneration === this.status.generation) this.status.expect(-1);
  }

  // ------------------------------------------------------------------ the recovery ladder

  /**
   * ABORT TASK, then LOGICAL UNIT RESET, then a port reset: the first rung the device carries out ends the
   * trouble. `pipe`: the data pipe the command held, flushed (CLEAR_FEATURE(HALT)) once the task is gone, so no
   * byte the device had queued for it is read as another command's.
   */
  private async ladder(s: UasSlot, pipe: DataPipe | undefined): Promise<UasRecovery> {
    this.stats.abortTasks++;
    this.report?.({ step: 'abort-task', detail: `ABORT TASK of tag ${s.tag} (LUN ${s.lun})`, waitingFor: 'the device\'s RESPONSE IU',
      timeoutMs: this.timeouts.tmfMs });
    const abort = await this.tmf(TMF.ABORT_TASK, s.lun, s.tag);
    if (tmfDone(abort)) {
      log('tag %d: ABORT TASK done', s.tag);
      if (pipe !== undefined) await this.flushPipe(pipe);
      return 'abort-task';
    }
    if (s.collateral !== undefined) return s.collateral;
    if (this.goneError !== undefined || this.closing) return 'none';
    log('tag %d: ABORT TASK %s: LOGICAL UNIT RESET of LUN %d', s.tag, describeOutcome(abort), s.lun);
    const r = await this.escalate(() => this.resetChain([s.lun], false, s));
    if (r === 'lun-reset' && pipe !== undefined) await this.flushPipe(pipe);
    return r;
  }

  /**
   * Reset `luns` (with `nexus`: the whole target by I_T NEXUS RESET where the device has it, else LUN by LUN), a
   * port reset when that fails. Before the task management function goes out, every command the reset will end is
   * taken off the wire (a data-out transfer left posted would hand its bytes to the device's next WRITE) and keeps
   * its tag until the reset is over; commands issued meanwhile wait for it.
   */
  private async resetChain(luns: readonly number[], nexus: boolean, initiator?: UasSlot): Promise<UasRecovery> {
    if (initiator?.collateral !== undefined) return initiator.collateral;
    if (this.goneError !== undefined || this.closing) return 'none';
    let decide!: (r: UasRecovery) => void;
    const verdict = new Promise<UasRecovery>((resolve) => { decide = resolve; });
    this.verdicts.add(decide);
    this.quiet = verdict;
    const what = nexus ? 'a reset of the target' : `a reset of LUN ${luns.join(', ')}`;
    const victims = [...this.slots].filter((v) => v !== initiator && v.inFlight && v.tag !== 0 && v.state !== 'failing' && luns.includes(v.lun));
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
    if (nexus && this.nexusReset !== false && await this.nexusResetTmf()) return 'nexus-reset';
    let all = true;
    for (const l of luns) {
      if (this.goneError !== undefined || this.closing) return 'none';
      if (!(await this.lunReset(l, initiator))) { all = false; break; }
    }
    if (all) return 'lun-reset';
    if (initiator?.collateral !== undefined) return initiator.collateral;
    if (this.goneError !== undefined || this.closing) return 'none';
    log('LOGICAL UNIT RESET failed: port reset');
    return (await this.portReset()) ? 'port-reset' : 'failed';
  }

  /** Run `op` after every escalation before it (they change the whole device or LUN). */
  private escalate<T>(op: () => Promise<T>): Promise<T> {
    const run = this.escalation.then(op, op);
    this.escalation = run.catch(() => undefined);
    return run;
  }

  /** LOGICAL UNIT RESET of `lun`: every other command of the LUN ends 'aborted'. */
  private async lunReset(lun: number, initiator?: UasSlot): Promise<boolean> {
    this.stats.lunResets++;
    this.report?.({ step: 'lun-reset', detail: `LOGICAL UNIT RESET of LUN ${lun}${initiator === undefined ? '' : ` (ABORT TASK of tag ${initiator.tag} did not end it)`}`,
      waitingFor: 'the device\'s RESPONSE IU', timeoutMs: this.timeouts.tmfMs });
    const o = await this.tmf(TMF.LOGICAL_UNIT_RESET, lun, 0);
    if (!tmfDone(o)) {
      log('LOGICAL UNIT RESET of LUN %d: %s', lun, describeOutcome(o));
      return false;
    }
    for (const s of this.slots) if (s !== initiator && s.lun === lun && s.tag !== 0) this.collateral(s, 'lun-reset');
    return true;
  }

  /** I_T NEXUS RESET; false when the device refused or does not implement it. */
  private async nexusResetTmf(): Promise<boolean> {
    this.stats.nexusResets++;
    this.report?.({ step: 'nexus-reset', detail: 'I_T NEXUS RESET of the target', waitingFor: 'the device\'s RESPONSE IU',
      timeoutMs: this.timeouts.tmfMs });
    const o = await this.tmf(TMF.I_T_NEXUS_RESET, 0, 0);
    if (o.kind === 'response' && (o.code === RESPONSE_CODE.TMF_NOT_SUPPORTED)) this.nexusReset = false;
    if (!tmfDone(o)) {
      log('I_T NEXUS RESET: %s', describeOutcome(o));
      return false;
    }
    this.nexusReset = true;
    for (const s of this.slots) if (s.tag !== 0) this.collateral(s, 'nexus-reset');
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
  private portReset(): Promise<boolean> {
    if (this.maintenance !== undefined) return this.maintenance;
    const run = this.runPortReset();
    this.maintenance = run;
    void run.finally(() => { if (this.maintenance === run) this.maintenance = undefined; });
    return run;
  }

  private async runPortReset(): Promise<boolean> {
    this.stats.portResets++;
    log('port reset');
    this.report?.({ step: 'port-reset', detail: 'USB port reset (every command in flight ends)', waitingFor: 'the device to re-enumerate' });
    for (const s of this.slots) if (s.tag !== 0) this.collateral(s, 'port-reset');
    for (const t of this.tmfSlots) { t.xfer.cancel(); t.end({ kind: 'ended', why: 'reset' }); }
    await this.status.stop();
    await Promise.all([...this.slots].map((s) => s.settled()));
    await Promise.all(this.tmfSlots.map((t) => t.xfer.settled));
    let ok = false;
    try {
      await this.port.resetDevice();
      ok = true;
    } catch (e) {
      if (isUsbError(e, 'NO_DEVICE')) this.onGone(e);
      log('port reset failed: %s', (e as Error).message);
    }
    this.unrecovered = !ok;
    this.status.restart();
    return ok;
  }

  // ------------------------------------------------------------------ task management

  /** Send one task management function and wait for its RESPONSE IU (or its deadline). */
  private async tmf(fn: number, lun: number, managedTag: number): Promise<TmfOutcome> {
    if (this.goneError !== undefined) return { kind: 'ended', why: 'gone' };
    if (this.closing) return { kind: 'ended', why: 'closed' };
    const t = await this.takeTmfSlot();
    try {
      const tag = this.tags.take();
      if (tag === 0) return { kind: 'failed', error: new UasError('busy', 'task-management', 'no free tag for task management') };
      t.tag = tag;
      t.fn = fn;
      t.answered = false;
      this.owners[tag] = t;
      const generation = this.status.generation;
      this.status.expect(1);
      encodeTmfIu(t.iu, tag, fn, managedTag, lun);
      const outcome = t.wait(this.timeouts.tmfMs);
      t.xfer.submit(t.iu, tag);
      const o = await outcome;
      log('%s (tag %d, managed tag %d, LUN %d): %s', tmfName(fn), tag, managedTag, lun, describeOutcome(o));
      if (t.xfer.busy) { t.xfer.cancel(); await t.xfer.settled; }
      if (!t.answered && generation === this.status.generation) this.status.expect(-1);
      if (this.owners[tag] === t) this.owners[tag] = undefined;
      this.tags.release(tag);
      if (o.kind === 'stall') await this.clearCommandPipe().catch((e: unknown) => log('clear halt on the command pipe: %s', (e as Error).message));
      return o;
    } finally {
      this.giveTmfSlot(t);
    }
  }

  private readonly onTmfSent = (t: TmfSlot, x: Xfer): void => {
    if (x.seq !== t.tag || x.error === undefined) return;
    const e = x.error;
    if (isUsbError(e, 'STALL')) t.end({ kind: 'stall' });
    else if (isUsbError(e, 'NO_DEVICE')) t.end({ kind: 'ended', why: 'gone' });
    else if (!isUsbError(e, 'CANCELLED')) t.end({ kind: 'failed', error: e });
  };

  private onTmfIu(t: TmfSlot, id: number, buf: Buffer, n: number): void {
    if (!t.waiting) return;
    if (id !== IU_ID.RESPONSE || n < RESPONSE_IU_LENGTH) {
      this.stats.protocolErrors++;
      log('tag %d (%s): IU 0x%s of %d bytes where a RESPONSE IU was due', t.tag, tmfName(t.fn), id.toString(16), n);
      t.answered = true;
      this.status.expect(-1);
      t.end({ kind: 'failed', error: new UasError('protocol', 'task-management', `IU 0x${id.toString(16)} instead of a RESPONSE IU`) });
      return;
    }
    t.answered = true;
    this.status.expect(-1);
    t.end({ kind: 'response', code: responseCode(buf) });
  }

  private async takeTmfSlot(): Promise<TmfSlot> {
    for (;;) {
      const free = this.tmfSlots.find((t) => !t.busy);
      if (free !== undefined) { free.busy = true; return free; }
      await new Promise<void>((resolve) => this.tmfWaiters.push(resolve));
    }
  }

  private giveTmfSlot(t: TmfSlot): void {
    t.busy = false;
    this.tmfWaiters.shift()?.();
  }

  // ------------------------------------------------------------------ pipes

  /**
   * After an aborted data phase: once no other data phase holds the pipe, CLEAR_FEATURE(HALT) resets the endpoint
   * (its data toggle, and whatever the device had queued there for the aborted task).
   */
  private async flushPipe(pipe: DataPipe): Promise<void> {
    await this.whenIdle(pipe);
    await this.clearPipe(pipe).catch((e: unknown) => log('flush data-%s: %s', pipe.name, (e as Error).message));
  }

  /** CLEAR_FEATURE(HALT) on a data pipe, once however many ask at the same time. */
  private clearPipe(pipe: DataPipe): Promise<void> {
    if (pipe.clearing === undefined) {
      this.report?.({ step: 'clear-halt', detail: `CLEAR_FEATURE(HALT) on the data-${pipe.name} pipe`, timeoutMs: this.timeouts.controlMs });
    }
    pipe.clearing ??= this.port.clearHalt(pipe.name).finally(() => { pipe.clearing = undefined; });
    return pipe.clearing;
  }

  private clearCommandPipe(): Promise<void> {
    if (this.commandPipeClearing === undefined) {
      this.report?.({ step: 'clear-halt', detail: 'CLEAR_FEATURE(HALT) on the command pipe', timeoutMs: this.timeouts.controlMs });
    }
    this.commandPipeClearing ??= this.port.clearHalt('command').finally(() => { this.commandPipeClearing = undefined; });
    return this.commandPipeClearing;
  }

  private onStatusFailure(e: unknown): void {
    if (isUsbError(e, 'NO_DEVICE')) { this.onGone(e); return; }
    // A status read that fails otherwise (an I/O error) loses whatever IU it carried: the commands waiting for
    // one find out by their deadline, which runs the ladder.
    log('status read failed: %s', e instanceof Error ? e.message : String(e));
  }

  private onStatusWedged(e: unknown): void {
    if (isUsbError(e, 'NO_DEVICE')) { this.onGone(e); return; }
    log('the status pipe halt could not be cleared (%s): port reset', e instanceof Error ? e.message : String(e));
    void this.escalate(() => this.portReset());
  }

  // ------------------------------------------------------------------ abort, reset, close, gone

  async abort(slot: TransportSlot): Promise<void> {
    if (!(slot instanceof UasSlot) || slot.owner !== this || !slot.inFlight) return;
    const s = slot;
    s.aborted = true;
    if (s.state === 'failing') { await s.givingUp; return; }
    if (s.tag === 0) { this.end(s, new UasError('aborted', 'request', 'command aborted before it was sent')); return; }
    await this.giveUp(s, 'aborted', s.state === 'data' ? 'data' : s.state === 'command' ? 'command' : 'status',
      'command aborted', 'ladder');
  }

  async reset(level: ResetLevel, lun?: number): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    if (level === 'bus') {
      if (!(await this.escalate(() => this.portReset()))) throw this.resetFailed('port reset failed');
      return;
    }
    const luns = level === 'lun' && lun !== undefined ? [lun] : Array.from({ length: this.lunCount }, (_, i) => i);
    const r = await this.escalate(() => this.resetChain(luns, level === 'target'));
    if (this.goneError !== undefined) throw this.goneRefusal();
    if (r === 'failed') throw this.resetFailed(`${level === 'target' ? 'target' : 'LOGICAL UNIT'} reset and port reset failed`);
    if (r === 'none') throw new UasError('aborted', 'recovery', 'transport closed during the reset');
  }

  private resetFailed(message: string): UasError {
    if (this.goneError !== undefined) return this.goneRefusal();
    return new UasError('transport', 'recovery', message, { recovery: 'failed' });
  }

  async close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.decideAll('none');
    for (const t of this.graceTimers) clearTimeout(t);
    this.graceTimers.clear();
    for (const s of this.slots) {
      if (!s.inFlight) continue;
      s.cancelTransfers();
      this.end(s, new UasError('aborted', 'request', 'transport closed', { tag: s.tag, transferred: s.transferred }));
    }
    for (const t of this.tmfSlots) { t.xfer.cancel(); t.end({ kind: 'ended', why: 'closed' }); }
    await this.status.stop();
    this.unsubscribe();
    try {
      await this.port.close();
    } catch (e) {
      if (!isUsbError(e, 'NO_DEVICE') && !isUsbError(e, 'CLOSED')) log('close port: %s', (e as Error).message);
    }
    for (const s of this.slots) s.dispose();
  }

  private onGone(e: UsbError): void {
    if (this.goneError !== undefined) return;
    this.goneError = e;
    log('device disconnected: %s', e.message);
    this.decideAll('none');
    for (const s of this.slots) {
      if (!s.inFlight) continue;
      s.cancelTransfers();
      this.end(s, new UasError('device-gone', s.state === 'data' ? 'data' : 'status', 'device disconnected',
        { cause: e, tag: s.tag, transferred: s.transferred }));
    }
    for (const t of this.tmfSlots) t.end({ kind: 'ended', why: 'gone' });
    void this.status.stop();
  }

  // ------------------------------------------------------------------ helpers

  /** Decide every reset in progress (the device is gone or the transport closing: nothing more will run). */
  private decideAll(r: UasRecovery): void {
    for (const decide of this.verdicts) decide(r);
    this.verdicts.clear();
  }

  private goneRefusal(): UasError {
    return new UasError('device-gone', 'request', 'device is gone', { cause: this.goneError });
  }

  private refusal(): UasError | undefined {
    if (this.goneError !== undefined) return this.goneRefusal();
    if (this.closing || this.port.closed) return new UasError('aborted', 'request', 'transport is closed');
    return undefined;
  }

  private ownSlot(slot: TransportSlot): UasSlot {
    if (!(slot instanceof UasSlot) || slot.owner !== this) {
      throw new UasError('transport', 'request', 'slot was not allocated by this transport');
    }
    if (slot.freed) throw new UasError('transport', 'request', 'slot was freed');
    return slot;
  }
}

/**
 * One UAS command slot (what the HBA's tran_pkt_constructor allocates once through allocSlot): the COMMAND IU
 * buffer and its transfer, one data transfer per direction (data segments go one after the other: at high speed
 * without streams a short packet must end the data phase with nothing queued behind it, or the next command's
 * data would land there), the deadline timer, and the state of the command running on it.
 */
import type { DataDirection, TransportCommand, TransportResult, TransportSlot } from '../transport/index.js';
import type { UsbPort } from '../usb/port.js';
import { KeptTimer } from '../util/kept-timer.js';
import type { UasError, UasRecovery } from './errors.js';
import { Xfer } from './xfer.js';

/** Deadline durations a slot keeps a timer for (the three phase budgets, and one for a command's own timeout). */
const MAX_TIMERS = 4;

/**
 * How long a data completion may trail the status IU that ended its command: libusb hands completions to node in
 * batches, and the data transfer may come in the batch after the status. Only a device that ends a data phase
 * without a short packet ever waits this long.
 */
export const COMPLETION_GRACE_MS = 5;

/** Where a command is: its IU on the wire, waiting for the device, moving data, or over. */
export type UasCommandState = 'idle' | 'command' | 'waiting' | 'data' | 'failing' | 'done';

export class UasSlot implements TransportSlot {
  freed = false;
  readonly iu = Buffer.alloc(32);
  readonly commandXfer: Xfer;
  private dataInXfer: Xfer | undefined;
  private dataOutXfer: Xfer | undefined;

  // ---- the command on this slot (reset by begin)
  state: UasCommandState = 'idle';
  /** Bumped per command: completions of an earlier command's transfers are ignored. */
  seq = 0;
  tag = 0;
  lun = 0;
  direction: DataDirection = 'none';
  expected = 0;
  command: TransportCommand | undefined;
  transferred = 0;
  /** A READ/WRITE READY started the data phase. */
  dataStarted = false;
  /** The data transfer in flight belongs to this command. */
  dataActive = false;
  /** Index of the segment in flight or next. */
  segment = 0;
  /** The data phase ended in a STALL (the pipe's halt is being cleared). */
  dataStalled = false;
  /** The status (SENSE) or RESPONSE IU that ended the command arrived. */
  finalSeen = false;
  status = 0;
  senseLength = -1;
  timedOut = false;
  aborted = false;
  /** The failure the command ends with, once decided. */
  failure: UasError | undefined;
  private resolveFn: ((r: TransportResult) => void) | undefined;
  private rejectFn: ((e: UasError) => void) | undefined;

  constructor(readonly owner: object, private readonly port: UsbPort, readonly maxSegments: number,
    onCommandSent: (s: UasSlot, x: Xfer) => void, onData: (s: UasSlot, x: Xfer) => void, onExpire: (s: UasSlot) => void) {
    // The three callbacks of the slot, made once: no closure per command.
    this.commandXfer = new Xfer(port.createTransfer('command'), (x) => onCommandSent(this, x));
    this.onData = (x) => onData(this, x);
    this.onExpire = onExpire;
  }

  private readonly onData: (x: Xfer) => void;
  private readonly onExpire: (s: UasSlot) => void;
  /**
   * The deadline: one KeptTimer per phase budget (the COMMAND IU's, the device's, the status's), each re-armed
   * with the duration it was made with, so that a command moving from phase to phase refreshes timers and makes
   * none (one timer re-armed with alternating durations would make a new Timeout at each change).
   */
  private readonly timers: KeptTimer[] = [];
  private active: KeptTimer | undefined;
  private armed = false;
  /** The halt of the data pipe is being cleared after a stall: the command completes once it is. */
  clearing = false;
  /** This command's status IU is still counted by the status pipe (of that pipe generation). */
  expecting = false;
  statusGeneration = 0;
  /** The grace after the status IU for the data completion (made on first use, re-armed per command). */
  private grace: KeptTimer | undefined;
  private graceSeq = -1;
  /** A reset of someone else's ended this command's task on the device: the rung that did. */
  collateral: 'lun-reset' | 'nexus-reset' | 'port-reset' | undefined;
  /** The failure path in progress (giveUp), so that abort() can wait for it. */
  givingUp: Promise<void> | undefined;
  /**
   * A reset of its LUN or of the whole target is about to end this command's task: its transfers are off the wire
   * and its tag stays taken until the reset has run; this says which rung finally did.
   */
  verdict: Promise<UasRecovery> | undefined;

  /** The data transfer of `pipe`, made on first use. */
  dataXfer(pipe: 'in' | 'out'): Xfer {
    if (pipe === 'in') return this.dataInXfer ??= new Xfer(this.port.createTransfer('in'), this.onData);
    return this.dataOutXfer ??= new Xfer(this.port.createTransfer('out'), this.onData);
  }

  /** A new command on this slot; the promise settles through settle()/fail(). */
  begin(command: TransportCommand, expected: number): Promise<TransportResult> {
    this.seq++;
    this.state = 'command';
    this.command = command;
    this.lun = command.lun;
    this.direction = command.direction;
    this.expected = expected;
    this.tag = 0;
    this.transferred = 0;
    this.dataStarted = false;
    this.dataActive = false;
    this.segment = 0;
    this.dataStalled = false;
    this.finalSeen = false;
    this.status = 0;
    this.senseLength = -1;
    this.timedOut = false;
    this.aborted = false;
    this.failure = undefined;
    this.clearing = false;
    this.expecting = false;
    this.collateral = undefined;
    this.givingUp = undefined;
    this.verdict = undefined;
    return new Promise<TransportResult>((resolve, reject) => { this.resolveFn = resolve; this.rejectFn = reject; });
  }

  /** (Re)arm the deadline with `ms` for the phase entered now; 0 = none. */
  arm(ms: number): void {
    if (ms <= 0) { this.disarm(); return; }
    const t = this.timerFor(ms);
    if (this.active !== t) this.active?.disarm();
    this.active = t;
    this.armed = true;
    t.arm(ms);
  }

  disarm(): void {
    this.armed = false;
    this.active?.disarm();
  }

  /** The timer kept for `ms` (a few per slot: beyond MAX_TIMERS durations the last one is re-armed with `ms`). */
  private timerFor(ms: number): KeptTimer {
    for (let i = 0; i < this.timers.length; i++) if (this.timers[i]!.duration === ms) return this.timers[i]!;
    if (this.timers.length >= MAX_TIMERS) return this.timers[MAX_TIMERS - 1]!;
    // A firing of a timer that is no longer the armed one (its phase ended) is ignored.
    const t: KeptTimer = new KeptTimer(() => { if (this.armed && this.active === t) { this.armed = false; this.onExpire(this); } });
    this.timers.push(t);
    return t;
  }

  /**
   * The status IU ended the command while its data transfer is still out: the data the device sent is all there
   * is, but its last packets may be in the next batch of completions. After the grace the transfer is taken back
   * (its completion then ends the command). One kept timer per slot: no closure or Timeout per command.
   */
  graceForData(): void {
    this.graceSeq = this.seq;
    (this.grace ??= new KeptTimer(() => this.onGrace())).arm(COMPLETION_GRACE_MS);
  }

  private onGrace(): void {
    if (this.graceSeq !== this.seq || !this.dataActive || this.state !== 'data') return;
    this.graceSeq = -1;
    this.dataXfer(this.direction === 'in' ? 'in' : 'out').cancel();
  }

  /** Cancel whatever of this command is on the wire (the completions then arrive with errors). */
  cancelTransfers(): void {
    this.commandXfer.cancel();
    this.dataInXfer?.cancel();
    this.dataOutXfer?.cancel();
  }

  /** Resolves once none of this slot's transfers is in flight. */
  async settled(): Promise<void> {
    await this.commandXfer.settled;
    await this.dataInXfer?.settled;
    await this.dataOutXfer?.settled;
  }

  /** The command is over with a result: the slot is free again. */
  settle(result: TransportResult): void {
    const resolve = this.resolveFn;
    this.end();
    resolve?.(result);
  }

  /** The command is over with an error: the slot is free again. */
  fail(error: UasError): void {
    const reject = this.rejectFn;
    this.end();
    reject?.(error);
  }

  get inFlight(): boolean { return this.state !== 'idle' && this.state !== 'done'; }

  dispose(): void {
    this.disarm();
    for (const t of this.timers) t.dispose();
    this.grace?.dispose();
  }

  private end(): void {
    this.state = 'done';
    this.command = undefined;
    this.resolveFn = undefined;
    this.rejectFn = undefined;
    this.disarm();
    if (this.graceSeq !== -1) { this.graceSeq = -1; this.grace?.disarm(); }
  }
}

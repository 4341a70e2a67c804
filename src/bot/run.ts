/**
 * One command on the wire: CBW -> data -> CSW on a slot's {@link BotCommand}, with the round trips the device
 * allows saved. Everything reused: the CBW and CSW buffers and completions belong to the runner (one per engine),
 * the data completions and the command state to the slot; the only per-command timer is the command's deadline. Failures leave as {@link PhaseFailure}; recovery is the engine's (transport.ts).
 *
 * What goes on the wire when (T0 = with the CBW, T1 = once the CBW is through, T2 = once the data is):
 *  - data: T0 unless NO_EARLY_IN (data-IN) / NO_EARLY_DATA_OUT (data-OUT), then T1;
 *  - CSW read, data-IN: queued right behind the data unless NO_CSW_PIPELINING (then T2);
 *  - CSW read, data-OUT or no data: T0 unless NO_EARLY_IN (the device is not due to send before) or
 *    NO_CSW_PIPELINING (QEMU's xHCI stalls a CSW read that arrives while a large data-OUT is still due): then T2;
 *    a data-OUT of at most QUEUED_CSW_OUT_MAX bytes keeps T0 under NO_CSW_PIPELINING (QEMU's xHCI takes it whole).
 */
import { isUsbError, UsbTimeoutError } from '../usb/errors.js';
import type { Pipe, UsbPort } from '../usb/port.js';
import { logger } from '../util/log.js';
import type { DataDirection, TransportCommand, TransportResult } from '../transport/index.js';
import { CbwEncoder, CBW_LENGTH, type CbwFields } from './cbw.js';
import type { BotCommand } from './command.js';
import { Completion } from './completion.js';
import { checkCsw, hostResidue, type Csw } from './csw.js';
import { awaitData, newDataOutcome, submitData } from './data-phase.js';
import type { BotPhase } from './errors.js';
import { PhaseFailure, looksLikeExtraData, usbFailure } from './failure.js';
import type { BotTimeouts } from './options.js';
import type { Quirks } from '../quirks/index.js';
import type { BotSlot } from './slot.js';
import { CSW_STATUS } from '../usb/wire/bot.js';

const log = logger('bot');

/**
 * The SCSI status byte (SAM-5 5.3) each meaningful bCSWStatus stands for: BOT says only "passed" (GOOD) or
 * "failed" (CHECK CONDITION: the sense data says why, and the HBA asks for it with REQUEST SENSE).
 */
const STATUS_GOOD = 0x00;
const STATUS_CHECK_CONDITION = 0x02;

/** A Bulk-Only command's {@link TransportResult}, with what BOT alone knows about it. */
export interface BotResult extends TransportResult {
  /** dCSWDataResidue exactly as the device reported it. */
  deviceResidue: number;
  /** The data phase ended in a STALL (cleared before the CSW was read). */
  dataStalled: boolean;
}

/** When the data and the CSW read of a command go on the wire (see the file comment). */
export interface WirePlan {
  /** Data submitted together with the CBW. */
  readonly earlyData: boolean;
  /** CSW read submitted before the data phase has been awaited (behind the data, or with the CBW). */
  readonly queueCsw: boolean;
  /** ... and already with the CBW. */
  readonly cswWithCbw: boolean;
  /** One data segment in flight at a time. */
  readonly sequential: boolean;
}

/** `bytes`: the command's data length (a data-OUT of at most `q.queuedCswOutMax` may keep its CSW read queued). */
export function wirePlan(q: Quirks, direction: DataDirection, hasData: boolean, bytes = Infinity): WirePlan {
  // The CSW read goes out early only where neither quirk forbids it: NO_EARLY_IN (no IN before the device is due
  // to send) and NO_CSW_PIPELINING (no CSW read before the CBW and the data are through), unless the data-OUT is
  // small enough for the device to have taken all of it before the read arrives (QUEUED_CSW_OUT_MAX).
  const smallOut = direction === 'out' && hasData && q.queuedCswOutMax > 0 && bytes <= q.queuedCswOutMax;
  const queue = !q.noEarlyIn && (!q.noCswPipelining || smallOut);
  if (!hasData) return { earlyData: false, queueCsw: queue, cswWithCbw: queue, sequential: false };
  if (direction === 'in') {
    const earlyData = !q.noEarlyIn;
    const queueCsw = !q.noCswPipelining;
    return { earlyData, queueCsw, cswWithCbw: queueCsw && earlyData, sequential: q.noCswPipelining };
  }
  return { earlyData: !q.noEarlyDataOut, queueCsw: queue, cswWithCbw: queue, sequential: false };
}

/** Plans for every (direction, data) of one device, made once: per command only the data-OUT's size is looked at. */
interface Plans { none: WirePlan; in: WirePlan; out: WirePlan; smallOut: WirePlan }

export class CommandRunner {
  private readonly encoder = new CbwEncoder();
  private readonly fields: CbwFields = { tag: 0, dataTransferLength: 0, direction: 'none', lun: 0, cdb: new Uint8Array(16), cdbLength: 1 };
  readonly cbw: Completion;
  readonly csw: Completion;
  /** One max-size packet, so that a CSW that is too long shows up as "length != 13", not as babble. */
  private readonly cswBuffer: Buffer;
  private readonly data = newDataOutcome();
  private readonly plans: Plans;

  constructor(private readonly port: UsbPort, private readonly quirks: Quirks,
    private readonly timeouts: Readonly<BotTimeouts>, private readonly isGone: () => boolean) {
    this.cbw = new Completion(port.createTransfer('out'));
    this.csw = new Completion(port.createTransfer('in'));
    this.cswBuffer = Buffer.alloc(Math.max(64, port.info.maxPacketSize.in));
    this.plans = { none: wirePlan(quirks, 'none', false), in: wirePlan(quirks, 'in', true), out: wirePlan(quirks, 'out', true),
      smallOut: wirePlan(quirks, 'out', true, quirks.queuedCswOutMax) };
  }

  /** The command's deadline passed, or it was aborted: take everything of it off the wire. */
  cancel(slot: BotSlot | undefined): void {
    this.cbw.cancel();
    slot?.cancelAll();
    this.csw.cancel();
  }

  /** Run `req` as `slot.cmd` (begun by the caller). Resolves with the slot's result object; throws PhaseFailure. */
  async run(slot: BotSlot, req: TransportCommand): Promise<BotResult> {
    const cmd = slot.cmd;
    const dir = req.direction;
    const hasData = dir !== 'none' && cmd.expected > 0;
    const pipe: Pipe = dir === 'in' ? 'in' : 'out';
    const plans = this.plans;
    const plan = !hasData ? plans.none : dir === 'in' ? plans.in
      : cmd.expected <= this.quirks.queuedCswOutMax ? plans.smallOut : plans.out;
    const f = this.fields;
    f.tag = cmd.tag;
    f.dataTransferLength = cmd.expected;
    f.direction = dir;
    f.lun = req.lun;
    f.cdb = req.cdb;
    f.cdbLength = req.cdbLength;
    const buf = this.encoder.encode(f);

    void this.cbw.submit(buf);
    const early = hasData && plan.earlyData ? (plan.sequential ? 1 : req.segmentCount) : 0;
    if (early > 0) submitData(slot, req, pipe, plan.sequential);
    if (plan.cswWithCbw) void this.csw.submit(this.cswBuffer);
    cmd.cswQueued = plan.cswWithCbw;
    await this.cbw.wait;
    if (this.cbw.error !== undefined || this.cbw.actual !== CBW_LENGTH) {
      await this.drain(slot, early, pipe);
      if (this.cbw.error !== undefined) throw this.failure(cmd, 'cbw', this.cbw.error);
      throw new PhaseFailure('transport', 'cbw', `CBW sent ${this.cbw.actual} of 31 bytes`, undefined, 0);
    }
    if (cmd.aborted) {
      await this.drain(slot, early, pipe);
      throw new PhaseFailure('aborted', 'cbw', 'command aborted', undefined, 0);
    }

    let csw: Csw | undefined;
    if (hasData) {
      cmd.enter('data', req.dataTimeoutMs > 0 ? req.dataTimeoutMs : this.timeouts.dataMs);
      if (!plan.earlyData) submitData(slot, req, pipe, plan.sequential);
      if (plan.queueCsw && !plan.cswWithCbw) {
        void this.csw.submit(this.cswBuffer);
        cmd.cswQueued = true;
      }
      const d = await awaitData(slot, req, pipe, plan.sequential, this.data);
      cmd.transferred = d.transferred;
      if (d.error !== undefined) {
        await this.dropQueuedCsw(cmd);
        throw this.failure(cmd, 'data', d.error);
      }
      if (d.stalled) {
        cmd.dataStalled = true;
        // A halted IN pipe completes nothing more: the queued CSW read is taken back before the clear. A stalled
        // data-OUT leaves it alone: the device sends its CSW on IN next, perhaps into that very read already.
        if (pipe === 'in') await this.dropQueuedCsw(cmd);
        log('tag %d: data %s stalled after %d bytes: clearing halt', cmd.tag, pipe, cmd.transferred);
        await this.step(cmd, 'data', this.port.clearHalt(pipe));
      } else if (d.late !== undefined && d.lateBytes > 0) {
        // The CSW arrived in a data transfer still queued behind a short packet.
        log('tag %d: CSW taken from a queued data transfer (%d bytes)', cmd.tag, d.lateBytes);
        await this.dropQueuedCsw(cmd);
        csw = this.verify(cmd, d.late, d.lateBytes);
      }
    }
    cmd.enter('csw', Math.max(this.timeouts.cswMs, req.dataTimeoutMs));
    csw ??= await this.readCsw(cmd, req);
    if (csw.status === CSW_STATUS.PHASE_ERROR) {
      throw new PhaseFailure('phase-error', 'csw', 'device reported phase error', undefined, cmd.transferred);
    }
    // A new result each time: callers may keep it (the one small object a command allocates on purpose).
    return {
      status: csw.status === CSW_STATUS.PASSED ? STATUS_GOOD : STATUS_CHECK_CONDITION, transferred: cmd.transferred,
      residue: hostResidue(cmd.expected, cmd.transferred, csw.dataResidue, this.quirks.ignoreResidue),
      senseLength: -1, deviceResidue: csw.dataResidue, dataStalled: cmd.dataStalled,
    };
  }

  /** Read the CSW (or take the queued read); a STALL gets one clear-halt and one more read, a ZLP one more read. */
  private async readCsw(cmd: BotCommand, req: TransportCommand): Promise<Csw> {
    let retried = false;
    let pending = cmd.cswQueued;
    cmd.cswQueued = false;
    for (;;) {
      if (cmd.aborted && !pending) throw new PhaseFailure('aborted', 'csw', 'command aborted', undefined, cmd.transferred);
      if (!pending) void this.csw.submit(this.cswBuffer);
      pending = false;
      await this.csw.wait;
      const e = this.csw.error;
      if (e === undefined) {
        const n = this.csw.actual;
        if (n === 0 && !retried) {
          retried = true;
          log('tag %d: zero-length packet where the CSW was due: reading again', cmd.tag);
          continue;
        }
        if (req.direction === 'in' && cmd.transferred === cmd.expected && looksLikeExtraData(this.cswBuffer, n)) {
          throw new PhaseFailure('overrun', 'data', `device sent ${n} bytes more than the ${cmd.expected} expected`,
            undefined, cmd.transferred);
        }
        return this.verify(cmd, this.cswBuffer, n);
      }
      if (!isUsbError(e, 'STALL') || retried || cmd.aborted || cmd.timedOut) throw this.failure(cmd, 'csw', e);
      retried = true;
      log('tag %d: CSW read stalled: clearing halt in and reading again', cmd.tag);
      await this.step(cmd, 'csw', this.port.clearHalt('in'));
    }
  }

  private verify(cmd: BotCommand, buf: Buffer, n: number): Csw {
    const v = checkCsw(buf, n, cmd.tag, cmd.expected, this.quirks.ignoreResidue);
    if (!v.ok) throw new PhaseFailure('invalid-csw', 'csw', v.detail, undefined, cmd.transferred);
    return v.csw;
  }

  /** Take back a CSW read queued behind the data (the CSW came elsewhere, or the phase failed). */
  private async dropQueuedCsw(cmd: BotCommand): Promise<void> {
    if (!cmd.cswQueued) return;
    cmd.cswQueued = false;
    this.csw.cancel();
    await this.csw.wait;
    if (isUsbError(this.csw.error, 'NO_DEVICE')) throw this.failure(cmd, 'csw', this.csw.error);
  }

  /** After a failed CBW: cancel the data and CSW that went with it, and wait until they are off the wire. */
  private async drain(slot: BotSlot, submitted: number, pipe: Pipe): Promise<void> {
    if (submitted > 0) {
      slot.cancelAll();
      for (let i = 0; i < submitted; i++) await slot.completion(pipe, i).wait;
    }
    await this.dropQueuedCsw(slot.cmd);
  }

  /** Await a control operation of `phase`; any failure becomes a PhaseFailure. */
  private async step(cmd: BotCommand, phase: BotPhase, op: Promise<void>): Promise<void> {
    try {
      await op;
    } catch (e) {
      throw this.failure(cmd, phase, e);
    }
  }

  private failure(cmd: BotCommand, phase: BotPhase, e: unknown): PhaseFailure {
    const gone = this.isGone();
    if (cmd.timedOut && !gone && !cmd.aborted && !isUsbError(e, 'NO_DEVICE')) {
      // The transfer was cancelled by the command's deadline: to the caller that is the USB timeout it is.
      const cause = new UsbTimeoutError(`${phase} phase timed out`, { actualLength: cmd.transferred, cause: e });
      return new PhaseFailure('timeout', phase, `${phase} phase timed out`, cause, cmd.transferred);
    }
    return usbFailure(e, phase, cmd.transferred, gone, cmd.aborted);
  }
}

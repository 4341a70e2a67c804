/**
 * The Bulk-Only Transport engine: one command at a time over a {@link UsbPort}, CBW -> data -> CSW, with the
 * recovery BOT 1.0 prescribes, per-phase timeouts and host-counted residues. See api.ts for the surface.
 *
 * Per command it allocates no buffers: the CBW and CSW buffers and their transfers belong to the engine, data
 * transfers to the caller's slot, and data goes straight between the device and the caller's segments.
 */
import { isUsbError } from '../usb/errors.js';
import type { UsbError } from '../usb/errors.js';
import type { UsbPort, UsbTransfer } from '../usb/port.js';
import { logger } from '../util/log.js';
import { CSW_STATUS_PHASE_ERROR } from './api.js';
import type { BotRequest, BotResult, BotSlot, BotTransportApi } from './api.js';
import { CbwEncoder, CBW_LENGTH, TagCounter } from './cbw.js';
import { checkCsw, hostResidue } from './csw.js';
import type { Csw } from './csw.js';
import { runDataPhase } from './data-phase.js';
import { BotError } from './errors.js';
import { PhaseFailure, looksLikeExtraData, usbFailure } from './failure.js';
import type { BotPhase } from './errors.js';
import { defaultMaxTransfer, effectiveTimeouts, requestProblem, totalLength } from './options.js';
import type { BotOptions, BotTimeouts } from './options.js';
import { hex4, resolveQuirks } from './quirks.js';
import type { Quirks } from './quirks.js';
import { portResetOnly, queryMaxLun, resetRecovery } from './recovery.js';
import { TransportSlot } from './slot.js';

const log = logger('bot');

export type { BotOptions, BotTimeouts } from './options.js';
export { DEFAULT_TIMEOUTS, GO_SLOW_FACTOR } from './options.js';

interface ActiveCommand {
  readonly slot: TransportSlot;
  aborted: boolean;
}

export class BotTransport implements BotTransportApi {
  readonly maxPacketSize: number;
  readonly maxTransferBytes: number;
  readonly timeouts: Readonly<BotTimeouts>;
  private readonly cbw = new CbwEncoder();
  private readonly cbwTransfer: UsbTransfer;
  private readonly cswTransfer: UsbTransfer;
  /** One max-size packet, so that a CSW that is too long shows up as "length != 13", not as babble. */
  private readonly cswBuffer: Buffer;
  private readonly tags = new TagCounter();
  private active: ActiveCommand | undefined;
  private running: Promise<unknown> | undefined;
  private maintenance = false;
  /**
   * Reset Recovery (and the port reset after it) failed: the device is in an unknown state. The engine alone owns
   * recovery, so it remembers this and recovers before the next command instead of sending that command into a
   * device known to be unrecovered (which would cost a whole timeout again).
   */
  private unrecovered = false;
  private goneError: UsbError | undefined;
  private closing = false;
  private readonly unsubscribe: () => void;

  private constructor(readonly port: UsbPort, readonly quirks: Quirks, readonly maxLun: number, opts: BotOptions,
    timeouts: BotTimeouts) {
    this.timeouts = timeouts;
    this.maxPacketSize = port.info.maxPacketSize.in;
    const caps = [opts.maxTransferBytes ?? defaultMaxTransfer(port.info.speed), quirks.maxTransferBytes ?? Infinity];
    this.maxTransferBytes = Math.min(...caps);
    this.cbwTransfer = port.createTransfer('out');
    this.cswTransfer = port.createTransfer('in');
    this.cswBuffer = Buffer.alloc(Math.max(64, this.maxPacketSize));
    this.unsubscribe = port.onDisconnect((e) => {
      this.goneError ??= e;
      log('device disconnected: %s', e.message);
    });
  }

  /** Resolve quirks, ask Get Max LUN (with fallbacks), and make the engine's reusable transfers. */
  static async open(port: UsbPort, opts: BotOptions = {}): Promise<BotTransport> {
    const info = port.info;
    const quirks = opts.quirks ?? resolveQuirks(
      { vendorId: info.vendorId, productId: info.productId, bcdDevice: opts.bcdDevice }, opts.quirkOverrides ?? []);
    const timeouts = effectiveTimeouts(opts, quirks);
    let maxLun: number;
    try {
      maxLun = await queryMaxLun(port, quirks, timeouts.controlMs);
    } catch (e) {
      throw new BotError('device-gone', 'get-max-lun', 'device disconnected during Get Max LUN', { cause: e });
    }
    const tr = new BotTransport(port, quirks, maxLun, opts, timeouts);
    log('open %s:%s speed %s mps %d max LUN %d max transfer %d quirks [%s]', hex4(info.vendorId),
      hex4(info.productId), info.speed, tr.maxPacketSize, maxLun, tr.maxTransferBytes, quirks.flags.join(','));
    return tr;
  }

  allocSlot(maxSegments: number): BotSlot {
    if (!Number.isInteger(maxSegments) || maxSegments < 1) throw new RangeError(`maxSegments ${maxSegments} < 1`);
    return new TransportSlot(this, this.port, maxSegments);
  }

  freeSlot(slot: BotSlot): void {
    const s = this.ownSlot(slot);
    if (this.active?.slot === s) throw new BotError('busy', 'request', 'slot freed while its command runs');
    s.freed = true;
  }

  execute(slot: BotSlot, req: BotRequest): Promise<BotResult> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    let s: TransportSlot;
    try {
      s = this.ownSlot(slot);
      this.validate(s, req);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    s.begin();
    const cmd: ActiveCommand = { slot: s, aborted: false };
    this.active = cmd;
    const run = this.run(cmd, req).finally(() => {
      this.active = undefined;
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  async abort(slot: BotSlot): Promise<void> {
    const cmd = this.active;
    if (cmd === undefined || cmd.slot !== slot) return;
    cmd.aborted = true;
    this.cancelWire(cmd);
    await this.running?.catch(() => undefined);
  }

  async resetRecovery(): Promise<void> {
    await this.maintain('Reset Recovery', async () => {
      if (!(await resetRecovery(this.port, this.recoveryTimeouts()))) throw new Error('port reset failed');
    });
    this.unrecovered = false;
  }

  async portReset(): Promise<void> {
    await this.maintain('port reset', async () => {
      if (!(await portResetOnly(this.port))) throw new Error('port reset failed');
    });
    this.unrecovered = false;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const cmd = this.active;
    if (cmd !== undefined) {
      cmd.aborted = true;
      this.cancelWire(cmd);
      await this.running?.catch(() => undefined);
    }
    this.unsubscribe();
    try {
      await this.port.close();
    } catch (e) {
      if (!isUsbError(e, 'NO_DEVICE') && !isUsbError(e, 'CLOSED')) throw e;
    }
  }

  // ---------------------------------------------------------------- one command

  private async run(cmd: ActiveCommand, req: BotRequest): Promise<BotResult> {
    if (this.unrecovered) await this.recoverBeforeCommand();
    const tag = this.tags.next();
    const expected = totalLength(req);
    try {
      return await this.phases(cmd, req, tag, expected);
    } catch (e) {
      if (!(e instanceof PhaseFailure)) throw e;
      throw await this.fail(cmd, e, tag);
    }
  }

  private async phases(cmd: ActiveCommand, req: BotRequest, tag: number, expected: number): Promise<BotResult> {
    const buf = this.cbw.encode({ tag, dataTransferLength: expected, direction: req.direction, lun: req.lun,
      cdb: req.cdb, cdbLength: req.cdbLength });
    const sent = await this.step(cmd, 'cbw', 0, this.cbwTransfer.submit(buf, this.timeouts.cbwMs));
    if (sent !== CBW_LENGTH) throw new PhaseFailure('transport', 'cbw', `CBW sent ${sent} of 31 bytes`, undefined, 0);
    this.checkAbort(cmd, 'cbw', 0);

    let transferred = 0;
    let dataStalled = false;
    let csw: Csw | undefined;
    if (req.direction !== 'none' && expected > 0) {
      const pipe = req.direction;
      const dataMs = req.dataTimeoutMs > 0 ? req.dataTimeoutMs : this.timeouts.dataMs;
      const sequential = pipe === 'in' && this.quirks.noCswPipelining;
      const d = await runDataPhase(cmd.slot, req, pipe, dataMs, sequential);
      transferred = d.transferred;
      if (d.error !== undefined) this.phaseError(cmd, 'data', d.error, transferred);
      if (d.stalled) {
        dataStalled = true;
        log('tag %d: data %s stalled after %d bytes: clearing halt', tag, pipe, transferred);
        await this.step(cmd, 'data', transferred, this.port.clearHalt(pipe));
      } else if (d.late !== undefined && d.lateBytes > 0) {
        // The CSW arrived in a data transfer still queued behind a short packet.
        log('tag %d: CSW taken from a queued data transfer (%d bytes)', tag, d.lateBytes);
        csw = this.verify(d.late, d.lateBytes, tag, expected, transferred);
      }
    }
    csw ??= await this.readCsw(cmd, req, tag, expected, transferred);
    if (csw.status === CSW_STATUS_PHASE_ERROR) {
      throw new PhaseFailure('phase-error', 'csw', 'device reported phase error', undefined, transferred);
    }
    const residue = hostResidue(expected, transferred, csw.dataResidue, this.quirks.ignoreResidue);
    return { status: csw.status, transferred, residue, deviceResidue: csw.dataResidue, dataStalled };
  }

  /** Read the CSW; a STALL gets one clear-halt and one more read, a zero-length packet one more read. */
  private async readCsw(cmd: ActiveCommand, req: BotRequest, tag: number, expected: number,
    transferred: number): Promise<Csw> {
    const ms = Math.max(this.timeouts.cswMs, req.dataTimeoutMs);
    let retried = false;
    for (;;) {
      this.checkAbort(cmd, 'csw', transferred);
      try {
        const n = await this.cswTransfer.submit(this.cswBuffer, ms);
        if (n === 0 && !retried) {
          retried = true;
          log('tag %d: zero-length packet where the CSW was due: reading again', tag);
          continue;
        }
        if (req.direction === 'in' && transferred === expected && looksLikeExtraData(this.cswBuffer, n)) {
          throw new PhaseFailure('overrun', 'data', `device sent ${n} bytes more than the ${expected} expected`,
            undefined, transferred);
        }
        return this.verify(this.cswBuffer, n, tag, expected, transferred);
      } catch (e) {
        if (e instanceof PhaseFailure) throw e;
        if (!isUsbError(e, 'STALL') || retried) this.phaseError(cmd, 'csw', e, transferred);
        retried = true;
        log('tag %d: CSW read stalled: clearing halt in and reading again', tag);
        await this.step(cmd, 'csw', transferred, this.port.clearHalt('in'));
      }
    }
  }

  /** The previous failure left the device unrecovered: try Reset Recovery again before anything else. */
  private async recoverBeforeCommand(): Promise<void> {
    log('device left unrecovered by the previous failure: reset recovery before the next command');
    let recovered: boolean;
    try {
      recovered = await resetRecovery(this.port, this.recoveryTimeouts());
    } catch (e) {
      this.goneError ??= isUsbError(e) ? e : undefined;
      throw new BotError('device-gone', 'recovery', 'device disconnected during recovery', { cause: e });
    }
    if (!recovered) {
      throw new BotError('transport', 'recovery',
        'the device did not recover from the previous failure (Reset Recovery and port reset failed); command not sent');
    }
    this.unrecovered = false;
  }

  private verify(buf: Buffer, n: number, tag: number, expected: number, transferred: number): Csw {
    const v = checkCsw(buf, n, tag, expected, this.quirks.ignoreResidue);
    if (!v.ok) throw new PhaseFailure('invalid-csw', 'csw', v.detail, undefined, transferred);
    return v.csw;
  }

  /** abort() may land between two transfers: stop before putting anything more on the wire. */
  private checkAbort(cmd: ActiveCommand, phase: BotPhase, transferred: number): void {
    if (cmd.aborted) throw new PhaseFailure('aborted', phase, 'command aborted', undefined, transferred);
  }

  /** Await a wire operation of `phase`; any failure becomes a PhaseFailure. */
  private async step<T>(cmd: ActiveCommand, phase: BotPhase, transferred: number, op: Promise<T>): Promise<T> {
    try {
      return await op;
    } catch (e) {
      this.phaseError(cmd, phase, e, transferred);
    }
  }

  private phaseError(cmd: ActiveCommand, phase: BotPhase, e: unknown, transferred: number): never {
    throw usbFailure(e, phase, transferred, this.goneError !== undefined, cmd.aborted);
  }

  /** Turn a failure into the BotError to reject with, running Reset Recovery unless the device is gone. */
  private async fail(cmd: ActiveCommand, f: PhaseFailure, tag: number): Promise<BotError> {
    let kind = f.kind;
    if (this.goneError !== undefined) kind = 'device-gone';
    else if (cmd.aborted && kind !== 'device-gone') kind = 'aborted';
    const base = { cause: f.cause, transferred: f.transferred, tag };
    if (kind === 'device-gone') {
      this.goneError ??= isUsbError(f.cause) ? f.cause : undefined;
      return new BotError(kind, f.phase, f.message, { ...base, recovered: false });
    }
    if (this.closing) return new BotError(kind, f.phase, `${f.message} (transport closing)`, base);
    log('tag %d: %s in %s phase (%s): reset recovery', tag, kind, f.phase, f.message);
    try {
      const recovered = await resetRecovery(this.port, this.recoveryTimeouts());
      this.unrecovered = !recovered;
      return new BotError(kind, f.phase, f.message, { ...base, recovered });
    } catch (e) {
      this.goneError ??= isUsbError(e) ? e : undefined;
      return new BotError('device-gone', 'recovery', `device disconnected during recovery after: ${f.message}`,
        { ...base, cause: e });
    }
  }

  // ---------------------------------------------------------------- helpers

  private refusal(): BotError | undefined {
    if (this.goneError !== undefined) {
      return new BotError('device-gone', 'request', 'device is gone', { cause: this.goneError });
    }
    if (this.closing || this.port.closed) return new BotError('aborted', 'request', 'transport is closed');
    if (this.active !== undefined || this.maintenance) {
      return new BotError('busy', 'request', 'a command is already on the wire', { recovered: true });
    }
    return undefined;
  }

  private async maintain(what: string, op: () => Promise<void>): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    this.maintenance = true;
    try {
      await op();
    } catch (e) {
      if (isUsbError(e, 'NO_DEVICE')) {
        this.goneError ??= e;
        throw new BotError('device-gone', 'recovery', `device disconnected during ${what}`, { cause: e });
      }
      // Reset Recovery or the port reset failed: remembered, so the next command recovers first.
      this.unrecovered = true;
      throw new BotError('transport', 'recovery', `${what} failed`, { cause: e });
    } finally {
      this.maintenance = false;
    }
  }

  private recoveryTimeouts(): { controlMs: number; resetDelayMs: number } {
    return { controlMs: this.timeouts.controlMs, resetDelayMs: this.quirks.resetDelayMs };
  }

  private cancelWire(cmd: ActiveCommand): void {
    this.cbwTransfer.cancel();
    cmd.slot.cancelAll();
    this.cswTransfer.cancel();
  }

  private ownSlot(slot: BotSlot): TransportSlot {
    if (!(slot instanceof TransportSlot) || slot.owner !== this) {
      throw new BotError('transport', 'request', 'slot was not allocated by this transport', { recovered: true });
    }
    if (slot.freed) throw new BotError('transport', 'request', 'slot was freed', { recovered: true });
    return slot;
  }

  /** Caller mistakes are refused before anything reaches the wire (recovered: the device is untouched). */
  private validate(slot: TransportSlot, req: BotRequest): void {
    const problem = requestProblem(req, slot.maxSegments, this.maxLun, this.maxTransferBytes);
    if (problem !== undefined) {
      throw new BotError('transport', 'request', `invalid request: ${problem}`, { recovered: true });
    }
  }
}


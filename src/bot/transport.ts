/**
 * The Bulk-Only Transport engine: the {@link Transport} (src/transport/) that runs one command at a time over a
 * {@link UsbPort}, CBW -> data -> CSW, with the recovery BOT 1.0 prescribes, per-phase timeouts and host-counted
 * residues. It knows nothing of SCSA. How BOT maps onto the seam:
 *  - status: CSW "passed" is GOOD (0x00), "failed" CHECK CONDITION (0x02); BOT carries no sense
 *    (`senseLength` -1, `carriesSense` false), so the HBA asks REQUEST SENSE itself;
 *  - `queueDepth` 1: no new CBW before the CSW of the previous command (BOT 1.0 §5.3);
 *  - failures reject with a {@link BotError}: its `kind` is a TransportErrorKind, or 'phase-error' /
 *    'invalid-csw', which the HBA counts as 'transport'; Reset Recovery has already run (`recovered`);
 *  - `abort(slot)`: the command is taken off the wire and fails 'aborted' after its own Reset Recovery;
 *  - `reset('lun' | 'target')`: Reset Recovery (BOT has no LUN reset); `reset('bus')`: a USB port reset.
 *
 * Per command it allocates no buffers, transfers or state objects: the CBW and CSW buffers and their transfers
 * belong to the engine's {@link CommandRunner} (run.ts, which puts one command on the wire), the command state
 * ({@link BotCommand}) and the data transfers to the caller's slot, and data goes straight between the device and
 * the caller's segments. The one timer per command is its deadline (bot/command.ts). Recovery is owned here alone.
 */
import { isUsbError } from '../usb/errors.js';
import type { UsbError } from '../usb/errors.js';
import type { UsbPort } from '../usb/port.js';
import { logger } from '../util/log.js';
import type { ResetLevel, Transport, TransportCommand, TransportSlot } from '../transport/index.js';
import { TagCounter } from './cbw.js';
import type { BotCommand } from './command.js';
import { BotError } from './errors.js';
import { PhaseFailure } from './failure.js';
import { checkBotOptions, defaultMaxTransfer, effectiveTimeouts, requestProblem, totalLength } from './options.js';
import type { BotOptions, BotTimeouts } from './options.js';
import { resolveQuirks } from '../quirks/index.js';
import { hex4 } from '../util/hex.js';
import type { Quirks } from '../quirks/index.js';
import { portResetOnly, queryMaxLun, resetRecovery } from './recovery.js';
import { CommandRunner, type BotResult } from './run.js';
import { BotSlot } from './slot.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { formatWait, type RecoverySink } from '../util/recovery.js';
import type { BotPhase } from './errors.js';

const log = logger('bot');

/** A phase as the recovery reports name it. */
const PHASE_NAMES: Readonly<Record<BotPhase, string>> = {
  'request': 'request', 'get-max-lun': 'Get Max LUN', 'cbw': 'command (CBW)', 'data': 'data phase',
  'csw': 'status (CSW)', 'recovery': 'recovery',
};

export type { BotOptions, BotTimeouts } from './options.js';
export { BOT_TIMEOUT_KEYS, DEFAULT_TIMEOUTS, GO_SLOW_FACTOR } from './options.js';

export class BotTransport implements Transport {
  readonly protocol = 'bot';
  /** BOT moves one command at a time: no new CBW before the previous command's CSW. */
  readonly queueDepth = 1;
  /** BOT's CSW says only passed or failed: the sense is asked for with REQUEST SENSE. */
  readonly carriesSense = false;
  readonly maxPacketSize: number;
  readonly maxTransferBytes: number;
  readonly timeouts: Readonly<BotTimeouts>;
  private readonly runner: CommandRunner;
  private readonly tags = new TagCounter();
  /** The slot whose command is on the wire. */
  private active: BotSlot | undefined;
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
  /** BotOptions.onRecovery: told of each recovery step. */
  private readonly report: RecoverySink | undefined;

  private constructor(readonly port: UsbPort, readonly quirks: Quirks, readonly maxLun: number, opts: BotOptions,
    timeouts: BotTimeouts) {
    this.timeouts = timeouts;
    this.maxPacketSize = port.info.maxPacketSize.in;
    const caps = [opts.maxTransferBytes ?? defaultMaxTransfer(port.info.speed), quirks.maxTransferBytes ?? Infinity];
    this.maxTransferBytes = Math.min(...caps);
    this.report = opts.onRecovery;
    this.runner = new CommandRunner(port, quirks, timeouts, () => this.goneError !== undefined);
    this.unsubscribe = port.onDisconnect((e) => {
      this.goneError ??= e;
      log('device disconnected: %s', e.message);
    });
  }

  /** Resolve quirks, ask Get Max LUN (with fallbacks), and make the engine's reusable transfers. */
  static async open(port: UsbPort, opts: BotOptions = {}): Promise<BotTransport> {
    checkBotOptions(opts);
    const info = port.info;
    // The speed picks the entry: QEMU's stick takes different round-trip savers behind xHCI and behind EHCI.
    const quirks = opts.quirks ?? resolveQuirks({ vendorId: info.vendorId, productId: info.productId,
      bcdDevice: opts.bcdDevice, speed: info.speed }, opts.quirkOverrides ?? []);
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

  /** Preallocate the transfers and state of one packet, for up to `maxSegments` data segments. */
  allocSlot(maxSegments: number): BotSlot {
    if (!Number.isInteger(maxSegments) || maxSegments < 1) throw new UsbmsArgumentError(`maxSegments ${maxSegments} < 1`);
    return new BotSlot(this, this.port, maxSegments, this.expire);
  }

  /** Release what allocSlot made. */
  freeSlot(slot: TransportSlot): void {
    const s = this.ownSlot(slot);
    if (this.active === s) throw new BotError('busy', 'request', 'slot freed while its command runs');
    s.freed = true;
    s.cmd.dispose();
  }

  /** Run one command (CBW, data, CSW): see the Transport contract and the mapping in the file comment. */
  execute(slot: TransportSlot, req: TransportCommand): Promise<BotResult> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    let s: BotSlot;
    try {
      s = this.ownSlot(slot);
      this.validate(s, req);
    } catch (e) {
      return Promise.reject(e instanceof BotError ? e : new BotError('transport', 'request', String(e), { cause: e }));
    }
    s.begin();
    this.active = s;
    const run = this.track(s, req);
    this.running = run;
    return run;
  }

  /** run() with the bookkeeping after it (a method, not a closure per command). */
  private async track(s: BotSlot, req: TransportCommand): Promise<BotResult> {
    try {
      return await this.run(s, req);
    } finally {
      this.active = undefined;
      this.running = undefined;
    }
  }

  /** Cancel the command on `slot`: it rejects with kind 'aborted' once its own Reset Recovery has run. */
  async abort(slot: TransportSlot): Promise<void> {
    if (this.active === undefined || this.active !== slot) return;
    await this.cancelActive();
  }

  /**
   * The reset ladder on BOT: 'lun' and 'target' are Reset Recovery (BOT has no per-LUN reset), 'bus' a USB port
   * reset. A command on the wire is aborted first; its abort is itself a Reset Recovery, so for 'lun' and
   * 'target' nothing more is sent unless that recovery failed.
   */
  async reset(level: ResetLevel, _lun?: number): Promise<void> {
    if (this.active !== undefined) {
      await this.cancelActive();
      if (level !== 'bus' && !this.unrecovered && this.refusal() === undefined) return;
    }
    if (level === 'bus') await this.portReset();
    else await this.resetRecovery();
  }

  /** BOT Reset Recovery: Mass Storage Reset, clear halt IN, clear halt OUT; a port reset when that fails. */
  async resetRecovery(): Promise<void> {
    await this.maintain('Reset Recovery', () => resetRecovery(this.port, this.recoveryTimeouts(), this.report));
  }

  /** USB port reset (the device keeps its address); Reset Recovery state is clean after it. */
  async portReset(): Promise<void> {
    await this.maintain('port reset', () => portResetOnly(this.port, this.report));
  }

  /** Fail what is in flight with kind 'aborted', stop taking commands and close the port. Never rejects. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.active !== undefined) await this.cancelActive();
    this.unsubscribe();
    try {
      await this.port.close();
    } catch (e) {
      if (!isUsbError(e, 'NO_DEVICE') && !isUsbError(e, 'CLOSED')) log('closing the port failed: %s', String(e));
    }
  }

  /** Take the command on the wire off it and wait until it has failed (and recovered). */
  private async cancelActive(): Promise<void> {
    const s = this.active;
    if (s === undefined) return;
    s.cmd.aborted = true;
    this.runner.cancel(s);
    await this.running?.catch(() => undefined);
  }

  // ---------------------------------------------------------------- one command

  private async run(s: BotSlot, req: TransportCommand): Promise<BotResult> {
    if (this.unrecovered) await this.recoverBeforeCommand();
    const tag = this.tags.next();
    const cmd = s.cmd;
    cmd.begin(tag, totalLength(req), req.direction, this.timeouts.cbwMs);
    try {
      return await this.runner.run(s, req);
    } catch (e) {
      if (!(e instanceof PhaseFailure)) throw e;
      throw await this.fail(cmd, e, tag);
    } finally {
      cmd.end();
    }
  }

  /** The deadline of the command on the wire passed: take it off the wire (it then fails as a timeout). */
  private readonly expire = (): void => {
    this.runner.cancel(this.active);
  };

  /** The previous failure left the device unrecovered: try Reset Recovery again before anything else. */
  private async recoverBeforeCommand(): Promise<void> {
    log('device left unrecovered by the previous failure: reset recovery before the next command');
    let recovered: boolean;
    try {
      recovered = await resetRecovery(this.port, this.recoveryTimeouts(), this.report,
        'the last failure left the device unrecovered');
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

  /** Turn a failure into the BotError to reject with, running Reset Recovery unless the device is gone. */
  private async fail(cmd: BotCommand, f: PhaseFailure, tag: number): Promise<BotError> {
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
    if (kind === 'timeout') {
      this.report?.({ step: 'timeout', detail: `the ${PHASE_NAMES[f.phase]} of tag ${tag} had no answer within ` +
        formatWait(cmd.phaseBudgetMs), timeoutMs: cmd.phaseBudgetMs });
    }
    try {
      const recovered = await resetRecovery(this.port, this.recoveryTimeouts(), this.report,
        `${kind === 'timeout' ? 'timeout' : kind === 'aborted' ? 'command aborted' : f.message} in the ${PHASE_NAMES[f.phase]} of tag ${tag}`);
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

  /** Run a recovery `op` (true: the device is back) with the wire held; a failure is remembered and typed. */
  private async maintain(what: string, op: () => Promise<boolean>): Promise<void> {
    const refused = this.refusal();
    if (refused !== undefined) throw refused;
    this.maintenance = true;
    let back: boolean;
    try {
      back = await op();
    } catch (e) {
      if (isUsbError(e, 'NO_DEVICE')) {
        this.goneError ??= e;
        throw new BotError('device-gone', 'recovery', `device disconnected during ${what}`, { cause: e });
      }
      back = false;
      log('%s failed: %s', what, String(e));
    } finally {
      this.maintenance = false;
    }
    // Reset Recovery or the port reset failed: remembered, so the next command recovers first.
    this.unrecovered = !back;
    if (!back) throw new BotError('transport', 'recovery', `${what} failed: the device did not come back`);
  }

  private recoveryTimeouts(): { controlMs: number; resetDelayMs: number } {
    return { controlMs: this.timeouts.controlMs, resetDelayMs: this.quirks.resetDelayMs };
  }

  private ownSlot(slot: TransportSlot): BotSlot {
    if (!(slot instanceof BotSlot) || slot.owner !== this) {
      throw new BotError('transport', 'request', 'slot was not allocated by this transport', { recovered: true });
    }
    if (slot.freed) throw new BotError('transport', 'request', 'slot was freed', { recovered: true });
    return slot;
  }

  /** Caller mistakes are refused before anything reaches the wire (recovered: the device is untouched). */
  private validate(slot: BotSlot, req: TransportCommand): void {
    const problem = requestProblem(req, slot.maxSegments, this.maxLun, this.maxTransferBytes);
    if (problem !== undefined) {
      throw new BotError('transport', 'request', `invalid request: ${problem}`, { recovered: true });
    }
  }
}


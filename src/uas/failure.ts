/**
 * A command that fails: its transfers are taken off the wire, the data pipe it used is kept from new data phases,
 * the recovery its failure calls for runs (the ladder from ABORT TASK, the verdict of a reset that ends it, or a
 * cleared command pipe), and only then is its tag given back and the command rejected with the rung that ended it.
 * A failure in progress is never replaced by a later one.
 */
import { isUsbError } from '../usb/errors.js';
import { logger } from '../util/log.js';
import type { UasSlot } from './command.js';
import type { Recover, UasCore } from './core.js';
import type { DataPipes } from './data-pipes.js';
import { UasError, type UasErrorKind, type UasPhase, type UasRecovery } from './errors.js';
import type { RecoveryLadder } from './ladder.js';

const log = logger('uas');

export class Failures {
  constructor(private readonly core: UasCore, private readonly pipes: DataPipes, private readonly ladder: RecoveryLadder) {}

  protocolError(s: UasSlot, phase: UasPhase, message: string): void {
    this.core.stats.protocolErrors++;
    log('tag %d: protocol violation: %s', s.tag, message);
    void this.giveUp(s, 'protocol', phase, message, 'ladder');
  }

  /** A USB failure of one of the command's own transfers. */
  failFromUsb(s: UasSlot, phase: UasPhase, e: unknown): void {
    if (this.core.goneError !== undefined || isUsbError(e, 'NO_DEVICE')) {
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
  giveUp(s: UasSlot, kind: UasErrorKind, phase: UasPhase, message: string, recover: Recover,
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
    this.pipes.unwait(s);
    // A data pipe the command has used is kept from new data phases until the recovery has flushed it.
    const heldPipe = s.direction !== 'none' && s.dataStarted ? this.pipes[s.direction] : undefined;
    if (heldPipe !== undefined) heldPipe.blocked++;
    await s.settled();
    if (heldPipe !== undefined) this.pipes.releasePipe(heldPipe, s);
    let recovery: UasRecovery = s.collateral ?? 'none';
    if (this.core.goneError !== undefined) {
      kind = 'device-gone';
    } else if (s.verdict !== undefined) {
      // A reset of its LUN or the target ends this task: the tag stays taken (the device still knows it) until then.
      recovery = await s.verdict;
      if (heldPipe !== undefined && (recovery === 'lun-reset' || recovery === 'nexus-reset')) await this.pipes.flushPipe(heldPipe);
    } else if (clearCommandPipe) {
      try { await this.core.clearCommandPipe(); } catch (e) { log('clear halt on the command pipe failed: %s', (e as Error).message); this.core.unrecovered = true; }
    } else if (recover === 'ladder' && wasSent && !this.core.closing && s.collateral === undefined) {
      recovery = await this.ladder.ladder(s, heldPipe);
    }
    if (heldPipe !== undefined) {
      heldPipe.blocked--;
      this.pipes.kick(heldPipe);
    }
    if (s.seq !== seq) return;
    if (kind === 'device-gone') recovery = 'none';
    this.core.end(s, new UasError(kind, phase, message, { cause, transferred: s.transferred, tag: s.tag, recovery }));
  }
}

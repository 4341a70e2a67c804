/**
 * A command's data phase: the READ READY or WRITE READY that announces it (checked against the command: its
 * direction, once, before its status), a second announcement on a pipe whose data still moves (both commands
 * fail), each segment's completion (next segment, short end, stall, babble), and the end of the phase, which hands
 * the pipe on (data-pipes.ts) and waits for the status IU unless it has come.
 */
import { isUsbError } from '../usb/errors.js';
import { logger } from '../util/log.js';
import type { UasSlot } from './command.js';
import type { UasCore } from './core.js';
import type { DataPipe, DataPipes } from './data-pipes.js';
import type { Failures } from './failure.js';
import type { Xfer } from './xfer.js';

const log = logger('uas');

export class DataPhase {
  constructor(private readonly core: UasCore, private readonly pipes: DataPipes, private readonly failures: Failures) {}

  onReady(s: UasSlot, dir: 'in' | 'out'): void {
    if (s.finalSeen || s.dataStarted || dir !== s.direction || s.expected === 0) {
      const what = dir === 'in' ? 'READ READY' : 'WRITE READY';
      const why = s.dataStarted ? 'a second time' : s.expected === 0 ? 'for a command without data'
        : s.finalSeen ? 'after its status' : `for a data-${s.direction} command`;
      this.failures.protocolError(s, 'data', `${what} ${why}`);
      return;
    }
    s.dataStarted = true;
    if (s.state === 'command') s.state = 'waiting'; // the IU is on the device even if its completion is not here yet
    const pipe = this.pipes[dir];
    if (pipe.blocked > 0 || pipe.active !== undefined || pipe.waiting.length > 0) {
      pipe.waiting.push(s);
      if (pipe.active !== undefined && pipe.blocked === 0) this.pipes.later(() => this.checkOverlap(pipe, s));
      return;
    }
    this.pipes.startData(pipe, s);
  }

  /**
   * A second data phase was announced on a pipe whose first is still moving. Without streams the data carries no
   * tag, so neither command's data can be told apart any more: both fail and are aborted.
   */
  private checkOverlap(pipe: DataPipe, s: UasSlot): void {
    const a = pipe.active;
    if (a === undefined || pipe.blocked > 0 || !pipe.waiting.includes(s) || s.state === 'failing') return;
    const msg = `tag ${s.tag}'s data phase was announced while tag ${a.tag}'s was still moving on the data-${pipe.name} pipe`;
    this.core.stats.protocolErrors++;
    void this.failures.giveUp(a, 'protocol', 'data', msg, 'ladder');
    void this.failures.giveUp(s, 'protocol', 'data', msg, 'ladder');
  }

  /** Completion of a data segment of `s` (the slot's data transfers call this, made once per slot). */
  readonly onData = (s: UasSlot, x: Xfer): void => {
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
        void this.failures.giveUp(s, 'overrun', 'data', `the device sent more than the ${s.expected} bytes expected`, 'ladder', e);
        return;
      }
      this.failures.failFromUsb(s, 'data', e);
      return;
    }
    const count = s.command?.segmentCount ?? 0;
    // The status IU has come: the device has ended the command, no more of its data is coming or wanted.
    if (x.short || s.finalSeen || s.segment + 1 >= count) { this.dataDone(s, pipe); return; }
    s.segment++;
    this.pipes.submitSegment(s);
  };

  /** A stalled data pipe: clear its halt (the data phase is over), then the status IU ends the command. */
  private async dataStalled(s: UasSlot, pipe: DataPipe): Promise<void> {
    s.dataStalled = true;
    s.clearing = true;
    const seq = s.seq;
    log('tag %d: data-%s stalled after %d bytes: clearing the halt', s.tag, pipe.name, s.transferred);
    try {
      await this.pipes.clearPipe(pipe);
    } catch (e) {
      s.clearing = false;
      if (s.seq === seq) this.failures.failFromUsb(s, 'data', e);
      return;
    }
    s.clearing = false;
    if (s.seq !== seq || s.state !== 'data') return;
    this.dataDone(s, pipe);
  }

  private dataDone(s: UasSlot, pipe: DataPipe): void {
    this.pipes.releasePipe(pipe, s);
    s.state = 'waiting';
    if (s.finalSeen) this.core.complete(s);
    else s.arm(this.core.statusBudget(s));
    this.pipes.kick(pipe);
  }
}

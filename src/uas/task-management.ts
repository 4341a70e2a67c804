/**
 * Task management on the wire: a TASK MANAGEMENT IU goes out on the command pipe with a tag of its own and a status
 * read counted for its RESPONSE IU, and the function is over when that answers, its deadline passes, its IU is
 * stalled (the command pipe's halt is then cleared) or the device goes. The slots that carry them (tmf.ts) are made
 * once at open; a function waits for a free one. What the functions are for is the ladder's (ladder.ts, resets.ts).
 */
import { isUsbError } from '../usb/errors.js';
import { IU_ID } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import type { UasCore } from './core.js';
import { UasError } from './errors.js';
import { encodeTmfIu, RESPONSE_IU_LENGTH, responseCode } from './iu.js';
import { TAG_SPACE } from './options.js';
import { describeOutcome, tmfName, TmfSlot, type TmfOutcome } from './tmf.js';
import type { Xfer } from './xfer.js';

const log = logger('uas');

/** Task management functions that may be in flight at once (their tags are kept free of commands). */
const TMF_SLOTS = TAG_SPACE - 30;

export class TaskManagement {
  readonly tmfSlots: TmfSlot[];
  private readonly tmfWaiters: (() => void)[] = [];

  constructor(private readonly core: UasCore) {
    this.tmfSlots = Array.from({ length: TMF_SLOTS }, () => new TmfSlot(core.port, this.onTmfSent));
  }

  /** Send one task management function and wait for its RESPONSE IU (or its deadline). */
  async tmf(fn: number, lun: number, managedTag: number): Promise<TmfOutcome> {
    const core = this.core;
    if (core.goneError !== undefined) return { kind: 'ended', why: 'gone' };
    if (core.closing) return { kind: 'ended', why: 'closed' };
    const t = await this.takeTmfSlot();
    try {
      const tag = core.tags.take();
      if (tag === 0) return { kind: 'failed', error: new UasError('busy', 'task-management', 'no free tag for task management') };
      t.tag = tag;
      t.fn = fn;
      t.answered = false;
      core.owners[tag] = t;
      const generation = core.status.generation;
      core.status.expect(1);
      encodeTmfIu(t.iu, tag, fn, managedTag, lun);
      const outcome = t.wait(core.timeouts.tmfMs);
      t.xfer.submit(t.iu, tag);
      const o = await outcome;
      log('%s (tag %d, managed tag %d, LUN %d): %s', tmfName(fn), tag, managedTag, lun, describeOutcome(o));
      if (t.xfer.busy) { t.xfer.cancel(); await t.xfer.settled; }
      if (!t.answered && generation === core.status.generation) core.status.expect(-1);
      if (core.owners[tag] === t) core.owners[tag] = undefined;
      core.tags.release(tag);
      if (o.kind === 'stall') await core.clearCommandPipe().catch((e: unknown) => log('clear halt on the command pipe: %s', (e as Error).message));
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

  /** An IU on the status pipe for the tag of task management function `t` (status-dispatch.ts). */
  onTmfIu(t: TmfSlot, id: number, buf: Buffer, n: number): void {
    if (!t.waiting) return;
    if (id !== IU_ID.RESPONSE || n < RESPONSE_IU_LENGTH) {
      this.core.stats.protocolErrors++;
      log('tag %d (%s): IU 0x%s of %d bytes where a RESPONSE IU was due', t.tag, tmfName(t.fn), id.toString(16), n);
      t.answered = true;
      this.core.status.expect(-1);
      t.end({ kind: 'failed', error: new UasError('protocol', 'task-management', `IU 0x${id.toString(16)} instead of a RESPONSE IU`) });
      return;
    }
    t.answered = true;
    this.core.status.expect(-1);
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
}

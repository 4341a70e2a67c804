/**
 * Task management functions (UAS-2 §6.2.4; SAM-5 §7): the host's way to abort one command (ABORT TASK), every
 * command of a logical unit (LOGICAL UNIT RESET) or of the whole nexus (I_T NEXUS RESET). Each goes on the command
 * pipe as a TASK MANAGEMENT IU with a tag of its own and is answered by a RESPONSE IU on the status pipe.
 * Two slots, made once at open: the transport keeps two tags free of commands for them (options.ts TAG_SPACE).
 */
import type { UsbPort } from '../usb/port.js';
import { RESPONSE_CODE, TMF } from '../usb/wire/uas.js';
import { Xfer } from './xfer.js';

/** How a task management function ended. */
export type TmfOutcome =
  /** A RESPONSE IU came; `code` says what it said. */
  | { kind: 'response'; code: number }
  /** No RESPONSE within the deadline (the IU may or may not have reached the device). */
  | { kind: 'timeout' }
  /** The TASK MANAGEMENT IU itself was stalled (not taken). */
  | { kind: 'stall' }
  /** The device is gone, the transport closed, or a port reset took it off the wire. */
  | { kind: 'ended'; why: 'gone' | 'closed' | 'reset' }
  /** Sending it failed otherwise. */
  | { kind: 'failed'; error: unknown };

/** Whether the device carried the function out: TMF COMPLETE (what QEMU answers) or TMF SUCCEEDED (UAS-2). */
export function tmfDone(o: TmfOutcome): boolean {
  return o.kind === 'response' && (o.code === RESPONSE_CODE.TMF_COMPLETE || o.code === RESPONSE_CODE.TMF_SUCCEEDED);
}

export function tmfName(fn: number): string {
  switch (fn) {
    case TMF.ABORT_TASK: return 'ABORT TASK';
    case TMF.LOGICAL_UNIT_RESET: return 'LOGICAL UNIT RESET';
    case TMF.I_T_NEXUS_RESET: return 'I_T NEXUS RESET';
    case TMF.QUERY_TASK: return 'QUERY TASK';
    default: return `task management function 0x${fn.toString(16)}`;
  }
}

export function describeOutcome(o: TmfOutcome): string {
  switch (o.kind) {
    case 'response': return `response code 0x${o.code.toString(16).padStart(2, '0')}`;
    case 'timeout': return 'no response in time';
    case 'stall': return 'its IU was stalled';
    case 'ended': return `ended (${o.why})`;
    case 'failed': return `failed (${o.error instanceof Error ? o.error.message : String(o.error)})`;
  }
}

/** One task management slot: its IU buffer, its transfer, and the function in flight on it. */
export class TmfSlot {
  readonly iu = Buffer.alloc(16);
  readonly xfer: Xfer;
  tag = 0;
  fn = 0;
  busy = false;
  /** The IU was answered: the RESPONSE used up the status read counted for it. */
  answered = false;
  private resolveFn: ((o: TmfOutcome) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(port: UsbPort, onSent: (t: TmfSlot, x: Xfer) => void) {
    this.xfer = new Xfer(port.createTransfer('command'), (x) => onSent(this, x));
  }

  /** Start waiting for the outcome; a deadline of `ms` ends the wait as a timeout. */
  wait(ms: number): Promise<TmfOutcome> {
    return new Promise<TmfOutcome>((resolve) => {
      this.resolveFn = resolve;
      this.timer = setTimeout(() => this.end({ kind: 'timeout' }), ms);
    });
  }

  /** The function is over (first call wins). */
  end(o: TmfOutcome): void {
    const resolve = this.resolveFn;
    if (resolve === undefined) return;
    this.resolveFn = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    resolve(o);
  }

  get waiting(): boolean { return this.resolveFn !== undefined; }
}

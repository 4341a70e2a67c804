/**
 * What every part of the UAS transport shares: the port, the deadlines, the counters, the tags and who holds each,
 * the slots and how many commands are in flight, the status pipe, and whether the device is gone, the transport
 * closing or the device left unrecovered. Also the bookkeeping that ends a command either way (its result or its
 * error; its tag and its status read given back), which every part calls, and the command pipe's halt, which a
 * command and a task management function may both meet. transport.ts describes the protocol and wires the parts.
 */
import type { TransportResult } from '../transport/index.js';
import type { UsbError } from '../usb/errors.js';
import type { UsbPort } from '../usb/port.js';
import type { RecoverySink } from '../util/recovery.js';
import type { UasSlot } from './command.js';
import { UasError, type UasErrorKind, type UasPhase } from './errors.js';
import { TAG_SPACE, type UasTimeouts } from './options.js';
import { StatusPipe, type StatusSink } from './status.js';
import { TagPool } from './tags.js';
import type { TmfSlot } from './tmf.js';

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
export type Recover = 'ladder' | 'none';

/**
 * End a command with a failure and run its recovery (failure.ts). The resets that end other commands than the one
 * that asked for them are handed it by the transport, since the failure path itself climbs to those resets.
 */
export type GiveUp = (s: UasSlot, kind: UasErrorKind, phase: UasPhase, message: string, recover: Recover,
  cause?: unknown, clearCommandPipe?: boolean) => Promise<void>;

export class UasCore {
  readonly stats: UasStats = {
    commands: 0, maxInFlight: 0, unknownTagIus: 0, protocolErrors: 0, abortTasks: 0, lunResets: 0, nexusResets: 0,
    portResets: 0,
  };
  readonly tags = new TagPool(TAG_SPACE);
  /** Who holds each tag: a command, a task management function, or nothing (an IU for it is dropped). */
  readonly owners: (UasSlot | TmfSlot | undefined)[] = new Array<UasSlot | TmfSlot | undefined>(TAG_SPACE + 1).fill(undefined);
  readonly slots = new Set<UasSlot>();
  inFlight = 0;
  readonly status: StatusPipe;
  goneError: UsbError | undefined;
  closing = false;
  /** The last recovery failed: the device is in an unknown state until a port reset brings it back. */
  unrecovered = false;
  private commandPipeClearing: Promise<void> | undefined;

  /** `report`: UasOptions.onRecovery, told of each recovery step. */
  constructor(readonly port: UsbPort, readonly timeouts: Readonly<UasTimeouts>, readonly report: RecoverySink | undefined,
    statusSink: StatusSink) {
    this.status = new StatusPipe(port, TAG_SPACE + 2, statusSink);
  }

  /** Deadline of the device's part: the command's own data timeout, else the default. */
  deviceBudget(s: UasSlot): number {
    const t = s.command?.dataTimeoutMs ?? 0;
    return t > 0 ? t : this.timeouts.dataMs;
  }

  statusBudget(s: UasSlot): number {
    return Math.max(this.timeouts.statusMs, s.command?.dataTimeoutMs ?? 0);
  }

  complete(s: UasSlot): void {
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

  /** Reject `s` and free what it held (its tag, its status read, its place in the queue). */
  end(s: UasSlot, error: UasError): void {
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
  consumeExpectation(s: UasSlot): void {
    if (!s.expecting) return;
    s.expecting = false;
    if (s.statusGeneration === this.status.generation) this.status.expect(-1);
  }

  /** CLEAR_FEATURE(HALT) on the command pipe, once however many ask at the same time. */
  clearCommandPipe(): Promise<void> {
    if (this.commandPipeClearing === undefined) {
      this.report?.({ step: 'clear-halt', detail: 'CLEAR_FEATURE(HALT) on the command pipe', timeoutMs: this.timeouts.controlMs });
    }
    this.commandPipeClearing ??= this.port.clearHalt('command').finally(() => { this.commandPipeClearing = undefined; });
    return this.commandPipeClearing;
  }

  goneRefusal(): UasError {
    return new UasError('device-gone', 'request', 'device is gone', { cause: this.goneError });
  }

  refusal(): UasError | undefined {
    if (this.goneError !== undefined) return this.goneRefusal();
    if (this.closing || this.port.closed) return new UasError('aborted', 'request', 'transport is closed');
    return undefined;
  }
}

/**
 * Typed errors of the disk target driver. Callers branch on `kind` (never on message text); every error that
 * came from a CHECK CONDITION carries the decoded sense, so a CLI can map it to an sg3_utils exit status.
 */
import type { SenseData } from '../scsi/index.js';

/** The decoded sense the disk driver works with (fixed or descriptor format, normalised). */
export interface DiskSense {
  /** Sense key, 0..15. */
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
  /** The INFORMATION field when the device marked it valid (for a medium error: the failing LBA). */
  readonly information: bigint | undefined;
  /** The sense bytes as received (a copy; safe to keep). */
  readonly raw: Buffer;
  /** One line a person can read, e.g. "MEDIUM ERROR: Unrecovered read error (11/00)". */
  readonly text: string;
  /** Everything src/scsi decoded (descriptors, sense-key specific ...). */
  readonly decoded: SenseData;
}

export type DiskErrorKind =
  | 'not-ready' // NOT READY that did not become ready in time
  | 'no-medium' // NOT READY 3A/xx: medium not present
  | 'medium' // MEDIUM ERROR (or HARDWARE ERROR on a read/write): the data at `lba` is unreadable/unwritable
  | 'hardware' // HARDWARE ERROR
  | 'illegal-request' // ILLEGAL REQUEST (bad CDB field, LBA out of range, unsupported opcode)
  | 'unit-attention' // UNIT ATTENTION that persisted through the retries
  | 'data-protect' // DATA PROTECT from the device (write protected medium)
  | 'read-only' // a write on a disk not opened with { allowWrite: true }
  | 'aborted' // ABORTED COMMAND, or the packet was aborted
  | 'check-condition' // any other sense key
  | 'busy' // BUSY / TASK SET FULL / RESERVATION CONFLICT that persisted
  | 'timeout' // the command timed out (after the retries)
  | 'transport' // the USB/BOT layer failed to deliver the command (after recovery and retries)
  | 'device-gone' // the device disconnected
  | 'bad-response' // the device answered with data that cannot be right (too short, inconsistent)
  | 'invalid-argument' // the caller's mistake (negative LBA, zero blocks, buffer of the wrong size)
  | 'out-of-range' // an LBA range past the end of the medium (checked before anything is sent)
  | 'closed'; // the disk was closed

export interface DiskErrorOptions {
  sense?: DiskSense | undefined;
  /** The LBA the failure concerns (the sense INFORMATION field for medium errors). */
  lba?: bigint | undefined;
  /** SCSI status byte, when a status was received. */
  status?: number | undefined;
  cause?: unknown;
}

export class DiskError extends Error {
  override readonly name: string = 'DiskError';
  readonly sense: DiskSense | undefined;
  readonly lba: bigint | undefined;
  readonly status: number | undefined;

  constructor(readonly kind: DiskErrorKind, message: string, opts: DiskErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.sense = opts.sense;
    this.lba = opts.lba;
    this.status = opts.status;
  }
}

/** Unreadable or unwritable blocks; `lba` is the first failing block when the device said which. */
export class DiskMediumError extends DiskError {
  override readonly name = 'DiskMediumError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('medium', message, opts); }
}
export class DiskNotReadyError extends DiskError {
  override readonly name = 'DiskNotReadyError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('not-ready', message, opts); }
}
export class DiskNoMediumError extends DiskError {
  override readonly name = 'DiskNoMediumError';
  constructor(message = 'medium not present', opts: DiskErrorOptions = {}) { super('no-medium', message, opts); }
}
/** The medium is write protected (MODE SENSE WP bit, or DATA PROTECT sense from a write). */
export class DiskWriteProtectedError extends DiskError {
  override readonly name = 'DiskWriteProtectedError';
  constructor(message = 'medium is write protected', opts: DiskErrorOptions = {}) {
    super('data-protect', message, opts);
  }
}
/** A write was attempted on a disk opened without `{ allowWrite: true }`. */
export class DiskReadOnlyError extends DiskError {
  override readonly name = 'DiskReadOnlyError';
  constructor(message = 'disk was opened read-only (pass { allowWrite: true } to write)') {
    super('read-only', message);
  }
}
export class DiskIllegalRequestError extends DiskError {
  override readonly name = 'DiskIllegalRequestError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('illegal-request', message, opts); }
}
export class DiskTimeoutError extends DiskError {
  override readonly name = 'DiskTimeoutError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('timeout', message, opts); }
}
export class DiskTransportError extends DiskError {
  override readonly name = 'DiskTransportError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('transport', message, opts); }
}
export class DiskGoneError extends DiskError {
  override readonly name = 'DiskGoneError';
  constructor(message = 'device disconnected', opts: DiskErrorOptions = {}) { super('device-gone', message, opts); }
}
/** A caller's mistake, detected before anything is sent to the device. */
export class DiskArgumentError extends DiskError {
  override readonly name = 'DiskArgumentError';
  constructor(message: string) { super('invalid-argument', message); }
}

/** An LBA range that does not lie on the medium; `lba` is the first block past the end. */
export class DiskRangeError extends DiskError {
  override readonly name = 'DiskRangeError';
  constructor(message: string, lba: bigint) { super('out-of-range', message, { lba }); }
}

export function isDiskError(e: unknown, kind?: DiskErrorKind): e is DiskError {
  return e instanceof DiskError && (kind === undefined || e.kind === kind);
}

/**
 * Typed errors of the disk target driver. Callers branch on `kind` (never on message text); every error that
 * came from a CHECK CONDITION carries the decoded sense, so a CLI can map it to an sg3_utils exit status.
 */
import { SenseKey, type SenseData } from '../scsi/index.js';
import { UsbmsArgumentError, UsbmsError, type UsbmsErrorCode } from '../util/errors.js';

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

/** What went wrong, in disk-driver terms (a DiskError's `kind`; its `code` is DISK_*). */
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
  | 'no-sense' // CHECK CONDITION with NO SENSE (an unknown amount of data moved) that persisted through the retries
  | 'check-condition' // any other sense key
  | 'busy' // BUSY / TASK SET FULL / RESERVATION CONFLICT that persisted
  | 'timeout' // the command timed out (after the retries)
  | 'transport' // the USB/BOT layer failed to deliver the command (after recovery and retries)
  | 'device-gone' // the device disconnected
  | 'bad-response' // the device answered with data that cannot be right (too short, inconsistent)
  | 'invalid-argument' // the caller's mistake: thrown as DiskArgumentError (code ARG_INVALID), not DiskError
  | 'out-of-range' // an LBA range past the end of the medium (checked before anything is sent)
  | 'closed'; // the disk was closed

/** Context of a {@link DiskError}. */
export interface DiskErrorOptions {
  /** The decoded sense of the CHECK CONDITION this error reports. */
  sense?: DiskSense | undefined;
  /** The LBA the failure concerns (the sense INFORMATION field for medium errors). */
  lba?: bigint | undefined;
  /** SCSI status byte, when a status was received. */
  status?: number | undefined;
  /** The transport (BOT/USB) error or other failure behind this one. */
  cause?: unknown;
}

const KIND_CODES: Readonly<Record<DiskErrorKind, UsbmsErrorCode>> = {
  'not-ready': 'DISK_NOT_READY', 'no-medium': 'DISK_NO_MEDIUM', medium: 'DISK_MEDIUM', hardware: 'DISK_HARDWARE',
  'illegal-request': 'DISK_ILLEGAL_REQUEST', 'unit-attention': 'DISK_UNIT_ATTENTION', 'data-protect': 'DISK_DATA_PROTECT',
  'no-sense': 'DISK_NO_SENSE',
  'read-only': 'DISK_READ_ONLY', aborted: 'DISK_ABORTED', 'check-condition': 'DISK_CHECK_CONDITION', busy: 'DISK_BUSY',
  timeout: 'DISK_TIMEOUT', transport: 'DISK_TRANSPORT', 'device-gone': 'DISK_GONE', 'bad-response': 'DISK_BAD_RESPONSE',
  'invalid-argument': 'ARG_INVALID', 'out-of-range': 'DISK_LBA_OUT_OF_RANGE', closed: 'DISK_CLOSED',
};

/** Kinds that report a CHECK CONDITION: their code comes from the sense, which says more than the kind. */
const SENSE_KINDS: ReadonlySet<DiskErrorKind> = new Set<DiskErrorKind>(['check-condition', 'not-ready', 'no-medium',
  'medium', 'hardware', 'illegal-request', 'unit-attention', 'data-protect', 'aborted']);

/**
 * The code of a CHECK CONDITION with this sense, with the distinctions sg3_utils' exit statuses make
 * (sg_err_category_sense: invalid opcode and LBA out of range apart from other ILLEGAL REQUESTs ...).
 */
export function diskCodeForSense(s: DiskSense): UsbmsErrorCode {
  if (s.decoded.malformed) return 'DISK_BAD_RESPONSE';
  switch (s.key) {
    case SenseKey.NO_SENSE: return 'DISK_NO_SENSE';
    case SenseKey.RECOVERED_ERROR: return 'DISK_RECOVERED';
    case SenseKey.NOT_READY: return s.asc === 0x3a ? 'DISK_NO_MEDIUM' : 'DISK_NOT_READY';
    case SenseKey.MEDIUM_ERROR: return 'DISK_MEDIUM';
    case SenseKey.HARDWARE_ERROR: case SenseKey.BLANK_CHECK: return 'DISK_HARDWARE';
    case SenseKey.ILLEGAL_REQUEST:
      if (s.asc === 0x20 && s.ascq === 0x00) return 'DISK_INVALID_OPCODE';
      if (s.asc === 0x21 && s.ascq === 0x00) return 'DISK_LBA_OUT_OF_RANGE';
      return 'DISK_ILLEGAL_REQUEST';
    case SenseKey.UNIT_ATTENTION: return 'DISK_UNIT_ATTENTION';
    case SenseKey.DATA_PROTECT: return 'DISK_DATA_PROTECT';
    case SenseKey.COPY_ABORTED: return 'DISK_COPY_ABORTED';
    case SenseKey.ABORTED_COMMAND: return s.asc === 0x10 ? 'DISK_PROTECTION' : 'DISK_ABORTED';
    case SenseKey.MISCOMPARE: return 'DISK_MISCOMPARE';
    default: return 'DISK_CHECK_CONDITION';
  }
}

/**
 * A failure of the disk target driver. `code` is DISK_* from the sense when the device answered CHECK CONDITION,
 * from `kind` otherwise; `sense`, `lba` and `status` carry what the device said.
 */
export class DiskError extends UsbmsError {
  override readonly name: string = 'DiskError';
  /** The decoded sense, when the device answered CHECK CONDITION. */
  readonly sense: DiskSense | undefined;
  /**
   * The LBA the failure concerns (for a medium error: the first failing block, when the device said). Set to the
   * command's first LBA by the disk driver when nothing more precise is known.
   */
  lba: bigint | undefined;
  /**
   * The blocks of the READ/WRITE/VERIFY that failed, whatever the failure (sense, transport, removal): a failed
   * write is always reported with the range it may have left half-written.
   */
  range: { readonly lba: bigint; readonly blocks: number } | undefined = undefined;
  /** The SCSI status byte, when a status was received. */
  readonly status: number | undefined;

  constructor(readonly kind: DiskErrorKind, message: string, opts: DiskErrorOptions = {}) {
    super(opts.sense !== undefined && SENSE_KINDS.has(kind) ? diskCodeForSense(opts.sense) : KIND_CODES[kind], message,
      { cause: opts.cause });
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
/** NOT READY that did not become ready in time (DISK_NOT_READY). */
export class DiskNotReadyError extends DiskError {
  override readonly name = 'DiskNotReadyError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('not-ready', message, opts); }
}
/** NOT READY, medium not present (DISK_NO_MEDIUM). */
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
/** ILLEGAL REQUEST from the device (DISK_ILLEGAL_REQUEST, DISK_INVALID_OPCODE, DISK_LBA_OUT_OF_RANGE). */
export class DiskIllegalRequestError extends DiskError {
  override readonly name = 'DiskIllegalRequestError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('illegal-request', message, opts); }
}
/**
 * CHECK CONDITION whose valid sense says NO SENSE, on every try (DISK_NO_SENSE): a false check condition, an
 * unknown amount of data moved, so nothing of the command counts (Linux sd_done, illumos sd_sense_key_no_sense).
 */
export class DiskNoSenseError extends DiskError {
  override readonly name = 'DiskNoSenseError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('no-sense', message, opts); }
}
/** The command timed out after the retries (DISK_TIMEOUT). */
export class DiskTimeoutError extends DiskError {
  override readonly name = 'DiskTimeoutError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('timeout', message, opts); }
}
/** The USB/BOT layer could not deliver the command; `cause` is its error (DISK_TRANSPORT). */
export class DiskTransportError extends DiskError {
  override readonly name = 'DiskTransportError';
  constructor(message: string, opts: DiskErrorOptions = {}) { super('transport', message, opts); }
}
/** The device disconnected (DISK_GONE). */
export class DiskGoneError extends DiskError {
  override readonly name = 'DiskGoneError';
  constructor(message = 'device disconnected', opts: DiskErrorOptions = {}) { super('device-gone', message, opts); }
}
/**
 * A caller's mistake, detected before anything is sent to the device: the package-wide UsbmsArgumentError
 * (code ARG_INVALID), under the name the disk driver has always used.
 */
export class DiskArgumentError extends UsbmsArgumentError {
  override readonly name = 'DiskArgumentError';
}

/** An LBA range that does not lie on the medium; `lba` is the first block past the end. */
export class DiskRangeError extends DiskError {
  override readonly name = 'DiskRangeError';
  constructor(message: string, lba: bigint) { super('out-of-range', message, { lba }); }
}

/** Whether `e` is a {@link DiskError} (optionally: of this kind). */
export function isDiskError(e: unknown, kind?: DiskErrorKind): e is DiskError {
  return e instanceof DiskError && (kind === undefined || e.kind === kind);
}

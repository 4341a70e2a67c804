/**
 * The one error convention of usbms. Every error an API of this package throws or rejects with is an `Error`
 * with a `name` (its class), a `code` from {@link ERROR_CODES} (namespaced by the layer that detected it:
 * `USB_`, `BOT_`, `UAS_`, `SCSA_`, `SCSI_`, `DISK_`, `OPEN_`, `MOCK_`, `TRACE_`, `RESCUE_`, `RIG_`, `SERVE_`,
 * `CLI_`), `cause` when it wraps another error, and
 * the fields a script needs to act on it (the LBA and sense of a disk error, the phase of a BOT error, the pipe
 * and bytes moved of a USB error). A caller's mistake at any layer (a bad argument, a malformed option string,
 * an impossible configuration) is a {@link UsbmsArgumentError} with code `ARG_INVALID`; a rule usbms broke itself
 * (a bug) is a {@link UsbmsInternalError} with code `INTERNAL_ERROR`.
 *
 * Scripts branch on `code`, never on message text; the CLI maps `code` to an sg3_utils exit status through one
 * table (src/apps/cli/exit.ts).
 */

/** Every error code, with what it means. The README's "Errors" section lists the same set. */
export const ERROR_CODES = {
  ARG_INVALID: 'a caller mistake: bad argument, option string or configuration (nothing was sent to the device)',
  INTERNAL_ERROR: 'usbms broke one of its own rules: a bug (report it with the stack)',

  USB_STALL: 'the endpoint answered STALL; it stays halted until its halt is cleared',
  USB_TIMEOUT: 'a USB transfer did not complete in time and was cancelled',
  USB_OVERFLOW: 'the device sent more data than the buffer holds (babble)',
  USB_NO_DEVICE: 'the device is gone (unplugged, or reset into another identity)',
  USB_CANCELLED: 'the transfer was cancelled (cancel() or close())',
  USB_CLOSED: 'the port was already closed',
  USB_BUSY: 'the interface is held by another driver or program (a kernel driver is bound)',
  USB_ACCESS: 'permission denied opening the device (no udev rule)',
  USB_NOT_FOUND: 'no such device, interface or endpoint',
  USB_NOT_SUPPORTED: 'the platform or the device cannot do it',
  USB_IO: 'any other USB failure libusb reports',

  BOT_PHASE_ERROR: 'the device answered CSW status 2 (phase error); Reset Recovery ran',
  BOT_INVALID_CSW: 'the CSW had the wrong length, signature or tag, or was not meaningful; Reset Recovery ran',
  BOT_TIMEOUT: 'a Bulk-Only phase (CBW, data, CSW) did not complete in time',
  BOT_DEVICE_GONE: 'the device disconnected during a Bulk-Only command',
  BOT_ABORTED: 'the command was cancelled by abort() or close()',
  BOT_OVERRUN: 'the device sent more than the command expected',
  BOT_TRANSPORT: 'any other Bulk-Only failure (CBW stalled, CSW unreadable after retries)',
  BOT_BUSY: 'a command is already on the wire (Bulk-Only allows one)',

  UAS_TIMEOUT: 'a UAS phase (COMMAND IU, data, status IU, task management) did not complete in time',
  UAS_DEVICE_GONE: 'the device disconnected with the UAS command in flight',
  UAS_ABORTED: 'the UAS command was cancelled: ABORT TASK, a reset, or close()',
  UAS_OVERRUN: 'the device sent more than the UAS command expected',
  UAS_BUSY: 'every UAS tag (the queue depth) is in use',
  UAS_PROTOCOL: 'the device broke the UAS protocol (an IU that is malformed, of the wrong kind or direction, or refused)',
  UAS_TRANSPORT: 'any other UAS failure (an IU pipe stalled, the recovery ladder failed)',
  UAS_UNSUPPORTED: 'the device cannot run UAS here (SuperSpeed needs bulk streams, which node-usb 2 lacks; pipes not named)',

  SCSA_PKT_IN_TRANSPORT: 'the scsi_pkt is owned by the HBA until it completes',
  SCSA_PKT_FREED: 'the scsi_pkt was already destroyed',
  SCSA_PKT_NOT_IN_TRANSPORT: 'scsi_hba_pkt_comp of a scsi_pkt that is not in transport (completed twice, or never started)',
  SCSA_DMA_TOOBIG: 'the buffer needs more than one DMA window and PKT_DMA_PARTIAL was not given',
  SCSA_DMA_NOMAPPING: 'the DMA attributes cannot describe this buffer',
  SCSA_DMA_NO_WINDOW: 'PKT_DMA_PARTIAL: every DMA window has already been handed out',
  SCSA_NO_RESOURCES: 'waiting would never end: larger than the HBA\'s whole budget, or refused with nothing in use',
  SCSA_DETACHED: 'the HBA instance is detached',

  SCSI_DATA_SHORT: 'a data-in payload shorter than the fixed part of its format',
  SCSI_DATA_INVALID: 'a data-in payload that contradicts its format',

  DISK_NOT_READY: 'NOT READY that did not become ready in time',
  DISK_NO_MEDIUM: 'NOT READY, medium not present (ASC 3A)',
  DISK_MEDIUM: 'MEDIUM ERROR: the blocks at `lba` cannot be read or written',
  DISK_HARDWARE: 'HARDWARE ERROR (or BLANK CHECK)',
  DISK_ILLEGAL_REQUEST: 'ILLEGAL REQUEST: the device refused a field of the command',
  DISK_INVALID_OPCODE: 'ILLEGAL REQUEST, invalid command operation code (ASC 20/00)',
  DISK_LBA_OUT_OF_RANGE: 'an LBA past the end of the medium (checked before sending, or ASC 21/00)',
  DISK_UNIT_ATTENTION: 'UNIT ATTENTION that persisted through the retries',
  DISK_DATA_PROTECT: 'the medium is write protected (DATA PROTECT, or the MODE SENSE WP bit)',
  DISK_READ_ONLY: 'a write on a disk opened without { allowWrite: true }',
  DISK_ABORTED: 'ABORTED COMMAND, or the packet was aborted',
  DISK_PROTECTION: 'ABORTED COMMAND with a protection information (DIF) failure (ASC 10)',
  DISK_MISCOMPARE: 'MISCOMPARE (VERIFY or COMPARE AND WRITE)',
  DISK_NO_SENSE: 'CHECK CONDITION with NO SENSE: an unknown amount of data moved, on every try (nothing of it counts)',
  DISK_RECOVERED: 'RECOVERED ERROR reported as a failure',
  DISK_COPY_ABORTED: 'COPY ABORTED',
  DISK_CHECK_CONDITION: 'CHECK CONDITION with any other sense key',
  DISK_BUSY: 'BUSY, TASK SET FULL or RESERVATION CONFLICT that persisted',
  DISK_TIMEOUT: 'the command timed out after the retries',
  DISK_TRANSPORT: 'the USB/Bulk-Only layer could not deliver the command (see `cause`)',
  DISK_GONE: 'the device disconnected',
  DISK_BAD_RESPONSE: 'the device answered with data or sense that cannot be right',
  DISK_CLOSED: 'the disk was closed',

  OPEN_NO_DEVICE_SELECTED: 'openUsbms was given no device to open',
  OPEN_BOTH_SELECTED: 'openUsbms was given both a device and a mock',
  OPEN_MOUNTED: 'refused to detach the kernel driver: a filesystem of the disk is mounted',
  OPEN_IMAGE: 'the image file to serve does not exist or is not a whole number of blocks',
  OPEN_MOCK_SPEC: 'the JSON description of an emulated device is invalid',

  MOCK_MEDIA_READ_ONLY: 'a write to read-only backing media of the emulated disk',

  TRACE_FORMAT: 'a capture file that is not a readable usbmon pcap/pcapng',
  TRACE_WRITE: 'the pcap capture file could not be written',
  TRACE_SELECT: 'the capture holds no (or more than one) mass-storage device to replay',

  RESCUE_MAPFILE: 'a GNU ddrescue mapfile that cannot be parsed or does not fit the device',
  RESCUE_IMAGE: 'the rescue image file cannot be created, read or written',
  RESCUE_DEVICE_LOST: 'the device being rescued vanished and did not come back in time',
  RESCUE_INTERRUPTED: 'the rescue stopped early (a stop was asked for, or --max-errors was reached); the mapfile is saved',

  RIG_RESET_FAILED: 'a validation step could not reset the device',
  RIG_NO_POWER_SWITCH: 'a validation step needs a port power switch the hub does not have',
  RIG_NOT_BACK: 'the device did not come back after a power cycle',
  RIG_NOT_OPEN: 'a validation step found no session open on its device (it was lost earlier)',
  RIG_TIMEOUT: 'a validation step took longer than its timeout',
  RIG_VANISHED: 'the device under validation vanished',
  RIG_PLAN: 'a validation plan that cannot be used',
  RIG_JOURNAL: 'a validation journal that cannot be read or written',

  SERVE_LISTEN: 'usbms serve cannot listen on its socket or address (in use, no permission, no such directory)',
  SERVE_TLS: 'usbms serve cannot use the TLS credentials it was given (unreadable or malformed files)',
  SERVE_PROTOCOL: 'an NBD client broke the protocol (bad magic or flags, oversized data, a failed TLS handshake): its connection is closed',
  SERVE_CLIENT_GONE: 'an NBD client closed its connection before sending what the protocol needs',
  SERVE_OTHER_MEDIUM: 'the device came back after a re-plug with another medium (another size or block length): refused',

  CLI_USAGE: 'a command-line mistake, or an operation refused without its confirming flag (--write)',
  CLI_FILE: 'a file named on the command line cannot be read or written',
} as const satisfies Readonly<Record<string, string>>;

/** One of {@link ERROR_CODES}. */
export type UsbmsErrorCode = keyof typeof ERROR_CODES;

/** What every usbms error has. */
export interface UsbmsErrorLike extends Error {
  /** The namespaced code scripts branch on. */
  readonly code: UsbmsErrorCode;
}

/** Options every usbms error class accepts. */
export interface UsbmsErrorOptions {
  /** The error this one wraps (a libusb exception, a USB error under a BOT error ...). */
  cause?: unknown;
}

function causeOption(cause: unknown): ErrorOptions | undefined {
  return cause === undefined ? undefined : { cause };
}

/** Whether `code` is one of {@link ERROR_CODES}. */
export function isUsbmsErrorCode(code: unknown): code is UsbmsErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** Whether `e` follows the convention (optionally: with this code). */
export function isUsbmsError(e: unknown, code?: UsbmsErrorCode): e is UsbmsErrorLike {
  if (!(e instanceof Error)) return false;
  const c = (e as { code?: unknown }).code;
  return isUsbmsErrorCode(c) && (code === undefined || c === code);
}

/** The base class of the layer error classes (UsbError, BotError, ScsaError, DiskError ...). */
export class UsbmsError extends Error {
  override readonly name: string = 'UsbmsError';

  constructor(readonly code: UsbmsErrorCode, message: string, options: UsbmsErrorOptions = {}) {
    super(message, causeOption(options.cause));
  }
}

/** Options of {@link UsbmsArgumentError}. */
export interface UsbmsArgumentErrorOptions extends UsbmsErrorOptions {
  /** The argument, option or field that is wrong (e.g. `lun`, `--quirks`, `cdbLength`). */
  argument?: string | undefined;
}

/**
 * A caller's mistake, at any layer: a value out of range, a malformed option string, a configuration that cannot
 * work, an operation in the wrong state for its arguments. Detected before anything is sent to the device.
 * It is a RangeError (most are values out of their range), with code `ARG_INVALID`.
 */
export class UsbmsArgumentError extends RangeError implements UsbmsErrorLike {
  override readonly name: string = 'UsbmsArgumentError';
  readonly code = 'ARG_INVALID' as const;
  /** The argument, option or field that is wrong, when one is. */
  readonly argument: string | undefined;

  constructor(message: string, options: UsbmsArgumentErrorOptions = {}) {
    super(message, causeOption(options.cause));
    this.argument = options.argument;
  }
}

/**
 * Something usbms itself got wrong: a rule of its own broken (a table declared inconsistently, a state that cannot
 * happen). Never the device's or the caller's fault; code `INTERNAL_ERROR`.
 */
export class UsbmsInternalError extends UsbmsError {
  override readonly name: string = 'UsbmsInternalError';
  constructor(message: string, options: UsbmsErrorOptions = {}) {
    super('INTERNAL_ERROR', message, options);
  }
}

/** `e` itself when it is an Error; anything else thrown (a string, a number) wrapped as an INTERNAL_ERROR. */
export function asError(e: unknown): Error {
  return e instanceof Error ? e : new UsbmsInternalError(`a non-Error was thrown: ${String(e)}`, { cause: e });
}

/** Whether `e` is a caller's mistake (code `ARG_INVALID`), whichever layer threw it. */
export function isArgumentError(e: unknown): e is UsbmsErrorLike {
  return isUsbmsError(e, 'ARG_INVALID');
}

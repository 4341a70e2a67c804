/**
 * Exit statuses: sg3_utils' table (facts.md §2; src/scsi ExitStatus), so scripts written for sg_inq, sg_readcap,
 * sg_turs ... read usbms the same way. Every error of usbms carries a code from one set (src/util/errors.ts);
 * {@link EXIT_STATUS_BY_CODE} is the one table from code to exit status, and the README's "Errors" section lists
 * it (test/apps/cli/exit-table.test.ts keeps the two in step).
 */
import { scsi } from '../../api.js';
import { isUsbmsError, UsbmsError, type UsbmsErrorCode } from '../../util/errors.js';
const { ExitStatus } = scsi;

/** sg3_utils' exit statuses by name (SG_LIB_CAT_* and friends). */
export const EXIT = ExitStatus;

/** The exit status of every error code, in sg3_utils' meanings. */
export const EXIT_STATUS_BY_CODE: Readonly<Record<UsbmsErrorCode, number>> = {
  ARG_INVALID: EXIT.SYNTAX_ERROR,
  INTERNAL_ERROR: EXIT.OTHER,

  // The device could not be reached: sg3_utils' "device or file open/close problem".
  USB_BUSY: EXIT.FILE_ERROR, USB_ACCESS: EXIT.FILE_ERROR, USB_NOT_FOUND: EXIT.FILE_ERROR,
  USB_NOT_SUPPORTED: EXIT.FILE_ERROR,
  USB_TIMEOUT: EXIT.TIMEOUT,
  USB_STALL: EXIT.TRANSPORT_ERROR, USB_OVERFLOW: EXIT.TRANSPORT_ERROR, USB_NO_DEVICE: EXIT.TRANSPORT_ERROR,
  USB_CANCELLED: EXIT.TRANSPORT_ERROR, USB_CLOSED: EXIT.TRANSPORT_ERROR, USB_IO: EXIT.TRANSPORT_ERROR,

  BOT_TIMEOUT: EXIT.TIMEOUT,
  BOT_PHASE_ERROR: EXIT.TRANSPORT_ERROR, BOT_INVALID_CSW: EXIT.TRANSPORT_ERROR, BOT_DEVICE_GONE: EXIT.TRANSPORT_ERROR,
  BOT_ABORTED: EXIT.TRANSPORT_ERROR, BOT_OVERRUN: EXIT.TRANSPORT_ERROR, BOT_TRANSPORT: EXIT.TRANSPORT_ERROR,
  BOT_BUSY: EXIT.TRANSPORT_ERROR,

  UAS_TIMEOUT: EXIT.TIMEOUT,
  UAS_DEVICE_GONE: EXIT.TRANSPORT_ERROR, UAS_ABORTED: EXIT.TRANSPORT_ERROR, UAS_OVERRUN: EXIT.TRANSPORT_ERROR,
  UAS_BUSY: EXIT.TRANSPORT_ERROR, UAS_PROTOCOL: EXIT.TRANSPORT_ERROR, UAS_TRANSPORT: EXIT.TRANSPORT_ERROR,
  // The device cannot be used this way at all: sg3_utils' "device open problem", as USB_NOT_SUPPORTED.
  UAS_UNSUPPORTED: EXIT.FILE_ERROR,

  // Requests no retry can satisfy are the caller's; packet misuse is a bug of the program (99).
  SCSA_DMA_TOOBIG: EXIT.SYNTAX_ERROR, SCSA_DMA_NOMAPPING: EXIT.SYNTAX_ERROR, SCSA_DMA_NO_WINDOW: EXIT.SYNTAX_ERROR,
  SCSA_NO_RESOURCES: EXIT.SYNTAX_ERROR,
  SCSA_PKT_IN_TRANSPORT: EXIT.OTHER, SCSA_PKT_FREED: EXIT.OTHER, SCSA_PKT_NOT_IN_TRANSPORT: EXIT.OTHER,
  SCSA_DETACHED: EXIT.TRANSPORT_ERROR,

  SCSI_DATA_SHORT: EXIT.MALFORMED, SCSI_DATA_INVALID: EXIT.MALFORMED,

  DISK_NOT_READY: EXIT.NOT_READY, DISK_NO_MEDIUM: EXIT.NOT_READY,
  DISK_MEDIUM: EXIT.MEDIUM_HARD, DISK_HARDWARE: EXIT.MEDIUM_HARD,
  DISK_ILLEGAL_REQUEST: EXIT.ILLEGAL_REQUEST, DISK_INVALID_OPCODE: EXIT.INVALID_OP,
  DISK_LBA_OUT_OF_RANGE: EXIT.LBA_OUT_OF_RANGE,
  DISK_UNIT_ATTENTION: EXIT.UNIT_ATTENTION,
  DISK_DATA_PROTECT: EXIT.DATA_PROTECT,
  DISK_READ_ONLY: EXIT.SYNTAX_ERROR,
  DISK_ABORTED: EXIT.ABORTED_COMMAND, DISK_PROTECTION: EXIT.PROTECTION,
  DISK_MISCOMPARE: EXIT.MISCOMPARE,
  DISK_NO_SENSE: EXIT.NO_SENSE, DISK_RECOVERED: EXIT.RECOVERED,
  DISK_COPY_ABORTED: EXIT.COPY_ABORTED,
  DISK_CHECK_CONDITION: EXIT.OTHER_SENSE,
  DISK_BUSY: EXIT.BUSY,
  DISK_TIMEOUT: EXIT.TIMEOUT,
  DISK_TRANSPORT: EXIT.TRANSPORT_ERROR, DISK_GONE: EXIT.TRANSPORT_ERROR,
  DISK_BAD_RESPONSE: EXIT.MALFORMED,
  DISK_CLOSED: EXIT.OTHER,

  OPEN_NO_DEVICE_SELECTED: EXIT.SYNTAX_ERROR, OPEN_BOTH_SELECTED: EXIT.SYNTAX_ERROR,
  OPEN_MOUNTED: EXIT.FILE_ERROR, OPEN_IMAGE: EXIT.FILE_ERROR, OPEN_MOCK_SPEC: EXIT.FILE_ERROR,

  MOCK_MEDIA_READ_ONLY: EXIT.DATA_PROTECT,

  TRACE_FORMAT: EXIT.FILE_ERROR, TRACE_WRITE: EXIT.FILE_ERROR, TRACE_SELECT: EXIT.SYNTAX_ERROR,

  RESCUE_MAPFILE: EXIT.FILE_ERROR, RESCUE_IMAGE: EXIT.FILE_ERROR, RESCUE_DEVICE_LOST: EXIT.TRANSPORT_ERROR,
  RESCUE_INTERRUPTED: EXIT.OTHER,

  RIG_RESET_FAILED: EXIT.TRANSPORT_ERROR, RIG_NO_POWER_SWITCH: EXIT.FILE_ERROR, RIG_NOT_BACK: EXIT.TRANSPORT_ERROR,
  RIG_NOT_OPEN: EXIT.TRANSPORT_ERROR, RIG_TIMEOUT: EXIT.TIMEOUT, RIG_VANISHED: EXIT.TRANSPORT_ERROR, RIG_PLAN: EXIT.SYNTAX_ERROR,
  RIG_JOURNAL: EXIT.FILE_ERROR,

  SERVE_LISTEN: EXIT.FILE_ERROR, SERVE_TLS: EXIT.FILE_ERROR, SERVE_PROTOCOL: EXIT.TRANSPORT_ERROR,
  SERVE_CLIENT_GONE: EXIT.TRANSPORT_ERROR, SERVE_OTHER_MEDIUM: EXIT.UNIT_ATTENTION,

  CLI_USAGE: EXIT.SYNTAX_ERROR, CLI_FILE: EXIT.FILE_ERROR,
};

/**
 * A user's mistake or a refused operation, found by the command line itself: printed as one line, exits with
 * the status of its `code` (CLI_USAGE by default; any code of the set when another says it better, e.g.
 * DISK_LBA_OUT_OF_RANGE for a range the CLI checked against the capacity).
 */
export class CliError extends UsbmsError {
  override readonly name = 'CliError';
  constructor(message: string, code: UsbmsErrorCode = 'CLI_USAGE', options: { cause?: unknown } = {}) {
    super(code, message, options);
  }

  /** The exit status the command ends with. */
  get exitCode(): number { return EXIT_STATUS_BY_CODE[this.code]; }
}

/** The exit status for an error a command ended with; `known` false means "print the stack" territory. */
export function exitStatusFor(e: unknown): { code: number; known: boolean } {
  if (isUsbmsError(e)) return { code: EXIT_STATUS_BY_CODE[e.code], known: true };
  // Node's own file errors (ENOENT, EACCES ...) from --in/--out FILE: sg3_utils' file error.
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { code: EXIT.FILE_ERROR, known: true };
  return { code: EXIT.OTHER, known: false };
}

/**
 * Exit statuses: sg3_utils' table (facts.md §2; src/scsi ExitStatus), so scripts written for sg_inq, sg_readcap,
 * sg_turs ... read usbms the same way, and the mapping from any error a command can end with to one of them.
 */
import { DiskError } from '../disk/index.js';
import { exitStatusForSense, ExitStatus, ScsiDataError, ScsiParamError } from '../scsi/index.js';
import { BotError, QuirkParseError, UsbError, UsbmsOpenError } from '../open.js';

export const EXIT = ExitStatus;

/** A user's mistake or a refused operation: printed as one line, exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode: number = EXIT.SYNTAX_ERROR) { super(message); }
}

function diskExit(e: DiskError): number {
  if (e.sense !== undefined) return exitStatusForSense(e.sense.decoded);
  switch (e.kind) {
    case 'out-of-range': return EXIT.LBA_OUT_OF_RANGE;
    case 'invalid-argument': case 'read-only': return EXIT.SYNTAX_ERROR;
    case 'not-ready': case 'no-medium': return EXIT.NOT_READY;
    case 'medium': case 'hardware': return EXIT.MEDIUM_HARD;
    case 'data-protect': return EXIT.DATA_PROTECT;
    case 'timeout': return EXIT.TIMEOUT;
    case 'transport': case 'device-gone': case 'aborted': return EXIT.TRANSPORT_ERROR;
    case 'busy': return EXIT.BUSY;
    case 'bad-response': return EXIT.MALFORMED;
    default: return EXIT.OTHER;
  }
}

/** The exit status for an error a command ended with; `known` false means "print the stack" territory. */
export function exitStatusFor(e: unknown): { code: number; known: boolean } {
  if (e instanceof CliError) return { code: e.exitCode, known: true };
  if (e instanceof DiskError) return { code: diskExit(e), known: true };
  if (e instanceof QuirkParseError || e instanceof ScsiParamError) return { code: EXIT.SYNTAX_ERROR, known: true };
  if (e instanceof ScsiDataError) return { code: EXIT.MALFORMED, known: true };
  if (e instanceof UsbmsOpenError) {
    return { code: e.code === 'MOUNTED' || e.code === 'IMAGE' || e.code === 'MOCK_SPEC' ? EXIT.FILE_ERROR : EXIT.SYNTAX_ERROR, known: true };
  }
  if (e instanceof BotError) return { code: e.kind === 'timeout' ? EXIT.TIMEOUT : EXIT.TRANSPORT_ERROR, known: true };
  if (e instanceof UsbError) {
    if (e.code === 'INVALID') return { code: EXIT.SYNTAX_ERROR, known: true };
    if (e.code === 'TIMEOUT') return { code: EXIT.TIMEOUT, known: true };
    // sg3_utils: 15 is "device or file open/close problem": no such device, no permission, held by a driver.
    if (e.code === 'NOT_FOUND' || e.code === 'ACCESS' || e.code === 'BUSY' || e.code === 'NOT_SUPPORTED') {
      return { code: EXIT.FILE_ERROR, known: true };
    }
    return { code: EXIT.TRANSPORT_ERROR, known: true };
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { code: EXIT.FILE_ERROR, known: true };
  return { code: EXIT.OTHER, known: false };
}

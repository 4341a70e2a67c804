/**
 * What a failed command becomes on the wire: one of the errno values the NBD protocol allows, and a line (with
 * the sense, when the device gave one) for the log and the client's error chunk.
 *
 * MEDIUM and HARDWARE ERROR, NOT READY, timeouts, transport failures and a device that never came back are EIO;
 * DATA PROTECT (write protected) is EPERM, except "space allocation failed write protect" (27/07, a thin device
 * out of space) which is ENOSPC; an LBA out of range is EINVAL for reads and ENOSPC for writes, as the protocol
 * asks; a caller's mistake (ARG_INVALID) is EINVAL.
 */
import { isArgumentError, isDiskError, UsbmsError, type UsbmsErrorCode } from '../../api.js';
import { NBD_ERRNO } from './protocol.js';

/** A request's failure as the protocol carries it. */
export interface RequestFailure {
  readonly errno: number;
  /** For people: the error's message, with the decoded sense. */
  readonly message: string;
  /** The sense as hex (for the log), when the device sent one. */
  readonly sense: string | undefined;
  /** The first failing block, when the device named it (a medium error's INFORMATION field). */
  readonly lba: bigint | undefined;
}

/** The failure of a command that wrote (`write`) or read. */
export function failureOf(e: unknown, write: boolean): RequestFailure {
  const message = e instanceof Error ? e.message : String(e);
  if (isArgumentError(e)) return { errno: NBD_ERRNO.EINVAL, message, sense: undefined, lba: undefined };
  if (!isDiskError(e)) return { errno: NBD_ERRNO.EIO, message, sense: undefined, lba: undefined };
  const sense = e.sense;
  const text = sense === undefined || message.includes(sense.text) ? message : `${message} (${sense.text})`;
  const f = (errno: number): RequestFailure => ({ errno, message: text, sense: sense?.raw.toString('hex'),
    lba: e.kind === 'medium' || e.kind === 'hardware' ? sense?.information ?? e.lba : undefined });
  switch (e.kind) {
    case 'data-protect': return f(sense?.asc === 0x27 && sense.ascq === 0x07 ? NBD_ERRNO.ENOSPC : NBD_ERRNO.EPERM);
    case 'read-only': return f(NBD_ERRNO.EPERM);
    case 'out-of-range': return f(write ? NBD_ERRNO.ENOSPC : NBD_ERRNO.EINVAL);
    case 'illegal-request':
      return f(e.code === lbaOutOfRange ? (write ? NBD_ERRNO.ENOSPC : NBD_ERRNO.EINVAL) : NBD_ERRNO.EIO);
    default: return f(NBD_ERRNO.EIO);
  }
}
const lbaOutOfRange: UsbmsErrorCode = 'DISK_LBA_OUT_OF_RANGE';

/** The codes of the server's own errors. */
export type ServeErrorCode = 'SERVE_LISTEN' | 'SERVE_TLS' | 'SERVE_PROTOCOL' | 'SERVE_CLIENT_GONE' | 'SERVE_OTHER_MEDIUM';

/**
 * The server's own errors: refusals at start (listening, TLS credentials), a client that breaks the protocol or
 * goes away (which closes that connection only), a device back with another medium.
 */
export class ServeError extends UsbmsError {
  override readonly name: string = 'ServeError';
  constructor(code: ServeErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/**
 * The one error type the UAS transport rejects with. `kind` is the transport seam's classification (src/transport:
 * the HBA maps it to pkt_reason) or one of UAS's own: 'protocol' (the device broke UAS; CMD_TRAN_ERR to the HBA)
 * and 'unsupported' (UAS cannot run on this device here, refused at open).
 */
import type { TransportErrorKind } from '../transport/index.js';
import { UsbmsError, type UsbmsErrorCode } from '../util/errors.js';

/** What went wrong in a UAS command (a UasError's `kind`; its code is UAS_ + kind). */
export type UasErrorKind = TransportErrorKind | 'protocol' | 'unsupported';

/** The namespaced code of each kind. */
export const UAS_ERROR_CODES: Readonly<Record<UasErrorKind, UsbmsErrorCode>> = {
  timeout: 'UAS_TIMEOUT', 'device-gone': 'UAS_DEVICE_GONE', aborted: 'UAS_ABORTED', overrun: 'UAS_OVERRUN',
  busy: 'UAS_BUSY', transport: 'UAS_TRANSPORT', protocol: 'UAS_PROTOCOL', unsupported: 'UAS_UNSUPPORTED',
};

/** Where the failure was seen: 'request' = refused before anything went on the wire. */
export type UasPhase = 'request' | 'command' | 'data' | 'status' | 'task-management' | 'recovery' | 'open';

/** Context of a {@link UasError}. */
export interface UasErrorOptions {
  cause?: unknown;
  /** Bytes the host moved in the data phase before the failure. */
  transferred?: number;
  /** The command's tag (0 when none was sent). */
  tag?: number;
  /** What recovery ran after it: the rung of the ladder that brought the device back, or 'none'. */
  recovery?: UasRecovery;
}

/** The rung of the recovery ladder that ended a failed command's trouble (or 'none' when none was needed or ran). */
export type UasRecovery = 'none' | 'abort-task' | 'lun-reset' | 'nexus-reset' | 'port-reset' | 'failed';

/** A UAS command (or the transport's open) that failed; `code` is `UAS_` + kind upper-cased. */
export class UasError extends UsbmsError {
  override readonly name = 'UasError';
  readonly transferred: number;
  readonly tag: number;
  readonly recovery: UasRecovery;

  constructor(readonly kind: UasErrorKind, readonly phase: UasPhase, message: string, opts: UasErrorOptions = {}) {
    const rung = opts.recovery !== undefined && opts.recovery !== 'none' ? `, recovery: ${opts.recovery}` : '';
    super(UAS_ERROR_CODES[kind], `${message} [${kind} in ${phase} phase${rung}]`, { cause: opts.cause });
    this.transferred = opts.transferred ?? 0;
    this.tag = opts.tag ?? 0;
    this.recovery = opts.recovery ?? 'none';
  }
}

/** Whether `e` is a {@link UasError} (optionally: of this kind). */
export function isUasError(e: unknown, kind?: UasErrorKind): e is UasError {
  return e instanceof UasError && (kind === undefined || e.kind === kind);
}

/**
 * The one error type the BOT engine rejects with. The HBA reads `kind` (the transport seam's
 * {@link TransportErrorKind}, or one of BOT's own two kinds, which it counts as 'transport') and maps it to
 * pkt_reason; `recovered` says whether Reset Recovery brought the device back, so the next command can be sent.
 */
import type { TransportErrorKind } from '../transport/index.js';
import { UsbmsError, type UsbmsErrorCode } from '../util/errors.js';

/**
 * What went wrong in a Bulk-Only command (a BotError's `kind`; its code is BOT_ + kind): every
 * {@link TransportErrorKind}, plus the two failures only BOT has, which the HBA counts as 'transport'
 * (CMD_TRAN_ERR): 'phase-error' (CSW status 2) and 'invalid-csw' (wrong length, signature or tag; not meaningful).
 */
export type BotErrorKind = TransportErrorKind | 'phase-error' | 'invalid-csw';

/** Where in the command the failure was seen. 'request' = caught before anything went on the wire. */
export type BotPhase = 'request' | 'cbw' | 'data' | 'csw' | 'recovery' | 'get-max-lun';

/** The namespaced code of each kind. */
export const BOT_ERROR_CODES: Readonly<Record<BotErrorKind, UsbmsErrorCode>> = {
  'phase-error': 'BOT_PHASE_ERROR', 'invalid-csw': 'BOT_INVALID_CSW', timeout: 'BOT_TIMEOUT',
  'device-gone': 'BOT_DEVICE_GONE', aborted: 'BOT_ABORTED', overrun: 'BOT_OVERRUN', transport: 'BOT_TRANSPORT',
  busy: 'BOT_BUSY',
};

/** Context of a {@link BotError}. */
export interface BotErrorOptions {
  /** Reset Recovery (or a port reset) ran and succeeded; the device takes commands again. */
  recovered?: boolean;
  /** The USB error (or other failure) behind this one. */
  cause?: unknown;
  /** Bytes the host moved in the data phase before the failure. */
  transferred?: number;
  /** The CBW tag of the failed command (0 when none was sent). */
  tag?: number;
}

/** A Bulk-Only command that failed; `code` is `BOT_` + kind upper-cased (e.g. BOT_PHASE_ERROR). */
export class BotError extends UsbmsError {
  override readonly name = 'BotError';
  /** Whether Reset Recovery (or a port reset) brought the device back, so the next command can be sent. */
  readonly recovered: boolean;
  /** Bytes moved in the data phase before the failure. */
  readonly transferred: number;
  /** The CBW tag of the failed command (0 when none was sent). */
  readonly tag: number;

  constructor(readonly kind: BotErrorKind, readonly phase: BotPhase, message: string, opts: BotErrorOptions = {}) {
    super(BOT_ERROR_CODES[kind], `${message} [${kind} in ${phase} phase${opts.recovered === true ? ', recovered' : ''}]`,
      { cause: opts.cause });
    this.recovered = opts.recovered ?? false;
    this.transferred = opts.transferred ?? 0;
    this.tag = opts.tag ?? 0;
  }
}

/** Whether `e` is a {@link BotError} (optionally: of this kind). */
export function isBotError(e: unknown, kind?: BotErrorKind): e is BotError {
  return e instanceof BotError && (kind === undefined || e.kind === kind);
}

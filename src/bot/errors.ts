/**
 * The one error type the BOT engine rejects with. The HBA branches on `kind` (mapped to pkt_reason) and on
 * `recovered` (whether Reset Recovery brought the device back, so the next command can be sent).
 */
import type { BotErrorKind } from './api.js';

/** Where in the command the failure was seen. 'request' = caught before anything went on the wire. */
export type BotPhase = 'request' | 'cbw' | 'data' | 'csw' | 'recovery' | 'get-max-lun';

export interface BotErrorOptions {
  /** Reset Recovery (or a port reset) ran and succeeded; the device takes commands again. */
  recovered?: boolean;
  cause?: unknown;
  /** Bytes the host moved in the data phase before the failure. */
  transferred?: number;
  /** The CBW tag of the failed command (0 when none was sent). */
  tag?: number;
}

export class BotError extends Error {
  override readonly name = 'BotError';
  /** Stable machine-readable code, `BOT_` + kind upper-cased (e.g. BOT_PHASE_ERROR). */
  readonly code: string;
  readonly recovered: boolean;
  readonly transferred: number;
  readonly tag: number;

  constructor(readonly kind: BotErrorKind, readonly phase: BotPhase, message: string, opts: BotErrorOptions = {}) {
    super(`${message} [${kind} in ${phase} phase${opts.recovered === true ? ', recovered' : ''}]`,
      opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = `BOT_${kind.toUpperCase().replace(/-/g, '_')}`;
    this.recovered = opts.recovered ?? false;
    this.transferred = opts.transferred ?? 0;
    this.tag = opts.tag ?? 0;
  }
}

export function isBotError(e: unknown, kind?: BotErrorKind): e is BotError {
  return e instanceof BotError && (kind === undefined || e.kind === kind);
}

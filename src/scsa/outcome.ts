/**
 * How a transport's failure becomes a packet's outcome: the {@link TransportErrorKind} the HBA reads from the
 * error's `kind` (a protocol's own kinds, such as BOT's 'phase-error' and 'invalid-csw', count as 'transport'),
 * and the pkt_reason / pkt_statistics it maps to, weighed against why the HBA itself stopped the packet.
 */
import type { TransportErrorKind } from '../transport/index.js';
import {
  CMD_ABORTED, CMD_DATA_OVR, CMD_DEV_GONE, CMD_RESET, CMD_TIMEOUT, CMD_TRAN_ERR, STAT_ABORTED, STAT_BUS_RESET,
  STAT_DEV_RESET, STAT_TIMEOUT,
} from './types.js';

/** Why the HBA itself stopped a packet; decides pkt_reason over whatever error the transport reports. */
export type StopReason = 'abort' | 'timeout' | 'reset-dev' | 'reset-bus' | 'detach' | 'gone';

/** The seam's kind of a transport failure: its `kind` when it is one of the seam's, else 'transport'. */
export function transportErrorKind(err: unknown): TransportErrorKind {
  const kind = typeof err === 'object' && err !== null && 'kind' in err ? err.kind : undefined;
  switch (kind) {
    case 'timeout': case 'device-gone': case 'aborted': case 'overrun': case 'busy': return kind;
    default: return 'transport';
  }
}

/** pkt_reason and pkt_statistics of a failed packet, and whether the device is gone for good. */
export interface ErrorOutcome { readonly reason: number; readonly statistics: number; readonly gone: boolean }

const outcome = (reason: number, statistics: number, gone = false): ErrorOutcome => ({ reason, statistics, gone });
const GONE = outcome(CMD_DEV_GONE, 0, true);

/** The outcome of a packet that failed with `err` (undefined: stopped between commands) after `stop`. */
export function errorOutcome(err: unknown, stop: StopReason | null): ErrorOutcome {
  const kind = err === undefined ? undefined : transportErrorKind(err);
  // A vanished device outranks why the HBA stopped the packet: a timeout or abort that meets a removal is a
  // removal, so the target driver (and the HBA's own state) learn at once that nothing more will work.
  if (kind === 'device-gone' && stop !== 'detach') return GONE;
  switch (stop) {
    case 'abort': return outcome(CMD_ABORTED, STAT_ABORTED);
    case 'timeout': return outcome(CMD_TIMEOUT, STAT_TIMEOUT);
    case 'reset-dev': return outcome(CMD_RESET, STAT_DEV_RESET);
    case 'reset-bus': return outcome(CMD_RESET, STAT_BUS_RESET);
    case 'detach': return outcome(CMD_TRAN_ERR, 0);
    case 'gone': return GONE;
    case null: break;
  }
  switch (kind) {
    case 'timeout': return outcome(CMD_TIMEOUT, STAT_TIMEOUT);
    case 'overrun': return outcome(CMD_DATA_OVR, 0);
    case 'aborted': return outcome(CMD_ABORTED, STAT_ABORTED);
    default: return outcome(CMD_TRAN_ERR, 0);
  }
}

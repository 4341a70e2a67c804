/**
 * Engine options, default timeouts (with the reasons for their values) and request validation.
 */
import type { UsbSpeed } from '../usb/port.js';
import type { TransportCommand } from '../transport/index.js';
import type { QuirkOverride, Quirks } from '../quirks/index.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';
import { maxTransferProblem } from '../util/size.js';
import { QUIRK_OVERRIDE_KEYS, QUIRKS_KEYS } from '../quirks/index.js';
import type { RecoverySink } from '../util/recovery.js';

/** Timeouts of the Bulk-Only phases, in milliseconds. */
export interface BotTimeouts {
  cbwMs: number;
  /** Floor of the CSW wait; a request's dataTimeoutMs above it is used instead (the device may finish slowly). */
  cswMs: number;
  /** Data phase when the request says 0. */
  dataMs: number;
  /** Get Max LUN and Mass Storage Reset. */
  controlMs: number;
}

/**
 * CBW and CSW: 6 s, as scsa2usb (EDK2 uses 3 s; a healthy device takes a CBW in microseconds, but one still
 * flushing a write cache may NAK for seconds). Data: 30 s, the Linux sd default command timeout. Control
 * requests: 5 s, the USB 2.0 §9.2.6.4 limit for a request with a data stage.
 */
export const DEFAULT_TIMEOUTS: Readonly<BotTimeouts> = { cbwMs: 6000, cswMs: 6000, dataMs: 30000, controlMs: 5000 };
/** GO_SLOW multiplies every timeout by this. */
export const GO_SLOW_FACTOR = 4;

/** Options of BotTransport.open. */
export interface BotOptions {
  /** Resolved quirks; default: looked up by the port's VID:PID (and bcdDevice) with `quirkOverrides`. */
  quirks?: Quirks;
  quirkOverrides?: readonly QuirkOverride[];
  /** The device's bcdDevice, for quirk entries limited to some revisions (PortInfo does not carry it). */
  bcdDevice?: number;
  timeouts?: Partial<BotTimeouts>;
  /** Upper bound on bytes per command; the quirks' cap still applies below it. */
  maxTransferBytes?: number;
  /** Told of each recovery step as it begins: timeouts, clear halt, Mass Storage Reset, port reset. */
  onRecovery?: RecoverySink | undefined;
}

/** The keys of BotTimeouts: openUsbms and BotTransport.open refuse any other (src/util/options.ts). */
export const BOT_TIMEOUT_KEYS = { cbwMs: true, cswMs: true, dataMs: true, controlMs: true } as const satisfies KnownKeys<BotTimeouts>;
const BOT_OPTION_KEYS = {
  quirks: true, quirkOverrides: true, bcdDevice: true, timeouts: true, maxTransferBytes: true, onRecovery: true,
} as const satisfies KnownKeys<BotOptions>;

/** Options of BotTransport.open with a key it does not know (nested ones too) are refused, never ignored. */
export function checkBotOptions(opts: BotOptions): void {
  rejectUnknownKeys(opts, BOT_OPTION_KEYS, 'BotTransport.open options');
  rejectUnknownKeys(opts.quirks, QUIRKS_KEYS, 'BotTransport.open options.quirks');
  rejectUnknownKeys(opts.timeouts, BOT_TIMEOUT_KEYS, 'BotTransport.open options.timeouts');
  opts.quirkOverrides?.forEach((o, i) => {
    rejectUnknownKeys(o, QUIRK_OVERRIDE_KEYS, `BotTransport.open options.quirkOverrides[${i}]`);
  });
  checkMaxTransfer(opts.maxTransferBytes);
}

export function effectiveTimeouts(opts: BotOptions, quirks: Quirks): BotTimeouts {
  const f = quirks.goSlow ? GO_SLOW_FACTOR : 1;
  const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  return { cbwMs: t.cbwMs * f, cswMs: t.cswMs * f, dataMs: t.dataMs * f, controlMs: t.controlMs * f };
}

/**
 * A caller's maxTransferBytes: whole 512-byte sectors (a command may end on no other boundary for a 512-byte
 * disk), at least one, at most MAX_TRANSFER_LIMIT (src/util/size.ts). Larger than Linux's defaults is the point
 * (`usbms tune`); the quirks still cap it.
 */
export function checkMaxTransfer(n: number | undefined): void {
  if (n === undefined) return;
  const why = maxTransferProblem(n);
  if (why !== undefined) throw new UsbmsArgumentError(`maxTransferBytes ${why}`, { argument: 'maxTransferBytes' });
}


/** Per-speed default bytes per command: Linux usb-storage's 240 sectors at high speed, 1 MiB at SuperSpeed. */
export function defaultMaxTransfer(speed: UsbSpeed): number {
  if (speed === 'super' || speed === 'super-plus') return 1024 * 1024;
  if (speed === 'high') return 240 * 512;
  return 64 * 1024;
}

export function totalLength(req: TransportCommand): number {
  let n = 0;
  for (let i = 0; i < req.segmentCount; i++) n += req.segments[i]?.length ?? 0;
  return n;
}

/** Why `req` cannot be sent, or undefined when it can. */
export function requestProblem(req: TransportCommand, maxSegments: number, maxLun: number,
  maxTransferBytes: number): string | undefined {
  if (!Number.isInteger(req.lun) || req.lun < 0 || req.lun > maxLun) return `LUN ${req.lun} outside 0..${maxLun}`;
  if (!Number.isInteger(req.cdbLength) || req.cdbLength < 1 || req.cdbLength > 16 || req.cdb.length < req.cdbLength) {
    return `CDB length ${req.cdbLength} (buffer ${req.cdb.length})`;
  }
  if (!Number.isInteger(req.segmentCount) || req.segmentCount < 0 || req.segmentCount > req.segments.length) {
    return `segmentCount ${req.segmentCount} with ${req.segments.length} segments`;
  }
  if (req.segmentCount > maxSegments) return `${req.segmentCount} segments > the slot's ${maxSegments}`;
  if (req.direction === 'none' && req.segmentCount > 0) return 'segments given for direction none';
  if (req.direction !== 'none' && req.segmentCount === 0) return `direction ${req.direction} without segments`;
  const total = totalLength(req);
  if (total > maxTransferBytes) return `${total} bytes > max transfer ${maxTransferBytes}`;
  if (!(req.dataTimeoutMs >= 0)) return `dataTimeoutMs ${req.dataTimeoutMs}`;
  return undefined;
}

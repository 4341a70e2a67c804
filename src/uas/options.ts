/**
 * UAS transport options, default timeouts (with the reasons for their values) and request validation.
 */
import type { TransportCommand } from '../transport/index.js';
import { UsbmsArgumentError } from '../util/errors.js';
import type { KnownKeys } from '../util/options.js';
import type { RecoverySink } from '../util/recovery.js';

/** Deadlines of the UAS phases, in milliseconds. */
export interface UasTimeouts {
  /** The COMMAND IU on the command pipe (as BOT's CBW: 6 s). */
  commandMs: number;
  /**
   * Everything after the COMMAND IU when the command names no data timeout: the wait in the device's queue, the
   * READ/WRITE READY, the data, and the status (30 s, the Linux sd default command timeout).
   */
  dataMs: number;
  /** Floor of the wait for the status IU once the data has moved (6 s, as BOT's CSW). */
  statusMs: number;
  /** A task management function's RESPONSE IU (5 s; QEMU answers at once, a device that does not is reset). */
  tmfMs: number;
  /** SET_INTERFACE, CLEAR_FEATURE(HALT) (5 s: USB 2.0 §9.2.6.4). */
  controlMs: number;
}

export const DEFAULT_UAS_TIMEOUTS: Readonly<UasTimeouts> = {
  commandMs: 6000, dataMs: 30000, statusMs: 6000, tmfMs: 5000, controlMs: 5000,
};

/** Options of UasTransport.open. */
export interface UasOptions {
  timeouts?: Partial<UasTimeouts>;
  /** Upper bound on bytes per command (whole 512-byte sectors); default {@link DEFAULT_UAS_MAX_TRANSFER}. */
  maxTransferBytes?: number;
  /** Commands kept in flight at most; default {@link DEFAULT_UAS_QUEUE_DEPTH}, at most TAG_SPACE - 2. */
  queueDepth?: number;
  /**
   * The device implements I_T NEXUS RESET (reset('target')). Default false: QEMU's usb-uas and many bridges answer
   * TMF NOT SUPPORTED, and the transport then resets each LUN; true skips the question.
   */
  itNexusReset?: boolean;
  /** Told of each recovery step as it begins (a timeout, ABORT TASK, a reset, a clear halt): src/util/recovery.ts. */
  onRecovery?: RecoverySink | undefined;
}

/** The keys of {@link UasTimeouts} and {@link UasOptions} (unknown ones are refused: src/util/options.ts). */
export const UAS_TIMEOUT_KEYS = { commandMs: true, dataMs: true, statusMs: true, tmfMs: true, controlMs: true } as const satisfies KnownKeys<UasTimeouts>;
export const UAS_OPTION_KEYS = {
  timeouts: true, maxTransferBytes: true, queueDepth: true, itNexusReset: true, onRecovery: true,
} as const satisfies KnownKeys<UasOptions>;

/**
 * Tags the transport hands out (1..32, as Linux at high speed). Two stay free for task management, so
 * a full queue can still be aborted: Linux's can_queue is qdepth - 2 for the same reason.
 */
export const TAG_SPACE = 32;
export const DEFAULT_UAS_QUEUE_DEPTH = TAG_SPACE - 2;
/**
 * 256 KiB per command. Linux's uas takes the SCSI default of 512 KiB, but node-usb moves each command in its own
 * usbfs submission and usbfs caps what is in flight at 16 MiB (usbfs_memory_mb): 30 commands of 512 KiB would
 * sit at that cap. `usbms tune` measures what a device does best.
 */
export const DEFAULT_UAS_MAX_TRANSFER = 256 * 1024;

export function effectiveUasTimeouts(opts: UasOptions): UasTimeouts {
  return { ...DEFAULT_UAS_TIMEOUTS, ...opts.timeouts };
}

/** The queue depth asked for, checked. */
export function checkQueueDepth(n: number | undefined): number {
  if (n === undefined) return DEFAULT_UAS_QUEUE_DEPTH;
  if (!Number.isInteger(n) || n < 1 || n > TAG_SPACE - 2) {
    throw new UsbmsArgumentError(`queueDepth ${n} is not 1..${TAG_SPACE - 2}`, { argument: 'queueDepth' });
  }
  return n;
}

export function checkUasMaxTransfer(n: number | undefined): number {
  if (n === undefined) return DEFAULT_UAS_MAX_TRANSFER;
  if (!Number.isSafeInteger(n) || n < 512 || n % 512 !== 0) {
    throw new UsbmsArgumentError(`maxTransferBytes ${n} is not a positive multiple of 512`, { argument: 'maxTransferBytes' });
  }
  return n;
}

export function commandLength(c: TransportCommand): number {
  let n = 0;
  for (let i = 0; i < c.segmentCount; i++) n += c.segments[i]?.length ?? 0;
  return n;
}

/** Why `c` cannot be sent, or undefined when it can. */
export function commandProblem(c: TransportCommand, maxSegments: number, maxLun: number, maxTransferBytes: number,
  maxPacketSize: number): string | undefined {
  if (!Number.isInteger(c.lun) || c.lun < 0 || c.lun > maxLun) return `LUN ${c.lun} outside 0..${maxLun}`;
  if (!Number.isInteger(c.cdbLength) || c.cdbLength < 1 || c.cdbLength > 16 || c.cdb.length < c.cdbLength) {
    return `CDB length ${c.cdbLength} (buffer ${c.cdb.length}; UAS here carries at most 16 bytes)`;
  }
  if (!Number.isInteger(c.segmentCount) || c.segmentCount < 0 || c.segmentCount > c.segments.length) {
    return `segmentCount ${c.segmentCount} with ${c.segments.length} segments`;
  }
  if (c.segmentCount > maxSegments) return `${c.segmentCount} segments > the slot's ${maxSegments}`;
  if (c.direction === 'none' && c.segmentCount > 0) return 'segments given for direction none';
  if (c.direction !== 'none' && c.segmentCount === 0) return `direction ${c.direction} without segments`;
  for (let i = 0; i + 1 < c.segmentCount; i++) {
    if ((c.segments[i]?.length ?? 0) % maxPacketSize !== 0) return `segment ${i} is not a multiple of ${maxPacketSize} bytes`;
  }
  const total = commandLength(c);
  if (total > maxTransferBytes) return `${total} bytes > max transfer ${maxTransferBytes}`;
  if (!(c.dataTimeoutMs >= 0)) return `dataTimeoutMs ${c.dataTimeoutMs}`;
  return undefined;
}

/**
 * The Bulk-Only Transport engine's public surface, as the HBA (src/scsa/) sees it.
 *
 * The engine knows nothing of SCSA: it moves one command (CBW, data, CSW) at a time over a {@link UsbPort},
 * recovers from what the spec says to recover from, and tells the caller what happened with a typed result or
 * a typed error. Implementation: src/bot/transport.ts (`BotTransport`).
 */
import { CSW_STATUS } from '../usb/wire/bot.js';

/** Direction of a command's data phase, from the host's side. */
export type DataDirection = 'none' | 'in' | 'out';

/** CSW status values (BOT 1.0 §5.2). */
export const CSW_STATUS_PASSED = CSW_STATUS.PASSED;
/** CSW status 1: command failed (the HBA asks REQUEST SENSE). */
export const CSW_STATUS_FAILED = CSW_STATUS.FAILED;
/** CSW status 2: phase error (the engine does Reset Recovery). */
export const CSW_STATUS_PHASE_ERROR = CSW_STATUS.PHASE_ERROR;

/** One command. Built by the caller, read by the engine; the engine never keeps it after execute settles. */
export interface BotRequest {
  /** Logical unit, 0..15. */
  lun: number;
  /** The command block, 1..16 bytes (goes into CBWCB, zero padded). */
  cdb: Uint8Array;
  cdbLength: number;
  direction: DataDirection;
  /**
   * The data phase as an ordered list of buffers (DMA cookies): views into the caller's memory. Their total
   * length is dCBWDataTransferLength. Each becomes one bulk transfer and all are submitted together (zero-copy,
   * several in flight). Every segment but the last should be a multiple of the pipe's max packet size, so that
   * a short packet can only mean the end of the data phase. Empty for direction 'none'.
   */
  segments: readonly Buffer[];
  /** Number of entries of `segments` to use (lets callers keep a fixed array). */
  segmentCount: number;
  /** Data-phase timeout in ms; 0 = the engine's default. CBW and CSW have their own (quirkable) timeouts. */
  dataTimeoutMs: number;
}

/** A command that reached a valid, meaningful CSW with status passed or failed. */
export interface BotResult {
  /** CSW_STATUS_PASSED or CSW_STATUS_FAILED. */
  status: number;
  /** Bytes the host actually moved in the data phase (counted by the host, never taken from the device). */
  transferred: number;
  /**
   * The residue the host believes: dCBWDataTransferLength - transferred, except that a device residue larger than
   * that (an OUT data phase the device accepted but did not process) is kept when consistent. A device residue
   * that contradicts what was moved is never allowed to make missing data look present.
   */
  residue: number;
  /** dCSWDataResidue exactly as the device reported it. */
  deviceResidue: number;
  /** The data phase ended in a STALL (cleared before the CSW was read). */
  dataStalled: boolean;
}

/** Per-packet resources that the HBA allocates once (in tran_pkt_constructor) and reuses for every command. */
export interface BotSlot {
  readonly maxSegments: number;
}

/** What went wrong in a Bulk-Only command (a BotError's `kind`; its code is BOT_ + kind). */
export type BotErrorKind =
  | 'phase-error' // CSW status 2
  | 'invalid-csw' // wrong length, signature or tag; not meaningful
  | 'timeout' // a phase did not complete in time
  | 'device-gone' // the device disconnected
  | 'aborted' // cancelled by abort() or close()
  | 'overrun' // the device sent more than expected (babble) or more than the buffer
  | 'transport' // any other USB failure (CBW stalled, CSW unreadable ...)
  | 'busy'; // a command is already on the wire (BOT allows one)

/** Interface the HBA programs against. */
export interface BotTransportApi {
  /** Highest LUN (0..15), from Get Max LUN after open(). */
  readonly maxLun: number;
  /** Max bytes per command the engine and the device's quirks allow. */
  readonly maxTransferBytes: number;
  /** Bulk max packet size (DMA granularity for segments). */
  readonly maxPacketSize: number;

  /** Preallocate the transfers and state of one packet, for up to `maxSegments` data segments. */
  allocSlot(maxSegments: number): BotSlot;
  /** Release what allocSlot made. */
  freeSlot(slot: BotSlot): void;

  /**
   * Run one command. Resolves with a {@link BotResult} for CSW status 0/1. Rejects with a BotError for
   * everything else; when the error says `recovered: true`, Reset Recovery has run and the device takes commands
   * again. Rejects with kind 'busy' if another command is on the wire.
   */
  execute(slot: BotSlot, req: BotRequest): Promise<BotResult>;

  /** Cancel the command running on `slot` (if any); it rejects with kind 'aborted' after Reset Recovery. */
  abort(slot: BotSlot): Promise<void>;

  /** BOT Reset Recovery: Mass Storage Reset, clear halt IN, clear halt OUT. Falls back to a port reset. */
  resetRecovery(): Promise<void>;
  /** USB port reset, then Reset Recovery state is clean. */
  portReset(): Promise<void>;

  /** Fail what is in flight with BOT_ABORTED and stop taking commands. */
  close(): Promise<void>;
}

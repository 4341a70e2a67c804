/**
 * The transport seam: what the SCSA layer (src/scsa/) needs from a USB mass-storage wire protocol, and nothing
 * more. Bulk-Only (src/bot/) and USB Attached SCSI (src/uas/) implement it; the HBA runs packets on it and never
 * learns which one it holds. Types only: this module has no runtime behaviour and imports nothing, so every
 * protocol may depend on it without depending on SCSA (the illumos split between scsa2usb.c and
 * usb_ms_bulkonly.c / usb_ms_cbi.c).
 *
 * The contract below is the one test/transport/contract.ts checks for every implementation.
 */

/** Direction of a command's data phase, from the host's side. */
export type DataDirection = 'none' | 'in' | 'out';

/** Which wire protocol a transport speaks (for logs, `usbms list` and the CLI's `--transport`). */
export type TransportProtocol = 'bot' | 'uas';

/**
 * One command. Built by the HBA and reused for every command of the same packet (no allocation per command);
 * the transport reads it while `execute` runs and never keeps it after `execute` settles.
 */
export interface TransportCommand {
  /** Logical unit, 0..maxLun. */
  lun: number;
  /** The command block; `cdbLength` bytes of it are sent (1..16). */
  cdb: Uint8Array;
  cdbLength: number;
  direction: DataDirection;
  /**
   * The data phase as an ordered list of buffers (DMA cookies): views into the caller's memory, moved without a
   * copy. Their total length is the expected transfer length. Every segment but the last is a multiple of
   * `maxPacketSize`, so a short packet can only mean the end of the data phase. Empty for direction 'none'.
   */
  segments: readonly Buffer[];
  /** Number of entries of `segments` to use (lets the caller keep a fixed array). */
  segmentCount: number;
  /** Data-phase timeout in ms; 0 = the transport's default. Command and status phases have their own. */
  dataTimeoutMs: number;
  /**
   * Where a transport that carries sense with the status (UAS: the Sense IU) writes it; its length bounds how
   * much is kept (nothing beyond it is written). The HBA passes a view of the packet's sts_sensedata, or an empty
   * buffer when the packet has no room for sense (then none is kept). A transport that does not carry sense
   * (BOT) never touches it.
   */
  sense: Buffer;
}

/** A command that reached a status phase the transport trusts. */
export interface TransportResult {
  /**
   * The SCSI status byte: GOOD 0x00, CHECK CONDITION 0x02, BUSY 0x08, TASK SET FULL 0x28 ... BOT has only
   * "passed" (GOOD) and "failed" (CHECK CONDITION: the HBA asks REQUEST SENSE unless `senseLength` >= 0).
   */
  status: number;
  /** Bytes the host actually moved in the data phase (counted by the host, never taken from the device). */
  transferred: number;
  /**
   * Bytes of the data phase that do not count as data: expected minus transferred, or more when the device says
   * so consistently (BOT: an OUT phase accepted but not processed). Never less than expected minus transferred:
   * a device cannot make missing data look present.
   */
  residue: number;
  /**
   * Bytes of sense written into `command.sense` with this status (UAS; 0 when the device sent none), or -1 when
   * the transport carried no sense for this command (BOT, always: after CHECK CONDITION the HBA runs auto request
   * sense). The HBA decides per result, on this field alone.
   */
  senseLength: number;
}

/** Per-command resources the HBA allocates once (in tran_pkt_constructor) and reuses for every command. */
export interface TransportSlot {
  /** Most segments a command on this slot may have. */
  readonly maxSegments: number;
}

/**
 * How a transport's failures are classified for the HBA (pkt_reason). Each implementation rejects with its own
 * typed UsbmsError subclass (BotError, UasError ...) that carries one of these as `kind`, or a protocol-specific
 * kind that the HBA treats as 'transport'.
 *  - 'timeout': a phase did not complete within its deadline (CMD_TIMEOUT).
 *  - 'device-gone': the device disconnected; nothing will complete again (CMD_DEV_GONE).
 *  - 'aborted': cancelled by abort(), a reset or close() (CMD_ABORTED).
 *  - 'overrun': the device sent more than expected (babble) (CMD_DATA_OVR).
 *  - 'busy': more commands than `queueDepth`, or a tag still in use (TRAN_BUSY at tran_start).
 *  - 'transport': any other failure of the protocol (CMD_TRAN_ERR).
 */
export type TransportErrorKind = 'timeout' | 'device-gone' | 'aborted' | 'overrun' | 'busy' | 'transport';

/** The scope of a reset, as tran_reset(9E) names it: RESET_LUN, RESET_TARGET, RESET_ALL (the bus: a port reset). */
export type ResetLevel = 'lun' | 'target' | 'bus';

/**
 * A wire protocol that runs SCSI commands on a USB mass-storage interface.
 *
 * Contract (checked for every implementation by the suite in test/transport/):
 *  - `execute` resolves with a {@link TransportResult} once the protocol's status phase is trusted; it rejects
 *    with a typed error whose `kind` is a {@link TransportErrorKind} (or protocol-specific) for everything else,
 *    and never hangs: every phase has a deadline.
 *  - Up to `queueDepth` commands may be executing at once on distinct slots; one more rejects with kind 'busy'
 *    and changes nothing on the wire. BOT's depth is 1; UAS's is the device's queue depth.
 *  - Recovery belongs to the transport that knows its wire (BOT Reset Recovery, UAS task management): when
 *    `execute` rejects, whatever recovery the protocol prescribes has already run or is recorded to run before
 *    the next command. The HBA never resets on its own after a failure.
 *  - `abort(slot)` cancels the command on `slot`, if any: its `execute` rejects with kind 'aborted' (BOT: the
 *    command's own Reset Recovery; UAS: ABORT TASK). Other commands in flight are not affected where the
 *    protocol allows it.
 *  - `reset(level, lun)`: 'lun' (UAS LOGICAL UNIT RESET; BOT has none and runs Reset Recovery), 'target' (BOT
 *    Reset Recovery; UAS I_T NEXUS RESET where supported, else a LOGICAL UNIT RESET per LUN), 'bus' (a USB port
 *    reset). Every command in flight in its scope rejects with kind 'aborted' before `reset` resolves; a
 *    transport that can only reset more than was asked (BOT's 'lun' resets the target) fails everything it reset.
 *    The HBA counts every command that fails 'aborted' during a reset as stopped by that reset (CMD_RESET).
 *  - A device that disconnects completes every command in flight with kind 'device-gone', and every later call
 *    rejects the same way at once.
 *  - `close()` fails what is in flight with kind 'aborted' and stops taking commands; it never rejects.
 */
export interface Transport {
  readonly protocol: TransportProtocol;
  /** Highest LUN (0..15 for BOT; UAS: as discovered), known once the transport is open. */
  readonly maxLun: number;
  /** Most bytes one command may move (the engine's limit and the device's quirks). */
  readonly maxTransferBytes: number;
  /** Bulk max packet size: the DMA granularity of every segment but the last. */
  readonly maxPacketSize: number;
  /** Commands the transport can keep in flight at once (BOT 1). */
  readonly queueDepth: number;
  /** Whether the transport delivers sense with a CHECK CONDITION (UAS's Sense IU), so no REQUEST SENSE is needed. */
  readonly carriesSense: boolean;

  /** Preallocate the transfers and state of one command slot, for up to `maxSegments` data segments. */
  allocSlot(maxSegments: number): TransportSlot;
  /** Release what allocSlot made. */
  freeSlot(slot: TransportSlot): void;

  /** Run one command; see the contract above. */
  execute(slot: TransportSlot, command: TransportCommand): Promise<TransportResult>;
  /** Cancel the command running on `slot` (if any). Never rejects. */
  abort(slot: TransportSlot): Promise<void>;
  /** Reset at the given level; rejects (typed) only when even that reset failed. */
  reset(level: ResetLevel, lun?: number): Promise<void>;
  /** Fail what is in flight with 'aborted' and stop taking commands. Never rejects. */
  close(): Promise<void>;
}

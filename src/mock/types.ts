/**
 * Public types of the software USB disk: device and LUN options, fault rules, wire events, media stores.
 */
import type { UsbSpeed } from '../usb/port.js';

/** Where a LUN keeps its blocks. Offsets and sizes are bytes. Callers keep accesses inside `size`. */
export interface MediaStore {
  readonly size: bigint;
  /** True when writes are refused (the LUN then reports itself write-protected). */
  readonly readOnly?: boolean;
  /** Fill `dst` with the bytes at `offset`. */
  read(offset: bigint, dst: Buffer): void;
  /** Store `src` at `offset`. */
  write(offset: bigint, src: Buffer): void;
  /** Make written data durable (fsync for files). */
  flush?(): void;
  /** Release the store (close the file). */
  close?(): void;
  /** The device was reset (Mass Storage Reset, port reset) or lost power: volatile state (a RAM cache) is gone. */
  reset?(): void;
}

export type MockBlockSize = 512 | 2048 | 4096;

export interface MockLunOptions {
  /** Capacity in logical blocks (the capacity the LUN reports). */
  blocks: bigint | number;
  /** Default 512 (2048 is allowed for CD-ROM style LUNs). */
  blockSize?: MockBlockSize;
  /** Default: a sparse in-memory store of blocks * blockSize bytes. */
  media?: MediaStore;
  removable?: boolean;
  writeProtected?: boolean;
  /** Medium present; default true. */
  present?: boolean;
  vendor?: string;
  product?: string;
  revision?: string;
  serial?: string;
  /** 0 = direct-access block device, 5 = CD/DVD. */
  deviceType?: 0 | 5;
}

/** Device misbehaviours that real products have (the reason for usb-storage's unusual_devs / scsa2usb quirks). */
export interface MockDeviceQuirks {
  /** CSW residue is not the truth: 'zero' always 0, 'garbage' always dCBWDataTransferLength. */
  residue?: 'zero' | 'garbage';
  /** READ/WRITE/VERIFY over this many blocks end in a stall and a phase error. */
  maxSectors?: number;
  /** READ CAPACITY(16) is not understood: the device stalls the data pipe and answers phase error. */
  noReadCapacity16?: boolean;
  /** READ CAPACITY reports the block count instead of the last LBA. */
  capacityOffByOne?: boolean;
  /** Get Max LUN claims this many extra LUNs, each of which answers as (is a mirror of) LUN 0. */
  ghostLuns?: number;
  /** Extra delay before every command is processed (ms). */
  commandDelayMs?: number;
  /**
   * VPD pages are answered padded with zeros to the full allocation length (residue 0), as QEMU's scsi-disk
   * does: the page's own PAGE LENGTH is then the only truth about its size.
   */
  padVpdToAllocation?: boolean;
  /**
   * REQUEST SENSE on a LUN other than 0 with sense pending answers LOGICAL UNIT NOT SUPPORTED (and loses the
   * real sense), as QEMU's usb-bot does: its scsi_req_new routes that REQUEST SENSE to the SCSI target.
   */
  senseOnLun0Only?: boolean;
}

export interface MockDeviceOptions {
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
  /** Default 'high'. */
  speed?: UsbSpeed;
  /** Bulk wMaxPacketSize, default 512. */
  maxPacketSize?: number;
  /** 1..16 LUNs; default one 64 MiB disk. */
  luns?: MockLunOptions[];
  /** Get Max LUN answers STALL (as many single-LUN devices do). */
  getMaxLunStalls?: boolean;
  /** Seed for random faults when faults.random() is given none. */
  seed?: number;
  /** Completion delay of every transfer in ms; default 0 (completes on setImmediate). */
  latencyMs?: number;
  /**
   * What the device does when the host expects more data than it has (BOT cases 4, 5, 9, 11):
   * 'stall' (default) stalls the data pipe after the useful data; 'pad' sends zero padding (IN) or accepts and
   * discards the rest (OUT). Both are allowed by the spec.
   */
  shortDataPolicy?: 'stall' | 'pad';
  /** Every LUN starts with a pending UNIT ATTENTION 29/00 (power on), as real devices do. Default false. */
  powerOnUnitAttention?: boolean;
  quirks?: MockDeviceQuirks;
  /**
   * The quirks a host needs to drive this device, in the override syntax users give `--quirks`
   * (`vid:pid:FLAGS[,...]`): a software device brings its own instead of sitting in the production quirks table.
   * Whoever opens it registers them as overrides (openUsbms through MockBackend.quirkOverrides).
   */
  hostQuirks?: string;
  /** Size of the wire event ring (device.log); default 512. */
  logLimit?: number;
}

export type FaultPhase = 'data' | 'csw';

export type Fault =
  | { kind: 'stall'; phase: 'cbw' | 'data' | 'csw'; afterBytes?: number }
  /** 'cbw': the device never takes the CBW (NAKs it forever); 'data' / 'csw': it goes silent there. */
  | { kind: 'no-response'; phase: 'cbw' | FaultPhase }
  | { kind: 'short-data'; bytes: number }
  | { kind: 'babble'; extraBytes: number }
  | { kind: 'csw-signature' }
  | { kind: 'csw-tag' }
  | { kind: 'csw-length'; length: number }
  | { kind: 'csw-status'; status: number }
  | { kind: 'csw-residue'; residue: number }
  | { kind: 'lost-csw' }
  /** The device answers the command with a phase error (stalling the data pipe the host expects data on). */
  | { kind: 'phase-error' }
  | { kind: 'delay'; phase: FaultPhase; ms: number }
  | { kind: 'disconnect'; phase: FaultPhase; afterBytes?: number }
  | { kind: 'medium-error'; lbas: bigint[] }
  | { kind: 'capacity-off-by-one' }
  | { kind: 'get-max-lun-stall' };

export type FaultKind = Fault['kind'];

export interface FaultRule {
  match?: {
    opcode?: number;
    lun?: number;
    /** Apply from the nth matching command counted from now (1 = the next one). */
    nth?: number;
  };
  /** How many matching commands it applies to; default 1. (medium-error and capacity-off-by-one persist.) */
  times?: number;
  fault: Fault;
}

export interface RandomFaultOptions {
  seed?: number;
  /** Chance per command, 0..1. */
  probability: number;
  /** Faults to choose from; a bare kind uses a default shape for it. */
  kinds: ReadonlyArray<Fault | FaultKind>;
}

/** What happened on the wire, for tests to inspect (device.log). */
export type DeviceEvent =
  | { type: 'cbw'; tag: number; lun: number; opcode: number; length: number; direction: 'in' | 'out' }
  | { type: 'invalid-cbw'; length: number }
  | { type: 'not-meaningful-cbw'; tag: number; reason: string }
  | { type: 'csw'; tag: number; status: number; residue: number; case: number }
  | { type: 'stall'; pipe: 'in' | 'out' }
  | { type: 'clear-halt'; pipe: 'in' | 'out'; cleared: boolean }
  | { type: 'mass-storage-reset' }
  | { type: 'get-max-lun'; answer: number | 'stall' }
  | { type: 'port-reset' }
  | { type: 'disconnect' }
  | { type: 'reconnect' }
  | { type: 'fault'; kind: FaultKind; tag: number };

export type PersonalityName =
  | 'good'
  | 'ignore-residue'
  | 'fix-capacity'
  | 'no-get-max-lun'
  | 'single-lun'
  | 'max-sectors-64'
  | 'no-read-capacity-16'
  | 'slow'
  | 'counterfeit'
  | 'multi-lun'
  | 'cached-counterfeit';

export interface MockDeviceStats {
  cbws: number;
  csws: number;
  invalidCbws: number;
  phaseErrors: number;
  /** Bulk-Only Mass Storage Resets. */
  resets: number;
  clearHalts: { in: number; out: number };
  stalls: { in: number; out: number };
  portResets: number;
  getMaxLun: number;
  bytesIn: number;
  bytesOut: number;
}

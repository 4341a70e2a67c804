/**
 * Public types of the software USB disk: device and LUN options, fault rules, wire events, media stores.
 */
import type { UsbSpeed } from '../usb/port.js';
import type { UasScsiBackend } from './uas/backend.js';

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
  /**
   * Deallocate `length` bytes at `offset` (UNMAP, WRITE SAME with UNMAP): they read as zeros afterwards. Stores
   * without it get zeros written.
   */
  discard?(offset: bigint, length: number): void;
  /** Release the store (close the file). */
  close?(): void;
  /** The device was reset (Mass Storage Reset, port reset) or lost power: volatile state (a RAM cache) is gone. */
  reset?(): void;
}

/** Logical block sizes a software LUN can have: 512 (disks), 2048 (CD/DVD), 4096 (4Kn disks). */
export type MockBlockSize = 512 | 2048 | 4096;

/** One logical unit of a software device: its size, medium, identity and state. */
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
  /**
   * MODE SENSE reports DPOFUA, and a WRITE with the FUA bit is made durable (the media's flush) before its status.
   * Default false, as most USB sticks.
   */
  dpofua?: boolean;
  /**
   * Logical block provisioning (thin): VPD 0xB2 reports LBPU, LBPWS and LBPRZ=1, VPD 0xB0 its limits, and UNMAP and
   * WRITE SAME(16) with the UNMAP bit deallocate blocks (they read as zeros). `true` takes the default limits.
   * Default off: the LUN rejects the UNMAP bit and UNMAP, and lists no page 0xB2, as most USB sticks.
   */
  provisioning?: boolean | MockProvisioning;
}

/** The Block Limits a thin-provisioned LUN reports (VPD 0xB0), in blocks. */
export interface MockProvisioning {
  /** MAXIMUM UNMAP LBA COUNT (default 0x40000, 128 MiB of 512-byte blocks). */
  maxUnmapBlocks?: number;
  /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (default 64). */
  maxUnmapDescriptors?: number;
  /** MAXIMUM WRITE SAME LENGTH (default 0x40000). */
  maxWriteSameBlocks?: number;
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

/** A software USB mass-storage device: its USB identity and speed, its LUNs, its Bulk-Only behaviour and quirks. */
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
  /**
   * The transports the mass-storage interface offers, as alternate settings: 'bot' (default: one Bulk-Only
   * setting), 'uas' (one UAS setting, as QEMU's usb-uas), 'bot+uas' (Bulk-Only in setting 0 and UAS in setting 1,
   * as most UAS enclosures).
   */
  transports?: 'bot' | 'uas' | 'bot+uas';
  /** How the UAS function behaves (src/mock/uas). */
  uas?: MockUasOptions;
  /**
   * Answer UAS commands from this instead of the device's own SCSI target and LUNs (a replayed recording:
   * src/mock/replay). The LUN options then only shape the Bulk-Only side.
   */
  uasScsi?: UasScsiBackend;
}

/** The software disk's UAS function. */
export interface MockUasOptions {
  /** Commands the device keeps in its task set; one more is answered TASK SET FULL. Default 32. */
  queueDepth?: number;
  /**
   * Which queued command gets its data phase announced next: 'fifo' (default, the oldest), 'lifo' (the newest),
   * 'random' (seeded by the device's seed): all three are allowed by UAS, which names the tag in READ/WRITE READY.
   */
  order?: 'fifo' | 'lifo' | 'random';
  /** I_T NEXUS RESET is implemented (QEMU's usb-uas answers TMF NOT SUPPORTED to it). Default false. */
  itNexusReset?: boolean;
  /** The answer to a task management function: TMF COMPLETE (QEMU) or TMF SUCCEEDED (UAS-2). Default 'complete'. */
  tmfAnswer?: 'complete' | 'succeeded';
}

/** Where in a Bulk-Only command a fault strikes: the data phase or the status (CSW). */
export type FaultPhase = 'data' | 'csw';

/** One misbehaviour the software device can be told to show (FaultController.inject). */
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
  /**
   * A false check condition: the command's data is corrupted (the bytes a READ sends, the bytes a WRITE stores)
   * and it ends CHECK CONDITION, the REQUEST SENSE after it saying NO SENSE 00/00. An unknown amount of data
   * moved: a host that takes the command as good returns (or leaves) wrong data.
   */
  | { kind: 'no-sense-corrupt' }
  | { kind: 'medium-error'; lbas: bigint[] }
  | { kind: 'capacity-off-by-one' }
  | { kind: 'get-max-lun-stall' };

/** The name of a fault. */
export type FaultKind = Fault['kind'];

/** Which commands a fault strikes (by opcode, LUN, count) and how often. */
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

/** Faults drawn at random, per command, from a seeded generator (FaultController.random). */
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
  | { type: 'stall'; pipe: 'in' | 'out' | 'status' | 'command' }
  | { type: 'clear-halt'; pipe: 'in' | 'out' | 'status' | 'command'; cleared: boolean }
  | { type: 'mass-storage-reset' }
  | { type: 'get-max-lun'; answer: number | 'stall' }
  | { type: 'port-reset' }
  | { type: 'disconnect' }
  | { type: 'reconnect' }
  | { type: 'fault'; kind: FaultKind; tag: number }
  | { type: 'set-interface'; alternateSetting: number }
  | { type: 'uas-command'; tag: number; lun: number; opcode: number }
  | { type: 'uas-tmf'; tag: number; fn: number; managedTag: number; lun: number }
  | { type: 'uas-ready'; tag: number; direction: 'in' | 'out' }
  | { type: 'uas-sense'; tag: number; status: number; senseLength: number }
  | { type: 'uas-response'; tag: number; code: number }
  | { type: 'uas-aborted'; tag: number; why: string }
  | { type: 'uas-fault'; kind: string; tag: number };

/** The named devices of createPersonality, each a kind of real product and its misbehaviour. */
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
  | 'cached-counterfeit'
  | 'uas-enclosure'
  | 'uas-only'
  | 'uas-small-queue'
  | 'uas-broken';

/** Counts of what happened on the wire since the device was made. */
export interface MockDeviceStats {
  cbws: number;
  csws: number;
  invalidCbws: number;
  phaseErrors: number;
  /** Bulk-Only Mass Storage Resets. */
  resets: number;
  clearHalts: { in: number; out: number; status: number; command: number };
  stalls: { in: number; out: number; status: number; command: number };
  portResets: number;
  getMaxLun: number;
  bytesIn: number;
  bytesOut: number;
  /** UAS: IUs seen and sent, and the most commands the task set held at once. */
  uas: { commands: number; tmfs: number; senses: number; responses: number; readies: number; maxTasks: number };
}

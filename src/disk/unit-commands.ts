/**
 * The commands of a disk that need no medium: TEST UNIT READY, INQUIRY (standard and VPD), REQUEST SENSE,
 * START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, and `raw` for any CDB (what sg_raw is). Disk extends this.
 */
import type { scsi_address } from '../scsa/index.js';
import { CMD_CMPLT, CMD_DEV_GONE, CMD_TIMEOUT } from '../scsa/types.js';
import { commands } from '../scsi/index.js';
import {
  runCommand, type CommandContext, type CommandData, type CommandHooks, type CommandResult, type RetryPolicy,
} from './retry.js';
import { DiskArgumentError, DiskGoneError, DiskTimeoutError, DiskTransportError, type DiskSense } from './errors.js';
import { sendPacket, type CdbSpec } from './packet.js';
import { decodeDiskSense } from './sense.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/** A command for Disk.raw: the CDB, at most one data phase, a timeout. */
export interface RawOptions {
  /** Bytes to read in the data-in phase. */
  dataIn?: number;
  /** Bytes to send in the data-out phase. */
  dataOut?: Buffer;
  /** Command timeout in ms (default: the disk's). */
  timeoutMs?: number;
}

/** What Disk.raw got back: status, sense, data and residue. */
export interface RawResult {
  /** SCSI status byte. */
  readonly status: number;
  /** Sense from auto request sense, when the status was CHECK CONDITION. */
  readonly sense: DiskSense | undefined;
  /** Data-in bytes actually received (a view of the buffer, trimmed by the residue). */
  readonly data: Buffer;
  /** Bytes of the data phase not transferred. */
  readonly resid: number;
}

/** No data phase and no retries (TEST UNIT READY from the user, as sg_turs sends it). */
const ONCE: CommandData = { once: true };
const RAW_OPTION_KEYS = { dataIn: true, dataOut: true, timeoutMs: true } as const satisfies KnownKeys<RawOptions>;

const MAX_RAW_DATA = 16 * 1024 * 1024;

/** Disk.raw's declaration: any CDB, sent as the caller gave it (what sg_raw does); its length comes with it. */
const ANY_CDB: CdbSpec<Uint8Array> = {
  name: 'raw CDB',
  cdbLength: 16,
  encodeCdb: (cdb: Uint8Array, into: Buffer = Buffer.alloc(cdb.length)): Buffer => {
    into.set(cdb);
    return into;
  },
};
/** REQUEST SENSE allocation length: the largest sense a device may return (SPC: 252). */
const SENSE_ALLOCATION = 252;

export abstract class DiskCommands {
  /** What every command of this disk shares (made once, not per command). */
  private readonly context: CommandContext;

  protected constructor(
    protected readonly ap: scsi_address,
    policy: RetryPolicy,
    /** Default command timeout in ms (pkt_time is in seconds). */
    readonly timeoutMs: number,
    hooks: CommandHooks,
  ) {
    this.context = { ap, policy, hooks, timeoutMs };
  }

  protected abstract checkOpen(): void;

  /**
   * Send one command: its declaration (src/scsi `commands`), its parameters, and its data phase and options,
   * through the retry policy. The CDB is encoded straight into the packet; nothing here is made per command.
   */
  protected send<P>(spec: CdbSpec<P>, params: P, data?: CommandData): Promise<CommandResult> {
    return runCommand(this.context, spec, params, data);
  }

  /** One TEST UNIT READY, no retries: resolves when ready, throws the typed error (with sense) when not. */
  async testUnitReady(): Promise<void> {
    this.checkOpen();
    await this.send(commands.testUnitReady, {}, ONCE);
  }

  /** INQUIRY data as the device returned it: the standard page, or VPD page `vpd` (EVPD=1). */
  async inquiry(vpd?: number): Promise<Buffer> {
    this.checkOpen();
    if (vpd !== undefined && (!Number.isInteger(vpd) || vpd < 0 || vpd > 0xff)) {
      throw new DiskArgumentError(`VPD page ${vpd} is not 0..255`);
    }
    const length = vpd === undefined ? 96 : 252;
    const data = Buffer.alloc(length);
    const r = await this.send(commands.inquiry, vpd === undefined ? { allocationLength: length }
      : { evpd: true, pageCode: vpd, allocationLength: length }, { dataIn: data, allowResid: true });
    const got = data.subarray(0, length - r.resid);
    // Some devices (QEMU) pad the answer to the allocation length with residue 0: what counts is the length the
    // data itself declares (VPD: 4 + PAGE LENGTH; standard: 5 + ADDITIONAL LENGTH), as sg_inq and sg_vpd do.
    const declared = vpd === undefined ? 5 + (got[4] ?? 0) : 4 + (got.length >= 4 ? got.readUInt16BE(2) : 0);
    return got.length >= 4 && declared < got.length ? got.subarray(0, declared) : got;
  }

  /** REQUEST SENSE: the unit's current sense (NO SENSE when nothing is pending). */
  async requestSense(): Promise<DiskSense> {
    this.checkOpen();
    const data = Buffer.alloc(SENSE_ALLOCATION);
    const r = await this.send(commands.requestSense, { allocationLength: SENSE_ALLOCATION },
      { dataIn: data, allowResid: true, once: true });
    return decodeDiskSense(data.subarray(0, SENSE_ALLOCATION - r.resid));
  }

  /** START STOP UNIT: spin up / down, or load / eject with `loej`. */
  async startStopUnit(p: { start: boolean; loej?: boolean }): Promise<void> {
    this.checkOpen();
    await this.send(commands.startStopUnit, { start: p.start, loej: p.loej ?? false });
  }

  /** PREVENT ALLOW MEDIUM REMOVAL: lock (true) or unlock (false) the medium. */
  async preventRemoval(prevent: boolean): Promise<void> {
    this.checkOpen();
    await this.send(commands.preventAllowMediumRemoval, { prevent: prevent ? 1 : 0 });
  }

  /**
   * Send any CDB once, no retries, and report what came back (status, sense, data), like sg_raw. A CHECK
   * CONDITION is a result here, not an error; only a transport failure throws.
   */
  async raw(cdb: Uint8Array, opts: RawOptions = {}): Promise<RawResult> {
    this.checkOpen();
    rejectUnknownKeys(opts, RAW_OPTION_KEYS, 'Disk.raw options');
    if (cdb.length < 6 || cdb.length > 16) throw new DiskArgumentError(`a CDB is 6..16 bytes, got ${cdb.length}`);
    if (opts.dataIn !== undefined && opts.dataOut !== undefined) {
      throw new DiskArgumentError('a command has one data phase: give dataIn or dataOut, not both');
    }
    const inLength = opts.dataIn ?? 0;
    if (!Number.isInteger(inLength) || inLength < 0 || inLength > MAX_RAW_DATA) {
      throw new DiskArgumentError(`data-in length ${inLength} is not 0..${MAX_RAW_DATA}`);
    }
    const dataIn = inLength > 0 ? Buffer.alloc(inLength) : undefined;
    const o = await sendPacket(this.ap, ANY_CDB, cdb, {
      cdbLength: cdb.length, timeoutMs: opts.timeoutMs ?? this.timeoutMs, dataIn, dataOut: opts.dataOut,
    });
    if (o.reason === CMD_DEV_GONE) throw new DiskGoneError();
    if (o.reason === CMD_TIMEOUT) throw new DiskTimeoutError('command timed out');
    if (o.reason !== CMD_CMPLT) throw new DiskTransportError(`command failed in transport (pkt_reason ${o.reason})`);
    return {
      status: o.status,
      sense: o.sense !== undefined && o.sense.length >= 3 ? decodeDiskSense(o.sense) : undefined,
      data: dataIn === undefined ? Buffer.alloc(0) : dataIn.subarray(0, inLength - o.resid),
      resid: o.resid,
    };
  }
}

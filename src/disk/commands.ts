/**
 * The commands of a disk that need no medium: TEST UNIT READY, INQUIRY (standard and VPD), REQUEST SENSE,
 * START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, and `raw` for any CDB (what sg_raw is). Disk extends this.
 */
import type { scsi_address } from '../scsa/index.js';
import { CMD_CMPLT, CMD_DEV_GONE, CMD_TIMEOUT } from '../scsa/types.js';
import { commands } from '../scsi/index.js';
import { runCommand, type CommandHooks, type CommandOptions, type CommandResult, type RetryPolicy } from './command.js';
import { DiskArgumentError, DiskGoneError, DiskTimeoutError, DiskTransportError, type DiskSense } from './errors.js';
import { runPacket } from './packet.js';
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

const RAW_OPTION_KEYS = { dataIn: true, dataOut: true, timeoutMs: true } as const satisfies KnownKeys<RawOptions>;

const MAX_RAW_DATA = 16 * 1024 * 1024;
/** REQUEST SENSE allocation length: the largest sense a device may return (SPC: 252). */
const SENSE_ALLOCATION = 252;

export abstract class DiskCommands {
  protected constructor(
    protected readonly ap: scsi_address,
    protected readonly policy: RetryPolicy,
    /** Default pkt_time in seconds. */
    readonly timeoutMs: number,
  ) {}

  protected abstract hooks(): CommandHooks;
  protected abstract checkOpen(): void;

  protected exec(opts: CommandOptions): Promise<CommandResult> {
    return runCommand(this.ap, opts, this.policy, this.hooks());
  }

  /** One TEST UNIT READY, no retries: resolves when ready, throws the typed error (with sense) when not. */
  async testUnitReady(): Promise<void> {
    this.checkOpen();
    await this.exec({ name: 'TEST UNIT READY', cdbLength: 6, timeoutMs: this.timeoutMs, once: true,
      writeCdb: (into) => { commands.testUnitReady.encodeCdb({}, into); } });
  }

  /** INQUIRY data as the device returned it: the standard page, or VPD page `vpd` (EVPD=1). */
  async inquiry(vpd?: number): Promise<Buffer> {
    this.checkOpen();
    if (vpd !== undefined && (!Number.isInteger(vpd) || vpd < 0 || vpd > 0xff)) {
      throw new DiskArgumentError(`VPD page ${vpd} is not 0..255`);
    }
    const length = vpd === undefined ? 96 : 252;
    const data = Buffer.alloc(length);
    const r = await this.exec({ name: 'INQUIRY', cdbLength: 6, timeoutMs: this.timeoutMs, dataIn: data, allowResid: true,
      writeCdb: (into) => {
        commands.inquiry.encodeCdb(vpd === undefined ? { allocationLength: length }
          : { evpd: true, pageCode: vpd, allocationLength: length }, into);
      } });
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
    const r = await this.exec({ name: 'REQUEST SENSE', cdbLength: 6, timeoutMs: this.timeoutMs, dataIn: data,
      allowResid: true, once: true,
      writeCdb: (into) => { commands.requestSense.encodeCdb({ allocationLength: SENSE_ALLOCATION }, into); } });
    return decodeDiskSense(data.subarray(0, SENSE_ALLOCATION - r.resid));
  }

  /** START STOP UNIT: spin up / down, or load / eject with `loej`. */
  async startStopUnit(p: { start: boolean; loej?: boolean }): Promise<void> {
    this.checkOpen();
    await this.exec({ name: 'START STOP UNIT', cdbLength: 6, timeoutMs: this.timeoutMs,
      writeCdb: (into) => { commands.startStopUnit.encodeCdb({ start: p.start, loej: p.loej ?? false }, into); } });
  }

  /** PREVENT ALLOW MEDIUM REMOVAL: lock (true) or unlock (false) the medium. */
  async preventRemoval(prevent: boolean): Promise<void> {
    this.checkOpen();
    await this.exec({ name: 'PREVENT ALLOW MEDIUM REMOVAL', cdbLength: 6, timeoutMs: this.timeoutMs,
      writeCdb: (into) => { commands.preventAllowMediumRemoval.encodeCdb({ prevent: prevent ? 1 : 0 }, into); } });
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
    const o = await runPacket(this.ap, {
      cdbLength: cdb.length, timeoutMs: opts.timeoutMs ?? this.timeoutMs, dataIn, dataOut: opts.dataOut,
      writeCdb: (into) => { into.set(cdb); },
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

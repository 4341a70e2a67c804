/**
 * The disk target driver: what sd(4D) is to scsa2usb, in idiomatic TypeScript above the SCSA entry points.
 *
 * Every command is a packet from scsi_init_pkt(SLEEP_FUNC) with auto request sense, run through the retry policy
 * of retry.ts. LBAs are BigInt end to end; READ/WRITE(10) are used while the LBA and length fit, (16) beyond.
 * Transfers are split at the HBA's "dma-max" and land directly in the caller's buffer (views, no copies).
 */
import { scsi_ifgetcap, scsi_ifsetcap, type scsi_address, type UsbmsHba } from '../scsa/index.js';
import { commands, type BlockCommandSpec } from '../scsi/index.js';
import { logger } from '../util/log.js';
import { DEFAULT_POLICY, runCommand, type CommandData, type RetryPolicy } from './retry.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';
import type { RecoverySink } from '../util/recovery.js';
import {
  DiskArgumentError, DiskError, DiskNoMediumError, DiskRangeError, DiskReadOnlyError, DiskWriteProtectedError,
  isDiskError,
} from './errors.js';
import {
  inquiry, readCapacity, readDeviceParameter, type Capacity, type CapacityQuirks, type InquiryInfo, type Send,
} from './identify.js';
import { readProvisioning, unmapRange, writeSameRange, type Provisioning } from './provisioning.js';
import { DiskCommands } from './unit-commands.js';
import { createDiskReadStream, createDiskWriteStream, type DiskReadStreamOptions, type DiskWriteStreamOptions } from './streams.js';
import type { Readable, Writable } from 'node:stream';

const log = logger('disk');

/** Quirks the disk driver applies (from the BOT quirks table or overrides). */
export interface DiskQuirks extends CapacityQuirks {
  /** SYNCHRONIZE CACHE fails or hangs on this device: skip it. */
  readonly noSynchronizeCache?: boolean | undefined;
}

/** Options of Disk.open. */
export interface DiskOpenOptions {
  /** Writes are refused unless this is true. */
  allowWrite?: boolean;
  /** Retries of transient failures per command (default 3). */
  retries?: number;
  /** How long NOT READY "becoming ready" is waited out (default 60 000 ms, as EDK2). */
  readyTimeoutMs?: number;
  /** Pause between NOT READY polls (default 200 ms). */
  readyPollMs?: number;
  /** Timeout of each command in ms (default 30 000; becomes pkt_time, in seconds as the DDI has it). */
  timeoutMs?: number;
  quirks?: DiskQuirks;
  /**
   * false: INQUIRY only, no TEST UNIT READY / READ CAPACITY / MODE SENSE at open (default true). For tools in
   * the sg_turs / sg_requests / sg_raw tradition, which must see the unit's state as it is: the open policy
   * would consume a pending UNIT ATTENTION and wait out NOT READY. The medium is probed on first use instead.
   */
  probe?: boolean;
  /** Told of each retry and each wait for the unit to become ready, as it begins (see src/util/recovery.ts). */
  onRecovery?: RecoverySink | undefined;
}

const DISK_OPEN_KEYS = {
  allowWrite: true, retries: true, readyTimeoutMs: true, readyPollMs: true, timeoutMs: true, quirks: true, probe: true, onRecovery: true,
} as const satisfies KnownKeys<DiskOpenOptions>;
const DISK_QUIRK_KEYS = {
  fixCapacity: true, noReadCapacity16: true, readCapacity16: true, noSynchronizeCache: true,
} as const satisfies KnownKeys<DiskQuirks>;

/** A READ(10)/WRITE(10) moves at most 0xFFFF blocks; beyond the dma-max cap, commands are split anyway. */
const MAX_BLOCKS_10 = 0xffff;
const LBA_LIMIT_10 = 0xffff_ffffn;
const DEFAULT_DMA_MAX = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * One block READ/WRITE, kept by its disk for the next one: Disk.transfer fills it and sends it as
 * `send(cmd.spec, cmd.params, cmd)`, so a block command makes no parameter, data or window object. Its CDB comes
 * from the READ/WRITE(10)/(16) declaration (src/scsi/rw.ts), as does each DMA window's (PKT_DMA_PARTIAL).
 */
class BlockCommand implements CommandData {
  spec: BlockCommandSpec = commands.read10;
  /** The CDB's parameters: an LBA, a length and FUA, nothing else (the declaration's fast path). */
  readonly params = { lba: 0n, blocks: 0, fua: false };
  timeoutMs = 0;
  lba = 0n;
  blocks = 0;
  dataIn: Buffer | undefined = undefined;
  dataOut: Buffer | undefined = undefined;
  readonly windows = { spec: this.spec, blockSize: 512 };

  prepare(op: 'read' | 'write', cdbLength: 10 | 16, lba: bigint, blocks: number, blockSize: number, timeoutMs: number,
    data: Buffer | undefined, fua = false): void {
    this.spec = commands[`${op}${cdbLength}`];
    this.windows.spec = this.spec;
    this.params.lba = this.lba = lba;
    this.params.blocks = this.blocks = blocks;
    this.params.fua = fua;
    this.windows.blockSize = blockSize;
    this.timeoutMs = timeoutMs;
    this.dataIn = op === 'read' ? data : undefined;
    this.dataOut = op === 'write' ? data : undefined;
  }
}

export class Disk extends DiskCommands {
  private capacityInfo: Capacity | undefined;
  private wp = false;
  private dpofua = false;
  private provisioningInfo: Promise<Provisioning> | undefined;
  private reprobing = false;
  private closedFlag = false;
  /** Bytes per command: the HBA's dma-max capability. */
  readonly maxTransferBytes: number;
  /** Block commands not in flight, for the next READ/WRITE (as many as ever ran at once). */
  private readonly idleBlockCommands: BlockCommand[] = [];

  private constructor(
    readonly hba: UsbmsHba,
    readonly lun: number,
    ap: scsi_address,
    readonly info: InquiryInfo,
    private readonly opts: Required<Pick<DiskOpenOptions, 'allowWrite' | 'timeoutMs'>> & { quirks: DiskQuirks },
    policy: RetryPolicy,
  ) {
    super(ap, policy, opts.timeoutMs, {
      onMediumChanged: () => this.probeMedium(),
      startUnit: () => this.startStopUnit({ start: true }),
    });
    const dmaMax = scsi_ifgetcap(ap, 'dma-max', 1);
    this.maxTransferBytes = dmaMax > 0 ? dmaMax : DEFAULT_DMA_MAX;
  }

  /**
   * Open LUN `lun`: INQUIRY, TEST UNIT READY (waiting out "becoming ready", starting a stopped unit), READ
   * CAPACITY and the write-protect bit. A removable disk without a medium opens with `mediumPresent: false`.
   */
  static async open(hba: UsbmsHba, lun: number, options: DiskOpenOptions = {}): Promise<Disk> {
    // Before anything is sent: a misspelt option (the old `timeoutS`) must not quietly become its default.
    rejectUnknownKeys(options, DISK_OPEN_KEYS, 'Disk.open options');
    rejectUnknownKeys(options.quirks, DISK_QUIRK_KEYS, 'Disk.open options.quirks');
    if (!Number.isInteger(lun) || lun < 0 || lun > hba.maxLun) {
      throw new DiskArgumentError(`LUN ${lun} does not exist (the device has LUNs 0..${hba.maxLun})`);
    }
    const ap = hba.address(lun);
    // ARQ: the sense comes back with the status (scsa2usb always does it; ask anyway, as sd does).
    scsi_ifsetcap(ap, 'auto-rqsense', 1, 1);
    const policy: RetryPolicy = {
      retries: options.retries ?? DEFAULT_POLICY.retries,
      readyTimeoutMs: options.readyTimeoutMs ?? DEFAULT_POLICY.readyTimeoutMs,
      readyPollMs: options.readyPollMs ?? DEFAULT_POLICY.readyPollMs,
      onRecovery: options.onRecovery,
    };
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new DiskArgumentError(`timeoutMs ${timeoutMs} is not a non-negative number of milliseconds`);
    }
    const context = { ap, policy, hooks: {}, timeoutMs };
    const bootstrap: Send = (spec, params, data) => runCommand(context, spec, params, data);
    const info = await inquiry(bootstrap);
    const disk = new Disk(hba, lun, ap, info,
      { allowWrite: options.allowWrite ?? false, timeoutMs, quirks: options.quirks ?? {} }, policy);
    log('LUN %d: %s %s %s, %s', lun, info.vendor, info.product, info.revision, info.removable ? 'removable' : 'fixed');
    if (options.probe !== false) await disk.probeMedium();
    return disk;
  }

  /** TUR, then capacity and write protect; called at open and when the medium may have changed. */
  private async probeMedium(): Promise<void> {
    if (this.reprobing) return;
    this.reprobing = true;
    try {
      await this.send(commands.testUnitReady, {});
      this.capacityInfo = await readCapacity(this.sendOne, this.opts.quirks);
      ({ writeProtected: this.wp, dpofua: this.dpofua } = await readDeviceParameter(this.sendOne));
      this.provisioningInfo = undefined; // another medium may say otherwise
    } catch (e) {
      if (!isDiskError(e, 'no-medium')) throw e;
      this.capacityInfo = undefined;
      if (!this.info.removable) throw e;
      log('LUN %d: no medium', this.lun);
    } finally {
      this.reprobing = false;
    }
  }

  /** `send` for the identify functions (made once: they take a function). */
  private readonly sendOne: Send = (spec, params, data) => this.send(spec, params, data);

  /** Whether a medium is present (READ CAPACITY answered). */
  get mediumPresent(): boolean { return this.capacityInfo !== undefined; }
  /** Whether the medium is write protected (MODE SENSE WP bit). */
  get writeProtected(): boolean { return this.wp; }
  /** Whether the device honours the FUA bit of WRITE (MODE SENSE DPOFUA): `write(..., { fua: true })` uses it. */
  get fua(): boolean { return this.dpofua; }
  /** Whether the disk was opened with { allowWrite: true }. */
  get writable(): boolean { return this.opts.allowWrite; }
  /** Whether close() was called. */
  get closed(): boolean { return this.closedFlag; }
  /** Logical block length in bytes (0 without a medium). */
  get blockSize(): number { return this.capacityInfo?.blockSize ?? 0; }
  /** Number of logical blocks (0n without a medium). */
  get blocks(): bigint { return this.capacityInfo?.blocks ?? 0n; }
  /** The size of the medium in bytes (0 without a medium). */
  get capacityBytes(): bigint { return this.blocks * BigInt(this.blockSize); }
  /** What READ CAPACITY said, when a medium is present. */
  get capacity(): Capacity | undefined { return this.capacityInfo; }

  /** Re-read the capacity (and the write-protect bit) now. */
  async refresh(): Promise<Capacity | undefined> {
    this.checkOpen();
    await this.probeMedium();
    return this.capacityInfo;
  }

  private async requireMedium(): Promise<Capacity> {
    this.checkOpen();
    if (this.capacityInfo === undefined) await this.probeMedium();
    if (this.capacityInfo === undefined) throw new DiskNoMediumError(`LUN ${this.lun}: medium not present`);
    return this.capacityInfo;
  }

  private checkRange(cap: Capacity, lba: bigint, blocks: number): void {
    if (lba < 0n) throw new DiskArgumentError(`LBA ${lba} is negative`);
    if (!Number.isSafeInteger(blocks) || blocks < 1) throw new DiskArgumentError(`block count ${blocks} is not a positive integer`);
    if (lba + BigInt(blocks) > cap.blocks) {
      throw new DiskRangeError(`LBA range ${lba}..${lba + BigInt(blocks) - 1n} is past the end of the medium ` +
        `(${cap.blocks} blocks)`, lba < cap.blocks ? cap.blocks : lba);
    }
  }

  private blocksPerCommand(blockSize: number, limit10: boolean): number {
    const byDma = Math.max(1, Math.floor(this.maxTransferBytes / blockSize));
    return limit10 ? Math.min(byDma, MAX_BLOCKS_10) : byDma;
  }

  /** Read `blocks` blocks at `lba` into `into` (or a new buffer); returns the filled view. */
  async read(lba: bigint, blocks: number, into?: Buffer): Promise<Buffer> {
    this.checkOpen();
    const cap = this.capacityInfo ?? await this.requireMedium(); // no await on the hot path once the size is known
    this.checkRange(cap, lba, blocks);
    const bytes = blocks * cap.blockSize;
    if (into !== undefined && into.length < bytes) {
      throw new DiskArgumentError(`buffer of ${into.length} bytes cannot hold ${blocks} blocks of ${cap.blockSize}`);
    }
    const out = into === undefined ? Buffer.allocUnsafe(bytes) : into.length === bytes ? into : into.subarray(0, bytes);
    await this.transfer('read', lba, blocks, cap.blockSize, out);
    return out;
  }

  /**
   * Write `data` (a whole number of blocks) at `lba`. Needs `{ allowWrite: true }` and a writable medium. With
   * `fua`, the data is on the medium when this resolves: the WRITEs carry FUA where the device honours it
   * (DPOFUA), else a SYNCHRONIZE CACHE follows them.
   */
  async write(lba: bigint, data: Buffer, opts: { fua?: boolean } = {}): Promise<void> {
    const cap = await this.writableMedium();
    if (data.length === 0 || data.length % cap.blockSize !== 0) {
      throw new DiskArgumentError(`write of ${data.length} bytes is not a whole number of ${cap.blockSize}-byte blocks`);
    }
    const blocks = data.length / cap.blockSize;
    this.checkRange(cap, lba, blocks);
    const fua = opts.fua === true;
    await this.writing(() => this.transfer('write', lba, blocks, cap.blockSize, data, fua && this.dpofua));
    if (fua && !this.dpofua) await this.synchronizeCache();
  }

  /** The capacity, after the checks every write makes (open, allowWrite, medium present, not write protected). */
  private async writableMedium(): Promise<Capacity> {
    this.checkOpen();
    if (!this.opts.allowWrite) throw new DiskReadOnlyError();
    const cap = this.capacityInfo ?? await this.requireMedium();
    if (this.wp) throw new DiskWriteProtectedError(`LUN ${this.lun}: medium is write protected`);
    return cap;
  }

  /** Run a command that changes the medium; DATA PROTECT from the device marks the medium write protected. */
  private async writing(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (e) {
      if (isDiskError(e, 'data-protect')) this.wp = true;
      throw e;
    }
  }

  /**
   * What the device says about deallocating blocks (VPD 0xB2 and 0xB0, read once per medium): whether `unmap` and
   * `writeSame({ unmap: true })` are available and their limits. A device that does not claim SPC-2, or that
   * does not list the pages, is fully provisioned (nothing can be deallocated).
   */
  provisioning(): Promise<Provisioning> {
    this.checkOpen();
    this.provisioningInfo ??= readProvisioning((page) => this.inquiry(page), this.info.version);
    return this.provisioningInfo;
  }

  /**
   * Deallocate `blocks` blocks from `lba` (UNMAP, cut to the device's limits). Only where provisioning() says
   * `unmap`; afterwards the blocks read as provisioning().unmappedReadsZero says (zeros, or anything).
   */
  async unmap(lba: bigint, blocks: number | bigint): Promise<void> {
    const cap = await this.writableMedium();
    const p = await this.provisioning();
    if (!p.unmap) throw new DiskArgumentError(`LUN ${this.lun}: the device does not support UNMAP (VPD 0xB2 LBPU)`);
    const n = this.checkRangeBig(cap, lba, blocks);
    await this.writing(() => unmapRange(this.sendOne, p, lba, n));
  }

  /**
   * WRITE SAME(16): `block` (one logical block; zeros when omitted) written over `blocks` blocks from `lba`. With
   * `unmap`, the device may deallocate them instead (only where provisioning() says `writeSameUnmap`).
   */
  async writeSame(lba: bigint, blocks: number | bigint, opts: { unmap?: boolean; block?: Buffer } = {}): Promise<void> {
    const cap = await this.writableMedium();
    const unmap = opts.unmap === true;
    const p = await this.provisioning();
    if (unmap && !p.writeSameUnmap) {
      throw new DiskArgumentError(`LUN ${this.lun}: the device does not support WRITE SAME with UNMAP (VPD 0xB2 LBPWS)`);
    }
    const block = opts.block ?? Buffer.alloc(cap.blockSize);
    if (block.length !== cap.blockSize) {
      throw new DiskArgumentError(`WRITE SAME needs one ${cap.blockSize}-byte block, got ${block.length} bytes`);
    }
    const n = this.checkRangeBig(cap, lba, blocks);
    await this.writing(() => writeSameRange(this.sendOne, p, lba, n, block, unmap));
  }

  /** checkRange for counts that may pass 2^53 blocks' worth of bytes (UNMAP, WRITE SAME move no data). */
  private checkRangeBig(cap: Capacity, lba: bigint, blocks: number | bigint): bigint {
    const n = BigInt(blocks);
    if (lba < 0n) throw new DiskArgumentError(`LBA ${lba} is negative`);
    if (n < 1n) throw new DiskArgumentError(`block count ${blocks} is not a positive integer`);
    if (lba + n > cap.blocks) {
      throw new DiskRangeError(`LBA range ${lba}..${lba + n - 1n} is past the end of the medium (${cap.blocks} blocks)`,
        lba < cap.blocks ? cap.blocks : lba);
    }
    return n;
  }

  private async transfer(op: 'read' | 'write', lba: bigint, blocks: number, blockSize: number, buf: Buffer,
    fua = false): Promise<void> {
    const cmd = this.idleBlockCommands.pop() ?? new BlockCommand();
    try {
      let done = 0;
      while (done < blocks) {
        const at = lba + BigInt(done);
        const small = at + BigInt(Math.min(blocks - done, MAX_BLOCKS_10)) - 1n <= LBA_LIMIT_10;
        const n = Math.min(blocks - done, this.blocksPerCommand(blockSize, small));
        // The caller's memory itself when one command moves all of it (no view object per command).
        const whole = done === 0 && n * blockSize === buf.length;
        const view = whole ? buf : buf.subarray(done * blockSize, (done + n) * blockSize);
        cmd.prepare(op, small ? 10 : 16, at, n, blockSize, this.timeoutMs, view, fua);
        await this.send(cmd.spec, cmd.params, cmd);
        done += n;
      }
    } finally {
      cmd.prepare('read', 10, 0n, 0, 0, 0, undefined); // drops the caller's memory
      this.idleBlockCommands.push(cmd);
    }
  }

  /** VERIFY (medium check, no data) of a range; a bad block fails with DiskMediumError naming its LBA. */
  async verify(lba: bigint, blocks: number): Promise<void> {
    const cap = await this.requireMedium();
    this.checkRange(cap, lba, blocks);
    let done = 0;
    while (done < blocks) {
      const at = lba + BigInt(done);
      const n = Math.min(blocks - done, MAX_BLOCKS_10);
      const spec = at + BigInt(n) - 1n <= LBA_LIMIT_10 ? commands.verify10 : commands.verify16;
      await this.send(spec, { lba: at, blocks: n }, { lba: at, blocks: n });
      done += n;
    }
  }

  /** SYNCHRONIZE CACHE(10) of the whole medium; skipped by quirk, and ignored where the device lacks it. */
  async synchronizeCache(): Promise<void> {
    this.checkOpen();
    if (this.opts.quirks.noSynchronizeCache === true) return;
    try {
      await this.send(commands.synchronizeCache10, { lba: 0n, blocks: 0 });
    } catch (e) {
      // Many USB sticks have no cache and reject the opcode: nothing to flush is not a failure.
      if (isDiskError(e, 'illegal-request') && e.sense?.asc === 0x20) return;
      throw e;
    }
  }

  /** Unlock and eject the medium (START STOP UNIT with LOEJ). */
  async eject(): Promise<void> {
    this.checkOpen();
    await this.preventRemoval(false).catch((e: unknown) => {
      if (!isDiskError(e, 'illegal-request')) throw e;
    });
    await this.startStopUnit({ start: false, loej: true });
    this.capacityInfo = undefined;
  }

  /** A Readable of blocks start..end (inclusive), one READ per chunk, with backpressure. */
  createReadStream(opts: DiskReadStreamOptions = {}): Readable {
    this.checkOpen();
    return createDiskReadStream(this, opts);
  }

  /** A Writable that writes whole blocks from `start`; each chunk is acknowledged once its WRITE completed. */
  createWriteStream(opts: DiskWriteStreamOptions = {}): Writable {
    this.checkOpen();
    if (!this.opts.allowWrite) throw new DiskReadOnlyError();
    return createDiskWriteStream(this, opts);
  }

  /** Close the disk: later calls fail with kind 'closed'. The HBA and the port are the session's to close. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    if (this.opts.allowWrite && this.mediumPresent) {
      await this.synchronizeCache().catch((e: unknown) => { log('sync on close failed: %s', (e as Error).message); });
    }
    this.closedFlag = true;
  }

  protected override checkOpen(): void {
    if (this.closedFlag) throw new DiskError('closed', `LUN ${this.lun}: disk is closed`);
  }
}

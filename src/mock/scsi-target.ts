/**
 * The SCSI block target behind the software device's Bulk-Only interface. It decides, for one CDB, what the
 * device intends to do (direction, byte count, data, status) and keeps sense per LUN (SPC-4, SBC-3).
 */
import type { FaultController } from './faults.js';
import type { MockLun } from './lun.js';
import type { MediaStore } from './types.js';
import {
  writeCachingPage, writeDescriptorSense, writeFixedSense, writeStandardInquiry, writeVpdPage, type SenseName,
} from './scsi-data.js';

/** Grow-only buffer, so that steady-state commands allocate nothing. */
export class Scratch {
  private buf = Buffer.alloc(64 * 1024);
  /** At least `n` bytes; the first `keep` bytes survive a growth. */
  get(n: number, keep = 0): Buffer {
    if (n > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, keep);
      this.buf = bigger;
    }
    return this.buf;
  }
}

/** Where the data of a data-out command goes. */
export interface OutSink {
  accept(offset: number, chunk: Buffer): void;
  /** All data the device will take has arrived: the command's status. */
  finish(received: number): 0 | 1;
}

/** The device's intent for one command (reused between commands). */
export interface CommandPlan {
  direction: 'none' | 'in' | 'out';
  length: number;
  /** For 'in': `length` bytes at the start of the scratch buffer. */
  data: Buffer;
  status: 0 | 1;
  sink: OutSink | undefined;
}

export interface TargetContext {
  readonly faults: FaultController;
  readonly capacityOffByOne: boolean;
  readonly padVpdToAllocation: boolean;
  readonly senseOnLun0Only: boolean;
  /** LUN numbers the device answers on (REPORT LUNS). */
  lunCount(): number;
}

const NEEDS_MEDIUM = new Set([0x00, 0x25, 0x28, 0x2a, 0x2f, 0x35, 0x42, 0x88, 0x8a, 0x93, 0x9e]);
/** WRITE SAME without provisioning limits: at most this many blocks per command. */
const MAX_WRITE_SAME_BLOCKS = 0x40000;
/** The largest UNMAP parameter list (PARAMETER LIST LENGTH is 16 bits). */
const MAX_UNMAP_LIST = 0xffff;
const UA_EXEMPT = new Set([0x12, 0xa0, 0x03]);

export class ScsiTarget {
  readonly scratch = new Scratch();
  private lun!: MockLun;
  private lunNumber = 0;
  private writeBase = 0n;
  private compareLba = 0n;

  private writeFua = false;
  private readonly writeSink: OutSink = {
    accept: (offset, chunk) => this.lun.media.write(this.writeBase + BigInt(offset), chunk),
    finish: () => {
      // FUA: the data is on the media (not in a cache) before the status says the WRITE is done.
      if (this.writeFua) this.lun.media.flush?.();
      return 0;
    },
  };
  /** WRITE SAME's one block, and UNMAP's parameter list, as they arrive. */
  private readonly param = Buffer.alloc(MAX_UNMAP_LIST);
  /** A run of WRITE SAME's block, written over the range piece by piece (grow-only). */
  private fill = Buffer.alloc(0);
  private sameBlocks = 0;
  private sameUnmap = false;
  private readonly paramSink = (finish: (received: number) => 0 | 1): OutSink => ({
    accept: (offset, chunk) => { chunk.copy(this.param, offset, 0, Math.min(chunk.length, this.param.length - offset)); },
    finish,
  });
  private readonly writeSameSink = this.paramSink((received) => this.writeSameFinish(received));
  private readonly unmapSink = this.paramSink((received) => this.unmapFinish(received));
  private miscompareAt: number | undefined;
  private readonly compareSink: OutSink = {
    accept: (offset, chunk) => {
      if (this.miscompareAt !== undefined) return;
      const expected = this.scratch.get(chunk.length).subarray(0, chunk.length);
      this.lun.media.read(this.writeBase + BigInt(offset), expected);
      const i = firstDifference(expected, chunk);
      if (i >= 0) this.miscompareAt = offset + i;
    },
    finish: () => {
      if (this.miscompareAt === undefined) return 0;
      return this.fail('miscompare', BigInt(this.miscompareAt));
    },
  };

  constructor(private readonly ctx: TargetContext) {}

  execute(lun: MockLun, lunNumber: number, cdb: Buffer, plan: CommandPlan): void {
    this.lun = lun;
    this.lunNumber = lunNumber;
    plan.direction = 'none';
    plan.length = 0;
    plan.status = 0;
    plan.sink = undefined;
    const op = cdb[0] ?? 0;
    if (op !== 0x03) lun.clearSense();
    if (!UA_EXEMPT.has(op)) {
      const ua = lun.takeUnitAttention();
      if (ua !== undefined) { lun.setSenseValue(ua); plan.status = 1; return; }
    }
    const otherServiceAction = op === 0x9e && ((cdb[1] ?? 0) & 0x1f) !== 0x10;
    if (NEEDS_MEDIUM.has(op) && !otherServiceAction && !lun.present) {
      plan.status = this.fail('notReadyNoMedium');
      return;
    }
    plan.status = this.dispatch(op, cdb, plan);
  }

  private dispatch(op: number, cdb: Buffer, plan: CommandPlan): 0 | 1 {
    switch (op) {
      case 0x00: return 0; // TEST UNIT READY (medium checked above)
      case 0x03: return this.requestSense(cdb, plan);
      case 0x12: return this.inquiry(cdb, plan);
      case 0x1a: return this.modeSense(cdb, plan, false);
      case 0x5a: return this.modeSense(cdb, plan, true);
      case 0x1b: return this.startStop(cdb);
      case 0x1e: this.lun.setPrevent(((cdb[4] ?? 0) & 0x01) !== 0); return 0;
      case 0x25: return this.readCapacity10(plan);
      case 0x9e: return ((cdb[1] ?? 0) & 0x1f) === 0x10 ? this.readCapacity16(cdb, plan) : this.fail('invalidOpcode');
      case 0x28: return this.readWrite(cdb.readUInt32BE(2), cdb.readUInt16BE(7), plan, false);
      case 0x88: return this.readWrite(cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), plan, false);
      case 0x2a: return this.readWrite(cdb.readUInt32BE(2), cdb.readUInt16BE(7), plan, true, cdb);
      case 0x8a: return this.readWrite(cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), plan, true, cdb);
      case 0x42: return this.unmap(cdb, plan);
      case 0x93: return this.writeSame(cdb, plan);
      case 0x2f: return this.verify(cdb, plan);
      case 0x35: return this.synchronizeCache(cdb);
      case 0xa0: return this.reportLuns(cdb, plan);
      default: return this.fail('invalidOpcode');
    }
  }

  private fail(name: SenseName, info?: bigint): 1 {
    this.lun.setSense(name, info);
    return 1;
  }

  /** Data-in of `full` bytes already in scratch, cut to the allocation length. */
  private dataIn(plan: CommandPlan, full: number, allocation: number): 0 {
    plan.direction = allocation > 0 ? 'in' : 'none';
    plan.length = Math.min(full, allocation);
    plan.data = this.scratch.get(plan.length).subarray(0, plan.length);
    return 0;
  }

  private requestSense(cdb: Buffer, plan: CommandPlan): 0 {
    const lun = this.lun;
    const ua = lun.takeUnitAttention();
    if (ua !== undefined) lun.setSenseValue(ua);
    else if (lun.sense.key === 0 && !lun.present && lun.removable) lun.setSense('notReadyNoMedium');
    if (this.ctx.senseOnLun0Only && this.lunNumber > 0 && lun.sense.key !== 0) lun.setSense('logicalUnitNotSupported');
    const buf = this.scratch.get(32);
    const n = (cdb[1] ?? 0) & 0x01 ? writeDescriptorSense(buf, lun.sense) : writeFixedSense(buf, lun.sense);
    lun.clearSense();
    return this.dataIn(plan, n, cdb[4] ?? 0);
  }

  private inquiry(cdb: Buffer, plan: CommandPlan): 0 | 1 {
    const evpd = ((cdb[1] ?? 0) & 0x01) !== 0;
    const page = cdb[2] ?? 0;
    const allocation = cdb.readUInt16BE(3);
    if ((cdb[1] ?? 0) & 0x02 || (!evpd && page !== 0)) return this.fail('invalidFieldInCdb');
    const buf = this.scratch.get(256);
    if (!evpd) return this.dataIn(plan, writeStandardInquiry(buf, this.lun.identity), allocation);
    const n = writeVpdPage(buf, page, this.lun.identity, 0xffff);
    if (n === undefined) return this.fail('invalidFieldInCdb');
    if (this.ctx.padVpdToAllocation && allocation > n) {
      const padded = this.scratch.get(allocation, n);
      padded.fill(0, n, allocation);
      return this.dataIn(plan, allocation, allocation);
    }
    return this.dataIn(plan, n, allocation);
  }

  private modeSense(cdb: Buffer, plan: CommandPlan, ten: boolean): 0 | 1 {
    const dbd = ((cdb[1] ?? 0) & 0x08) !== 0;
    const pc = (cdb[2] ?? 0) >> 6;
    const page = (cdb[2] ?? 0) & 0x3f;
    const subpage = cdb[3] ?? 0;
    const allocation = ten ? cdb.readUInt16BE(7) : cdb[4] ?? 0;
    if (pc === 3) return this.fail('savingNotSupported');
    if ((page !== 0x08 && page !== 0x3f) || subpage !== 0) return this.fail('invalidFieldInCdb');
    const lun = this.lun;
    const buf = this.scratch.get(64);
    const header = ten ? 8 : 4;
    buf.fill(0, 0, header);
    // DEVICE-SPECIFIC PARAMETER (SBC-4 6.5.1): WP, and DPOFUA when the LUN honours FUA.
    const wp = (lun.writeProtected ? 0x80 : 0) | (lun.dpofua ? 0x10 : 0);
    let at = header;
    if (!dbd) {
      // Short block descriptor: block count saturates at 0xFFFFFF, 0 when there is no medium.
      buf.fill(0, at, at + 8);
      const blocks = lun.present ? lun.blocks : 0n;
      buf.writeUIntBE(blocks > 0xffffffn ? 0xffffff : Number(blocks), at + 1, 3);
      buf.writeUIntBE(lun.blockSize, at + 5, 3);
      at += 8;
    }
    at += writeCachingPage(buf, at, lun.media.flush !== undefined, pc === 1);
    if (ten) {
      buf.writeUInt16BE(at - 2, 0);
      buf[3] = wp;
      buf.writeUInt16BE(dbd ? 0 : 8, 6);
    } else {
      buf[0] = at - 1;
      buf[2] = wp;
      buf[3] = dbd ? 0 : 8;
    }
    return this.dataIn(plan, at, allocation);
  }

  private startStop(cdb: Buffer): 0 | 1 {
    const start = ((cdb[4] ?? 0) & 0x01) !== 0;
    const loadEject = ((cdb[4] ?? 0) & 0x02) !== 0;
    if (!loadEject) return 0;
    if (!this.lun.removable) return this.fail('invalidFieldInCdb');
    if (start) { this.lun.hostLoad(); return 0; }
    return this.lun.hostEject() ? 0 : this.fail('removalPrevented');
  }

  private lastLbaReported(): bigint {
    const offByOne = this.ctx.capacityOffByOne || this.ctx.faults.capacityOffByOne(this.lunNumber);
    return offByOne ? this.lun.blocks : this.lun.blocks - 1n;
  }

  private readCapacity10(plan: CommandPlan): 0 {
    const buf = this.scratch.get(8);
    const last = this.lastLbaReported();
    buf.writeUInt32BE(last > 0xfffffffen ? 0xffffffff : Number(last), 0);
    buf.writeUInt32BE(this.lun.blockSize, 4);
    return this.dataIn(plan, 8, 8);
  }

  private readCapacity16(cdb: Buffer, plan: CommandPlan): 0 {
    const buf = this.scratch.get(32);
    buf.fill(0, 0, 32);
    buf.writeBigUInt64BE(this.lastLbaReported(), 0);
    buf.writeUInt32BE(this.lun.blockSize, 8);
    return this.dataIn(plan, 32, cdb.readUInt32BE(10));
  }

  /** Checks the range [lba, lba+count) against the capacity; sets 5/21/00 when outside. */
  private outOfRange(lba: bigint, count: number): boolean {
    if (lba + BigInt(count) <= this.lun.blocks) return false;
    this.fail('lbaOutOfRange');
    return true;
  }

  private readWrite(lba: number | bigint, count: number, plan: CommandPlan, write: boolean, cdb?: Buffer): 0 | 1 {
    const first = BigInt(lba);
    const lun = this.lun;
    if (this.outOfRange(first, count)) return 1;
    if (write && lun.writeProtected) return this.fail('writeProtected');
    if (count === 0) return 0;
    const bs = lun.blockSize;
    const bytes = count * bs;
    if (write) {
      this.writeFua = this.lun.dpofua && ((cdb?.[1] ?? 0) & 0x08) !== 0;
      this.writeBase = first * BigInt(bs);
      plan.direction = 'out';
      plan.length = bytes;
      plan.sink = this.writeSink;
      return 0;
    }
    // A medium error ends the data at the bad block: the good blocks before it are sent, then CHECK CONDITION.
    const bad = this.ctx.faults.firstBadLba(this.lunNumber, first, count);
    const good = bad === undefined ? count : Number(bad - first);
    const data = this.scratch.get(good * bs).subarray(0, good * bs);
    lun.media.read(first * BigInt(bs), data);
    plan.direction = 'in';
    plan.length = data.length;
    plan.data = data;
    return bad === undefined ? 0 : this.fail('mediumError', bad);
  }

  private verify(cdb: Buffer, plan: CommandPlan): 0 | 1 {
    const byteCheck = ((cdb[1] ?? 0) & 0x06) >> 1;
    const first = BigInt(cdb.readUInt32BE(2));
    const count = cdb.readUInt16BE(7);
    if (byteCheck > 1) return this.fail('invalidFieldInCdb');
    if (this.outOfRange(first, count)) return 1;
    const bad = this.ctx.faults.firstBadLba(this.lunNumber, first, count);
    if (bad !== undefined) return this.fail('mediumError', bad);
    if (byteCheck === 0 || count === 0) return 0;
    this.compareLba = first;
    this.writeBase = first * BigInt(this.lun.blockSize);
    this.miscompareAt = undefined;
    plan.direction = 'out';
    plan.length = count * this.lun.blockSize;
    plan.sink = this.compareSink;
    return 0;
  }

  /** LBA where the compare started (for tests that decode the miscompare offset). */
  get lastCompareLba(): bigint { return this.compareLba; }

  private synchronizeCache(cdb: Buffer): 0 | 1 {
    const first = BigInt(cdb.readUInt32BE(2));
    const count = cdb.readUInt16BE(7);
    if (first >= this.lun.blocks || this.outOfRange(first, count)) return this.fail('lbaOutOfRange');
    this.lun.media.flush?.();
    return 0;
  }

  /** WRITE SAME(16): one block of data-out written over the range, or the range deallocated (UNMAP bit). */
  private writeSame(cdb: Buffer, plan: CommandPlan): 0 | 1 {
    const lun = this.lun;
    const flags = cdb[1] ?? 0;
    const first = cdb.readBigUInt64BE(2);
    const count = cdb.readUInt32BE(10);
    const unmapBit = (flags & 0x08) !== 0;
    const limit = lun.provisioning?.maxWriteSameBlocks ?? MAX_WRITE_SAME_BLOCKS;
    // ANCHOR, NDOB and WRPROTECT are not supported; 0 blocks ("to the end", WSNZ=1) and UNMAP without provisioning
    // are refused as SBC-4 says.
    if ((flags & 0xf1) !== 0 || count === 0 || count > limit || (unmapBit && lun.provisioning === undefined)) {
      return this.fail('invalidFieldInCdb');
    }
    if (this.outOfRange(first, count)) return 1;
    if (lun.writeProtected) return this.fail('writeProtected');
    this.writeBase = first * BigInt(lun.blockSize);
    this.sameBlocks = count;
    this.sameUnmap = unmapBit;
    plan.direction = 'out';
    plan.length = lun.blockSize;
    plan.sink = this.writeSameSink;
    return 0;
  }

  private writeSameFinish(received: number): 0 | 1 {
    const lun = this.lun;
    const bs = lun.blockSize;
    if (received < bs) return this.fail('invalidFieldInCdb');
    const block = this.param.subarray(0, bs);
    const bytes = this.sameBlocks * bs;
    // LBPRZ=1: a deallocated block reads as zeros, so only a block of zeros may be deallocated instead of written.
    if (this.sameUnmap && block.every((b) => b === 0)) {
      discard(lun.media, this.writeBase, bytes);
      return 0;
    }
    if (this.fill.length !== 64 * bs || this.fill.subarray(0, bs).compare(block) !== 0) {
      if (this.fill.length !== 64 * bs) this.fill = Buffer.alloc(64 * bs);
      for (let at = 0; at < this.fill.length; at += bs) block.copy(this.fill, at);
    }
    for (let done = 0; done < bytes;) {
      const n = Math.min(this.fill.length, bytes - done);
      lun.media.write(this.writeBase + BigInt(done), this.fill.subarray(0, n));
      done += n;
    }
    return 0;
  }

  /** UNMAP: a parameter list of (LBA, count) descriptors, checked whole before any block is deallocated. */
  private unmap(cdb: Buffer, plan: CommandPlan): 0 | 1 {
    const lun = this.lun;
    if (lun.provisioning === undefined) return this.fail('invalidOpcode');
    const length = cdb.readUInt16BE(7);
    if (((cdb[1] ?? 0) & 0x01) !== 0 || (length > 0 && length < 8)) return this.fail('invalidFieldInCdb');
    if (lun.writeProtected) return this.fail('writeProtected');
    if (length === 0) return 0;
    plan.direction = 'out';
    plan.length = length;
    plan.sink = this.unmapSink;
    return 0;
  }

  private unmapFinish(received: number): 0 | 1 {
    const lun = this.lun;
    const limits = lun.provisioning;
    const list = this.param;
    if (limits === undefined || received < 8) return this.fail('invalidFieldInParameterList');
    const descriptorBytes = list.readUInt16BE(2);
    if (descriptorBytes % 16 !== 0 || 8 + descriptorBytes > received || descriptorBytes / 16 > limits.maxUnmapDescriptors) {
      return this.fail('invalidFieldInParameterList');
    }
    for (let at = 8; at < 8 + descriptorBytes; at += 16) {
      const count = list.readUInt32BE(at + 8);
      if (count > limits.maxUnmapBlocks) return this.fail('invalidFieldInParameterList');
      if (this.outOfRange(list.readBigUInt64BE(at), count)) return 1;
    }
    const bs = BigInt(lun.blockSize);
    for (let at = 8; at < 8 + descriptorBytes; at += 16) {
      discard(lun.media, list.readBigUInt64BE(at) * bs, list.readUInt32BE(at + 8) * lun.blockSize);
    }
    return 0;
  }

  private reportLuns(cdb: Buffer, plan: CommandPlan): 0 | 1 {
    const select = cdb[2] ?? 0;
    const allocation = cdb.readUInt32BE(6);
    if (select > 2 || allocation < 16) return this.fail('invalidFieldInCdb');
    const n = this.ctx.lunCount();
    const buf = this.scratch.get(8 + 8 * n);
    buf.fill(0, 0, 8 + 8 * n);
    buf.writeUInt32BE(8 * n, 0);
    for (let i = 0; i < n; i++) buf[8 + 8 * i + 1] = i; // peripheral device addressing, LUN < 256
    return this.dataIn(plan, 8 + 8 * n, allocation);
  }
}

/** Deallocate on stores that can; write zeros on the others (LBPRZ=1 promises zeros either way). */
const ZEROS = Buffer.alloc(64 * 1024);
function discard(media: MediaStore, offset: bigint, length: number): void {
  if (media.discard !== undefined) { media.discard(offset, length); return; }
  for (let done = 0; done < length;) {
    const n = Math.min(ZEROS.length, length - done);
    media.write(offset + BigInt(done), ZEROS.subarray(0, n));
    done += n;
  }
}

function firstDifference(a: Buffer, b: Buffer): number {
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

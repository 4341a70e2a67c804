/**
 * The adversary's SCSI block target, written from SPC-4/SBC-3 (not from src/mock or src/scsi): one LUN of
 * 512-byte blocks over a {@link Medium}, with its pending sense and unit attention. It answers honestly; the
 * lies are the BOT device's business (device.ts), which may override the outcome a command gets here.
 */
import { BLOCK, Medium } from './medium.js';

export interface Sense { key: number; asc: number; ascq: number; info?: number | undefined }

export const SENSE = {
  noSense: { key: 0x0, asc: 0x00, ascq: 0x00 },
  recovered: { key: 0x1, asc: 0x17, ascq: 0x01 }, // recovered data with retries
  becomingReady: { key: 0x2, asc: 0x04, ascq: 0x01 },
  mediumError: { key: 0x3, asc: 0x11, ascq: 0x00 }, // unrecovered read error
  writeError: { key: 0x3, asc: 0x0c, ascq: 0x00 },
  hardware: { key: 0x4, asc: 0x44, ascq: 0x00 },
  invalidOpcode: { key: 0x5, asc: 0x20, ascq: 0x00 },
  lbaOutOfRange: { key: 0x5, asc: 0x21, ascq: 0x00 },
  invalidField: { key: 0x5, asc: 0x24, ascq: 0x00 },
  powerOnReset: { key: 0x6, asc: 0x29, ascq: 0x00 },
  aborted: { key: 0xb, asc: 0x00, ascq: 0x06 },
} as const satisfies Record<string, Sense>;

/** Fixed-format sense (SPC-4 4.5.3): 18 bytes, VALID bit and INFORMATION when `info` is given. */
export function fixedSense(s: Sense, code = 0x70): Buffer {
  const b = Buffer.alloc(18);
  b[0] = code | (s.info !== undefined ? 0x80 : 0);
  b[2] = s.key & 0x0f;
  if (s.info !== undefined) b.writeUInt32BE(s.info >>> 0, 3);
  b[7] = 10;
  b[12] = s.asc;
  b[13] = s.ascq;
  return b;
}

/** Descriptor-format sense (SPC-4 4.5.2) with an information descriptor when `info` is given. */
export function descriptorSense(s: Sense): Buffer {
  const b = Buffer.alloc(s.info !== undefined ? 20 : 8);
  b[0] = 0x72;
  b[1] = s.key & 0x0f;
  b[2] = s.asc;
  b[3] = s.ascq;
  if (s.info !== undefined) {
    b[7] = 12;
    b[8] = 0x00; b[9] = 0x0a; b[10] = 0x80;
    b.writeBigUInt64BE(BigInt(s.info), 12);
  }
  return b;
}

/** What the target wants for one CDB: its direction, its data, and its status. */
export interface TargetAnswer {
  dir: 'in' | 'out' | 'none';
  /** IN: the bytes the target would send (its intent, before the host's length is considered). */
  data?: Buffer;
  /** OUT: bytes the target wants to receive. */
  outLength?: number;
  /** For IN/none commands: CHECK CONDITION (true) or GOOD. OUT commands decide in finishOut. */
  check: boolean;
  /** READ/WRITE: the LBA range, for the device's fault logic. */
  rw?: { lba: number; blocks: number; write: boolean };
  isRequestSense?: boolean;
}

const OPC = {
  TUR: 0x00, REQUEST_SENSE: 0x03, INQUIRY: 0x12, MODE_SENSE6: 0x1a, START_STOP: 0x1b, PREVENT: 0x1e,
  READ_CAP10: 0x25, READ10: 0x28, WRITE10: 0x2a, VERIFY10: 0x2f, SYNC10: 0x35, MODE_SENSE10: 0x5a,
  READ16: 0x88, WRITE16: 0x8a, VERIFY16: 0x8f, SAI16: 0x9e,
} as const;

export class Lun {
  sense: Sense | undefined;
  unitAttention = false;
  readonly medium: Medium;

  constructor(readonly index: number, readonly blocks: number, readonly descriptorSense: boolean) {
    this.medium = new Medium(index, blocks);
  }

  private fail(s: Sense): TargetAnswer {
    this.sense = s;
    return { dir: 'none', check: true };
  }

  /** Decode and run everything but the data-out part of `cdb` (SBC-3 / SPC-4 field layouts). */
  answer(cdb: Buffer): TargetAnswer {
    const op = cdb[0] ?? 0xff;
    if (op === OPC.REQUEST_SENSE) {
      const alloc = cdb[4] ?? 0;
      const desc = ((cdb[1] ?? 0) & 1) === 1 || this.descriptorSense;
      const s = this.sense ?? (this.unitAttention ? SENSE.powerOnReset : SENSE.noSense);
      if (this.sense === undefined && this.unitAttention) this.unitAttention = false;
      this.sense = undefined;
      const full = desc ? descriptorSense(s) : fixedSense(s);
      return { dir: 'in', data: full.subarray(0, Math.min(alloc, full.length)), check: false, isRequestSense: true };
    }
    if (op === OPC.INQUIRY) return this.inquiry(cdb);
    if (this.unitAttention) {
      this.unitAttention = false;
      return this.fail(SENSE.powerOnReset);
    }
    this.sense = undefined;
    switch (op) {
      case OPC.TUR: case OPC.START_STOP: case OPC.PREVENT: case OPC.SYNC10:
        return { dir: 'none', check: false };
      case OPC.READ_CAP10: {
        const b = Buffer.alloc(8);
        b.writeUInt32BE(this.blocks - 1, 0);
        b.writeUInt32BE(BLOCK, 4);
        return { dir: 'in', data: b, check: false };
      }
      case OPC.SAI16: {
        if (((cdb[1] ?? 0) & 0x1f) !== 0x10) return this.fail(SENSE.invalidField);
        const b = Buffer.alloc(32);
        b.writeBigUInt64BE(BigInt(this.blocks - 1), 0);
        b.writeUInt32BE(BLOCK, 8);
        return { dir: 'in', data: b.subarray(0, Math.min(32, cdb.readUInt32BE(10))), check: false };
      }
      case OPC.MODE_SENSE6: {
        // Header only plus the caching page (08h): enough for the WP bit in the device-specific parameter.
        const page = Buffer.from([0x08, 0x12, 0x04, ...Buffer.alloc(17)]);
        const b = Buffer.concat([Buffer.from([3 + page.length, 0x00, 0x00, 0x00]), page]);
        return { dir: 'in', data: b.subarray(0, Math.min(cdb[4] ?? 0, b.length)), check: false };
      }
      case OPC.MODE_SENSE10: {
        const page = Buffer.from([0x08, 0x12, 0x04, ...Buffer.alloc(17)]);
        const h = Buffer.alloc(8);
        h.writeUInt16BE(6 + page.length, 0);
        const b = Buffer.concat([h, page]);
        return { dir: 'in', data: b.subarray(0, Math.min(cdb.readUInt16BE(7), b.length)), check: false };
      }
      case OPC.READ10: case OPC.WRITE10: case OPC.VERIFY10:
        return this.rw(op, cdb.readUInt32BE(2), cdb.readUInt16BE(7));
      case OPC.READ16: case OPC.WRITE16: case OPC.VERIFY16: {
        const lba = cdb.readBigUInt64BE(2);
        return this.rw(op, lba > 0xffffffffn ? Number.MAX_SAFE_INTEGER : Number(lba), cdb.readUInt32BE(10));
      }
      default:
        return this.fail(SENSE.invalidOpcode);
    }
  }

  private inquiry(cdb: Buffer): TargetAnswer {
    const alloc = cdb.readUInt16BE(3);
    if (((cdb[1] ?? 0) & 1) === 1) {
      if ((cdb[2] ?? 0) !== 0x00) return this.fail(SENSE.invalidField);
      const b = Buffer.from([0x00, 0x00, 0x00, 0x01, 0x00]);
      return { dir: 'in', data: b.subarray(0, Math.min(alloc, b.length)), check: false };
    }
    const b = Buffer.alloc(36, 0x20);
    b[0] = 0x00; // direct access block device
    b[1] = 0x00; // not removable
    b[2] = 0x06; // SPC-4
    b[3] = 0x02; // response data format 2
    b[4] = 31; // additional length
    b[5] = 0; b[6] = 0; b[7] = 0;
    b.write('ADVERSRY', 8, 'latin1');
    b.write(`BOT LIAR LUN ${this.index}`.padEnd(16), 16, 'latin1');
    b.write('0666', 32, 'latin1');
    return { dir: 'in', data: b.subarray(0, Math.min(alloc, b.length)), check: false };
  }

  private rw(op: number, lba: number, blocks: number): TargetAnswer {
    if (lba + blocks > this.blocks) return this.fail({ ...SENSE.lbaOutOfRange });
    const write = op === OPC.WRITE10 || op === OPC.WRITE16;
    const verify = op === OPC.VERIFY10 || op === OPC.VERIFY16;
    if (blocks === 0 || verify) return { dir: 'none', check: false, rw: { lba, blocks, write } };
    if (write) return { dir: 'out', outLength: blocks * BLOCK, check: false, rw: { lba, blocks, write } };
    // A snapshot: what the device sends is what the medium held when the command ran.
    const data = Buffer.from(this.medium.data.subarray(lba * BLOCK, (lba + blocks) * BLOCK));
    return { dir: 'in', data, check: false, rw: { lba, blocks, write } };
  }
}

/**
 * A tiny hand-made BOT host for testing the software device through its port (deliberately not src/bot).
 */
import type { UsbPort, UsbTransfer } from '../../src/usb/port.js';
import { UsbError } from '../../src/usb/errors.js';
// Only the wire declarations are shared with src/bot; the building and checking below are this host's own.
import {
  BOT_REQUEST, BOT_REQUEST_TYPE, CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE, CSW_LENGTH, CSW_OFFSET,
  CSW_SIGNATURE,
} from '../../src/usb/wire/bot.js';

export const CBW_SIG = CBW_SIGNATURE;
export const CSW_SIG = CSW_SIGNATURE;

export interface CbwSpec {
  tag?: number;
  length?: number;
  dir?: 'in' | 'out';
  lun?: number;
  cdb: number[];
  cbLength?: number;
  flags?: number;
}

let nextTag = 1;

export function makeCbw(spec: CbwSpec): Buffer {
  const b = Buffer.alloc(CBW_LENGTH);
  b.writeUInt32LE(CBW_SIG, CBW_OFFSET.signature);
  b.writeUInt32LE(spec.tag ?? nextTag++, CBW_OFFSET.tag);
  b.writeUInt32LE(spec.length ?? 0, CBW_OFFSET.dataTransferLength);
  b[CBW_OFFSET.flags] = spec.flags ?? (spec.dir === 'in' ? CBW_FLAG_DATA_IN : 0);
  b[CBW_OFFSET.lun] = spec.lun ?? 0;
  b[CBW_OFFSET.cbLength] = spec.cbLength ?? spec.cdb.length;
  Buffer.from(spec.cdb).copy(b, CBW_OFFSET.cb);
  return b;
}

export interface Csw { signature: number; tag: number; residue: number; status: number; length: number }

export function parseCsw(buf: Buffer, length = buf.length): Csw {
  return {
    signature: buf.readUInt32LE(CSW_OFFSET.signature), tag: buf.readUInt32LE(CSW_OFFSET.tag),
    residue: buf.readUInt32LE(CSW_OFFSET.dataResidue), status: buf[CSW_OFFSET.status]!, length,
  };
}

export interface CommandOutcome {
  tag: number;
  /** Data bytes received (IN) or accepted (OUT). */
  moved: number;
  data: Buffer;
  dataError: UsbError | undefined;
  csw: Csw;
}

export async function settle<T>(p: Promise<T>): Promise<T | UsbError> {
  try { return await p; } catch (e) { if (e instanceof UsbError) return e; throw e; }
}

/** One command the way the spec tells a host to do it (without reset recovery). */
export class TestHost {
  readonly bulkIn: UsbTransfer;
  readonly bulkOut: UsbTransfer;
  constructor(readonly port: UsbPort, readonly timeoutMs = 2000) {
    this.bulkIn = port.createTransfer('in');
    this.bulkOut = port.createTransfer('out');
  }

  async run(spec: CbwSpec, outData?: Buffer): Promise<CommandOutcome> {
    const cbw = makeCbw(spec);
    const tag = cbw.readUInt32LE(4);
    await this.bulkOut.submit(cbw, this.timeoutMs);
    const length = spec.length ?? 0;
    let moved = 0;
    let dataError: UsbError | undefined;
    const data = spec.dir === 'out' ? (outData ?? Buffer.alloc(length)) : Buffer.alloc(length);
    if (length > 0) {
      const r = await settle((spec.dir === 'in' ? this.bulkIn : this.bulkOut).submit(data, this.timeoutMs));
      if (r instanceof UsbError) {
        dataError = r;
        moved = r.actualLength;
        if (r.kind === 'STALL') await this.port.clearHalt(spec.dir === 'in' ? 'in' : 'out');
      } else moved = r;
    }
    const csw = await this.readCsw();
    return { tag, moved, data: data.subarray(0, moved), dataError, csw };
  }

  /** Read a CSW; on a stall clear the halt and read once more (BOT §5.3.3). */
  async readCsw(): Promise<Csw> {
    const buf = Buffer.alloc(CSW_LENGTH);
    try {
      const n = await this.bulkIn.submit(buf, this.timeoutMs);
      return parseCsw(buf, n);
    } catch (e) {
      if (!(e instanceof UsbError) || e.kind !== 'STALL') throw e;
      await this.port.clearHalt('in');
      const n = await this.bulkIn.submit(buf, this.timeoutMs);
      return parseCsw(buf, n);
    }
  }

  async resetRecovery(): Promise<void> {
    await this.port.controlOut({ bmRequestType: BOT_REQUEST_TYPE.OUT, bRequest: BOT_REQUEST.MASS_STORAGE_RESET, wValue: 0, wIndex: 0 }, undefined, 1000);
    await this.port.clearHalt('in');
    await this.port.clearHalt('out');
  }

  async getMaxLun(): Promise<number | UsbError> {
    const r = await settle(this.port.controlIn({ bmRequestType: BOT_REQUEST_TYPE.IN, bRequest: BOT_REQUEST.GET_MAX_LUN, wValue: 0, wIndex: 0 }, 1, 1000));
    return r instanceof UsbError ? r : r[0]!;
  }
}

export const OP = {
  TUR: 0x00, REQUEST_SENSE: 0x03, INQUIRY: 0x12, MODE_SENSE6: 0x1a, START_STOP: 0x1b, PREVENT: 0x1e,
  READ_CAPACITY10: 0x25, READ10: 0x28, WRITE10: 0x2a, VERIFY10: 0x2f, SYNC10: 0x35, MODE_SENSE10: 0x5a,
  READ16: 0x88, WRITE16: 0x8a, SERVICE_IN16: 0x9e, REPORT_LUNS: 0xa0,
} as const;

export const read10 = (lba: number, blocks: number): number[] =>
  [OP.READ10, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, blocks >> 8, blocks & 0xff, 0];
export const write10 = (lba: number, blocks: number): number[] => { const c = read10(lba, blocks); c[0] = OP.WRITE10; return c; };

export function rw16(op: number, lba: bigint, blocks: number): number[] {
  const c = Buffer.alloc(16);
  c[0] = op;
  c.writeBigUInt64BE(lba, 2);
  c.writeUInt32BE(blocks, 10);
  return [...c];
}

export const requestSense = (alloc = 18, desc = false): number[] => [OP.REQUEST_SENSE, desc ? 1 : 0, 0, 0, alloc, 0];

/** Sense key/ASC/ASCQ from fixed or descriptor sense data. */
export function senseOf(d: Buffer): [number, number, number] {
  if ((d[0]! & 0x7f) >= 0x72) return [d[1]! & 0x0f, d[2]!, d[3]!];
  return [d[2]! & 0x0f, d[12]!, d[13]!];
}

/** Run a command, then REQUEST SENSE; returns the outcome and the sense triple. */
export async function runWithSense(host: TestHost, spec: CbwSpec, out?: Buffer): Promise<{ o: CommandOutcome; sense: [number, number, number] }> {
  const o = await host.run(spec, out);
  const s = await host.run({ cdb: requestSense(), length: 18, dir: 'in', lun: spec.lun ?? 0 });
  return { o, sense: senseOf(s.data) };
}

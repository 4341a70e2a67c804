/**
 * Hand-built Bulk-Only Transport for the port contract suite: just enough CBW/CSW (BOT 1.0 §5) to drive any
 * mass-storage device through a UsbPort without the BOT engine, so the suite tests the port and nothing else.
 */
import { expect } from 'vitest';
import type { UsbPort, UsbTransfer } from '../../src/usb/port.js';

// Only the wire declarations are shared with src/bot; the building and checking below are this suite's own.
import {
  BOT_REQUEST, BOT_REQUEST_TYPE, CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE, CSW_LENGTH, CSW_OFFSET,
  CSW_SIGNATURE,
} from '../../src/usb/wire/bot.js';

export { CBW_LENGTH, CBW_SIGNATURE, CSW_LENGTH, CSW_SIGNATURE };

export const cdbs = {
  testUnitReady: (): number[] => [0x00, 0, 0, 0, 0, 0],
  requestSense: (alloc: number): number[] => [0x03, 0, 0, 0, alloc, 0],
  inquiry: (alloc: number): number[] => [0x12, 0, 0, (alloc >> 8) & 0xff, alloc & 0xff, 0],
  readCapacity10: (): number[] => [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  read10: (lba: number, blocks: number): number[] =>
    [0x28, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0],
};

export function buildCbw(tag: number, dataLength: number, dataIn: boolean, cdb: number[], lun = 0): Buffer {
  const cbw = Buffer.alloc(CBW_LENGTH);
  cbw.writeUInt32LE(CBW_SIGNATURE, CBW_OFFSET.signature);
  cbw.writeUInt32LE(tag, CBW_OFFSET.tag);
  cbw.writeUInt32LE(dataLength, CBW_OFFSET.dataTransferLength);
  cbw.writeUInt8(dataIn ? CBW_FLAG_DATA_IN : 0x00, CBW_OFFSET.flags);
  cbw.writeUInt8(lun, CBW_OFFSET.lun);
  cbw.writeUInt8(cdb.length, CBW_OFFSET.cbLength);
  Buffer.from(cdb).copy(cbw, CBW_OFFSET.cb);
  return cbw;
}

export interface Csw { tag: number; residue: number; status: number }

/** Check what makes a CSW valid (BOT §6.3.1) and return its fields. */
export function expectValidCsw(buf: Buffer, actual: number, tag: number): Csw {
  expect(actual).toBe(CSW_LENGTH);
  expect(buf.readUInt32LE(CSW_OFFSET.signature)).toBe(CSW_SIGNATURE);
  expect(buf.readUInt32LE(CSW_OFFSET.tag)).toBe(tag);
  const csw = { tag, residue: buf.readUInt32LE(CSW_OFFSET.dataResidue), status: buf.readUInt8(CSW_OFFSET.status) };
  expect([0, 1]).toContain(csw.status);
  return csw;
}

/** One port's two bulk transfers plus a tag counter: enough to run single commands. */
export class BotWire {
  readonly out: UsbTransfer;
  readonly in: UsbTransfer;
  readonly csw = Buffer.alloc(CSW_LENGTH);
  private tag = 0x1000;

  constructor(readonly port: UsbPort, readonly timeoutMs = 5000) {
    this.out = port.createTransfer('out');
    this.in = port.createTransfer('in');
  }

  nextTag(): number {
    return ++this.tag;
  }

  /** CBW, optional data-in into `data` (one transfer), CSW. Returns bytes received and the CSW. */
  async command(cdb: number[], data?: Buffer, dataLength = data?.length ?? 0): Promise<{ actual: number; csw: Csw }> {
    const tag = this.nextTag();
    expect(await this.out.submit(buildCbw(tag, dataLength, data !== undefined, cdb), this.timeoutMs)).toBe(CBW_LENGTH);
    const actual = data === undefined ? 0 : await this.in.submit(data, this.timeoutMs);
    return { actual, csw: await this.readCsw(tag) };
  }

  async readCsw(tag: number): Promise<Csw> {
    const n = await this.in.submit(this.csw, this.timeoutMs);
    return expectValidCsw(this.csw, n, tag);
  }

  /** BOT §5.3.4: Bulk-Only Mass Storage Reset, then clear HALT on bulk-in, then on bulk-out. */
  async resetRecovery(): Promise<void> {
    const ifnum = this.port.info.interfaceNumber;
    await this.port.controlOut({ bmRequestType: BOT_REQUEST_TYPE.OUT, bRequest: BOT_REQUEST.MASS_STORAGE_RESET, wValue: 0, wIndex: ifnum }, undefined, this.timeoutMs);
    await this.port.clearHalt('in');
    await this.port.clearHalt('out');
  }

  /** TEST UNIT READY until it passes, fetching sense in between (clears a power-on UNIT ATTENTION). */
  async ensureReady(): Promise<void> {
    const sense = Buffer.alloc(18);
    for (let i = 0; i < 5; i++) {
      if ((await this.command(cdbs.testUnitReady())).csw.status === 0) return;
      await this.command(cdbs.requestSense(18), sense);
    }
    throw new Error('the unit did not become ready after 5 TEST UNIT READY attempts');
  }

  /** READ CAPACITY(10): the logical block size. */
  async blockSize(): Promise<number> {
    const cap = Buffer.alloc(8);
    const { actual, csw } = await this.command(cdbs.readCapacity10(), cap);
    expect(csw.status).toBe(0);
    expect(actual).toBe(8);
    return cap.readUInt32BE(4);
  }
}

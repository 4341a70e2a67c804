/**
 * Every LUN, read-only: INQUIRY and its VPD pages, TEST UNIT READY, READ CAPACITY(10)/(16), reads at the first,
 * a middle and the last block compared across transfer sizes and with the image file, and a read past the end.
 * CDBs are written out byte by byte here (SPC-4/SBC-3), independently of src/scsi, so the suite checks the
 * device and the stack, not the codec against itself.
 */
import { statSync } from 'node:fs';
import { afterAll, describe, it, expect } from 'vitest';
import type { Disk } from '../src/disk/index.js';
import { isDiskError } from '../src/disk/index.js';
import type { UsbmsSession } from '../src/open.js';
import { sessionSkipReason, hw, titled } from './support/env.js';
import { imageBytes, openUnderTest } from './support/device.js';

const STATUS_GOOD = 0x00;
const STATUS_CHECK = 0x02;
const session: UsbmsSession | undefined = sessionSkipReason === undefined ? await openUnderTest() : undefined;
const luns = session === undefined ? [0] : Array.from({ length: session.hba.maxLun + 1 }, (_, i) => i);
const disks = new Map<number, Disk>();
afterAll(async () => { await session?.close(); });

async function diskOf(lun: number): Promise<Disk> {
  let d = disks.get(lun);
  if (d === undefined) {
    d = await session!.openDisk(lun);
    disks.set(lun, d);
  }
  return d;
}
const senseCode = (s: { key: number; asc: number; ascq: number } | undefined): string =>
  s === undefined ? 'no sense' : [s.key, s.asc, s.ascq].map((n) => n.toString(16).padStart(2, '0')).join('/');
const cdb16 = (op: number, lba: bigint, blocks: number): Buffer => {
  const c = Buffer.alloc(16);
  c[0] = op; c.writeBigUInt64BE(lba, 2); c.writeUInt32BE(blocks, 10);
  return c;
};
const cdb10 = (op: number, lba: number, blocks: number): Buffer => {
  const c = Buffer.alloc(10);
  c[0] = op; c.writeUInt32BE(lba, 2); c.writeUInt16BE(blocks, 7);
  return c;
};

describe.skipIf(sessionSkipReason !== undefined).each(luns)(titled('LUN %i', sessionSkipReason), (lun) => {
  it('INQUIRY: standard data a SCSI host can use', async () => {
    const disk = await diskOf(lun);
    const data = await disk.inquiry();
    expect(data.length).toBeGreaterThanOrEqual(36);
    expect(data[0]! >> 5, 'peripheral qualifier: a unit is connected').toBe(0);
    // ADDITIONAL LENGTH counts the bytes after byte 4; we asked for 96, so we got min(96, n + 5)
    expect(data.length).toBe(Math.min(96, data[4]! + 5));
    for (const [from, to] of [[8, 16], [16, 32], [32, 36]] as const) {
      expect(data.subarray(from, to).every((b) => b >= 0x20 && b < 0x7f), `INQUIRY bytes ${from}..${to - 1} are ASCII`).toBe(true);
    }
    expect(disk.info.deviceType).toBe(data[0]! & 0x1f);
    expect(disk.info.removable).toBe((data[1]! & 0x80) !== 0);
  });

  it('INQUIRY VPD: page 00 lists what the unit has and each listed page answers, or EVPD is refused with 5/24', async () => {
    const disk = await diskOf(lun);
    const r = await disk.raw(Uint8Array.from([0x12, 0x01, 0x00, 0x00, 0xfc, 0x00]), { dataIn: 252 });
    if (r.status === STATUS_CHECK) {
      expect(senseCode(r.sense)).toMatch(/^05\/24\//); // INVALID FIELD IN CDB: VPD is optional before SPC-3
      return;
    }
    expect(r.status).toBe(STATUS_GOOD);
    expect(r.data[1], 'page code').toBe(0x00);
    const pages = [...r.data.subarray(4, 4 + r.data.readUInt16BE(2))];
    expect(pages[0]).toBe(0x00);
    expect([...pages].sort((a, b) => a - b)).toEqual(pages);
    for (const page of pages.filter((p) => p !== 0)) {
      const data = await disk.inquiry(page);
      expect(data[1], `VPD page ${page.toString(16)} carries its own page code`).toBe(page);
      expect(data.length).toBeLessThanOrEqual(4 + data.readUInt16BE(2));
      if (page === 0x80) {
        const serial = data.subarray(4, 4 + data[3]!);
        expect(serial.every((b) => b >= 0x20 && b < 0x7f), 'unit serial number is ASCII').toBe(true);
      }
      if (page === 0x83) { // designation descriptors tile the page exactly
        let off = 4;
        const end = 4 + data.readUInt16BE(2);
        while (off + 4 <= end && off < data.length) off += 4 + data[off + 3]!;
        expect(off).toBe(end);
      }
    }
  });

  it('TEST UNIT READY: ready once opened', async () => {
    const disk = await diskOf(lun);
    await disk.testUnitReady();
  });

  it('READ CAPACITY(10) and (16) agree, and match the image file', async () => {
    const disk = await diskOf(lun);
    const r10 = await disk.raw(Uint8Array.from([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]), { dataIn: 8 });
    expect(r10.status).toBe(STATUS_GOOD);
    const last10 = r10.data.readUInt32BE(0);
    const blockSize = r10.data.readUInt32BE(4);
    expect([512, 1024, 2048, 4096]).toContain(blockSize);
    expect(disk.blockSize).toBe(blockSize);
    if (last10 !== 0xffffffff) expect(disk.blocks).toBe(BigInt(last10) + 1n);
    const c16 = Buffer.alloc(16);
    c16[0] = 0x9e; c16[1] = 0x10; c16.writeUInt32BE(32, 10);
    const r16 = await disk.raw(c16, { dataIn: 32 });
    if (r16.status === STATUS_GOOD) {
      expect(r16.data.readBigUInt64BE(0)).toBe(disk.blocks - 1n);
      expect(r16.data.readUInt32BE(8)).toBe(blockSize);
    } else { // optional for small disks: INVALID COMMAND OPERATION CODE or INVALID FIELD IN CDB
      expect(senseCode(r16.sense)).toMatch(/^05\/2[04]\//);
    }
    const image = hw.images[lun];
    if (image !== undefined) expect(BigInt(statSync(image).size)).toBe(disk.capacityBytes);
  });

  it('reads at the first, a middle and the last block agree across transfer sizes and with the image', async () => {
    const disk = await diskOf(lun);
    const bs = disk.blockSize;
    // Big enough to need several commands (the HBA splits at dma-max), small enough for a slow emulator.
    const bigBlocks = Math.min(Number(disk.blocks), Math.ceil((disk.maxTransferBytes * 2 + 3 * bs) / bs));
    const starts = [0n, disk.blocks / 2n, disk.blocks - BigInt(bigBlocks)];
    for (const start of starts) {
      const big = await disk.read(start, bigBlocks);
      expect(big.length).toBe(bigBlocks * bs);
      for (const size of [1, 8, 64]) {
        if (size > bigBlocks) continue;
        for (const at of [0, bigBlocks - size]) {
          const part = await disk.read(start + BigInt(at), size);
          expect(part.equals(big.subarray(at * bs, (at + size) * bs)), `LBA ${start + BigInt(at)} x${size}`).toBe(true);
        }
      }
      const image = imageBytes(lun, start * BigInt(bs), big.length);
      if (image !== undefined) expect(big.equals(image), `LBA ${start}..: device and image differ`).toBe(true);
    }
  });

  it('a read past the end is refused before it is sent, and on the wire gives CHECK CONDITION 5/21/00', async () => {
    const disk = await diskOf(lun);
    const err = await disk.read(disk.blocks, 1).then(() => undefined, (e: unknown) => e);
    expect(isDiskError(err, 'out-of-range'), String(err)).toBe(true);
    // Sent anyway (raw): QEMU pads the data phase, the Linux gadget stalls bulk-in; both are legal BOT. A disk of
    // 2^32 blocks or more (past 2 TiB at 512 bytes) has no LBA past its end that READ(10) can name: READ(16).
    const cdb = disk.blocks <= 0xffffffffn ? cdb10(0x28, Number(disk.blocks), 1) : cdb16(0x88, disk.blocks, 1);
    const r = await disk.raw(cdb, { dataIn: disk.blockSize });
    expect(r.status).toBe(STATUS_CHECK);
    if (lun === 0 || r.sense !== undefined) {
      // LUN >= 1: a device whose sense is known to be unreliable there (a quirk) may report none, never a wrong one.
      expect(senseCode(r.sense)).toBe('05/21/00');
    }
    await disk.testUnitReady(); // and the unit still takes commands
    const first = await disk.read(0n, 1);
    expect(first.length).toBe(disk.blockSize);
  });
});

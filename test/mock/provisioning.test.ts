/**
 * The software disk's side of what `usbms serve` needs (SBC-4): FUA with DPOFUA, UNMAP, WRITE SAME(16) with and
 * without the UNMAP bit, and the VPD pages that announce them (0xB0 limits, 0xB2 LBPU/LBPWS/LBPRZ). Driven through
 * the test host's own CBWs, not src/disk, so the device is checked against the standard, not against our host.
 */
import { describe, expect, it } from 'vitest';
import { MemoryMedia, MockUsbDevice, type MockLunOptions } from '../../src/mock/index.js';
import { OP, TestHost, read10, runWithSense, rw16, write10 } from './host.js';

function setup(lun: Partial<MockLunOptions> = {}): { dev: MockUsbDevice; host: TestHost; media: MemoryMedia } {
  const media = new MemoryMedia(4096 * 512);
  const dev = new MockUsbDevice({ luns: [{ blocks: 4096, media, ...lun }] });
  return { dev, host: new TestHost(dev.open()), media };
}
const inq = (page: number): number[] => [OP.INQUIRY, 1, page, 0, 255, 0];
const unmapCdb = (length: number, anchor = false): number[] => [0x42, anchor ? 1 : 0, 0, 0, 0, 0, 0, length >> 8, length & 0xff, 0];
function unmapList(...d: [number, number][]): Buffer {
  const b = Buffer.alloc(8 + 16 * d.length);
  b.writeUInt16BE(b.length - 2, 0);
  b.writeUInt16BE(16 * d.length, 2);
  d.forEach(([lba, n], i) => { b.writeBigUInt64BE(BigInt(lba), 8 + 16 * i); b.writeUInt32BE(n, 16 + 16 * i); });
  return b;
}
function writeSame(lba: number, blocks: number, unmap: boolean): number[] {
  const c = rw16(0x93, BigInt(lba), blocks);
  c[1] = unmap ? 0x08 : 0;
  return c;
}
async function readBlocks(host: TestHost, lba: number, n: number): Promise<Buffer> {
  return (await host.run({ cdb: read10(lba, n), length: n * 512, dir: 'in' })).data;
}

describe('FUA and DPOFUA', () => {
  it('MODE SENSE says DPOFUA only for a LUN that honours FUA, and a FUA WRITE flushes before its status', async () => {
    const plain = setup();
    const ms = (h: TestHost) => h.run({ cdb: [OP.MODE_SENSE6, 0x08, 0x3f, 0, 192, 0], length: 192, dir: 'in' });
    expect((await ms(plain.host)).data[2]! & 0x10).toBe(0);
    const { host, media } = setup({ dpofua: true });
    expect((await ms(host)).data[2]! & 0x10).toBe(0x10);
    let flushes = 0;
    Object.assign(media, { flush: () => { flushes++; } });
    const cdb = write10(5, 1);
    await host.run({ cdb, length: 512, dir: 'out' }, Buffer.alloc(512, 1));
    expect(flushes).toBe(0);
    cdb[1] = 0x08;
    const o = await host.run({ cdb, length: 512, dir: 'out' }, Buffer.alloc(512, 2));
    expect(o.csw.status).toBe(0);
    expect(flushes).toBe(1);
    expect((await readBlocks(host, 5, 1)).every((b) => b === 2)).toBe(true);
  });
});

describe('logical block provisioning', () => {
  it('a fully provisioned LUN lists no page 0xB2 and refuses UNMAP and the UNMAP bit', async () => {
    const { host } = setup();
    const sup = await host.run({ cdb: inq(0), length: 255, dir: 'in' });
    expect([...sup.data.subarray(4, 4 + sup.data[3]!)]).not.toContain(0xb2);
    expect((await runWithSense(host, { cdb: inq(0xb2), length: 255, dir: 'in' })).sense).toEqual([5, 0x24, 0]);
    expect((await runWithSense(host, { cdb: unmapCdb(24), length: 24, dir: 'out' }, unmapList([0, 8]))).sense).toEqual([5, 0x20, 0]);
    expect((await runWithSense(host, { cdb: writeSame(0, 8, true), length: 512, dir: 'out' })).sense).toEqual([5, 0x24, 0]);
  });

  it('a thin LUN reports LBPU, LBPWS, LBPRZ in 0xB2 and its limits in 0xB0', async () => {
    const { host } = setup({ provisioning: { maxUnmapBlocks: 100, maxUnmapDescriptors: 2, maxWriteSameBlocks: 300 } });
    const sup = await host.run({ cdb: inq(0), length: 255, dir: 'in' });
    expect([...sup.data.subarray(4, 4 + sup.data[3]!)]).toEqual([0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
    const lbp = (await host.run({ cdb: inq(0xb2), length: 255, dir: 'in' })).data;
    expect(lbp.readUInt16BE(2)).toBe(4);
    expect(lbp[5]! & 0xe0).toBe(0xc0); // LBPU, LBPWS (not LBPWS10)
    expect((lbp[5]! >> 2) & 7).toBe(1); // LBPRZ
    const bl = (await host.run({ cdb: inq(0xb0), length: 255, dir: 'in' })).data;
    expect(bl[4]! & 1).toBe(1); // WSNZ
    expect(bl.readUInt32BE(20)).toBe(100);
    expect(bl.readUInt32BE(24)).toBe(2);
    expect(bl.readBigUInt64BE(36)).toBe(300n);
  });

  it('UNMAP deallocates exactly the listed blocks; they read as zeros; the memory is given back', async () => {
    const { host, media } = setup({ provisioning: true });
    await host.run({ cdb: write10(0, 512), length: 512 * 512, dir: 'out' }, Buffer.alloc(512 * 512, 0xab));
    const before = media.allocatedBytes;
    const list = unmapList([128, 256], [3, 2]);
    const o = await runWithSense(host, { cdb: unmapCdb(list.length), length: list.length, dir: 'out' }, list);
    expect(o.o.csw.status).toBe(0);
    const after = await readBlocks(host, 0, 512);
    for (let b = 0; b < 512; b++) {
      const zero = (b >= 128 && b < 384) || b === 3 || b === 4;
      expect(after.subarray(b * 512, b * 512 + 512).every((x) => x === (zero ? 0 : 0xab)), `block ${b}`).toBe(true);
    }
    expect(media.allocatedBytes).toBeLessThan(before); // 128 KiB aligned to the 64 KiB chunks were freed
  });

  it('UNMAP checks the whole list before it deallocates anything', async () => {
    const { host } = setup({ provisioning: { maxUnmapBlocks: 16, maxUnmapDescriptors: 2 } });
    await host.run({ cdb: write10(0, 64), length: 64 * 512, dir: 'out' }, Buffer.alloc(64 * 512, 7));
    const run = (list: Buffer) => runWithSense(host, { cdb: unmapCdb(list.length), length: list.length, dir: 'out' }, list);
    expect((await run(unmapList([0, 8], [4090, 8]))).sense).toEqual([5, 0x21, 0]); // second one past the end
    expect((await run(unmapList([0, 8], [8, 17]))).sense).toEqual([5, 0x26, 0]); // over MAXIMUM UNMAP LBA COUNT
    expect((await run(unmapList([0, 1], [1, 1], [2, 1]))).sense).toEqual([5, 0x26, 0]); // too many descriptors
    expect((await runWithSense(host, { cdb: unmapCdb(4), length: 4, dir: 'out' }, Buffer.alloc(4))).sense).toEqual([5, 0x24, 0]);
    expect((await runWithSense(host, { cdb: unmapCdb(24, true), length: 24, dir: 'out' }, unmapList([0, 1]))).sense).toEqual([5, 0x24, 0]);
    expect((await readBlocks(host, 0, 64)).every((x) => x === 7)).toBe(true);
  });

  it('WRITE SAME(16) repeats its block; with UNMAP and a zero block it deallocates', async () => {
    const { host, media } = setup({ provisioning: true });
    const block = Buffer.alloc(512);
    block.write('usbms write same', 0);
    let o = await host.run({ cdb: writeSame(10, 300, false), length: 512, dir: 'out' }, block);
    expect(o.csw.status).toBe(0);
    const got = await readBlocks(host, 9, 302);
    expect(got.subarray(0, 512).every((x) => x === 0)).toBe(true);
    for (let b = 1; b <= 300; b++) expect(got.subarray(b * 512, b * 512 + 512).equals(block), `block ${b}`).toBe(true);
    expect(got.subarray(301 * 512).every((x) => x === 0)).toBe(true);
    await host.run({ cdb: write10(1024, 256), length: 256 * 512, dir: 'out' }, Buffer.alloc(256 * 512, 1));
    const before = media.allocatedBytes;
    o = await host.run({ cdb: writeSame(1024, 256, true), length: 512, dir: 'out' }, Buffer.alloc(512));
    expect(o.csw.status).toBe(0);
    expect((await readBlocks(host, 1024, 256)).every((x) => x === 0)).toBe(true);
    expect(media.allocatedBytes).toBeLessThan(before);
  });

  it('WRITE SAME(16) refuses 0 blocks (WSNZ), more than its limit, a range past the end, a protected medium', async () => {
    const { host } = setup({ provisioning: { maxWriteSameBlocks: 100 } });
    expect((await runWithSense(host, { cdb: writeSame(0, 0, false), length: 512, dir: 'out' })).sense).toEqual([5, 0x24, 0]);
    expect((await runWithSense(host, { cdb: writeSame(0, 101, false), length: 512, dir: 'out' })).sense).toEqual([5, 0x24, 0]);
    expect((await runWithSense(host, { cdb: writeSame(4090, 8, true), length: 512, dir: 'out' })).sense).toEqual([5, 0x21, 0]);
    const wp = setup({ provisioning: true, writeProtected: true });
    expect((await runWithSense(wp.host, { cdb: writeSame(0, 8, true), length: 512, dir: 'out' })).sense).toEqual([7, 0x27, 0]);
    const list = unmapList([0, 8]);
    expect((await runWithSense(wp.host, { cdb: unmapCdb(list.length), length: list.length, dir: 'out' }, list)).sense).toEqual([7, 0x27, 0]);
  });
});

import { describe, it, expect, afterEach } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileMedia, MemoryMedia, MockUsbDevice, WrappingMedia, createDemoDisk, DEMO_LAYOUT } from '../../src/mock/index.js';
import { OP, TestHost, read10, rw16, write10 } from './host.js';

const tmpFiles: string[] = [];
afterEach(() => { for (const f of tmpFiles.splice(0)) fs.rmSync(f, { force: true }); });
function tmpPath(): string {
  const p = path.join(os.tmpdir(), `usbms-mock-${process.pid}-${Math.random().toString(16).slice(2)}.img`);
  tmpFiles.push(p);
  return p;
}

describe('MemoryMedia', () => {
  it('is sparse: reads of unwritten space are zeros and cost nothing', () => {
    const m = new MemoryMedia(4n * 2n ** 40n);
    const b = Buffer.alloc(4096, 7);
    m.read(3n * 2n ** 40n, b);
    expect(b.every((x) => x === 0)).toBe(true);
    expect(m.allocatedBytes).toBe(0);
  });

  it('writes across chunk boundaries read back exactly', () => {
    const m = new MemoryMedia(1 << 20);
    const src = Buffer.alloc(100_000);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7) & 0xff;
    m.write(65_000n, src);
    const dst = Buffer.alloc(100_000);
    m.read(65_000n, dst);
    expect(dst.equals(src)).toBe(true);
  });

  it('refuses access beyond its size', () => {
    const m = new MemoryMedia(1024);
    expect(() => m.read(1000n, Buffer.alloc(100))).toThrow(RangeError);
  });
});

describe('a > 2 TiB disk through READ(16)/WRITE(16)', () => {
  it('writes and reads back beyond LBA 2^32 with exact 64-bit addressing', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 2n ** 33n }] }); // 4 TiB at 512
    const host = new TestHost(dev.open());
    const lba = 2n ** 32n + 12345n;
    const data = Buffer.alloc(1024);
    data.write('beyond two tebibytes');
    expect((await host.run({ cdb: rw16(OP.WRITE16, lba, 2), length: 1024, dir: 'out' }, data)).csw.status).toBe(0);
    const r = await host.run({ cdb: rw16(OP.READ16, lba, 2), length: 1024, dir: 'in' });
    expect(r.data.equals(data)).toBe(true);
    // The same low 32 bits below 2^32 are untouched.
    const low = await host.run({ cdb: read10(12345, 1), length: 512, dir: 'in' });
    expect(low.data.every((b) => b === 0)).toBe(true);
    const past = await host.run({ cdb: rw16(OP.READ16, 2n ** 33n - 1n, 2), length: 1024, dir: 'in' });
    expect(past.csw.status).toBe(1);
  });
});

describe('FileMedia', () => {
  it('creates a sparse file of the size, persists data, and reopens', async () => {
    const p = tmpPath();
    const media = new FileMedia(p, { size: 8 * 1024 * 1024 });
    expect(fs.statSync(p).size).toBe(8 * 1024 * 1024);
    const dev = new MockUsbDevice({ luns: [{ blocks: 16384, media }] });
    const host = new TestHost(dev.open());
    const data = Buffer.alloc(512, 0x33);
    await host.run({ cdb: write10(100, 1), length: 512, dir: 'out' }, data);
    expect((await host.run({ cdb: [OP.SYNC10, 0, 0, 0, 0, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
    media.close();
    const raw = fs.readFileSync(p);
    expect(raw.subarray(100 * 512, 101 * 512).equals(data)).toBe(true);
    const again = new FileMedia(p);
    expect(again.size).toBe(8n * 1024n * 1024n);
    again.close();
  });

  it('a read-only file makes the LUN write-protected and reports WCE off', async () => {
    const p = tmpPath();
    fs.writeFileSync(p, Buffer.alloc(1024 * 1024));
    const media = new FileMedia(p, { readOnly: true });
    const dev = new MockUsbDevice({ luns: [{ blocks: 2048, media }] });
    expect(dev.luns[0]!.writeProtected).toBe(true);
    const host = new TestHost(dev.open());
    const w = await host.run({ cdb: write10(0, 1), length: 512, dir: 'out' }, Buffer.alloc(512));
    expect(w.csw.status).toBe(1);
    expect(() => media.write(0n, Buffer.alloc(1))).toThrow(/read-only/);
    media.close();
  });
});

describe('WrappingMedia (counterfeit)', () => {
  it('wraps addresses beyond the real size back to the start, also across the boundary', () => {
    const real = new MemoryMedia(4096);
    const fake = new WrappingMedia(real, 16384);
    fake.write(4096n + 10n, Buffer.from('wrapped'));
    const b = Buffer.alloc(7);
    real.read(10n, b);
    expect(b.toString()).toBe('wrapped');
    fake.write(4093n, Buffer.from('abcdef'));
    const head = Buffer.alloc(3);
    real.read(0n, head);
    expect(head.toString()).toBe('def');
  });
});

describe('demo disk', () => {
  it('has an MBR with two partitions and a FAT16 label', async () => {
    const dev = createDemoDisk();
    const host = new TestHost(dev.open());
    const mbr = await host.run({ cdb: read10(0, 1), length: 512, dir: 'in' });
    expect(mbr.data.readUInt16LE(510)).toBe(0xaa55);
    expect(mbr.data[446 + 4]).toBe(0x0e);
    expect(mbr.data.readUInt32LE(446 + 8)).toBe(2048);
    expect(mbr.data[462 + 4]).toBe(0x83);
    const p1 = DEMO_LAYOUT.partitions[0];
    const boot = await host.run({ cdb: read10(p1.startLba, 1), length: 512, dir: 'in' });
    expect(boot.data.toString('latin1', 43, 54)).toBe('USBMS DEMO ');
    expect(boot.data.toString('latin1', 54, 62)).toBe('FAT16   ');
    const p2 = DEMO_LAYOUT.partitions[1];
    const stamp = await host.run({ cdb: read10(p2.startLba + 3, 1), length: 512, dir: 'in' });
    expect(stamp.data.toString('latin1', 0, 30)).toContain(`usbms demo LBA ${p2.startLba + 3}`);
    expect(p2.startLba + p2.sectors).toBe(DEMO_LAYOUT.totalSectors);
  });
});

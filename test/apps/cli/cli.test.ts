import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCliIfStale } from './build.js';
import { usbms } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-cli-'));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function image(name: string, blocks: number, fill?: (b: Buffer) => void): string {
  const p = join(tmp, name);
  const b = Buffer.alloc(blocks * 512);
  fill?.(b);
  writeFileSync(p, b);
  return p;
}

beforeAll(() => { buildCliIfStale(); }, 120_000);

describe('usbms CLI on the built-in emulated disk', () => {
  it('demo shows the device, identity, capacity, partition table and a read', async () => {
    const r = await usbms(['demo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('INQUIRY: USBMS Demo Disk');
    expect(r.stdout).toContain('131072 blocks x 512 bytes');
    expect(r.stdout).toContain('partition table: MBR');
    expect(r.stdout).toMatch(/1: start 2048, 65536 sectors .*FAT16/);
    expect(r.stdout).toMatch(/00100000: eb3c 90/);
  });

  it('list --mock and --json with stable keys', async () => {
    const r = await usbms(['list', '--mock', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    // the same keys as a real device's row (src/apps/cli/commands/info.ts), so scripts parse both alike
    expect(Object.keys(rows[0]!).sort()).toEqual(['accessDenied', 'address', 'bus', 'interface', 'kernelDriverActive', 'luns',
      'manufacturer', 'mock', 'port', 'product', 'productId', 'protocol', 'serial', 'speed', 'transport', 'transportWhy',
      'transports', 'vendorId', 'usbip', 'exported'].sort());
    expect(rows[0]!.luns).toBe(1);
    expect(rows[0]).toMatchObject({ transports: ['bot'], transport: 'bot' });
    expect(rows[0]).toMatchObject({ usbip: null, exported: null }); // a local device: neither attached nor exported over USB/IP
    const text = await usbms(['list', '--mock']);
    expect(text.stdout).toMatch(/^0-1\.1 [0-9a-f]{4}:[0-9a-f]{4} bus 0 address \d+ .*LUNs 1/);
  });

  it('inquiry: text, JSON, VPD page 0x80 and hex', async () => {
    const t = await usbms(['inquiry', '--mock']);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain('Vendor identification: USBMS');
    const j = JSON.parse((await usbms(['inquiry', '--mock', '--json'])).stdout) as Record<string, unknown>;
    expect(Object.keys(j).sort()).toEqual(['deviceType', 'peripheralQualifier', 'product', 'removable', 'revision', 'vendor', 'version']);
    const vpd = await usbms(['inquiry', '--mock', '--vpd', '0x80']);
    expect(vpd.code).toBe(0);
    expect(vpd.stdout).toMatch(/serial: \S+/);
    const hex = await usbms(['inquiry', '--mock', '--hex']);
    expect(hex.stdout).toMatch(/^00000000: 0000 /);
    const bad = await usbms(['inquiry', '--mock', '--vpd', 'zz']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^usbms: --vpd 'zz'/);
  });

  it('capacity, tur and sense', async () => {
    const c = JSON.parse((await usbms(['capacity', '--mock', '--json'])).stdout) as Record<string, unknown>;
    expect(c).toMatchObject({ blocks: 131072, lastLba: 131071, blockSize: 512, bytes: 67108864, writeProtected: false });
    expect((await usbms(['capacity', '--mock'])).stdout).toContain('Number of blocks: 131072');
    const t = await usbms(['tur', '--mock']);
    expect([t.code, t.stdout.trim()]).toEqual([0, 'ready']);
    const s = JSON.parse((await usbms(['sense', '--mock', '--json'])).stdout) as Record<string, unknown>;
    expect(s).toMatchObject({ key: 0, asc: 0, ascq: 0 });
  });

  it('decode-sense needs no device and rejects non-hex', async () => {
    const r = await usbms(['decode-sense', '70 00 03 00 00 00 00 0a 00 00 00 00 11 00 00 00 00 00', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ key: 3, asc: 0x11, ascq: 0, exitStatus: 3 });
    const bad = await usbms(['decode-sense', 'xyz']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('read: xxd-style dump, --out, --json, and exit 22 past the end', async () => {
    const r = await usbms(['read', '67584', '--mock']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^02100000: 7573 626d 7320 6465 6d6f 204c 4241 2036 {2}usbms demo LBA 6$/m);
    expect(r.stdout.trim().split('\n')).toHaveLength(32);
    const f = join(tmp, 'two.bin');
    expect((await usbms(['read', '0', '2', '--mock', '--out', f])).code).toBe(0);
    const two = readFileSync(f);
    expect(two.length).toBe(1024);
    expect(two[510]).toBe(0x55);
    const j = JSON.parse((await usbms(['read', '0', '--mock', '--json'])).stdout) as { hex: string };
    expect(j.hex).toBe(two.subarray(0, 512).toString('hex'));
    const past = await usbms(['read', '131072', '--mock']);
    expect(past.code).toBe(22);
    expect(past.stderr).toMatch(/^usbms: .*past the end/);
    expect(past.stderr).not.toMatch(/\n\s+at /);
    const badLba = await usbms(['read', 'ten', '--mock']);
    expect(badLba.code).toBe(1);
  });

  it('without --device or --mock says how to pick one; unknown commands exit 1', async () => {
    const r = await usbms(['capacity']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^usbms: no device selected: pass --device .* or --mock/);
    expect((await usbms(['frobnicate'])).code).toBe(1);
  });

  it('raw sends a CDB and reports status and data; a bad opcode gives exit 9', async () => {
    const r = await usbms(['raw', '12', '00', '00', '00', '24', '00', '--in', '36', '--mock', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { status: number; data: string; sense: unknown };
    expect(j.status).toBe(0);
    expect(Buffer.from(j.data, 'hex').toString('latin1', 8, 13)).toBe('USBMS');
    const bad = await usbms(['raw', 'ff', '00', '00', '00', '00', '00', '--mock']);
    expect(bad.code).toBe(9);
    expect(bad.stderr).toMatch(/sense: .*Illegal Request/i);
  });

  it('bench prints MB/s and IOPS', async () => {
    const r = await usbms(['bench', '--mock', '--size-mb', '1', '--random-ios', '20', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { sequential: { mbPerSecond: number; bytes: number }; random: { iops: number; ios: number } };
    expect(j.sequential.bytes).toBe(1024 * 1024);
    expect(j.sequential.mbPerSecond).toBeGreaterThan(0);
    expect(j.random.ios).toBe(20);
    expect(j.random.iops).toBeGreaterThan(0);
  });

  it('reset; eject of the fixed demo disk is refused by the device (exit 5, one line)', async () => {
    expect((await usbms(['reset', '--mock'])).code).toBe(0);
    const e = await usbms(['eject', '--mock']);
    expect(e.code).toBe(5);
    expect(e.stderr).toMatch(/^usbms: LUN 0 .*not removable.*START STOP UNIT: .*Illegal Request.*Invalid field in cdb\)\n$/);
  });
});

describe('usbms CLI on an image file (--mock=IMAGE)', () => {
  it('write needs --write, then persists across invocations', async () => {
    const img = image('w.img', 64);
    const data = Buffer.alloc(1024, 0x5a);
    const dataFile = join(tmp, 'data.bin');
    writeFileSync(dataFile, data);
    const refused = await usbms(['write', '3', '--in', dataFile, `--mock=${img}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/--write/);
    expect(readFileSync(img).subarray(3 * 512, 5 * 512).every((b) => b === 0)).toBe(true);
    const ok = await usbms(['write', '3', '--in', dataFile, '--write', `--mock=${img}`]);
    expect(ok.code).toBe(0);
    const back = await usbms(['read', '3', '2', `--mock=${img}`, '--json']);
    expect((JSON.parse(back.stdout) as { hex: string }).hex).toBe(data.toString('hex'));
    expect(Buffer.compare(readFileSync(img).subarray(3 * 512, 5 * 512), data)).toBe(0);
  });

  it('image copies the whole disk and prints its sha256; restore writes it back', async () => {
    const src = image('src.img', 200, (b) => { for (let i = 0; i < b.length; i++) b[i] = (i * 7) % 256; });
    const out = join(tmp, 'copy.img');
    const r = await usbms(['image', '--out', out, `--mock=${src}`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${sha(readFileSync(src))}  ${out}`);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a TTY
    expect(Buffer.compare(readFileSync(out), readFileSync(src))).toBe(0);
    const dst = image('dst.img', 200);
    expect((await usbms(['restore', '--in', out, `--mock=${dst}`])).code).toBe(1);
    // 8 KiB per WRITE: 12 whole chunks and a short one, the file read and hashed beside each WRITE
    const j = await usbms(['restore', '--in', out, '--write', `--mock=${dst}`, '--json', '--max-transfer', '8K']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ blocks: 200, bytes: 200 * 512, sha256: sha(readFileSync(src)),
      seconds: expect.any(Number) as unknown });
    expect(Buffer.compare(readFileSync(dst), readFileSync(src))).toBe(0);
    const tooBig = image('small.img', 100);
    expect((await usbms(['restore', '--in', out, '--write', `--mock=${tooBig}`])).code).toBe(22);
    const plain = image('plain.img', 200);
    const n = await usbms(['restore', '--in', out, '--write', `--mock=${plain}`, '--no-hash', '--json']);
    expect(n.code).toBe(0);
    expect(JSON.parse(n.stdout)).toMatchObject({ bytes: 200 * 512, sha256: null });
    expect(Buffer.compare(readFileSync(plain), readFileSync(src))).toBe(0);
  });

  it('image --no-hash copies the same bytes without a sha256 (--json: sha256 null, the copy\'s seconds)', async () => {
    const src = image('nohash.img', 300, (b) => { for (let i = 0; i < b.length; i++) b[i] = (i * 13 + 5) % 251; });
    const out = join(tmp, 'nohash-copy.img');
    const r = await usbms(['image', '--out', out, '--no-hash', '--json', `--mock=${src}`]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { sha256: unknown; bytes: number; seconds: number };
    expect(j).toMatchObject({ sha256: null, bytes: 300 * 512 });
    expect(j.seconds).toBeGreaterThanOrEqual(0);
    expect(Buffer.compare(readFileSync(out), readFileSync(src))).toBe(0);
    const plain = await usbms(['image', '--out', out, '--no-hash', `--mock=${src}`]);
    expect(plain.stdout.trim()).toBe(`${300 * 512} bytes  ${out}`);
  });

  it('verify reads every block; probe finds a genuine disk and leaves the data as it was', async () => {
    const img = image('p.img', 4096, (b) => { for (let i = 0; i < b.length; i += 512) b.writeUInt32LE(i, i); });
    const before = sha(readFileSync(img));
    const v = await usbms(['verify', `--mock=${img}`, '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ start: 0, blocks: 4096, unreadable: [] });
    expect((await usbms(['probe', `--mock=${img}`])).code).toBe(1);
    const p = await usbms(['probe', '--write', '--seed', '7', `--mock=${img}`, '--json']);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ genuine: true, claimedBlocks: 4096, usableBlocks: 4096, wrapsAt: null });
    expect(sha(readFileSync(img))).toBe(before);
  });

  it('eject of an image served as removable medium', async () => {
    const img = image('e.img', 16);
    const e = await usbms(['eject', `--mock=${img}`, '--json']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout)).toEqual({ ejected: true });
  });

  it('a missing image is a file error (15), one line', async () => {
    const r = await usbms(['capacity', `--mock=${join(tmp, 'nope.img')}`]);
    expect(r.code).toBe(15);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

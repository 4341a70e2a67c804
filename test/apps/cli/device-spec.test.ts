/**
 * The CLI's exit statuses and messages on devices that misbehave, spawning the real `usbms` on software devices
 * described in JSON (`--mock=DEVICE.json`): medium errors, no medium, write protect, a counterfeit stick, a
 * device that stops answering or vanishes.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCliIfStale } from './build.js';
import { usbms } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-spec-'));
function spec(name: string, value: unknown): string {
  const p = join(tmp, `${name}.json`);
  writeFileSync(p, JSON.stringify(value));
  return `--mock=${p}`;
}
/** The one line a failing command prints: "usbms: ..." and nothing else (no stack). */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^usbms: /);
  return lines[0]!;
}

beforeAll(() => { buildCliIfStale(); }, 120_000);

describe('usbms on devices that misbehave (--mock=DEVICE.json)', () => {
  const bad = spec('bad-blocks', {
    luns: [{ blocks: 4096 }],
    faults: [{ fault: { kind: 'medium-error', lbas: [100, '3000'] } }],
  });

  it('verify lists every unreadable LBA and exits 3 (medium error)', async () => {
    const t = await usbms(['verify', bad]);
    expect(t.code).toBe(3);
    expect(t.stdout).toBe('unreadable LBAs (2):\n100\n3000\n');
    const j = await usbms(['verify', bad, '--json']);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout)).toEqual({ start: 0, blocks: 4096, unreadable: [100, 3000] });
  });

  it('read of a bad block exits 3 and names the failing LBA from the sense INFORMATION field', async () => {
    const r = await usbms(['read', '2990', '16', bad]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr)).toMatch(/Medium Error.*Unrecovered read error.*Info fld=0x00000bb8/);
    expect((await usbms(['read', '2990', '10', bad])).code).toBe(0);
  });

  it('a READ that keeps answering CHECK CONDITION + NO SENSE with wrong data exits 20 (no sense), no data out', async () => {
    const liar = spec('no-sense', {
      luns: [{ blocks: 2048 }], faults: [{ match: { opcode: 40 }, times: 100, fault: { kind: 'no-sense-corrupt' } }],
    });
    const r = await usbms(['read', '8', '2', liar]);
    expect(r.code).toBe(20);
    expect(r.stdout).toBe('');
    // Each retry is announced on stderr as it begins (issue 21); then the one line of the error.
    const retries = r.stderr.split('\n').filter((l) => /retry \d+ of \d+/.test(l));
    expect(retries.length).toBeGreaterThan(0);
    const rest = r.stderr.split('\n').filter((l) => !/retry \d+ of \d+/.test(l)).join('\n');
    expect(oneLine(rest)).toMatch(/READ\(10\) of LBA 8\.\.9 \(2 blocks\): CHECK CONDITION with NO SENSE .*unknown amount of data moved/);
  });

  it('a removable disk without a medium: NOT READY, exit 2, for capacity, tur, read, image and verify', async () => {
    const empty = spec('no-medium', { luns: [{ blocks: 2048, removable: true, present: false }] });
    const c = await usbms(['capacity', empty, '--json']);
    expect([c.code, JSON.parse(c.stdout)]).toEqual([2, { mediumPresent: false }]);
    const t = await usbms(['tur', empty]);
    expect(t.code).toBe(2);
    expect(oneLine(t.stderr)).toMatch(/Not Ready.*Medium not present/);
    for (const cmd of [['read', '0'], ['image', '--out', join(tmp, 'none.img')], ['verify']]) {
      const r = await usbms([...cmd, empty]);
      expect(r.code, cmd.join(' ')).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/medium not present/i);
    }
  });

  it('tur and sense report a pending UNIT ATTENTION as it is (exit 6), as sg_turs and sg_requests do', async () => {
    const ua = spec('power-on', { device: { powerOnUnitAttention: true }, luns: [{ blocks: 2048 }] });
    const t = await usbms(['tur', ua]);
    expect(t.code).toBe(6);
    expect(oneLine(t.stderr)).toMatch(/Unit Attention.*Power on, reset, or bus device reset occurred/);
    const s = await usbms(['sense', ua, '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ key: 6, asc: 0x29, ascq: 0 });
    // the commands with the open policy retry through it
    expect((await usbms(['capacity', ua])).code).toBe(0);
  });

  it('a write-protected medium: capacity says so, write exits 7 (data protect) and changes nothing', async () => {
    const img = join(tmp, 'wp.img');
    writeFileSync(img, Buffer.alloc(64 * 512, 0x11));
    const wp = spec('write-protected', { luns: [{ image: img, writeProtected: true }] });
    const c = await usbms(['capacity', wp, '--json']);
    expect(JSON.parse(c.stdout)).toMatchObject({ blocks: 64, writeProtected: true });
    const data = join(tmp, 'one.bin');
    writeFileSync(data, Buffer.alloc(512, 0xee));
    const w = await usbms(['write', '1', '--in', data, '--write', wp]);
    expect(w.code).toBe(7);
    oneLine(w.stderr);
    // and the device itself refuses a WRITE(10) sent raw: CHECK CONDITION 7/27/00
    const r = await usbms(['raw', '2a', '00', '00', '00', '00', '01', '00', '00', '01', '00', '--data-out', data,
      '--write', wp, '--json']);
    expect(r.code).toBe(7);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 2, sense: { key: 7, asc: 0x27, ascq: 0 }, exitStatus: 7 });
    expect(readFileSync(img).every((b) => b === 0x11)).toBe(true);
  });

  it('probe finds a counterfeit stick (claims 4x, wraps around) and exits 14 (miscompare)', async () => {
    const fake = spec('counterfeit', { personality: 'counterfeit' });
    const r = await usbms(['probe', '--write', '--seed', '3', fake, '--json']);
    expect(r.code).toBe(14);
    expect(JSON.parse(r.stdout)).toMatchObject({ genuine: false, claimedBlocks: 131072, usableBlocks: 32768,
      wrapsAt: 32768, wrapsTo: 0, seed: 3 });
    const t = await usbms(['probe', '--write', '--seed', '3', fake]);
    expect(t.stdout).toMatch(/COUNTERFEIT.*usable 32768 blocks \(16\.0 MiB\)/);
    expect(t.stdout).toMatch(/wrap-around: LBA 32768 reads back the data of LBA 0/);
  });

  it('a device that stops answering: timeout, exit 33, after bounded retries', async () => {
    const dead = spec('no-response', { luns: [{ blocks: 4096 }],
      faults: [{ match: { opcode: 0x28 }, times: 50, fault: { kind: 'no-response', phase: 'data' } }] });
    const t0 = Date.now();
    const r = await usbms(['read', '0', dead, '--timeout', '1']);
    expect(r.code).toBe(33);
    // The recovery steps as they happened (issue 21), then the one line of the error.
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe('usbms: READ(10) at LBA 0 timed out');
    expect(lines.slice(0, -1).every((l) => /^usbms: (timeout|reset|retry \d of 3): /.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('usbms: retry '))).toHaveLength(3);
    expect(Date.now() - t0).toBeLessThan(12_000);
  });

  it('a device that vanishes in the data phase: transport error, exit 35', async () => {
    const gone = spec('unplugged', { luns: [{ blocks: 4096 }],
      faults: [{ match: { opcode: 0x28 }, fault: { kind: 'disconnect', phase: 'data' } }] });
    const r = await usbms(['read', '0', gone]);
    expect(r.code).toBe(35);
    expect(oneLine(r.stderr)).toMatch(/disconnected/);
  });

  it('a description that cannot be used is a file error (15), one line naming the key', async () => {
    const cases: [unknown, RegExp][] = [
      [{ luns: [{ blocks: -1 }] }, /luns\[0\]\.blocks/],
      [{ personality: 'nope' }, /personality "nope" is not one of good, /],
      [{ luns: [{ blocks: 8, blockSize: 333 }] }, /block size 333/],
      [{ faults: [{ fault: {} }] }, /faults\[0\]/],
      [{ faults: [{ fault: { kind: 'gremlins' } }] }, /faults\[0\]\.fault\.kind "gremlins" is not one of stall, /],
    ];
    for (const [value, why] of cases) {
      const r = await usbms(['capacity', spec('broken', value)]);
      expect(r.code, JSON.stringify(value)).toBe(15);
      expect(oneLine(r.stderr)).toMatch(why);
    }
    writeFileSync(join(tmp, 'syntax.json'), '{ nope');
    const s = await usbms(['capacity', `--mock=${join(tmp, 'syntax.json')}`]);
    expect(s.code).toBe(15);
    oneLine(s.stderr);
  });
});

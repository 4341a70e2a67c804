/**
 * Issue 8, bad input from users: every mistake is one line on stderr, a meaningful exit status (sg3_utils'
 * table: 1 syntax, 5 illegal request, 15 file error, 22 LBA out of range ...), and nothing written to the disk.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCliIfStale } from './build.js';
import { usbms } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-bad-'));
const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const BLOCKS = 256;

function image(): string {
  const p = join(tmp, `disk-${Math.random().toString(36).slice(2)}.img`);
  const b = Buffer.alloc(BLOCKS * 512);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  writeFileSync(p, b);
  return p;
}
function file(name: string, bytes: number): string {
  const p = join(tmp, name);
  writeFileSync(p, Buffer.alloc(bytes, 0x5a));
  return p;
}

function jsonFile(name: string, value: unknown): string {
  const p = join(tmp, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

beforeAll(() => { buildCliIfStale(); }, 120_000);

/** One line on stderr, the exit status, and the image unchanged. */
async function refused(args: (img: string) => string[], code: number, message: RegExp): Promise<void> {
  const img = image();
  const before = sha(img);
  const r = await usbms(args(img));
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^usbms: /);
  expect(r.stderr).toMatch(message);
  expect(r.code, r.stderr).toBe(code);
  expect(sha(img)).toBe(before);
}

describe('bad input from users: one line, a meaningful exit status, nothing written', () => {
  const half = (): string => file('half.bin', 256);
  const one = (): string => file('one.bin', 512);
  const cases: [string, (img: string) => string[], number, RegExp][] = [
    ['read past the end', (i) => ['read', `--mock=${i}`, String(BLOCKS), '1'], 22, /LBA|range|end/i],
    ['read whose count runs past the end', (i) => ['read', `--mock=${i}`, String(BLOCKS - 1), '2'], 22, /LBA|range|end/i],
    ['a zero count', (i) => ['read', `--mock=${i}`, '0', '0'], 1, /COUNT '0'/],
    ['a negative count', (i) => ['read', `--mock=${i}`, '0', '-3'], 1, /COUNT|positive|argument/i],
    ['a fractional count', (i) => ['read', `--mock=${i}`, '0', '1.5'], 1, /COUNT '1.5'/],
    ['a negative LBA', (i) => ['read', `--mock=${i}`, '--', '-1'], 1, /LBA|argument/i],
    ['a non-numeric LBA', (i) => ['read', `--mock=${i}`, 'x12'], 1, /LBA 'x12'/],
    ['a write without --write', (i) => ['write', `--mock=${i}`, '0', '--in', one()], 1, /--write/],
    ['a write of a size that is not whole blocks', (i) => ['write', `--mock=${i}`, '0', '--in', half(), '--write'], 1, /whole number/],
    ['a write past the end', (i) => ['write', `--mock=${i}`, String(BLOCKS), '--in', one(), '--write'], 22, /LBA|range|end/i],
    ['a write from a missing file', (i) => ['write', `--mock=${i}`, '0', '--in', join(tmp, 'nope.bin'), '--write'], 15, /nope\.bin/],
    ['a restore from a short file', (i) => ['restore', `--mock=${i}`, '--in', one(), '--write'], 1, /smaller than the disk.*--partial/],
    ['a restore without --write', (i) => ['restore', `--mock=${i}`, '--in', one()], 1, /--write/],
    ['malformed CDB hex', (i) => ['raw', `--mock=${i}`, '12zz00'], 1, /hex|CDB/i],
    ['a malformed selector', () => ['capacity', '--device', 'xyz:12:34:56'], 1, /device|selector/i],
    ['a missing image', () => ['capacity', `--mock=${join(tmp, 'missing.img')}`], 15, /missing\.img/],
    ['an image that is not whole blocks', () => ['capacity', `--mock=${file('odd.img', 1000)}`], 15, /odd\.img/],
    ['--max-transfer too large says the limit (issue 20)', (i) => ['capacity', `--mock=${i}`, '--max-transfer', '1G'], 1,
      /--max-transfer 1G: 1073741824 is larger than the limit, 16777216 bytes \(16 MiB/],
    ['--max-transfer that is not whole sectors', (i) => ['capacity', `--mock=${i}`, '--max-transfer', '1000'], 1,
      /--max-transfer 1000: 1000 is not a multiple of 512/],
    ['a device description with an unknown key (issue 20)', () => ['capacity',
      `--mock=${jsonFile('typo.json', { luns: [{ blocks: 64, writeProtect: true }] })}`], 15,
      /typo\.json: luns\[0\]: unknown key 'writeProtect' \(did you mean 'writeProtected'\?\); known keys: blocks, /],
  ];
  it.each(cases)('%s', async (_name, args, code, message) => { await refused(args, code, message); });

  it('restore --partial writes a smaller image over the first blocks only', async () => {
    const img = image();
    const before = readFileSync(img);
    const r = await usbms(['restore', `--mock=${img}`, '--in', file('two.bin', 1024), '--write', '--partial']);
    expect(r.code, r.stderr).toBe(0);
    const after = readFileSync(img);
    expect(after.subarray(0, 1024).equals(Buffer.alloc(1024, 0x5a))).toBe(true);
    expect(after.subarray(1024).equals(before.subarray(1024))).toBe(true);
  });

  it('an unreadable input file is a file error', async () => {
    if (process.getuid?.() === 0) {
      // root reads any file; a directory given as input is unreadable as a file for root too
      await refused((i) => ['write', `--mock=${i}`, '0', '--in', tmp, '--write'], 15, /EISDIR|directory|read/i);
      return;
    }
    const p = file('locked.bin', 512);
    chmodSync(p, 0o000);
    await refused((i) => ['write', `--mock=${i}`, '0', '--in', p, '--write'], 15, /locked\.bin/);
  });
});

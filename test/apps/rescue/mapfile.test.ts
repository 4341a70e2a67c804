/**
 * GNU ddrescue's mapfile format: fixtures laid out as ddrescue 1.21 / 1.23 / 1.27 write them (from its manual's
 * "Mapfile structure" and real mapfiles users posted), hand-edited ones, round trips, positions past 2^53, and
 * (where the Debian gddrescue package is installed, as hw-tests/lab/setup.sh does) ddrescuelog reading ours.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatMapfile, mapFromMapfile, MapfileError, parseMapfile, parseMapNumber, RescueMap, type AreaStatus,
} from '../../../src/apps/rescue/index.js';

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const header = { creator: 'usbms test', commandLine: 'usbms rescue', startTime: new Date(0), currentTime: new Date(0), message: 'Finished' };

/**
 * ddrescuelog is required (CI installs Debian's gddrescue before `npm test`, see .ci/run): without it this check
 * fails, never skips, so a green run always means ddrescue's own tool read our mapfile. USBMS_NO_DDRESCUE=1 opts
 * out on a machine that cannot have it.
 */
const ddrescueOptOut = process.env.USBMS_NO_DDRESCUE === '1';

describe('parsing mapfiles ddrescue wrote', () => {
  it('ddrescue 1.27 in copy pass 1: status line with current_pass, data blocks merged as ddrescue would', () => {
    const p = parseMapfile(fixture('ddrescue-1.27-copying.map'));
    expect(p).toMatchObject({ currentPos: 0x30000n, currentStatus: '?', currentPass: 1, empty: false });
    expect(p.areas).toEqual([
      { pos: 0n, size: 0x10000n, status: '+' }, { pos: 0x10000n, size: 0x10000n, status: '*' },
      { pos: 0x20000n, size: 0x10000n, status: '?' }, { pos: 0x30000n, size: 0xd0000n, status: '?' },
    ]);
    const map = mapFromMapfile(p, 0x100000n);
    expect(map.list()).toEqual([
      { pos: 0n, size: 0x10000n, status: '+' }, { pos: 0x10000n, size: 0x10000n, status: '*' },
      { pos: 0x20000n, size: 0xe0000n, status: '?' },
    ]);
  });

  it('ddrescue 1.21 (no current_pass on the status line): pass 1 is assumed', () => {
    const p = parseMapfile(fixture('ddrescue-1.21-no-pass.map'));
    expect(p).toMatchObject({ currentPos: 0x40400n, currentStatus: '-', currentPass: 1 });
    expect(mapFromMapfile(p, 0x100000n).totals()['-']).toBe(0x400n);
  });

  it('scraping phase, and decimal numbers and comments after whitespace in a hand-edited file', () => {
    expect(parseMapfile(fixture('ddrescue-scraping.map'))).toMatchObject({ currentStatus: '/', currentPos: 0x80200n });
    const h = parseMapfile(fixture('hand-edited.map'));
    expect(h).toMatchObject({ currentPos: 0n, currentStatus: '?', currentPass: 2 });
    expect(h.areas).toEqual([{ pos: 0n, size: 1048576n, status: '+' }, { pos: 1048576n, size: 0x100000n, status: '?' }]);
  });

  it('numbers as strtoull base 0 reads them: hex, octal, decimal; exact beyond 2^53', () => {
    expect(parseMapNumber('0x1F')).toBe(31n);
    expect(parseMapNumber('017')).toBe(15n);
    expect(parseMapNumber('4096')).toBe(4096n);
    expect(parseMapNumber('0xFFFFFFFFFFFFFE00')).toBe(0xffff_ffff_ffff_fe00n);
    expect(() => parseMapNumber('-1')).toThrow(MapfileError);
    expect(() => parseMapNumber('0xZZ')).toThrow(MapfileError);
  });

  it('a comments-only mapfile is a new rescue', () => {
    expect(parseMapfile('# Mapfile. Created by GNU ddrescue version 1.27\n\n').empty).toBe(true);
  });

  it.each([
    ['0 X 1\n', /not a ddrescue status/],
    ['0 ? 0\n', /current_pass/],
    ['0 ?\n0 0x200 +\n0x400 0x200 +\n', /not contiguous/],
    ['0 ?\n0 0x200 +\n0x200 0x200 -\n0x300 0x100 +\n', /not contiguous/],
    ['0 ?\n0 0x200 x\n', /not a block status/],
    ['0 ?\n0 0 +\n', /size 0/],
    ['0 ?\n0 0x200\n', /pos size status/],
  ])('refuses %j with a line number', (text, why) => {
    expect(() => parseMapfile(text)).toThrow(why);
    try { parseMapfile(text); } catch (e) { expect((e as MapfileError).line).toBeGreaterThan(0); }
  });

  it('refuses a mapfile of a larger device; fills a shorter one with non-tried', () => {
    const p = parseMapfile(fixture('ddrescue-1.27-copying.map'));
    expect(() => mapFromMapfile(p, 0x80000n)).toThrow(/another device/);
    const m = mapFromMapfile(p, 0x200000n);
    expect(m.list().at(-1)).toEqual({ pos: 0x20000n, size: 0x1e0000n, status: '?' });
  });
});

describe('writing mapfiles', () => {
  it('lays the file out as ddrescue does', () => {
    const map = new RescueMap(0x100000n);
    map.set(0n, 0x80000n, '+');
    map.set(0x80000n, 0x200n, '-');
    const text = formatMapfile(map, { currentPos: 0x80200n, currentStatus: '/', currentPass: 1 }, { ...header, message: 'Scraping failed blocks... (forwards)' });
    expect(text.split('\n').slice(4)).toEqual([
      '# Scraping failed blocks... (forwards)',
      '# current_pos  current_status  current_pass',
      '0x00080200     /               1',
      '#      pos        size  status',
      '0x00000000  0x00080000  +',
      '0x00080000  0x00000200  -',
      '0x00080200  0x0007FE00  ?',
      '',
    ]);
  });

  it('round trip: any map survives format then parse exactly (positions up to 2^64)', () => {
    const statuses: AreaStatus[] = ['?', '*', '/', '-', '+'];
    fc.assert(fc.property(
      fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      fc.array(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 1n, max: 1n << 40n }), fc.constantFrom(...statuses)), { maxLength: 30 }),
      fc.constantFrom(...statuses), fc.integer({ min: 1, max: 9 }),
      (size, sets, st, pass) => {
        const map = new RescueMap(size);
        for (const [pos, len, s] of sets) {
          const p = pos % size;
          map.set(p, len < size - p ? len : size - p, s);
        }
        const state = { currentPos: size - 1n, currentStatus: st, currentPass: pass };
        const parsed = parseMapfile(formatMapfile(map, state, header));
        expect(parsed).toMatchObject(state);
        expect(mapFromMapfile(parsed, size).list()).toEqual(map.list());
      }), { numRuns: 200 });
  });

  it.skipIf(ddrescueOptOut)('ddrescuelog (GNU ddrescue 1.2x) reads what usbms writes and lists the same bad sectors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'usbms-map-'));
    const map = new RescueMap(2n * 1024n * 1024n * 1024n * 1024n); // a 2 TiB device: positions past 2^32
    map.set(0n, map.size, '+');
    const bad = [7n, 8n, 9n, 4_000_000_000n, 4_294_967_200n];
    for (const b of bad) map.set(b * 512n, 512n, '-');
    map.set(3_000_000_000n * 512n, 4096n, '*');
    const file = join(dir, 'big.map');
    writeFileSync(file, formatMapfile(map, { currentPos: 0n, currentStatus: '*', currentPass: 1 }, header));
    const listed = execFileSync('ddrescuelog', ['-b', '512', '--list-blocks=-', file], { encoding: 'utf8' });
    expect(listed.trim().split('\n').map(BigInt)).toEqual(bad);
    const summary = execFileSync('ddrescuelog', ['-t', file], { encoding: 'utf8' });
    expect(summary).toMatch(/current status: trimming/);
    expect(summary).toMatch(/non-trimmed:\s+4096 B,\s+in\s+1 area/);
  });
});

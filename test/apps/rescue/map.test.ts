/** The rescue map against the simplest possible model of it: one status per byte-block. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MapRangeError, RescueMap, type AreaStatus } from '../../../src/apps/rescue/index.js';

const statuses: AreaStatus[] = ['?', '*', '/', '-', '+'];

describe('RescueMap', () => {
  it('splits, sets and merges like a per-unit array, and stays contiguous and merged', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }),
      fc.array(fc.tuple(fc.nat(63), fc.integer({ min: 1, max: 64 }), fc.constantFrom(...statuses)), { maxLength: 40 }),
      (size, ops) => {
        const model: AreaStatus[] = Array.from({ length: size }, () => '?');
        const map = new RescueMap(BigInt(size));
        for (const [p0, len, st] of ops) {
          const p = p0 % size;
          const n = Math.min(len, size - p);
          map.set(BigInt(p), BigInt(n), st);
          model.fill(st, p, p + n);
        }
        const areas = map.list();
        let end = 0n;
        for (const [i, a] of areas.entries()) {
          expect(a.pos).toBe(end);
          if (i > 0) expect(areas[i - 1]?.status).not.toBe(a.status);
          end += a.size;
        }
        expect(end).toBe(BigInt(size));
        for (let i = 0; i < size; i++) expect(map.statusAt(BigInt(i))).toBe(model[i]);
        const runs = model.join('').match(/[*/-]+/g)?.length ?? 0;
        expect(map.badAreas()).toBe(runs);
      }), { numRuns: 300 });
  });

  it('next() finds the area of a status in either direction, clipped at the cursor', () => {
    const m = new RescueMap(100n);
    m.set(10n, 10n, '*');
    m.set(50n, 10n, '*');
    expect(m.next('*', 0n, 'forward')).toEqual({ pos: 10n, size: 10n, status: '*' });
    expect(m.next('*', 15n, 'forward')).toEqual({ pos: 15n, size: 5n, status: '*' });
    expect(m.next('*', 20n, 'forward')).toEqual({ pos: 50n, size: 10n, status: '*' });
    expect(m.next('*', 100n, 'reverse')).toEqual({ pos: 50n, size: 10n, status: '*' });
    expect(m.next('*', 55n, 'reverse')).toEqual({ pos: 50n, size: 5n, status: '*' });
    expect(m.next('*', 50n, 'reverse')).toEqual({ pos: 10n, size: 10n, status: '*' });
    expect(m.next('*', 10n, 'reverse')).toBeUndefined();
    expect(m.next('-', 0n, 'forward')).toBeUndefined();
  });

  it('refuses ranges outside the map', () => {
    const m = new RescueMap(100n);
    expect(() => m.set(90n, 20n, '+')).toThrow(MapRangeError);
    expect(() => m.set(-1n, 2n, '+')).toThrow(MapRangeError);
    expect(() => RescueMap.fromAreas([{ pos: 0n, size: 10n, status: '+' }, { pos: 11n, size: 1n, status: '?' }])).toThrow(MapRangeError);
  });
});

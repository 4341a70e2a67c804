import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CbwEncoder, CbwLayout, CBW_FLAG_DATA_IN, CBW_SIGNATURE, decodeCbw } from '../../src/bot/cbw.js';

describe('the CBW encoder writes exactly what the declared layout says', () => {
  it('for any fields (and after a longer CDB, nothing of it leaks)', () => {
    const enc = new CbwEncoder();
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom('none' as const, 'in' as const, 'out' as const), fc.integer({ min: 0, max: 15 }),
      fc.uint8Array({ minLength: 1, maxLength: 16 }),
      (tag, len, direction, lun, cdb) => {
        enc.encode({ tag: 1, dataTransferLength: 1, direction: 'in', lun: 0, cdb: new Uint8Array(16).fill(0xee), cdbLength: 16 });
        const got = Buffer.from(enc.encode({ tag, dataTransferLength: len, direction, lun, cdb, cdbLength: cdb.length }));
        const cb = Buffer.alloc(16);
        cb.set(cdb);
        const want = Buffer.alloc(31);
        CbwLayout.encode({ signature: CBW_SIGNATURE, tag, dataTransferLength: len,
          flags: direction === 'in' ? CBW_FLAG_DATA_IN : 0, lun, cbLength: cdb.length, cb }, want);
        expect(got.equals(want)).toBe(true);
        expect(decodeCbw(got)).toMatchObject({ tag, dataTransferLength: len, lun, cdbLength: cdb.length });
      }));
  });
});

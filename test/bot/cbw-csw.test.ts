import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CbwEncoder, TagCounter, decodeCbw, CBW_LENGTH } from '../../src/bot/cbw.js';
import { checkCsw, encodeCsw, hostResidue, CSW_LENGTH, CSW_SIGNATURE } from '../../src/bot/csw.js';

describe('CBW', () => {
  it('encodes INQUIRY (36 bytes in, LUN 0) to the golden bytes', () => {
    const enc = new CbwEncoder();
    const buf = enc.encode({ tag: 0x12345678, dataTransferLength: 36, direction: 'in', lun: 0,
      cdb: Uint8Array.of(0x12, 0, 0, 0, 36, 0), cdbLength: 6 });
    expect(buf.length).toBe(CBW_LENGTH);
    expect(buf.toString('hex')).toBe(
      '55534243' + '78563412' + '24000000' + '80' + '00' + '06' + '120000002400' + '00'.repeat(10));
  });

  it('encodes a WRITE(10) on LUN 3 with direction bit 0 and a 10-byte CDB', () => {
    const buf = new CbwEncoder().encode({ tag: 1, dataTransferLength: 4096, direction: 'out', lun: 3,
      cdb: Uint8Array.of(0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0), cdbLength: 10 });
    expect(buf.toString('hex')).toBe('55534243' + '01000000' + '00100000' + '00' + '03' + '0a'
      + '2a000000000800000800' + '00'.repeat(6));
  });

  it('zero-pads CBWCB so bytes of an earlier, longer CDB never leak', () => {
    const enc = new CbwEncoder();
    enc.encode({ tag: 1, dataTransferLength: 0, direction: 'none', lun: 0, cdb: new Uint8Array(16).fill(0xaa),
      cdbLength: 16 });
    const buf = enc.encode({ tag: 2, dataTransferLength: 0, direction: 'none', lun: 0, cdb: new Uint8Array(6),
      cdbLength: 6 });
    expect([...buf.subarray(15)].every((b) => b === 0)).toBe(true);
    expect(buf[12]).toBe(0); // no data phase: flags 0
  });

  it('reuses one buffer (no allocation per command)', () => {
    const enc = new CbwEncoder();
    const f = { tag: 1, dataTransferLength: 0, direction: 'none' as const, lun: 0, cdb: new Uint8Array(6), cdbLength: 6 };
    expect(enc.encode(f)).toBe(enc.encode({ ...f, tag: 2 }));
  });

  it('rejects LUN > 15, CDB length 0 or > 16, and a CDB shorter than cdbLength', () => {
    const enc = new CbwEncoder();
    const ok = { tag: 1, dataTransferLength: 0, direction: 'none' as const, lun: 0, cdb: new Uint8Array(16), cdbLength: 6 };
    expect(() => enc.encode({ ...ok, lun: 16 })).toThrow(RangeError);
    expect(() => enc.encode({ ...ok, cdbLength: 0 })).toThrow(RangeError);
    expect(() => enc.encode({ ...ok, cdbLength: 17 })).toThrow(RangeError);
    expect(() => enc.encode({ ...ok, cdb: new Uint8Array(4) })).toThrow(RangeError);
    expect(() => enc.encode({ ...ok, tag: 2 ** 32 })).toThrow(RangeError);
  });

  it('round-trips any valid CBW (property)', () => {
    const enc = new CbwEncoder();
    fc.assert(fc.property(
      fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.constantFrom('in', 'out'), fc.nat({ max: 15 }),
      fc.uint8Array({ minLength: 1, maxLength: 16 }),
      (tag, len, dir, lun, cdb) => {
        const direction = len === 0 ? 'none' : dir;
        const buf = enc.encode({ tag, dataTransferLength: len, direction, lun, cdb, cdbLength: cdb.length });
        const back = decodeCbw(buf);
        expect(back.signature).toBe(0x43425355);
        expect(back).toMatchObject({ tag, dataTransferLength: len, direction, lun, cdbLength: cdb.length });
        expect([...back.cdb]).toEqual([...cdb]);
      }));
  });
});

describe('TagCounter', () => {
  it('is monotonic and wraps at 2^32 without repeating the previous tag', () => {
    const t = new TagCounter(0xfffffffe);
    expect(t.next()).toBe(0xffffffff);
    expect(t.next()).toBe(0);
    expect(t.next()).toBe(1);
  });

  it('never hands out the same tag twice in a row (property)', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (start) => {
      const t = new TagCounter(start);
      const a = t.next();
      const b = t.next();
      expect(a).not.toBe(b);
      expect(b).toBe((a + 1) >>> 0);
    }));
  });
});

function csw(tag: number, residue: number, status: number, signature = CSW_SIGNATURE): Buffer {
  const b = Buffer.alloc(64);
  encodeCsw({ signature, tag, dataResidue: residue, status }, b);
  return b;
}

describe('CSW', () => {
  it('decodes golden bytes', () => {
    const bytes = Buffer.from('55534253' + '78563412' + '00020000' + '01', 'hex');
    const v = checkCsw(bytes, 13, 0x12345678, 4096, false);
    expect(v).toEqual({ ok: true, csw: { signature: CSW_SIGNATURE, tag: 0x12345678, dataResidue: 512, status: 1 } });
  });

  it('is invalid when the length is not 13', () => {
    expect(checkCsw(csw(1, 0, 0), 12, 1, 0, false)).toMatchObject({ ok: false, reason: 'length' });
    expect(checkCsw(csw(1, 0, 0), 31, 1, 0, false)).toMatchObject({ ok: false, reason: 'length' });
  });

  it('is invalid with a wrong signature or tag', () => {
    expect(checkCsw(csw(1, 0, 0, 0x43425355), 13, 1, 0, false)).toMatchObject({ ok: false, reason: 'signature' });
    expect(checkCsw(csw(2, 0, 0), 13, 1, 0, false)).toMatchObject({ ok: false, reason: 'tag' });
  });

  it('is not meaningful with status > 2 or residue > expected (unless IGNORE_RESIDUE)', () => {
    expect(checkCsw(csw(1, 0, 3), 13, 1, 0, false)).toMatchObject({ ok: false, reason: 'status' });
    expect(checkCsw(csw(1, 513, 0), 13, 1, 512, false)).toMatchObject({ ok: false, reason: 'residue' });
    expect(checkCsw(csw(1, 513, 0), 13, 1, 512, true)).toMatchObject({ ok: true });
  });

  it('accepts phase error whatever its residue', () => {
    expect(checkCsw(csw(1, 9999, 2), 13, 1, 0, false)).toMatchObject({ ok: true, csw: { status: 2 } });
  });

  it('round-trips any CSW and validates exactly when tag and signature match (property)', () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 2 }),
      fc.nat({ max: 0xffffffff }), (tag, residue, status, expected) => {
        const v = checkCsw(csw(tag, residue, status), CSW_LENGTH, tag, expected, false);
        const meaningful = status === 2 || residue <= expected;
        expect(v.ok).toBe(meaningful);
        if (v.ok) expect(v.csw).toEqual({ signature: CSW_SIGNATURE, tag, dataResidue: residue, status });
        expect(checkCsw(csw(tag, residue, status), CSW_LENGTH, (tag + 1) >>> 0, expected, false).ok).toBe(false);
      }));
  });
});

describe('hostResidue', () => {
  it('never lets a lying device residue hide missing data', () => {
    // host moved 100 of 512; device claims it all went through
    expect(hostResidue(512, 100, 0, false)).toBe(412);
  });
  it('keeps a larger consistent device residue (padding / OUT data not processed)', () => {
    expect(hostResidue(512, 512, 512, false)).toBe(512);
  });
  it('uses only the host count with IGNORE_RESIDUE', () => {
    expect(hostResidue(512, 512, 300, true)).toBe(0);
  });
  it('is always >= expected - transferred and <= expected (property)', () => {
    fc.assert(fc.property(fc.nat({ max: 1 << 20 }), fc.nat({ max: 1 << 20 }), fc.nat({ max: 0xffffffff }),
      fc.boolean(), (expected, moved, dev, ignore) => {
        const transferred = Math.min(moved, expected);
        const r = hostResidue(expected, transferred, dev, ignore);
        expect(r).toBeGreaterThanOrEqual(expected - transferred);
        expect(r).toBeLessThanOrEqual(expected);
      }));
  });
});

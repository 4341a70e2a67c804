import { describe, it, expect } from 'vitest';
import {
  QUIRK_TABLE, QuirkParseError, parseQuirkOverrides, resolveQuirks, MAX_SECTORS_64_BYTES,
} from '../../src/bot/quirks.js';

describe('parseQuirkOverrides', () => {
  it('reads Linux usb-storage.quirks letters', () => {
    expect(parseQuirkOverrides('0bda:0129:rm,1234:abcd:s')).toEqual([
      { vendorId: 0x0bda, productId: 0x0129, quirks: ['IGNORE_RESIDUE', 'MAX_SECTORS_64'] },
      { vendorId: 0x1234, productId: 0xabcd, quirks: ['SINGLE_LUN'] },
    ]);
  });

  it('accepts Linux letters usbms has no use for, and ignores them', () => {
    expect(parseQuirkOverrides('1:2:ij')).toEqual([{ vendorId: 1, productId: 2, quirks: [] }]);
  });

  it('letter u is IGNORE_UAS, as Linux US_FL_IGNORE_UAS', () => {
    expect(parseQuirkOverrides('174c:55aa:u')).toEqual([{ vendorId: 0x174c, productId: 0x55aa, quirks: ['IGNORE_UAS'] }]);
    expect(resolveQuirks({ vendorId: 0x174c, productId: 0x55aa }, parseQuirkOverrides('174c:55aa:u')).ignoreUas).toBe(true);
  });

  it('reads names joined by + or |, with values', () => {
    expect(parseQuirkOverrides('46f4:0001:NO_CSW_PIPELINING+MAX_TRANSFER_BYTES=65536|RESET_DELAY=20')).toEqual([
      { vendorId: 0x46f4, productId: 1, quirks: ['NO_CSW_PIPELINING', 'MAX_TRANSFER_BYTES=65536', 'RESET_DELAY=20'] },
    ]);
  });

  it('an empty flag field clears the quirks (as in Linux)', () => {
    expect(parseQuirkOverrides('46f4:0001:')).toEqual([{ vendorId: 0x46f4, productId: 1, quirks: [] }]);
  });

  it('rejects malformed input with a typed error', () => {
    for (const bad of ['46f4', '46f4:0001', 'xyz1:0001:r', '46f4:12345:r', '46f4:0001:q', '46f4:0001:BOGUS',
      '46f4:0001:MAX_TRANSFER_BYTES', '46f4:0001:SINGLE_LUN=3']) {
      expect(() => parseQuirkOverrides(bad), bad).toThrow(QuirkParseError);
    }
    try {
      parseQuirkOverrides('1:2:BOGUS');
    } catch (e) {
      expect((e as QuirkParseError).code).toBe('ARG_INVALID');
      expect((e as Error).message).toMatch(/unknown quirk "BOGUS"/);
    }
  });
});

describe('resolveQuirks', () => {
  it('a device not in the table has no quirks', () => {
    const q = resolveQuirks({ vendorId: 0xdead, productId: 0xbeef });
    expect(q.source).toBe('none');
    expect(q.flags).toEqual([]);
    expect(q.maxTransferBytes).toBeUndefined();
  });

  it('QEMU usb-storage gets NO_CSW_PIPELINING', () => {
    const q = resolveQuirks({ vendorId: 0x46f4, productId: 0x0001 });
    expect(q.noCswPipelining).toBe(true);
    expect(q.source).toBe('table');
  });

  it('honours bcdDevice ranges, and an unknown bcdDevice matches only unranged entries', () => {
    expect(resolveQuirks({ vendorId: 0x0421, productId: 0x0019, bcdDevice: 0x0592 }).maxTransferBytes)
      .toBe(MAX_SECTORS_64_BYTES);
    expect(resolveQuirks({ vendorId: 0x0421, productId: 0x0019, bcdDevice: 0x0600 }).source).toBe('none');
    expect(resolveQuirks({ vendorId: 0x0421, productId: 0x0019 }).source).toBe('none');
    expect(resolveQuirks({ vendorId: 0x0409, productId: 0x0040 }).singleLun).toBe(true);
  });

  it('maps each flag to its resolved field', () => {
    const q = resolveQuirks({ vendorId: 1, productId: 2 }, parseQuirkOverrides(
      '1:2:IGNORE_RESIDUE+SINGLE_LUN+NO_GET_MAX_LUN+FIX_CAPACITY+NO_READ_CAPACITY_16+GO_SLOW+NO_SYNCHRONIZE_CACHE'
      + '+NO_CSW_PIPELINING+SENSE_LUN0_ONLY+RESET_DELAY=7+MAX_TRANSFER_BYTES=65536+MAX_SECTORS_64'));
    expect(q).toMatchObject({
      ignoreResidue: true, singleLun: true, noGetMaxLun: true, fixCapacity: true, noReadCapacity16: true,
      goSlow: true, noSynchronizeCache: true, noCswPipelining: true, senseLun0Only: true, resetDelayMs: 7,
      maxTransferBytes: MAX_SECTORS_64_BYTES, source: 'override',
    });
  });

  it('a user override replaces the table entry', () => {
    const q = resolveQuirks({ vendorId: 0x46f4, productId: 0x0001 }, parseQuirkOverrides('46f4:0001:r'));
    expect(q.noCswPipelining).toBe(false);
    expect(q.ignoreResidue).toBe(true);
  });

  it('every table entry parses and says why', () => {
    for (const e of QUIRK_TABLE) {
      expect(e.why.length).toBeGreaterThan(10);
      expect(() => resolveQuirks({ vendorId: e.vendorId, productId: e.productId, bcdDevice: e.bcd?.[0] }, [], [e]))
        .not.toThrow();
    }
  });
});

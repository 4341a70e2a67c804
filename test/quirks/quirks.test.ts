import { describe, it, expect } from 'vitest';
import {
  NO_QUIRKS, QUIRK_DECLARATIONS, QUIRK_FLAGS, QUIRK_TABLE, QuirkParseError, parseQuirkOverrides, quirkParts,
  resolveQuirks, MAX_SECTORS_64_BYTES,
} from '../../src/quirks/index.js';
import { createPersonality, PERSONALITY_IDS, PERSONALITY_QUIRKS } from '../../src/mock/index.js';
import type { PersonalityName } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';

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

  it('every table entry resolves, for its own device, to exactly the flags it lists, and says why', () => {
    for (const e of QUIRK_TABLE) {
      expect(e.why.length, `${e.vendorId.toString(16)}:${e.productId.toString(16)}`).toBeGreaterThan(10);
      const q = resolveQuirks({ vendorId: e.vendorId, productId: e.productId, bcdDevice: e.bcd?.[0],
        speed: e.speeds?.[0] }, [], [e]);
      expect(q.source).toBe('table');
      expect([...q.flags].sort()).toEqual(e.quirks.map((f) => f.split('=')[0]).sort());
      // Outside its bcdDevice range (when it has one) the entry does not apply.
      if (e.bcd !== undefined && e.bcd[1] < 0xffff) {
        expect(resolveQuirks({ vendorId: e.vendorId, productId: e.productId, bcdDevice: e.bcd[1] + 1 }, [], [e]).source)
          .toBe('none');
      }
    }
  });

  it('the production table has no entry for the software disk (VID 0xF055): its personalities bring their own', () => {
    expect(QUIRK_TABLE.filter((e) => e.vendorId === 0xf055)).toEqual([]);
    expect(resolveQuirks({ vendorId: 0xf055, productId: 0x5b01 }).source).toBe('none');
  });
});

describe('quirk declarations and quirkParts', () => {
  it('every flag is declared once with the layer that acts on it and a reason', () => {
    expect(QUIRK_FLAGS).toEqual(Object.keys(QUIRK_DECLARATIONS));
    for (const flag of QUIRK_FLAGS) {
      const d = QUIRK_DECLARATIONS[flag];
      expect(['transport', 'hba', 'disk']).toContain(d.layer);
      expect(d.why.length, flag).toBeGreaterThan(10);
    }
  });

  it('hands each layer its flags and nothing else', () => {
    const q = resolveQuirks({ vendorId: 1, productId: 2 }, parseQuirkOverrides(
      '1:2:FIX_CAPACITY+SENSE_LUN0_ONLY+IGNORE_RESIDUE+NO_SYNCHRONIZE_CACHE+MAX_TRANSFER_BYTES=65536'));
    const parts = quirkParts(q);
    expect(parts.hba).toEqual({ senseLun0Only: true });
    expect(parts.disk).toEqual({ fixCapacity: true, noReadCapacity16: false, noSynchronizeCache: true });
    expect(parts.transport).toMatchObject({ ignoreResidue: true, maxTransferBytes: 65536, goSlow: false });
    expect(Object.keys(parts.transport)).not.toContain('fixCapacity');
    expect(Object.keys(parts.transport)).not.toContain('senseLun0Only');
  });

  it('valued flags: the tightest cap wins, RESET_DELAY alone is 100 ms, QUEUED_CSW_OUT_MAX needs a value', () => {
    const q = resolveQuirks({ vendorId: 1, productId: 2 }, parseQuirkOverrides('1:2:MAX_TRANSFER_BYTES=16384+MAX_SECTORS_64+RESET_DELAY'));
    expect(q).toMatchObject({ maxTransferBytes: 16384, resetDelayMs: 100, queuedCswOutMax: 0 });
    expect(() => parseQuirkOverrides('1:2:QUEUED_CSW_OUT_MAX')).toThrow(QuirkParseError);
    expect(NO_QUIRKS).toMatchObject({ maxTransferBytes: undefined, resetDelayMs: 0, ignoreResidue: false });
  });
});

describe('the software disk\'s personalities bring their quirks as overrides', () => {
  it('fix-capacity opened through openUsbms: FIX_CAPACITY from its own override, handed to the disk driver', async () => {
    const dev = createPersonality('fix-capacity');
    expect(dev.hostQuirks).toBe('f055:5b02:FIX_CAPACITY');
    const session = await openUsbms({ mock: dev });
    try {
      expect(session.quirks).toMatchObject({ source: 'override', fixCapacity: true });
      const disk = await session.openDisk(0);
      expect(disk.blocks).toBe(BigInt(dev.luns[0]!.blocks)); // the device reports one block too many
    } finally {
      await session.close();
    }
  });

  it('a user override for the same device wins over the one it brings', async () => {
    const dev = createPersonality('fix-capacity');
    const session = await openUsbms({ mock: dev, quirks: 'NO_SYNCHRONIZE_CACHE' });
    try {
      expect(session.quirks).toMatchObject({ fixCapacity: false, noSynchronizeCache: true });
      expect((await session.openDisk(0)).blocks).toBe(BigInt(dev.luns[0]!.blocks) + 1n);
    } finally {
      await session.close();
    }
  });

  it('every personality that needs a quirk names only declared flags, for its own VID:PID', () => {
    for (const [name, flags] of Object.entries(PERSONALITY_QUIRKS)) {
      const dev = createPersonality(name as PersonalityName);
      const [o] = parseQuirkOverrides(dev.hostQuirks ?? '');
      expect(o).toEqual({ ...PERSONALITY_IDS[name as PersonalityName], quirks: [flags] });
    }
    expect(createPersonality('good').hostQuirks).toBeUndefined();
  });
});

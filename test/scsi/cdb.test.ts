import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { commandByOpcode, commands, describeCdb, ScsiParamError, type AnyCommandSpec } from '../../src/scsi/index.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('CDB golden bytes (SBC-4 / SPC-5 layouts)', () => {
  const cases: [string, Buffer, string][] = [
    ['TEST UNIT READY', commands.testUnitReady.encodeCdb({}), '000000000000'],
    ['INQUIRY std 36', commands.inquiry.encodeCdb({ allocationLength: 36 }), '120000002400'],
    ['INQUIRY VPD 0x80', commands.inquiry.encodeCdb({ evpd: true, pageCode: 0x80, allocationLength: 252 }), '12018000fc00'],
    ['REQUEST SENSE desc', commands.requestSense.encodeCdb({ desc: true, allocationLength: 252 }), '03010000fc00'],
    ['READ CAPACITY(10)', commands.readCapacity10.encodeCdb({}), '25000000000000000000'],
    ['READ CAPACITY(16)', commands.readCapacity16.encodeCdb({ allocationLength: 32 }), '9e100000000000000000000000200000'],
    ['READ(6) max', commands.read6.encodeCdb({ lba: 0x1fffffn, blocks: 256 }), '081fffff0000'],
    ['READ(6) small', commands.read6.encodeCdb({ lba: 0x12345n, blocks: 8, control: 0x04 }), '080123450804'],
    ['WRITE(6)', commands.write6.encodeCdb({ lba: 7n, blocks: 1 }), '0a0000070100'],
    ['READ(10) fua', commands.read10.encodeCdb({ lba: 0x12345678n, blocks: 8, fua: true }), '28081234567800000800'],
    ['READ(10) rdprotect dpo group', commands.read10.encodeCdb({ lba: 1n, blocks: 0xffff, rdprotect: 7, dpo: true,
      groupNumber: 0x3f }), '28f000000001' + '3fffff00'],
    ['WRITE(10)', commands.write10.encodeCdb({ lba: 2048n, blocks: 240, wrprotect: 1 }), '2a200000080000' + '00f000'],
    ['READ(12)', commands.read12.encodeCdb({ lba: 0xfffffffen, blocks: 0x10000 }), 'a800fffffffe000100000000'],
    ['WRITE(12) group', commands.write12.encodeCdb({ lba: 1n, blocks: 2, groupNumber: 5 }), 'aa0000000001000000020500'],
    ['READ(16) dpo', commands.read16.encodeCdb({ lba: 0x0123456789abcdefn, blocks: 0x10000, dpo: true }),
      '88100123456789abcdef000100000000'],
    ['WRITE(16) fua max lba', commands.write16.encodeCdb({ lba: 0xffffffffffffffffn, blocks: 1, fua: true }),
      '8a08ffffffffffffffff000000010000'],
    ['VERIFY(10) bytchk', commands.verify10.encodeCdb({ lba: 0x100n, blocks: 4, bytchk: 1 }), '2f020000010000000400'],
    ['VERIFY(16) vrprotect dpo', commands.verify16.encodeCdb({ lba: 5n, blocks: 9, vrprotect: 1, dpo: true }),
      '8f300000000000000005000000090000'],
    ['MODE SENSE(6) all pages dbd', commands.modeSense6.encodeCdb({ dbd: true, pageCode: 0x3f, allocationLength: 255 }),
      '1a083f00ff00'],
    ['MODE SENSE(6) default caching', commands.modeSense6.encodeCdb({ pc: 2, pageCode: 8, allocationLength: 192 }),
      '1a008800c000'],
    ['MODE SENSE(10)', commands.modeSense10.encodeCdb({ llbaa: true, dbd: true, pc: 1, pageCode: 8, subpageCode: 0,
      allocationLength: 0x1000 }), '5a184800000000100000'],
    ['START STOP eject immed', commands.startStopUnit.encodeCdb({ immed: true, loej: true }), '1b0100000200'],
    ['START STOP standby', commands.startStopUnit.encodeCdb({ powerCondition: 3, powerConditionModifier: 1 }), '1b0000013000'],
    ['START STOP start', commands.startStopUnit.encodeCdb({ start: true, noFlush: true }), '1b0000000500'],
    ['PREVENT', commands.preventAllowMediumRemoval.encodeCdb({ prevent: 1 }), '1e0000000100'],
    ['SYNC CACHE(10) immed', commands.synchronizeCache10.encodeCdb({ immed: true }), '35020000000000000000'],
    ['SYNC CACHE(10) range', commands.synchronizeCache10.encodeCdb({ lba: 0x10n, blocks: 0x20 }), '35000000001000' + '002000'],
    ['SYNC CACHE(16)', commands.synchronizeCache16.encodeCdb({ lba: 1n << 40n, blocks: 3 }),
      '91000000010000000000000000030000'],
    ['REPORT LUNS', commands.reportLuns.encodeCdb({ allocationLength: 0x1000 }), 'a0000000000000001000' + '0000'],
    ['READ FORMAT CAPACITIES', commands.readFormatCapacities.encodeCdb({ allocationLength: 0xfc }), '2300000000000000fc00'],
  ];
  it.each(cases)('%s', (_name, cdb, expected) => {
    expect(hex(cdb)).toBe(expected);
  });

  it('writes into a caller buffer without allocating and returns it', () => {
    const slot = Buffer.alloc(16, 0xee);
    const out = commands.read10.encodeCdb({ lba: 1n, blocks: 1 }, slot);
    expect(out).toBe(slot);
    expect(hex(slot.subarray(0, 10))).toBe('28000000000100000100');
    expect(slot[10]).toBe(0xee); // bytes past the CDB are left alone
  });

  it('rejects a too-small caller buffer', () => {
    expect(() => commands.read16.encodeCdb({ lba: 0n, blocks: 1 }, Buffer.alloc(10))).toThrow(ScsiParamError);
  });
});

describe('parameter validation', () => {
  const rangeError = (f: () => unknown, field: string): void => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ScsiParamError);
      expect(e).toBeInstanceOf(RangeError);
      expect((e as ScsiParamError).field).toBe(field);
      return;
    }
    throw new Error('expected ScsiParamError');
  };
  it('never truncates an LBA or length', () => {
    rangeError(() => commands.read10.encodeCdb({ lba: 1n << 32n, blocks: 1 }), 'lba');
    rangeError(() => commands.read6.encodeCdb({ lba: 1n << 21n, blocks: 1 }), 'lba');
    rangeError(() => commands.read6.encodeCdb({ lba: 0n, blocks: 257 }), 'blocks');
    rangeError(() => commands.read6.encodeCdb({ lba: 0n, blocks: 0 }), 'blocks');
    rangeError(() => commands.write10.encodeCdb({ lba: 0n, blocks: 0x10000 }), 'blocks');
    rangeError(() => commands.read12.encodeCdb({ lba: 0n, blocks: 2 ** 32 }), 'blocks');
    rangeError(() => commands.read16.encodeCdb({ lba: 1n << 64n, blocks: 1 }), 'lba');
    rangeError(() => commands.read16.encodeCdb({ lba: -1n, blocks: 1 }), 'lba');
    rangeError(() => commands.read10.encodeCdb({ lba: 0n, blocks: 1.5 }), 'blocks');
    rangeError(() => commands.read10.encodeCdb({ lba: 0n, blocks: 1, rdprotect: 8 }), 'rdprotect');
    rangeError(() => commands.inquiry.encodeCdb({ allocationLength: 0x10000 }), 'allocationLength');
    rangeError(() => commands.modeSense6.encodeCdb({ pageCode: 0x40, allocationLength: 4 }), 'pageCode');
    rangeError(() => commands.testUnitReady.encodeCdb({ control: 256 }), 'control');
  });
  it('rejects combinations the standards forbid', () => {
    expect(() => commands.inquiry.encodeCdb({ pageCode: 0x80, allocationLength: 4 })).toThrow(/EVPD/);
    expect(() => commands.verify10.encodeCdb({ lba: 0n, blocks: 1, bytchk: 2 })).toThrow(ScsiParamError);
  });
  it('decodeCdb rejects short buffers and foreign opcodes', () => {
    expect(() => commands.read10.decodeCdb(Buffer.alloc(9))).toThrow(expect.objectContaining({ code: 'ARG_INVALID', reason: 'SCSI_CDB_LENGTH' }));
    expect(() => commands.read10.decodeCdb(Buffer.alloc(10))).toThrow(expect.objectContaining({ code: 'ARG_INVALID', reason: 'SCSI_CDB_OPCODE' }));
    const wrongSa = Buffer.from('9e110000000000000000000000200000', 'hex');
    expect(() => commands.readCapacity16.decodeCdb(wrongSa)).toThrow(ScsiParamError);
  });
});

describe('dataLength', () => {
  it('reports the data phase size per command', () => {
    expect(commands.read10.dataLength({ lba: 0n, blocks: 8 }, 4096)).toBe(32768);
    expect(commands.read6.dataLength({ lba: 0n, blocks: 256 }, 512)).toBe(131072);
    expect(commands.inquiry.dataLength({ allocationLength: 36 })).toBe(36);
    expect(commands.readCapacity10.dataLength({})).toBe(8);
    expect(commands.testUnitReady.dataLength({})).toBe(0);
    expect(commands.verify16.dataLength({ lba: 0n, blocks: 8 }, 512)).toBe(0);
    expect(commands.verify16.dataLength({ lba: 0n, blocks: 8, bytchk: 1 }, 512)).toBe(4096);
    expect(commands.verify16.dataLength({ lba: 0n, blocks: 8, bytchk: 3 }, 512)).toBe(512);
  });
});

// Full-range arbitraries per command: decodeCdb(encodeCdb(p)) must give p back exactly.
const u = (bits: number): fc.Arbitrary<number> => fc.integer({ min: 0, max: 2 ** bits - 1 });
const big = (bits: number): fc.Arbitrary<bigint> => fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n });
const control = u(8);
const rwFull = (lbaBits: number, lenBits: number, protect: string) => fc.record({
  lba: big(lbaBits), blocks: u(lenBits), [protect]: u(3), dpo: fc.boolean(), fua: fc.boolean(), groupNumber: u(6), control,
});
const verifyFull = (lbaBits: number, lenBits: number) => fc.record({
  lba: big(lbaBits), blocks: u(lenBits), vrprotect: u(3), dpo: fc.boolean(), bytchk: fc.constantFrom(0, 1, 3),
  groupNumber: u(6), control,
});
const pageArb = { dbd: fc.boolean(), pc: u(2), pageCode: u(6), subpageCode: u(8), control };
const arbitraries: Record<keyof typeof commands, fc.Arbitrary<object>> = {
  testUnitReady: fc.record({ control }),
  inquiry: fc.oneof(fc.record({ evpd: fc.constant(false), pageCode: fc.constant(0), allocationLength: u(16), control }),
    fc.record({ evpd: fc.constant(true), pageCode: u(8), allocationLength: u(16), control })),
  requestSense: fc.record({ desc: fc.boolean(), allocationLength: u(8), control }),
  readCapacity10: fc.record({ control }),
  readCapacity16: fc.record({ allocationLength: u(32), control }),
  read6: fc.record({ lba: big(21), blocks: fc.integer({ min: 1, max: 256 }), control }),
  write6: fc.record({ lba: big(21), blocks: fc.integer({ min: 1, max: 256 }), control }),
  read10: rwFull(32, 16, 'rdprotect'), read12: rwFull(32, 32, 'rdprotect'), read16: rwFull(64, 32, 'rdprotect'),
  write10: rwFull(32, 16, 'wrprotect'), write12: rwFull(32, 32, 'wrprotect'), write16: rwFull(64, 32, 'wrprotect'),
  verify10: verifyFull(32, 16), verify16: verifyFull(64, 32),
  modeSense6: fc.record({ ...pageArb, allocationLength: u(8) }),
  modeSense10: fc.record({ ...pageArb, llbaa: fc.boolean(), allocationLength: u(16) }),
  startStopUnit: fc.record({ immed: fc.boolean(), powerConditionModifier: u(4), powerCondition: u(4),
    noFlush: fc.boolean(), loej: fc.boolean(), start: fc.boolean(), control }),
  preventAllowMediumRemoval: fc.record({ prevent: u(2), control }),
  synchronizeCache10: fc.record({ immed: fc.boolean(), lba: big(32), blocks: u(16), groupNumber: u(6), control }),
  synchronizeCache16: fc.record({ immed: fc.boolean(), lba: big(64), blocks: u(32), groupNumber: u(6), control }),
  reportLuns: fc.record({ selectReport: u(8), allocationLength: u(32), control }),
  readFormatCapacities: fc.record({ allocationLength: u(16), control }),
  unmap: fc.record({ anchor: fc.boolean(), groupNumber: u(5), parameterListLength: u(16), control }),
  writeSame16: fc.record({ lba: big(64), blocks: u(32), wrprotect: u(3), anchor: fc.boolean(), unmap: fc.boolean(),
    ndob: fc.boolean(), groupNumber: u(6), control }),
};

describe('round trips over the full valid ranges', () => {
  it.each(Object.keys(commands) as (keyof typeof commands)[])('%s', (name) => {
    const spec = commands[name] as unknown as AnyCommandSpec;
    fc.assert(fc.property(arbitraries[name], (p) => {
      const cdb = spec.encodeCdb(p);
      expect(cdb.length).toBe(spec.cdbLength);
      expect(cdb[0]).toBe(spec.opcode);
      expect(spec.decodeCdb(cdb)).toEqual(p);
      expect(commandByOpcode(cdb)).toBe(spec);
    }), { numRuns: 200 });
  });
});

describe('commandByOpcode / describeCdb', () => {
  it('describes CDBs the way a log line wants them', () => {
    expect(describeCdb(commands.read10.encodeCdb({ lba: 2048n, blocks: 8 }))).toBe('READ(10) lba=2048 blocks=8');
    expect(describeCdb(commands.write16.encodeCdb({ lba: 0n, blocks: 1, fua: true }))).toBe('WRITE(16) fua lba=0 blocks=1');
    expect(describeCdb(commands.testUnitReady.encodeCdb({}))).toBe('TEST UNIT READY');
    expect(describeCdb(Buffer.from('4d0000', 'hex'))).toBe('opcode 0x4d (unknown) cdb=4d0000');
    expect(describeCdb(Buffer.from('2800', 'hex'))).toMatch(/^READ\(10\) \(malformed/);
  });
  it('tells READ CAPACITY(16) apart from other SERVICE ACTION IN(16) actions', () => {
    expect(commandByOpcode(Buffer.from('9e10', 'hex'))).toBe(commands.readCapacity16);
    expect(commandByOpcode(Buffer.from('9e12', 'hex'))).toBeUndefined();
    expect(commandByOpcode(new Uint8Array(0))).toBeUndefined();
  });
});

/** writeBlockCdb (the disk driver's READ/WRITE CDBs) writes exactly what the field tables of SBC-4 say. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { commands, ScsiParamError, writeBlockCdb } from '../../src/scsi/index.js';

describe('writeBlockCdb', () => {
  const specs = { read10: ['read', 10], write10: ['write', 10], read16: ['read', 16], write16: ['write', 16] } as const;
  for (const [name, [op, size]] of Object.entries(specs)) {
    it(`${name}: the same bytes as the field table, over the whole LBA and length range`, () => {
      const spec = commands[name as keyof typeof specs];
      const lbaMax = size === 10 ? 0xffff_ffffn : 0xffff_ffff_ffff_ffffn;
      fc.assert(fc.property(fc.bigInt({ min: 0n, max: lbaMax }), fc.integer({ min: 0, max: size === 10 ? 0xffff : 0xffff_ffff }),
        (lba, blocks) => {
          const fast = Buffer.alloc(size, 0xee); // stale bytes from a previous command must be cleared
          writeBlockCdb(fast, op, size, lba, blocks);
          expect(fast.toString('hex')).toBe(spec.encodeCdb({ lba, blocks }).toString('hex'));
        }));
      fc.assert(fc.property(fc.bigInt({ min: 0n, max: lbaMax }), fc.integer({ min: 0, max: 0xffff }), (lba, blocks) => {
        const fast = Buffer.alloc(size, 0xee);
        writeBlockCdb(fast, op, size, lba, blocks, true);
        expect(fast.toString('hex')).toBe(spec.encodeCdb({ lba, blocks, fua: true }).toString('hex'));
      }), { numRuns: 50 });
      const edge = Buffer.alloc(size);
      writeBlockCdb(edge, op, size, lbaMax, 1);
      expect(spec.decodeCdb(edge)).toMatchObject({ lba: lbaMax, blocks: 1 });
    });
  }

  it('refuses what the CDB cannot carry, typed, like the field table', () => {
    const b = Buffer.alloc(16);
    expect(() => { writeBlockCdb(b, 'read', 10, 0x1_0000_0000n, 1); }).toThrow(ScsiParamError);
    expect(() => { writeBlockCdb(b, 'read', 10, 0n, 0x1_0000); }).toThrow(ScsiParamError);
    expect(() => { writeBlockCdb(b, 'write', 16, -1n, 1); }).toThrow(ScsiParamError);
    expect(() => { writeBlockCdb(b, 'write', 16, 0n, 1.5); }).toThrow(ScsiParamError);
    expect(() => { writeBlockCdb(Buffer.alloc(10), 'read', 16, 0n, 1); }).toThrow(ScsiParamError);
  });
});

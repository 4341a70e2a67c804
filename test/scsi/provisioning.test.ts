/** UNMAP and WRITE SAME(16) as SBC-4 lays them out (5.31, 5.50), and the UNMAP parameter list both ways. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  commands, decodeUnmapList, encodeUnmapList, ScsiDataError, ScsiParamError, describeCdb,
} from '../../src/scsi/index.js';

describe('UNMAP and WRITE SAME(16) CDBs', () => {
  it('golden bytes', () => {
    expect(commands.unmap.encodeCdb({ parameterListLength: 24 }).toString('hex')).toBe('42000000000000001800');
    expect(commands.writeSame16.encodeCdb({ lba: 0x0102030405060708n, blocks: 0x10000, unmap: true }).toString('hex'))
      .toBe('930801020304050607080001000000' + '00');
    expect(commands.writeSame16.dataLength({ lba: 0n, blocks: 8 }, 4096)).toBe(4096);
    expect(commands.writeSame16.dataLength({ lba: 0n, blocks: 8, ndob: true }, 4096)).toBe(0);
    expect(describeCdb(commands.writeSame16.encodeCdb({ lba: 8n, blocks: 2, unmap: true }))).toBe('WRITE SAME(16) unmap lba=8 blocks=2');
  });
});

describe('the UNMAP parameter list', () => {
  it('golden bytes: header lengths n-2 and n-8, then LBA, count, reserved', () => {
    const b = Buffer.alloc(64, 0xee);
    const n = encodeUnmapList([{ lba: 0x10n, blocks: 8 }], b);
    expect(n).toBe(24);
    expect(b.subarray(0, n).toString('hex')).toBe('0016001000000000' + '0000000000000010' + '0000000800000000');
  });

  it('round trips any list of descriptors', () => {
    fc.assert(fc.property(fc.array(fc.record({ lba: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      blocks: fc.integer({ min: 0, max: 0xffff_ffff }) }), { maxLength: 20 }), (list) => {
      const b = Buffer.alloc(8 + 16 * list.length);
      expect(decodeUnmapList(b, encodeUnmapList(list, b))).toEqual(list);
    }));
  });

  it('refuses what cannot be an UNMAP list', () => {
    expect(() => encodeUnmapList([{ lba: 0n, blocks: 1 }], Buffer.alloc(16))).toThrow(ScsiParamError);
    expect(() => encodeUnmapList([{ lba: -1n, blocks: 1 }], Buffer.alloc(24))).toThrow(ScsiParamError);
    expect(() => encodeUnmapList([{ lba: 0n, blocks: 2 ** 32 }], Buffer.alloc(24))).toThrow(ScsiParamError);
    expect(() => decodeUnmapList(Buffer.from('0016', 'hex'))).toThrow(ScsiDataError);
    // a descriptor length that is not a multiple of 16, or longer than what arrived
    expect(() => decodeUnmapList(Buffer.from('0016000f' + '00'.repeat(20), 'hex'))).toThrow(ScsiDataError);
    expect(() => decodeUnmapList(Buffer.from('00260020' + '00'.repeat(20), 'hex'))).toThrow(ScsiDataError);
    expect(decodeUnmapList(Buffer.alloc(0))).toEqual([]);
  });
});

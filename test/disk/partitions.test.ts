import { describe, it, expect } from 'vitest';
import { crc32 } from 'node:zlib';
import { readPartitionTable, formatGuid } from '../../src/disk/index.js';

const BS = 512;

function reader(img: Buffer) {
  return (lba: bigint, n: number): Promise<Buffer> =>
    Promise.resolve(img.subarray(Number(lba) * BS, (Number(lba) + n) * BS));
}

function guidBytes(text: string): Buffer {
  const h = text.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  b.subarray(0, 4).reverse(); b.subarray(4, 6).reverse(); b.subarray(6, 8).reverse();
  return b;
}

function gptImage(blocks: number): Buffer {
  const img = Buffer.alloc(blocks * BS);
  img[446 + 4] = 0xee; img.writeUInt32LE(1, 446 + 8); img.writeUInt32LE(blocks - 1, 446 + 12);
  img[510] = 0x55; img[511] = 0xaa;
  const entries = img.subarray(2 * BS, 2 * BS + 128 * 128);
  guidBytes('C12A7328-F81F-11D2-BA4B-00A0C93EC93B').copy(entries, 0);
  guidBytes('11111111-2222-3333-4444-555555555555').copy(entries, 16);
  entries.writeBigUInt64LE(34n, 32); entries.writeBigUInt64LE(2081n, 40);
  entries.write('EFI system', 56, 'utf16le');
  const h = img.subarray(BS, 2 * BS);
  h.write('EFI PART', 0, 'latin1'); h.writeUInt32LE(0x10000, 8); h.writeUInt32LE(92, 12);
  h.writeBigUInt64LE(1n, 24); h.writeBigUInt64LE(BigInt(blocks - 1), 32);
  guidBytes('AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE').copy(h, 56);
  h.writeBigUInt64LE(2n, 72); h.writeUInt32LE(128, 80); h.writeUInt32LE(128, 84);
  h.writeUInt32LE(crc32(entries), 88);
  h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
  return img;
}

describe('partition tables', () => {
  it('decodes GPT behind a protective MBR, with CRCs checked', async () => {
    const img = gptImage(4096);
    const t = await readPartitionTable(reader(img), BS, 4096n);
    expect(t.scheme).toBe('gpt');
    expect(t.warnings).toEqual([]);
    expect(t.diskGuid).toBe('AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE');
    expect(t.partitions).toEqual([{ index: 1, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', typeName: 'EFI System',
      firstLba: 34n, sectors: 2048n, name: 'EFI system', guid: '11111111-2222-3333-4444-555555555555' }]);
    img[2 * BS + 60]! ^= 1;
    const damaged = await readPartitionTable(reader(img), BS, 4096n);
    expect(damaged.warnings).toContain('GPT partition entry array CRC mismatch');
  });

  it('decodes MBR entries and flags one past the end; no signature means no table', async () => {
    const img = Buffer.alloc(100 * BS);
    img[446] = 0x80; img[446 + 4] = 0x0c; img.writeUInt32LE(8, 446 + 8); img.writeUInt32LE(50, 446 + 12);
    img[462 + 4] = 0x83; img.writeUInt32LE(58, 462 + 8); img.writeUInt32LE(100, 462 + 12);
    img[510] = 0x55; img[511] = 0xaa;
    const t = await readPartitionTable(reader(img), BS, 100n);
    expect(t.scheme).toBe('mbr');
    expect(t.partitions.map((p) => [p.index, p.type, p.firstLba, p.sectors, p.bootable]))
      .toEqual([[1, '0x0c', 8n, 50n, true], [2, '0x83', 58n, 100n, false]]);
    expect(t.warnings).toHaveLength(1);
    img[511] = 0;
    expect((await readPartitionTable(reader(img), BS, 100n)).scheme).toBe('none');
  });

  it('formats mixed-endian GUIDs', () => {
    expect(formatGuid(guidBytes('0FC63DAF-8483-4772-8E79-3D69D8477DE4'))).toBe('0FC63DAF-8483-4772-8E79-3D69D8477DE4');
  });
});

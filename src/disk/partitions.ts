/**
 * Partition table decoding: MBR (four primary entries at byte 446 of LBA 0) and GPT (UEFI 2.x §5.3: header at
 * LBA 1, entry array where the header says). Read-only, used by `usbms demo` and by anyone who wants to know what
 * is on a disk before imaging it. CRCs are checked, so a damaged GPT is reported rather than trusted.
 */
import { crc32 } from 'node:zlib';

/** One partition: its first block, its size in blocks and its type. */
export interface Partition {
  /** 1-based, as fdisk numbers them. */
  readonly index: number;
  /** MBR: the type byte as "0x0c"; GPT: the type GUID. */
  readonly type: string;
  readonly typeName: string;
  readonly firstLba: bigint;
  readonly sectors: bigint;
  /** GPT partition name (UTF-16LE in the entry). */
  readonly name?: string;
  /** GPT unique partition GUID. */
  readonly guid?: string;
  /** MBR boot indicator 0x80. */
  readonly bootable?: boolean;
}

/** A disk's partition table (MBR or GPT). */
export interface PartitionTable {
  readonly scheme: 'mbr' | 'gpt' | 'none';
  readonly partitions: readonly Partition[];
  readonly diskGuid?: string;
  /** Problems found on the way (bad CRC, entries outside the disk); empty when the table is consistent. */
  readonly warnings: readonly string[];
}

/** Reads `count` blocks at `lba`; the result is `count * blockSize` bytes. */
export type BlockReader = (lba: bigint, count: number) => Promise<Buffer>;

const MBR_TYPES: Record<number, string> = {
  0x01: 'FAT12', 0x04: 'FAT16 <32M', 0x05: 'Extended', 0x06: 'FAT16', 0x07: 'HPFS/NTFS/exFAT', 0x0b: 'W95 FAT32',
  0x0c: 'W95 FAT32 (LBA)', 0x0e: 'W95 FAT16 (LBA)', 0x0f: 'W95 Extended (LBA)', 0x82: 'Linux swap',
  0x83: 'Linux', 0x8e: 'Linux LVM', 0xa5: 'FreeBSD', 0xaf: 'HFS / HFS+', 0xee: 'GPT protective',
  0xef: 'EFI (FAT-12/16/32)', 0xfd: 'Linux raid autodetect',
};

const GPT_TYPES: Record<string, string> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': 'Microsoft reserved',
  'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC': 'Windows recovery environment',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  '48465300-0000-11AA-AA11-00306543ECAC': 'Apple HFS/HFS+',
  '7C3457EF-0000-11AA-AA11-00306543ECAC': 'Apple APFS',
};

/** GUIDs are stored mixed-endian: the first three fields little-endian, the last two as bytes. */
export function formatGuid(b: Buffer, offset = 0): string {
  const hex = (start: number, end: number, reverse: boolean): string => {
    const bytes = [...b.subarray(offset + start, offset + end)];
    if (reverse) bytes.reverse();
    return bytes.map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)]
    .join('-').toUpperCase();
}

function decodeMbr(sector0: Buffer): Partition[] {
  const parts: Partition[] = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    const typeByte = sector0[e + 4] ?? 0;
    const sectors = sector0.readUInt32LE(e + 12);
    if (typeByte === 0 || sectors === 0) continue;
    parts.push({
      index: i + 1,
      type: `0x${typeByte.toString(16).padStart(2, '0')}`,
      typeName: MBR_TYPES[typeByte] ?? 'unknown',
      firstLba: BigInt(sector0.readUInt32LE(e + 8)),
      sectors: BigInt(sectors),
      bootable: sector0[e] === 0x80,
    });
  }
  return parts;
}

const GPT_SIGNATURE = 'EFI PART';
/** Entry arrays larger than this are refused: a corrupt header must not make us read gigabytes. */
const MAX_GPT_ENTRY_BYTES = 1024 * 1024;

async function decodeGpt(read: BlockReader, blockSize: number, totalBlocks: bigint, warnings: string[])
  : Promise<{ diskGuid: string; partitions: Partition[] } | undefined> {
  const header = await read(1n, 1);
  if (header.toString('latin1', 0, 8) !== GPT_SIGNATURE) return undefined;
  const headerSize = header.readUInt32LE(12);
  if (headerSize < 92 || headerSize > blockSize) {
    warnings.push(`GPT header size ${headerSize} is invalid`);
    return undefined;
  }
  const copy = Buffer.from(header.subarray(0, headerSize));
  const storedCrc = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== storedCrc) warnings.push('GPT header CRC mismatch');
  const entriesLba = header.readBigUInt64LE(72);
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  if (entrySize < 128 || count * entrySize > MAX_GPT_ENTRY_BYTES || entriesLba >= totalBlocks) {
    warnings.push(`GPT entry array (${count} x ${entrySize} at LBA ${entriesLba}) is invalid`);
    return undefined;
  }
  const blocks = Math.ceil((count * entrySize) / blockSize);
  const array = await read(entriesLba, blocks);
  if (crc32(array.subarray(0, count * entrySize)) !== header.readUInt32LE(88)) {
    warnings.push('GPT partition entry array CRC mismatch');
  }
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = i * entrySize;
    const type = formatGuid(array, e);
    if (type === '00000000-0000-0000-0000-000000000000') continue;
    const firstLba = array.readBigUInt64LE(e + 32);
    const lastLba = array.readBigUInt64LE(e + 40);
    if (lastLba < firstLba || lastLba >= totalBlocks) {
      warnings.push(`GPT entry ${i + 1} spans LBA ${firstLba}..${lastLba}, outside the disk`);
    }
    const name = array.toString('utf16le', e + 56, e + 128).replace(/\0.*$/s, '');
    partitions.push({
      index: i + 1, type, typeName: GPT_TYPES[type] ?? 'unknown', firstLba,
      sectors: lastLba >= firstLba ? lastLba - firstLba + 1n : 0n, name, guid: formatGuid(array, e + 16),
    });
  }
  return { diskGuid: formatGuid(header, 56), partitions };
}

/** Decode the partition table of a disk of `totalBlocks` blocks of `blockSize` bytes. */
export async function readPartitionTable(read: BlockReader, blockSize: number, totalBlocks: bigint)
  : Promise<PartitionTable> {
  const warnings: string[] = [];
  if (totalBlocks < 1n || blockSize < 512) return { scheme: 'none', partitions: [], warnings };
  const sector0 = await read(0n, 1);
  const hasMbrSignature = sector0[510] === 0x55 && sector0[511] === 0xaa;
  const mbr = hasMbrSignature ? decodeMbr(sector0) : [];
  const protective = mbr.some((p) => p.type === '0xee');
  if (protective && totalBlocks > 2n) {
    const gpt = await decodeGpt(read, blockSize, totalBlocks, warnings);
    if (gpt !== undefined) return { scheme: 'gpt', partitions: gpt.partitions, diskGuid: gpt.diskGuid, warnings };
    warnings.push('protective MBR but no valid GPT header');
  }
  if (!hasMbrSignature) return { scheme: 'none', partitions: [], warnings };
  for (const p of mbr) {
    if (p.firstLba + p.sectors > totalBlocks) {
      warnings.push(`MBR entry ${p.index} ends at LBA ${p.firstLba + p.sectors - 1n}, past the end of the disk`);
    }
  }
  return { scheme: 'mbr', partitions: mbr, warnings };
}

/**
 * The demo disk behind `usbms --mock` / `npm start`: 64 MiB with an MBR partition table, a FAT16 partition
 * labelled "USBMS DEMO" and a Linux partition whose first blocks carry readable stamps.
 */
import { MemoryMedia } from './media.js';
import { MockUsbDevice } from './device.js';

const SECTOR = 512;
const TOTAL_SECTORS = (64 * 1024 * 1024) / SECTOR;

/** Where the demo disk keeps its partitions. */
export const DEMO_LAYOUT = {
  totalSectors: TOTAL_SECTORS,
  diskSignature: 0x55534253,
  partitions: [
    { index: 1, type: 0x0e, startLba: 2048, sectors: 65536, label: 'USBMS DEMO' },
    { index: 2, type: 0x83, startLba: 2048 + 65536, sectors: TOTAL_SECTORS - 2048 - 65536, label: undefined },
  ],
  /** Blocks at the start of partition 2 stamped "usbms demo LBA <n>". */
  stampedBlocks: 64,
} as const;

function writeMbr(sector: Buffer): void {
  sector.writeUInt32LE(DEMO_LAYOUT.diskSignature, 440);
  DEMO_LAYOUT.partitions.forEach((p, i) => {
    const at = 446 + 16 * i;
    sector[at] = 0x00; // not bootable
    sector.set([0xfe, 0xff, 0xff], at + 1); // CHS unused: LBA only
    sector[at + 4] = p.type;
    sector.set([0xfe, 0xff, 0xff], at + 5);
    sector.writeUInt32LE(p.startLba, at + 8);
    sector.writeUInt32LE(p.sectors, at + 12);
  });
  sector[510] = 0x55;
  sector[511] = 0xaa;
}

/** A FAT16 boot sector (BPB) for partition 1: 4 sectors per cluster, 2 FATs of 64 sectors, 512 root entries. */
function writeFatBootSector(sector: Buffer, sectors: number, label: string): void {
  sector.set([0xeb, 0x3c, 0x90], 0);
  sector.write('USBMS1.0', 3, 'latin1');
  sector.writeUInt16LE(SECTOR, 11);
  sector[13] = 4; // sectors per cluster
  sector.writeUInt16LE(4, 14); // reserved sectors
  sector[16] = 2; // FATs
  sector.writeUInt16LE(512, 17); // root entries
  sector.writeUInt16LE(0, 19); // total sectors (16-bit): see the 32-bit field
  sector[21] = 0xf8;
  sector.writeUInt16LE(64, 22); // sectors per FAT
  sector.writeUInt16LE(63, 24);
  sector.writeUInt16LE(255, 26);
  sector.writeUInt32LE(DEMO_LAYOUT.partitions[0].startLba, 28);
  sector.writeUInt32LE(sectors, 32);
  sector[36] = 0x80;
  sector[38] = 0x29; // extended boot signature
  sector.writeUInt32LE(0x20260101, 39);
  sector.write(label.padEnd(11, ' '), 43, 'latin1');
  sector.write('FAT16   ', 54, 'latin1');
  sector[510] = 0x55;
  sector[511] = 0xaa;
}

/** The built-in demo disk: 64 MiB, MBR with a FAT16 and a Linux partition. */
export function createDemoDisk(): MockUsbDevice {
  const media = new MemoryMedia(BigInt(TOTAL_SECTORS * SECTOR));
  const sector = Buffer.alloc(SECTOR);
  writeMbr(sector);
  media.write(0n, sector);

  const fat = DEMO_LAYOUT.partitions[0];
  sector.fill(0);
  writeFatBootSector(sector, fat.sectors, fat.label);
  media.write(BigInt(fat.startLba * SECTOR), sector);
  // Both FATs start with the media descriptor and end-of-chain entries for clusters 0 and 1.
  sector.fill(0);
  sector.set([0xf8, 0xff, 0xff, 0xff], 0);
  media.write(BigInt((fat.startLba + 4) * SECTOR), sector);
  media.write(BigInt((fat.startLba + 4 + 64) * SECTOR), sector);
  // The root directory's first entry is the volume label.
  sector.fill(0);
  sector.write(fat.label.padEnd(11, ' '), 0, 'latin1');
  sector[11] = 0x08;
  media.write(BigInt((fat.startLba + 4 + 128) * SECTOR), sector);

  const linux = DEMO_LAYOUT.partitions[1];
  for (let i = 0; i < DEMO_LAYOUT.stampedBlocks; i++) {
    sector.fill(0);
    sector.write(`usbms demo LBA ${linux.startLba + i}\n`, 0, 'latin1');
    media.write(BigInt((linux.startLba + i) * SECTOR), sector);
  }

  return new MockUsbDevice({
    vendorId: 0xf055, productId: 0x5b00, manufacturer: 'usbms', product: 'usbms demo disk', serialNumber: 'USBMS-DEMO',
    luns: [{ blocks: TOTAL_SECTORS, media, vendor: 'USBMS', product: 'Demo Disk', serial: 'USBMS-DEMO-0' }],
  });
}

/**
 * `usbms demo` (what `npm start` runs): the whole stack on the built-in emulated disk, so a newcomer sees the
 * driver work with no hardware: the device, INQUIRY, capacity, the partition table (MBR/GPT), and a read.
 */
import type { Argv } from 'yargs';
import { readPartitionTable } from '../../../disk/index.js';
import { withExamples } from '../examples.js';
import { formatBytes, hexDump } from '../format.js';
import { out, printJson, run, withDisk, type GlobalArgs } from '../context.js';
import { hex4 } from '../../../util/hex.js';

async function demo(a: GlobalArgs): Promise<number> {
  const args: GlobalArgs = { ...a, device: undefined, mock: a.mock ?? '' };
  return withDisk(args, {}, async (disk, session) => {
    const i = session.port.info;
    const table = await readPartitionTable((lba, n) => disk.read(lba, n), disk.blockSize, disk.blocks);
    const first = table.partitions[0];
    const sample = await disk.read(first?.firstLba ?? 0n, 1);
    if (a.json) {
      printJson({
        device: { vendorId: hex4(i.vendorId), productId: hex4(i.productId), product: i.product ?? null, speed: i.speed, luns: session.hba.maxLun + 1 },
        inquiry: { vendor: disk.info.vendor, product: disk.info.product, revision: disk.info.revision, removable: disk.info.removable },
        capacity: { blocks: disk.blocks, blockSize: disk.blockSize, bytes: disk.capacityBytes },
        partitions: table,
        sample: { lba: first?.firstLba ?? 0n, hex: sample.subarray(0, 64).toString('hex') },
      });
      return;
    }
    out(`== device (emulated USB disk, ${hex4(i.vendorId)}:${hex4(i.productId)} "${i.product ?? ''}", ${i.speed} speed, ${session.hba.maxLun + 1} LUN(s))`);
    out(`== INQUIRY: ${disk.info.vendor} ${disk.info.product} rev ${disk.info.revision}, ${disk.info.removable ? 'removable' : 'fixed'}`);
    out(`== READ CAPACITY: ${disk.blocks} blocks x ${disk.blockSize} bytes = ${formatBytes(disk.capacityBytes)}` +
      `${disk.writeProtected ? ', write protected' : ''}`);
    out(`== partition table: ${table.scheme.toUpperCase()}${table.diskGuid === undefined ? '' : ` (disk GUID ${table.diskGuid})`}`);
    for (const p of table.partitions) {
      out(`   ${p.index}: start ${p.firstLba}, ${p.sectors} sectors (${formatBytes(p.sectors * BigInt(disk.blockSize))}), ` +
        `${p.typeName}${p.name === undefined || p.name === '' ? '' : ` "${p.name}"`}${p.bootable === true ? ', bootable' : ''}`);
    }
    for (const w of table.warnings) out(`   warning: ${w}`);
    out(`== READ(10) LBA ${first?.firstLba ?? 0n} (first block of ${first === undefined ? 'the disk' : `partition ${first.index}`}), first 128 bytes:`);
    out(hexDump(sample.subarray(0, 128), (first?.firstLba ?? 0n) * BigInt(disk.blockSize)));
    out('try: usbms --help, usbms capacity --mock, usbms read 0 --mock, DEBUG=usbms:* usbms tur --mock');
  });
}

export function registerDemoCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('demo', 'show the driver at work on the built-in emulated disk (no hardware needed)', (b) => withExamples(b, 'demo'),
    (a) => run(() => demo(a as unknown as GlobalArgs)));
}

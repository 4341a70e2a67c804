/**
 * The examples `usbms COMMAND --help` shows, one table for every command so they read alike. Examples with
 * `--mock` run as written on the built-in emulated disk (test/apps/cli/help.test.ts runs each of them); the others
 * name a device as `vid:pid` or `bus:address`, as `usbms list` prints it.
 */
import type { Argv } from 'yargs';
import { UsbmsInternalError } from '../../util/errors.js';

/** Command name -> [command line, what it does]. */
export const EXAMPLES: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  list: [
    ['usbms list', 'every USB mass-storage interface, its driver and its LUNs'],
    ['usbms list --json', 'the same as JSON'],
    ['usbms list --mock', 'the built-in emulated disk, listed like a real one'],
  ],
  power: [
    ['usbms power cycle --mock --device 0-1.1 --off-ms 100', 'power-cycle the emulated stick in port 1 of its emulated hub'],
    ['usbms power status --mock --device 0-1.1 --json', 'is the port powered, is a device connected'],
    ['usbms power cycle -d 1-2.3 --off-ms 3000', 'the stick in port 3 of the hub on root port 2: 3 s off, then back'],
  ],
  inquiry: [
    ['usbms inquiry -d 0781:5567', 'vendor, product and revision of a SanDisk stick'],
    ['usbms inquiry --mock --vpd 0x80', 'the unit serial number VPD page'],
    ['usbms inquiry -d 3:7 --hex', 'hex dump of the raw response of bus 3 address 7'],
  ],
  capacity: [
    ['usbms capacity --mock', 'blocks and block length'],
    ['usbms capacity -d 0781:5567 --json', 'the same as JSON'],
  ],
  tur: [
    ['usbms tur --mock', 'exit status 0 when ready'],
    ['usbms tur -d 0781:5567 || echo "not ready: $?"', 'exit status 2 when NOT READY (sg_turs)'],
  ],
  sense: [
    ['usbms sense --mock', 'the current sense data, decoded'],
    ['usbms sense --mock --hex', 'with the sense bytes as hex'],
  ],
  'decode-sense': [
    ['usbms decode-sense 70 00 03 00 00 00 00 0a 00 00 00 00 11 00', 'MEDIUM ERROR: unrecovered read error'],
    ['usbms decode-sense --json 72 05 24 00 00 00 00 00', 'a descriptor-format sense as JSON'],
  ],
  read: [
    ['usbms read 0 --mock', 'hex dump of LBA 0 (the partition table)'],
    ['usbms read 0x800 8 --mock -o blocks.bin', 'eight blocks from LBA 2048 into a file'],
  ],
  write: [
    ['usbms write 100 -i block.bin --write -d 0781:5567', 'write the whole blocks of block.bin at LBA 100'],
  ],
  image: [
    ['usbms image -o stick.img --mock', 'copy the whole disk into stick.img and print its sha256'],
    ['usbms image -o stick.img -d 0781:5567 --detach-kernel-driver', 'a stick the kernel holds (refused while mounted)'],
    ['usbms image -o stick.img -d 0781:5567 --max-transfer 8M --no-hash', 'the fastest copy: 8 MiB READs, no sha256'],
  ],
  restore: [
    ['usbms restore -i stick.img --write -d 0781:5567', 'write stick.img onto the disk from LBA 0'],
  ],
  verify: [
    ['usbms verify --mock', 'read every block; exit status 3 when some are unreadable'],
    ['usbms verify --start 2048 --count 1024 --mock --json', 'part of the disk, the bad LBAs as JSON'],
  ],
  validate: [
    ['usbms validate --plan quick --mock --all', 'the read-only quick plan on every (emulated) device'],
    ['usbms validate --plan full --all --write --restore --junit report.xml', 'the full plan on every stick present'],
  ],
  rescue: [
    ['usbms rescue --mock --out rescued.img --map rescued.map', 'image a disk the way GNU ddrescue does'],
    ['usbms rescue -d 0781:5567 --detach-kernel-driver --out stick.img --map stick.map', 'rescue a stick; run again to resume'],
    ['usbms rescue -d 0781:5567 --out stick.img --map stick.map --retries 3', 'then retry the bad blocks three times'],
  ],
  probe: [
    ['usbms probe --write --mock', 'stamp, read back and restore blocks to find fake capacity'],
    ['usbms probe --write --seed 42 -d 0781:5567', 'the same on a stick, with a fixed stamp seed'],
  ],
  bench: [
    ['usbms bench --mock --size-mb 4', 'sequential and random read speed'],
    ['usbms bench -d 0781:5567 --chunk-kb 1024', 'sequential reads of 1 MiB per command'],
  ],
  tune: [
    ['usbms tune --mock', 'the fastest bytes per command that reads back the same data'],
    ['usbms tune -d 0781:5567 --json', 'the ramp as JSON; pass the answer as --max-transfer N'],
  ],
  reset: [
    ['usbms reset --mock', 'Bulk-Only Mass Storage Reset, then clear both bulk halts'],
  ],
  eject: [
    ['usbms eject -d 0781:5567', 'allow medium removal and eject'],
  ],
  raw: [
    ['usbms raw 12 00 00 00 24 00 --in 36 --mock', 'INQUIRY by hand: 36 bytes of data-in'],
    ['usbms raw 00 00 00 00 00 00 --mock', 'TEST UNIT READY: status and sense only'],
  ],
  serve: [
    ['usbms serve -d 0781:5567 --detach-kernel-driver', 'LUN 0 read-only on a Unix socket; nbdinfo/nbdcopy/qemu-img take the URI it prints'],
    ['usbms serve -d 1-2.3 --write --listen 10809', 'writable, on 127.0.0.1:10809: sudo nbd-client localhost 10809 /dev/nbd0 -N 1-2.3-lun0'],
    ['usbms serve -d 0781:5567 --write --listen 0.0.0.0:10809 --tls-psk keys.psk', 'on the network: TLS with pre-shared keys (psktool)'],
  ],
  demo: [
    ['usbms demo', 'INQUIRY, READ CAPACITY, the partition table and a read on the emulated disk'],
  ],
  completion: [
    ['usbms completion >> ~/.bashrc', 'tab completion of commands and options in bash (zsh: ~/.zshrc)'],
  ],
};

/** Adds the examples of `command` to a yargs builder; an unknown name is a programming error. */
export function withExamples<T>(y: Argv<T>, command: string): Argv<T> {
  const rows = EXAMPLES[command];
  if (rows === undefined) throw new UsbmsInternalError(`no examples for command ${command}`);
  return rows.reduce((acc, [line, what]) => acc.example(line, what), y);
}

/**
 * Is a filesystem of this USB interface mounted? Linux only: the interface's block devices in sysfs
 * (/sys/bus/usb/devices/<bus>-<ports>:<cfg>.<if>/host* /target* / * /block/<sdX> and its partitions), checked
 * against /proc/self/mounts. Detaching usb-storage under a mounted filesystem loses data, so the libusb backend
 * refuses it (src/usb/libusb/backend.ts). Paths are parameters for tests.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { PortLocation } from '../selector.js';

/**
 * The filesystems mounted from the kernel's block devices of the mass-storage interface at `where` (bus, port path
 * and interface number), as "/dev/sdb1 on /media/stick" from /proc/self/mounts; empty when nothing of it is mounted.
 */
export function mountedFilesystemsOf(where: PortLocation & { interfaceNumber: number },
  sysRoot = '/sys/bus/usb/devices', mountsFile = '/proc/self/mounts'): string[] {
  const prefix = `${where.busNumber}-${where.portNumbers.join('.')}:`;
  const suffix = `.${where.interfaceNumber}`;
  const ls = (dir: string): string[] => { try { return readdirSync(dir); } catch { return []; } };
  const disks: string[] = [];
  for (const iface of ls(sysRoot).filter((n) => n.startsWith(prefix) && n.endsWith(suffix))) {
    const ifDir = join(sysRoot, iface);
    for (const host of ls(ifDir).filter((n) => n.startsWith('host'))) {
      for (const target of ls(join(ifDir, host)).filter((n) => n.startsWith('target'))) {
        for (const lun of ls(join(ifDir, host, target))) {
          const blockDir = join(ifDir, host, target, lun, 'block');
          for (const disk of ls(blockDir)) {
            disks.push(disk);
            for (const part of ls(join(blockDir, disk))) {
              if (existsSync(join(blockDir, disk, part, 'partition'))) disks.push(part);
            }
          }
        }
      }
    }
  }
  if (disks.length === 0) return [];
  const names = new Set(disks.map((d) => `/dev/${d}`));
  let mounts = '';
  try { mounts = readFileSync(mountsFile, 'utf8'); } catch { return []; }
  const hits: string[] = [];
  for (const line of mounts.split('\n')) {
    const [source, mountPoint] = line.split(' ');
    if (source === undefined || mountPoint === undefined || !source.startsWith('/dev/')) continue;
    let dev = source;
    try { dev = realpathSync(source); } catch { /* a name that no longer resolves: compare it as written */ }
    if (names.has(dev) || names.has(source)) hits.push(`${dev} on ${mountPoint.replace(/\\040/g, ' ')}`);
  }
  return hits;
}

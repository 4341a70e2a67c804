/**
 * The composition root: port (libusb or the software disk) -> BOT engine -> SCSA HBA -> disks.
 *
 * `openUsbms` is what the CLI and library users call; every layer is built on the one below it here and
 * nowhere else. Detaching the kernel's usb-storage driver is refused while the kernel has a filesystem of that
 * disk mounted (pulling a mounted disk away from the kernel loses data), unless `force`.
 */
import { accessSync, constants as fsConstants, existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BotTransport, parseQuirkOverrides } from './bot/index.js';
import { Disk, type DiskOpenOptions } from './disk/index.js';
import { createDemoDisk, FileMedia, MockUsbDevice } from './mock/index.js';
import { RESET_ALL, RESET_TARGET, scsi_reset, UsbmsHba } from './scsa/index.js';
import {
  formatDeviceSelector, listMassStorageDevices, parseDeviceSelector, type DeviceSelector, type MassStorageDeviceInfo,
} from './usb/find.js';
import { openLibusbPort } from './usb/libusb/index.js';
import { mockFromSpec } from './open-mock.js';
import type { UsbPort } from './usb/port.js';
import { logger } from './util/log.js';

// What the command line needs from the layers below, re-exported by the composition root so that the CLI
// depends on this module (and the disk driver) only.
export { BotError, QuirkParseError } from './bot/index.js';
export { UsbError } from './usb/errors.js';
export { listMassStorageDevices, type MassStorageDeviceInfo } from './usb/find.js';

const log = logger('cli', 'open');

export interface OpenUsbmsOptions {
  /** `vid:pid[:serial]` or `bus:address` (see src/usb/find.ts). */
  device?: string | undefined;
  /**
   * The software disk: a device you built, `true` for the demo disk, or a file name: a raw image to serve
   * (FileMedia), or a `.json` device description (src/open-mock.ts).
   */
  mock?: MockUsbDevice | string | true | undefined;
  /** Detach a bound kernel driver (refused when one of its filesystems is mounted, unless `force`). */
  detachKernelDriver?: boolean | undefined;
  force?: boolean | undefined;
  /** Quirk overrides, `vid:pid:flags[,...]`, or just `flags` for the device being opened. */
  quirks?: string | undefined;
  /** Command timeout (data phase and pkt_time), ms. */
  timeoutMs?: number | undefined;
}

export interface UsbmsSession {
  readonly port: UsbPort;
  readonly transport: BotTransport;
  readonly hba: UsbmsHba;
  /** The software device, when the session runs on one. */
  readonly mock: MockUsbDevice | undefined;
  openDisk(lun: number, opts?: DiskOpenOptions): Promise<Disk>;
  /**
   * scsi_reset(9F) of a LUN without opening a disk on it (so it works when the unit will not even answer
   * INQUIRY): 'target' = BOT Reset Recovery, 'bus' = USB port reset. True when the reset succeeded.
   */
  reset(lun: number, level?: 'target' | 'bus'): Promise<boolean>;
  /** Closes the disks opened here, detaches the HBA, closes the engine and the port. */
  close(): Promise<void>;
}

export type UsbmsOpenErrorCode = 'NO_DEVICE_SELECTED' | 'BOTH_SELECTED' | 'MOUNTED' | 'IMAGE' | 'MOCK_SPEC';

/** A refusal of openUsbms itself (what to open, or whether it is safe to). */
export class UsbmsOpenError extends Error {
  override readonly name = 'UsbmsOpenError';
  constructor(readonly code: UsbmsOpenErrorCode, message: string) { super(message); }
}

function mockFromImage(path: string): MockUsbDevice {
  if (!existsSync(path)) throw new UsbmsOpenError('IMAGE', `image ${path} does not exist`);
  const size = statSync(path).size;
  if (size === 0 || size % 512 !== 0) {
    throw new UsbmsOpenError('IMAGE', `image ${path} is ${size} bytes, not a non-zero multiple of 512`);
  }
  let readOnly = false;
  try { accessSync(path, fsConstants.W_OK); } catch { readOnly = true; }
  const media = new FileMedia(path, { readOnly });
  // Served as a removable medium, as most USB flash drives report themselves (RMB=1), so eject works too.
  return new MockUsbDevice({ luns: [{ blocks: BigInt(size / 512), media, writeProtected: readOnly, removable: true }] });
}

function mockFromSpecOrRefuse(path: string): MockUsbDevice {
  try {
    return mockFromSpec(path);
  } catch (e) {
    throw new UsbmsOpenError('MOCK_SPEC', (e as Error).message);
  }
}

/**
 * Mounted block devices of the USB interface: /sys/bus/usb/devices/<bus>-<ports>:<cfg>.<if>/host* /target* /
 * * /block/<sdX> and its partitions, checked against /proc/self/mounts. Paths are parameters for tests.
 */
export function mountedFilesystemsOf(where: { busNumber: number; portNumbers: readonly number[]; interfaceNumber: number },
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

/**
 * Why detaching the kernel driver of the device `selector` names would be unsafe: the mounted filesystems of
 * every matching mass-storage interface in `devices`, as a message (undefined: nothing mounted). Paths are
 * parameters for tests, as in mountedFilesystemsOf.
 */
export function detachRefusal(selector: DeviceSelector, devices: readonly MassStorageDeviceInfo[],
  sysRoot?: string, mountsFile?: string): string | undefined {
  const matches = devices.filter((d) => selector.kind === 'location'
    ? d.busNumber === selector.busNumber && d.deviceAddress === selector.deviceAddress
    : d.vendorId === selector.vendorId && d.productId === selector.productId
      && (selector.serialNumber === undefined || d.serialNumber === selector.serialNumber));
  const mounted = matches.flatMap((d) => mountedFilesystemsOf(d, sysRoot, mountsFile));
  if (mounted.length === 0) return undefined;
  return `refusing to detach the kernel driver of ${formatDeviceSelector(selector)}: it has mounted ` +
    `filesystems (${mounted.join(', ')}); unmount them first (or pass --force to do it anyway)`;
}

function quirkText(text: string | undefined, port: UsbPort): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (text.includes(':')) return text;
  const id = `${port.info.vendorId.toString(16).padStart(4, '0')}:${port.info.productId.toString(16).padStart(4, '0')}`;
  return `${id}:${text}`;
}

export async function openUsbms(opts: OpenUsbmsOptions): Promise<UsbmsSession> {
  if (opts.device !== undefined && opts.mock !== undefined) {
    throw new UsbmsOpenError('BOTH_SELECTED', 'give either --device or --mock, not both');
  }
  let mock: MockUsbDevice | undefined;
  let port: UsbPort;
  if (opts.mock !== undefined) {
    mock = opts.mock === true ? createDemoDisk()
      : typeof opts.mock !== 'string' ? opts.mock
        : opts.mock.toLowerCase().endsWith('.json') ? mockFromSpecOrRefuse(opts.mock) : mockFromImage(opts.mock);
    port = mock.open();
  } else if (opts.device !== undefined) {
    const selector = parseDeviceSelector(opts.device);
    if (opts.detachKernelDriver === true && opts.force !== true) {
      const refusal = detachRefusal(selector, await listMassStorageDevices());
      if (refusal !== undefined) throw new UsbmsOpenError('MOUNTED', refusal);
    }
    port = await openLibusbPort(selector, { detachKernelDriver: opts.detachKernelDriver === true });
  } else {
    throw new UsbmsOpenError('NO_DEVICE_SELECTED', 'no device selected: pass --device vid:pid[:serial] or ' +
      '--device bus:address (see `usbms list`), or --mock for the built-in emulated disk');
  }
  let transport: BotTransport | undefined;
  try {
    const quirks = quirkText(opts.quirks, port);
    transport = await BotTransport.open(port, {
      ...(quirks === undefined ? {} : { quirkOverrides: parseQuirkOverrides(quirks) }),
      ...(opts.timeoutMs === undefined ? {} : { timeouts: { dataMs: opts.timeoutMs } }),
    });
    const hba = UsbmsHba.attach(transport, { quirks: { senseLun0Only: transport.quirks.senseLun0Only } });
    return makeSession(port, transport, hba, mock, opts.timeoutMs);
  } catch (e) {
    if (transport !== undefined) await transport.close().catch(() => undefined);
    await port.close().catch(() => undefined);
    throw e;
  }
}

function makeSession(port: UsbPort, transport: BotTransport, hba: UsbmsHba, mock: MockUsbDevice | undefined,
  timeoutMs: number | undefined): UsbmsSession {
  const disks: Disk[] = [];
  let closed = false;
  const q = transport.quirks;
  return {
    port, transport, hba, mock,
    async openDisk(lun: number, diskOpts: DiskOpenOptions = {}): Promise<Disk> {
      const disk = await Disk.open(hba, lun, {
        ...(timeoutMs === undefined ? {} : { timeoutS: Math.max(1, Math.ceil(timeoutMs / 1000)) }),
        ...diskOpts,
        quirks: { fixCapacity: q.fixCapacity, noReadCapacity16: q.noReadCapacity16,
          noSynchronizeCache: q.noSynchronizeCache, ...diskOpts.quirks },
      });
      disks.push(disk);
      return disk;
    },
    async reset(lun: number, level: 'target' | 'bus' = 'target'): Promise<boolean> {
      return (await scsi_reset(hba.address(lun), level === 'bus' ? RESET_ALL : RESET_TARGET)) === 1;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const d of disks) await d.close().catch((e: unknown) => { log('disk close: %s', (e as Error).message); });
      await hba.detach().catch((e: unknown) => { log('hba detach: %s', (e as Error).message); });
      await transport.close().catch((e: unknown) => { log('transport close: %s', (e as Error).message); });
      await port.close();
    },
  };
}

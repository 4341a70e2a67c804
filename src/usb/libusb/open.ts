/**
 * openLibusbPort: find the device a selector names, choose its mass-storage interface (in its Bulk-Only setting
 * when it has one, else its UAS setting), deal with a bound kernel driver, claim, and hand back a LibusbPort.
 * Every failure is a typed UsbError that says what to do.
 */
import type { Device, InEndpoint, Interface, OutEndpoint } from 'usb';
import type { DeviceIdentity } from '../backend.js';
import { DeviceMismatchError, UsbMountedError } from '../device-errors.js';
import { UsbError } from '../errors.js';
import type { PortInfo } from '../port.js';
import { formatDeviceSelector, formatPortPath, portNumbersOf, parseDeviceSelector, type DeviceSelector } from '../selector.js';
import { LibusbErrorCode, libusbErrno, usbErrorFromLibusb } from './errors.js';
import { acquireHandle, releaseHandle } from './handles.js';
import { deviceSpeed, findLibusbDevice, readDeviceStrings } from './list.js';
import { mountedFilesystemsOf } from './mounts.js';
import { LibusbPort } from './port.js';
import { altSettingsOf, chooseMassStorageInterface, type BotInterfaceChoice } from './select.js';
import { refuseExported } from './usbip.js';
import { logger } from '../../util/log.js';
import { hex4 } from '../../util/hex.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

const log = logger('libusb', 'open');

/** Options of openLibusbPort. */
export interface LibusbOpenOptions {
  /** Detach a kernel driver (usb-storage) bound to the interface, and re-attach it on close. Default false. */
  detachKernelDriver?: boolean;
  /** Use this bInterfaceNumber instead of the first Bulk-Only mass-storage interface. */
  interfaceNumber?: number;
  /** Bound on close()'s wait for cancelled transfers (ms); default 2000. */
  closeTimeoutMs?: number;
  /** Detach even when the kernel has a filesystem of the disk mounted (default: refuse, UsbMountedError). */
  force?: boolean;
  /** Refuse the device unless its VID:PID and serial are these (DeviceMismatchError). */
  expect?: DeviceIdentity;
  /** Open a device exported through usbip-host (default: refused, UsbipExportedError). */
  forceExported?: boolean;
}

const LIBUSB_OPEN_KEYS = {
  detachKernelDriver: true, interfaceNumber: true, closeTimeoutMs: true, force: true, expect: true, forceExported: true,
} as const satisfies KnownKeys<LibusbOpenOptions>;

/** The message users see when usb-storage holds the interface: what is wrong and the two ways out. */
export function kernelDriverBusyMessage(vendorId: number, productId: number, interfaceNumber: number): string {
  return `interface ${interfaceNumber} of USB device ${hex4(vendorId)}:${hex4(productId)} is bound to a kernel ` +
    'driver (usually usb-storage). Unmount any filesystem on it, then pass --detach-kernel-driver ' +
    '(openLibusbPort option detachKernelDriver: true) to let usbms detach it and re-attach it on close, or keep ' +
    `the kernel away from it with the boot option usb-storage.quirks=${hex4(vendorId)}:${hex4(productId)}:i`;
}

function setAltSetting(iface: Interface, alt: number): Promise<void> {
  return new Promise((resolve, reject) => iface.setAltSetting(alt, (error) => (error ? reject(error) : resolve())));
}

function kernelDriverActive(iface: Interface): boolean {
  try {
    return iface.isKernelDriverActive();
  } catch (e) {
    // Platforms without the notion (macOS, Windows) answer NOT_SUPPORTED: there is nothing to detach there.
    if (libusbErrno(e) === LibusbErrorCode.NOT_SUPPORTED) return false;
    throw usbErrorFromLibusb(e, { what: `query kernel driver of interface ${iface.interfaceNumber}` });
  }
}

interface Claimed {
  iface: Interface;
  detached: boolean;
}

/** Pulling a mounted disk away from the kernel loses data: refuse unless forced. */
function refuseIfMounted(device: Device, interfaceNumber: number, opts: LibusbOpenOptions): void {
  if (opts.force === true) return;
  const mounts = mountedFilesystemsOf({ busNumber: device.busNumber, portNumbers: portNumbersOf(device), interfaceNumber });
  if (mounts.length === 0) return;
  throw new UsbMountedError(mounts, `refusing to detach the kernel driver of ${formatPortPath(device)}: it has ` +
    `mounted filesystems (${mounts.join(', ')}); unmount them first (or pass --force to do it anyway)`);
}

function claimInterface(device: Device, choice: BotInterfaceChoice, opts: LibusbOpenOptions): Claimed {
  const iface = device.interfaces?.[choice.index];
  if (iface === undefined) throw new UsbError('NOT_FOUND', `interface ${choice.interfaceNumber} is not present`);
  const { idVendor, idProduct } = device.deviceDescriptor;
  let detached = false;
  if (kernelDriverActive(iface)) {
    if (opts.detachKernelDriver !== true) {
      throw new UsbError('BUSY', kernelDriverBusyMessage(idVendor, idProduct, choice.interfaceNumber));
    }
    refuseIfMounted(device, choice.interfaceNumber, opts);
    try {
      iface.detachKernelDriver();
    } catch (e) {
      throw usbErrorFromLibusb(e, { what: `detach kernel driver from interface ${choice.interfaceNumber}` });
    }
    detached = true;
    log('detached the kernel driver from interface %d', choice.interfaceNumber);
  }
  try {
    iface.claim();
  } catch (e) {
    if (detached) reattach(iface);
    const err = usbErrorFromLibusb(e, { what: `claim interface ${choice.interfaceNumber}` });
    if (err.kind === 'BUSY') {
      throw new UsbError('BUSY', `interface ${choice.interfaceNumber} of ${hex4(idVendor)}:${hex4(idProduct)} is ` +
        'claimed by another program or driver; close it first', { cause: e });
    }
    throw err;
  }
  return { iface, detached };
}

function reattach(iface: Interface): void {
  try {
    iface.attachKernelDriver();
  } catch (e) {
    log('re-attach kernel driver: %s', (e as Error).message);
  }
}

function releaseQuietly(claimed: Claimed): Promise<void> {
  return new Promise((resolve) => claimed.iface.release((error) => {
    if (error !== undefined) log('release after failed open: %s', error.message);
    if (claimed.detached) reattach(claimed.iface);
    resolve();
  }));
}

/**
 * Open the mass-storage interface of the device named by `selector` (see src/usb/selector.ts for the syntax).
 * @throws UsbError: INVALID (bad selector), NOT_FOUND, ACCESS (no udev rule), BUSY (kernel driver bound or
 *   interface claimed; UsbMountedError when a filesystem of it is mounted), NOT_SUPPORTED (no Bulk-Only alternate
 *   setting), NO_DEVICE, IO; DeviceMismatchError when `expect` names another device; UsbipExportedError (BUSY)
 *   for a device exported through usbip-host, unless `forceExported`.
 */
export async function openLibusbPort(selector: string | DeviceSelector, opts: LibusbOpenOptions = {}): Promise<LibusbPort> {
  rejectUnknownKeys(opts, LIBUSB_OPEN_KEYS, 'openLibusbPort options');
  const sel = typeof selector === 'string' ? parseDeviceSelector(selector) : selector;
  const { device, row } = await findLibusbDevice(sel);
  refuseExported(row, opts.forceExported);
  return openLibusbDevice(device, formatDeviceSelector(sel), opts);
}

/** The identity check on the open handle: the listing may be stale by the time the device is opened. */
function checkExpected(expect: DeviceIdentity | undefined, device: Device, serialNumber: string | undefined): void {
  if (expect === undefined) return;
  const { idVendor, idProduct } = device.deviceDescriptor;
  if (idVendor !== expect.vendorId || idProduct !== expect.productId || serialNumber !== expect.serialNumber) {
    throw new DeviceMismatchError(expect, { vendorId: idVendor, productId: idProduct, serialNumber });
  }
}

/** Open the mass-storage interface of a node-usb Device already found; `name` is how errors call it. */
export async function openLibusbDevice(device: Device, name: string, opts: LibusbOpenOptions = {}): Promise<LibusbPort> {
  try {
    acquireHandle(device); // shared with listings running at the same time (handles.ts)
  } catch (e) {
    throw usbErrorFromLibusb(e, { what: `open USB device ${name}` });
  }
  let claimed: Claimed | undefined;
  try {
    const strings = await readDeviceStrings(device);
    checkExpected(opts.expect, device, strings.serialNumber);
    const config = device.configDescriptor;
    if (config === undefined) throw new UsbError('NOT_FOUND', `USB device ${name} has no active configuration`);
    const choice = chooseMassStorageInterface(config.interfaces, opts.interfaceNumber);
    claimed = claimInterface(device, choice, opts);
    if (choice.alternateSetting !== 0 || config.interfaces[choice.index]?.length !== 1) {
      // UAS-capable devices put Bulk-Only and UAS in alternate settings of one interface, and a device a program
      // left in its UAS setting stays there: select the setting chosen even when it is setting 0.
      await setAltSetting(claimed.iface, choice.alternateSetting).catch((e: unknown) => {
        throw usbErrorFromLibusb(e, { what: `select alternate setting ${choice.alternateSetting}` });
      });
    }
    const bulkIn = claimed.iface.endpoint(choice.bulkIn.address) as InEndpoint | undefined;
    const bulkOut = claimed.iface.endpoint(choice.bulkOut.address) as OutEndpoint | undefined;
    if (bulkIn === undefined || bulkOut === undefined) {
      throw new UsbError('NOT_FOUND', `bulk endpoints of interface ${choice.interfaceNumber} are missing after claim`);
    }
    const info: PortInfo = {
      vendorId: device.deviceDescriptor.idVendor, productId: device.deviceDescriptor.idProduct,
      ...strings, busNumber: device.busNumber, deviceAddress: device.deviceAddress,
      portNumbers: [...portNumbersOf(device)],
      speed: deviceSpeed(device, choice.bulkIn.maxPacketSize),
      interfaceNumber: choice.interfaceNumber, alternateSetting: choice.alternateSetting,
      endpoints: { in: choice.bulkIn.address, out: choice.bulkOut.address },
      maxPacketSize: { in: choice.bulkIn.maxPacketSize, out: choice.bulkOut.maxPacketSize },
    };
    log('opened %s: interface %d alt %d, in 0x%s out 0x%s, mps %d, %s speed', name, info.interfaceNumber,
      info.alternateSetting, info.endpoints.in.toString(16), info.endpoints.out.toString(16), info.maxPacketSize.in, info.speed);
    const parts = { device, iface: claimed.iface, bulkIn, bulkOut, info, detachedKernelDriver: claimed.detached,
      altSettings: altSettingsOf(config.interfaces, choice.index) };
    return new LibusbPort(opts.closeTimeoutMs === undefined ? parts : { ...parts, closeTimeoutMs: opts.closeTimeoutMs });
  } catch (e) {
    if (claimed !== undefined) await releaseQuietly(claimed);
    releaseHandle(device);
    throw e instanceof UsbError ? e : usbErrorFromLibusb(e, { what: `open USB device ${name}` });
  }
}

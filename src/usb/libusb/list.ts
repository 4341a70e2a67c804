/**
 * Enumeration with libusb: the mass-storage interfaces of every device present, the one device a selector names,
 * and what a listing shows of each (strings, speed, kernel driver). Only the libusb backend uses this file.
 */
import { getDeviceList, type Device } from 'usb';
import { readFileSync } from 'node:fs';
import type { DeviceListing } from '../backend.js';
import type { UsbSpeed } from '../port.js';
import { formatPortPath, portNumbersOf, selectOne, type DeviceSelector } from '../selector.js';
import { usbErrorFromLibusb, libusbErrno, LibusbErrorCode } from './errors.js';
import { acquireHandle, releaseHandle } from './handles.js';
import { summarizeMassStorageInterfaces } from './select.js';
import { withUsbip } from './usbip.js';
import type { UsbipRoots } from '../usbip.js';
import { logger } from '../../util/log.js';
import { hex4 } from '../../util/hex.js';
import { UsbmsInternalError } from '../../util/errors.js';

const log = logger('libusb', 'list');

/** Linux sysfs `speed` file contents (Mb/s) -> UsbSpeed. */
export function speedFromSysfs(text: string): UsbSpeed {
  switch (text.trim()) {
    case '1.5': return 'low';
    case '12': return 'full';
    case '480': return 'high';
    case '5000': return 'super';
    case '10000': case '20000': return 'super-plus';
    default: return 'unknown';
  }
}

/** Where sysfs is unavailable: a bulk endpoint's max packet size implies the speed (USB 2.0 §5.8.3, 3.x §9.6.6). */
export function speedFromBulkMaxPacket(maxPacketSize: number): UsbSpeed {
  if (maxPacketSize >= 1024) return 'super';
  if (maxPacketSize === 512) return 'high';
  if (maxPacketSize > 0 && maxPacketSize <= 64) return 'full';
  return 'unknown';
}

/** The device's speed: sysfs on Linux; `fallbackMps` (a bulk max packet size) elsewhere. */
export function deviceSpeed(device: Device, fallbackMps?: number): UsbSpeed {
  try {
    return speedFromSysfs(readFileSync(`/sys/bus/usb/devices/${formatPortPath(device)}/speed`, 'utf8'));
  } catch {
    return fallbackMps === undefined ? 'unknown' : speedFromBulkMaxPacket(fallbackMps);
  }
}

/** Read one string descriptor of an open device; undefined when the index is 0 or the read fails. */
export function readStringDescriptor(device: Device, index: number): Promise<string | undefined> {
  if (index === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    device.getStringDescriptor(index, (error, value) => {
      if (error !== undefined) log('string descriptor %d: %s', index, error.message);
      resolve(error === undefined ? value : undefined);
    });
  });
}

export interface DeviceStrings {
  manufacturer: string | undefined;
  product: string | undefined;
  serialNumber: string | undefined;
}

export async function readDeviceStrings(device: Device): Promise<DeviceStrings> {
  const d = device.deviceDescriptor;
  return {
    manufacturer: await readStringDescriptor(device, d.iManufacturer),
    product: await readStringDescriptor(device, d.iProduct),
    serialNumber: await readStringDescriptor(device, d.iSerialNumber),
  };
}

export function describeDevice(d: Device): string {
  const desc = d.deviceDescriptor;
  return `${hex4(desc.idVendor)}:${hex4(desc.idProduct)} at ${formatPortPath(d)} (${d.busNumber}:${d.deviceAddress})`;
}

function kernelDriverActive(device: Device, index: number): boolean | undefined {
  try {
    return device.interfaces?.[index]?.isKernelDriverActive();
  } catch (e) {
    log('isKernelDriverActive: %s', (e as Error).message);
    return undefined;
  }
}

interface Enumerated {
  device: Device;
  rows: DeviceListing[];
}

/** The mass-storage rows of one device (none when it has none). Opens it briefly for its strings. */
async function enumerate(device: Device): Promise<DeviceListing[]> {
  let summaries;
  try {
    summaries = summarizeMassStorageInterfaces(device.configDescriptor?.interfaces ?? []);
  } catch (e) {
    log('no configuration descriptor for %s: %s', describeDevice(device), (e as Error).message);
    return [];
  }
  if (summaries.length === 0) return [];
  let strings: DeviceStrings = { manufacturer: undefined, product: undefined, serialNumber: undefined };
  let accessDenied = false;
  let opened = false;
  try {
    // A use of the shared handle (handles.ts): a port or another listing may hold it at the same time.
    acquireHandle(device);
    opened = true;
    strings = await readDeviceStrings(device);
  } catch (e) {
    if (libusbErrno(e) === LibusbErrorCode.ACCESS) accessDenied = true;
    else log('cannot open %s: %s', describeDevice(device), usbErrorFromLibusb(e, { what: 'open' }).message);
  }
  const desc = device.deviceDescriptor;
  const rows = summaries.map((s): DeviceListing => ({
    vendorId: desc.idVendor, productId: desc.idProduct, busNumber: device.busNumber,
    deviceAddress: device.deviceAddress, portNumbers: [...portNumbersOf(device)], portPath: formatPortPath(device),
    ...strings, accessDenied, speed: deviceSpeed(device), interfaceNumber: s.interfaceNumber, protocol: s.protocol,
    protocolCode: s.protocolCode, hasBotAltSetting: s.hasBotAltSetting, hasUasAltSetting: s.hasUasAltSetting,
    kernelDriverActive: opened ? kernelDriverActive(device, s.index) : undefined,
  }));
  if (opened) releaseHandle(device);
  return rows;
}

function byLocation(a: DeviceListing, b: DeviceListing): number {
  if (a.busNumber !== b.busNumber) return a.busNumber - b.busNumber;
  const n = Math.max(a.portNumbers.length, b.portNumbers.length);
  for (let i = 0; i < n; i++) {
    const d = (a.portNumbers[i] ?? -1) - (b.portNumbers[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.interfaceNumber - b.interfaceNumber;
}

async function enumerateAll(usbipRoots?: UsbipRoots): Promise<Enumerated[]> {
  const out: Enumerated[] = [];
  for (const device of getDeviceList()) {
    const rows = await enumerate(device);
    if (rows.length > 0) out.push({ device, rows: withUsbip(rows, usbipRoots) });
  }
  return out;
}

/**
 * Every mass-storage interface of every device present, sorted by bus and port path, with what USB/IP says of
 * each (attached through vhci, or exported through usbip-host; files under `usbipRoots`).
 */
export async function listLibusbDevices(usbipRoots?: UsbipRoots): Promise<DeviceListing[]> {
  return (await enumerateAll(usbipRoots)).flatMap((e) => e.rows).sort(byLocation);
}

/**
 * The node-usb Device of the one mass-storage device `selector` names.
 * @throws UsbError NOT_FOUND (with the devices present listed), INVALID when it names several devices.
 */
export async function findLibusbDevice(selector: DeviceSelector, usbipRoots?: UsbipRoots): Promise<{ device: Device; row: DeviceListing }> {
  const all = await enumerateAll(usbipRoots);
  const row = selectOne(selector, all.flatMap((e) => e.rows));
  const hit = all.find((e) => e.rows.includes(row));
  if (hit === undefined) throw new UsbmsInternalError('selectOne returned a row that is not in the listing');
  return { device: hit.device, row };
}

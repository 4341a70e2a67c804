/**
 * Naming a USB device (selectors), finding it with libusb, and listing the mass-storage devices present.
 *
 * Selector syntax, as lsusb prints the numbers:
 * - `vid:pid` or `vid:pid:serial` - vendor and product id in hex, 1-4 digits each (`46f4:0001`);
 * - `bus:address` - decimal bus number and device address (`1:4`, or lsusb's `001:004`).
 * Two all-decimal numbers of up to 3 digits are read as bus:address; anything with 4 digits or a hex letter is
 * vid:pid (so `0001:0004` is vid:pid and `001:004` is bus:address).
 */
import { getDeviceList, type Device } from 'usb';
import { readFileSync } from 'node:fs';
import { UsbError } from './errors.js';
import type { UsbSpeed } from './port.js';
import { usbErrorFromLibusb, libusbErrno, LibusbErrorCode } from './libusb/errors.js';
import { summarizeMassStorageInterfaces, type MassStorageProtocol } from './libusb/select.js';
import { logger } from '../util/log.js';

const log = logger('libusb', 'find');

export type DeviceSelector =
  | { readonly kind: 'ids'; readonly vendorId: number; readonly productId: number; readonly serialNumber?: string }
  | { readonly kind: 'location'; readonly busNumber: number; readonly deviceAddress: number };

/** A selector the user typed that cannot name a device. */
export class DeviceSelectorError extends UsbError {
  override readonly name = 'DeviceSelectorError';
  constructor(readonly input: string, reason: string) {
    super('INVALID', `bad device selector '${input}': ${reason} (expected vid:pid[:serial] in hex, e.g. ` +
      `46f4:0001, or bus:address in decimal, e.g. 1:4)`);
  }
}

const HEX_ID = /^[0-9a-f]{1,4}$/i;
const DEC_LOC = /^[0-9]{1,3}$/;

export function parseDeviceSelector(input: string): DeviceSelector {
  const text = input.trim();
  const parts = text.split(':');
  if (parts.length < 2) throw new DeviceSelectorError(input, 'it needs two numbers separated by a colon');
  const [a = '', b = '', ...rest] = parts;
  if (a === '' || b === '') throw new DeviceSelectorError(input, 'an empty number');
  if (parts.length === 2 && DEC_LOC.test(a) && DEC_LOC.test(b)) {
    const busNumber = Number(a);
    const deviceAddress = Number(b);
    if (busNumber < 1 || busNumber > 255) throw new DeviceSelectorError(input, `bus ${busNumber} is not 1..255`);
    if (deviceAddress < 1 || deviceAddress > 127) {
      throw new DeviceSelectorError(input, `device address ${deviceAddress} is not 1..127`);
    }
    return { kind: 'location', busNumber, deviceAddress };
  }
  if (!HEX_ID.test(a)) throw new DeviceSelectorError(input, `vendor id '${a}' is not 1-4 hex digits`);
  if (!HEX_ID.test(b)) throw new DeviceSelectorError(input, `product id '${b}' is not 1-4 hex digits`);
  const ids = { kind: 'ids' as const, vendorId: parseInt(a, 16), productId: parseInt(b, 16) };
  if (rest.length === 0) return ids;
  // A serial number may itself contain colons: everything after the second colon is the serial.
  const serialNumber = rest.join(':');
  if (serialNumber === '') throw new DeviceSelectorError(input, 'empty serial number after the second colon');
  return { ...ids, serialNumber };
}

export const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export function formatDeviceSelector(sel: DeviceSelector): string {
  if (sel.kind === 'location') return `${sel.busNumber}:${sel.deviceAddress}`;
  const ids = `${hex4(sel.vendorId)}:${hex4(sel.productId)}`;
  return sel.serialNumber === undefined ? ids : `${ids}:${sel.serialNumber}`;
}

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
  const name = device.portNumbers.length === 0
    ? `usb${device.busNumber}` : `${device.busNumber}-${device.portNumbers.join('.')}`;
  try {
    return speedFromSysfs(readFileSync(`/sys/bus/usb/devices/${name}/speed`, 'utf8'));
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

function describeDevice(d: Device): string {
  const desc = d.deviceDescriptor;
  return `${hex4(desc.idVendor)}:${hex4(desc.idProduct)} at ${d.busNumber}:${d.deviceAddress}`;
}

/**
 * node-usb hands out one shared Device object per device: when a port of this process already has it open
 * (`interfaces` is set only while open), use that handle and leave it open - closing it would pull the handle
 * out from under the port.
 */
function alreadyOpen(device: Device): boolean {
  return device.interfaces !== undefined;
}

/** Open `device` briefly to read its serial number; undefined if it cannot be opened. */
async function serialOf(device: Device): Promise<string | undefined> {
  if (alreadyOpen(device)) return readStringDescriptor(device, device.deviceDescriptor.iSerialNumber);
  try {
    device.open(false);
  } catch (e) {
    log('cannot open %s to read its serial: %s', describeDevice(device), (e as Error).message);
    return undefined;
  }
  try {
    return await readStringDescriptor(device, device.deviceDescriptor.iSerialNumber);
  } finally {
    device.close();
  }
}

/**
 * The one device that `selector` names.
 * @throws UsbError NOT_FOUND (with the devices present listed), INVALID when vid:pid matches several devices.
 */
export async function findDevice(selector: DeviceSelector): Promise<Device> {
  const all = getDeviceList();
  let matches: Device[];
  if (selector.kind === 'location') {
    matches = all.filter((d) => d.busNumber === selector.busNumber && d.deviceAddress === selector.deviceAddress);
  } else {
    matches = all.filter((d) => d.deviceDescriptor.idVendor === selector.vendorId &&
      d.deviceDescriptor.idProduct === selector.productId);
    if (selector.serialNumber !== undefined) {
      const withSerial: Device[] = [];
      for (const d of matches) if ((await serialOf(d)) === selector.serialNumber) withSerial.push(d);
      matches = withSerial;
    }
  }
  const name = formatDeviceSelector(selector);
  const [first, second] = matches;
  if (first === undefined) {
    const present = all.map(describeDevice).join(', ') || 'none';
    throw new UsbError('NOT_FOUND', `no USB device matches ${name} (devices present: ${present})`);
  }
  if (second !== undefined) {
    throw new UsbError('INVALID', `${matches.length} devices match ${name} (${matches.map(describeDevice).join(', ')}); ` +
      'name one with vid:pid:serial or bus:address');
  }
  return first;
}

/** One mass-storage interface of one device, as `usbms list` shows it. */
export interface MassStorageDeviceInfo {
  vendorId: number;
  productId: number;
  busNumber: number;
  deviceAddress: number;
  /** Port path from the root hub, e.g. [1, 3]. */
  portNumbers: number[];
  serialNumber: string | undefined;
  manufacturer: string | undefined;
  product: string | undefined;
  /** The device could not be opened (no udev rule): strings and kernelDriverActive are unknown. */
  accessDenied: boolean;
  speed: UsbSpeed;
  interfaceNumber: number;
  protocol: MassStorageProtocol;
  protocolCode: number;
  hasBotAltSetting: boolean;
  /** undefined when unknown (no access, or the platform cannot tell). */
  kernelDriverActive: boolean | undefined;
}

function kernelDriverActive(device: Device, index: number): boolean | undefined {
  try {
    return device.interfaces?.[index]?.isKernelDriverActive();
  } catch (e) {
    log('isKernelDriverActive: %s', (e as Error).message);
    return undefined;
  }
}

/** Every mass-storage interface of every device present. Devices are opened briefly for their strings. */
export async function listMassStorageDevices(): Promise<MassStorageDeviceInfo[]> {
  const out: MassStorageDeviceInfo[] = [];
  for (const device of getDeviceList()) {
    let summaries;
    try {
      summaries = summarizeMassStorageInterfaces(device.configDescriptor?.interfaces ?? []);
    } catch (e) {
      log('no configuration descriptor for %s: %s', describeDevice(device), (e as Error).message);
      continue;
    }
    if (summaries.length === 0) continue;
    let strings: DeviceStrings = { manufacturer: undefined, product: undefined, serialNumber: undefined };
    let accessDenied = false;
    let opened = false;
    const borrowed = alreadyOpen(device);
    try {
      if (!borrowed) device.open();
      opened = true;
      strings = await readDeviceStrings(device);
    } catch (e) {
      if (libusbErrno(e) === LibusbErrorCode.ACCESS) accessDenied = true;
      else log('cannot open %s: %s', describeDevice(device), usbErrorFromLibusb(e, { what: 'open' }).message);
    }
    const desc = device.deviceDescriptor;
    for (const s of summaries) {
      out.push({
        vendorId: desc.idVendor, productId: desc.idProduct, busNumber: device.busNumber,
        deviceAddress: device.deviceAddress, portNumbers: [...device.portNumbers], ...strings, accessDenied,
        speed: deviceSpeed(device), interfaceNumber: s.interfaceNumber, protocol: s.protocol,
        protocolCode: s.protocolCode, hasBotAltSetting: s.hasBotAltSetting,
        kernelDriverActive: opened ? kernelDriverActive(device, s.index) : undefined,
      });
    }
    if (opened && !borrowed) device.close();
  }
  return out;
}

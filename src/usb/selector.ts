/**
 * Naming a USB device: the `--device` selector, parsed and matched here and nowhere else.
 *
 * Three forms, told apart by their punctuation:
 * - `vid:pid` or `vid:pid:serial` - vendor and product id in hex, 1-4 digits each (`46f4:0001`), as lsusb prints;
 * - `bus:address` - decimal bus number and device address (`1:4`, or lsusb's `001:004`). Two all-decimal numbers
 *   of up to 3 digits are read as bus:address; anything with 4 digits or a hex letter is vid:pid (so `0001:0004`
 *   is vid:pid and `001:004` is bus:address);
 * - `bus-port[.port]...` - the physical port path, Linux sysfs style (`1-2.3`: bus 1, root hub port 2, then port 3
 *   of the hub plugged in there). It has a dash and no colon. Unlike the address, it names a slot: the same path
 *   finds the device again after a reset, a re-plug or a power cycle. Bus 0 is the software disk's (src/mock);
 * - `usbip:HOST:BUSID` - a device attached here through USB/IP (`usbip attach -r HOST -b BUSID`): the host as it was
 *   given to `usbip attach`, and the bus id there. Its local port path changes with every attach; this does not
 *   (src/usb/usbip.ts reads it from the kernel's files). An IPv6 host goes in brackets: `usbip:[fe80::1]:1-2`.
 */
import { UsbError } from './errors.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { hex4 } from '../util/hex.js';

/** A parsed `--device`: by identity (`ids`), by bus and address (`location`) or by physical port (`port`). */
export type DeviceSelector =
  | { readonly kind: 'ids'; readonly vendorId: number; readonly productId: number; readonly serialNumber?: string }
  | { readonly kind: 'location'; readonly busNumber: number; readonly deviceAddress: number }
  | { readonly kind: 'port'; readonly busNumber: number; readonly portNumbers: readonly number[] }
  | { readonly kind: 'usbip' } & UsbipName;

/** Where a USB/IP device really is: the remote host (as `usbip attach -r` named it) and its bus id there. */
export interface UsbipName {
  readonly host: string;
  readonly busid: string;
}

/** Where a device is plugged in: its bus and the hub port chain from the root hub (node-usb `portNumbers`). */
export interface PortLocation {
  /** USB bus (host controller root hub) number. */
  readonly busNumber: number;
  /** Port numbers from the root hub down; empty for the root hub itself. */
  readonly portNumbers: readonly number[];
}

/** What a selector is matched against (a listing row has these, and more). */
export interface SelectableDevice extends PortLocation {
  /** idVendor of the device descriptor. */
  readonly vendorId: number;
  /** idProduct of the device descriptor. */
  readonly productId: number;
  /** The address the host gave it at enumeration (changes on every re-enumeration). */
  readonly deviceAddress: number;
  /** iSerialNumber's string; undefined when the device has none or it could not be read. */
  readonly serialNumber: string | undefined;
  /** Attached through USB/IP (vhci-hcd): the remote host and bus id, each undefined when no record says. */
  readonly usbip?: { readonly host: string | undefined; readonly busid: string | undefined } | undefined;
  /** Bound to usbip-host on this host: exported, maybe in use by another host (never chosen over another match). */
  readonly exported?: object | undefined;
}

const EXPECTED = 'expected vid:pid[:serial] in hex (46f4:0001), bus:address in decimal (1:4), a port path (1-2.3) ' +
  'or usbip:HOST:BUSID';

/** A selector the user typed that cannot name a device. */
export class DeviceSelectorError extends UsbmsArgumentError {
  override readonly name = 'DeviceSelectorError';
  /** @param input what the user typed; @param reason what is wrong with it */
  constructor(readonly input: string, reason: string) {
    // A caller's mistake like any other (code ARG_INVALID): one class for those at every layer.
    super(`bad device selector '${input}': ${reason} (${EXPECTED})`, { argument: '--device' });
  }
}

const HEX_ID = /^[0-9a-f]{1,4}$/i;
const DEC_LOC = /^[0-9]{1,3}$/;
const DEC = /^[0-9]{1,3}$/;
/** USB allows at most five hubs between a root port and a device (six ports); libusb reports up to seven. */
export const MAX_PORT_DEPTH = 7;

function parsePortPath(input: string, text: string): DeviceSelector {
  const dash = text.indexOf('-');
  const bus = text.slice(0, dash);
  const chain = text.slice(dash + 1);
  if (!DEC.test(bus)) throw new DeviceSelectorError(input, `bus '${bus}' of the port path is not a decimal number`);
  const busNumber = Number(bus);
  // Bus 0 exists on no host: the software disk's backend uses it, so a mock path never names a real slot.
  if (busNumber > 255) throw new DeviceSelectorError(input, `bus ${busNumber} is not 0..255`);
  const ports = chain.split('.');
  if (ports.length > MAX_PORT_DEPTH) {
    throw new DeviceSelectorError(input, `a port path has at most ${MAX_PORT_DEPTH} ports, this one ${ports.length}`);
  }
  const portNumbers = ports.map((p) => {
    if (!DEC.test(p)) throw new DeviceSelectorError(input, `port '${p}' of the port path is not a decimal number`);
    const n = Number(p);
    if (n < 1 || n > 255) throw new DeviceSelectorError(input, `port ${n} is not 1..255`);
    return n;
  });
  return { kind: 'port', busNumber, portNumbers };
}

const USBIP_BUSID = /^\d{1,3}-\d{1,3}(\.\d{1,3})*$/;

function parseUsbip(input: string, text: string): DeviceSelector {
  const rest = text.slice('usbip:'.length);
  const colon = rest.lastIndexOf(':');
  if (colon < 0) throw new DeviceSelectorError(input, 'usbip: needs HOST:BUSID (usbip:10.0.0.2:1-1.4)');
  let host = rest.slice(0, colon);
  const busid = rest.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '' || /\s/.test(host)) throw new DeviceSelectorError(input, `'${host}' is not a host name or address`);
  if (!USBIP_BUSID.test(busid)) throw new DeviceSelectorError(input, `'${busid}' is not a USB bus id (1-1.4)`);
  return { kind: 'usbip', host, busid };
}

/** Parse a `--device` value (see the module comment for the forms). @throws DeviceSelectorError */
export function parseDeviceSelector(input: string): DeviceSelector {
  const text = input.trim();
  if (/^usbip:/i.test(text)) return parseUsbip(input, text);
  if (text.includes('-') && !text.includes(':')) return parsePortPath(input, text);
  const parts = text.split(':');
  if (parts.length < 2) throw new DeviceSelectorError(input, 'it needs two numbers separated by a colon, or a port path');
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

/** Four lower-case hex digits, as lsusb prints VID and PID. */

/** `1-2.3`; a root hub (no ports) is `usb1`, as sysfs names it. */
export function formatPortPath(where: PortLocation): string {
  const ports = portNumbersOf(where);
  return ports.length === 0 ? `usb${where.busNumber}` : `${where.busNumber}-${ports.join('.')}`;
}

/**
 * The hub port chain of a device, [] for a root hub. node-usb's types promise an array, but it defines the
 * property only when libusb_get_port_numbers returns at least one port: on a root hub it is undefined.
 */
export function portNumbersOf(where: { readonly portNumbers?: readonly number[] | undefined }): readonly number[] {
  return where.portNumbers ?? [];
}

/** The selector as a user would type it (parseDeviceSelector's inverse). */
export function formatDeviceSelector(sel: DeviceSelector): string {
  if (sel.kind === 'location') return `${sel.busNumber}:${sel.deviceAddress}`;
  if (sel.kind === 'port') return formatPortPath(sel);
  if (sel.kind === 'usbip') return formatUsbipSelector(sel);
  const ids = `${hex4(sel.vendorId)}:${hex4(sel.productId)}`;
  return sel.serialNumber === undefined ? ids : `${ids}:${sel.serialNumber}`;
}

/** `usbip:HOST:BUSID` (an IPv6 host in brackets). */
export function formatUsbipSelector(n: UsbipName): string {
  return `usbip:${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.busid}`;
}

/** Does a listed device's USB/IP identity name `n`? Host names compare without case, as DNS does. */
export function sameUsbipName(n: UsbipName, d: SelectableDevice['usbip']): boolean {
  return d?.host !== undefined && d.busid === n.busid && d.host.toLowerCase() === n.host.toLowerCase();
}

/** Same bus and same port chain. */
export function samePortLocation(a: PortLocation, b: PortLocation): boolean {
  const pa = portNumbersOf(a);
  const pb = portNumbersOf(b);
  return a.busNumber === b.busNumber && pa.length === pb.length && pa.every((p, i) => p === pb[i]);
}

/** Does `device` answer to `sel`? A vid:pid:serial selector needs the serial to be known and equal. */
export function matchesSelector(sel: DeviceSelector, device: SelectableDevice): boolean {
  switch (sel.kind) {
    case 'location': return device.busNumber === sel.busNumber && device.deviceAddress === sel.deviceAddress;
    case 'port': return samePortLocation(sel, device);
    case 'usbip': return sameUsbipName(sel, device.usbip);
    case 'ids':
      return device.vendorId === sel.vendorId && device.productId === sel.productId &&
        (sel.serialNumber === undefined || device.serialNumber === sel.serialNumber);
  }
}

const describe = (d: SelectableDevice): string =>
  `${hex4(d.vendorId)}:${hex4(d.productId)} at ${formatPortPath(d)} (${d.busNumber}:${d.deviceAddress})` +
  (d.usbip?.host !== undefined && d.usbip.busid !== undefined ? ` = ${formatUsbipSelector({ host: d.usbip.host, busid: d.usbip.busid })}` : '') +
  (d.exported !== undefined ? ' exported by usbip-host' : '');

/**
 * The one device of `devices` that `sel` names. Several interfaces of one device count once.
 * @throws UsbError NOT_FOUND (with the devices present listed), INVALID when the selector names several devices.
 */
export function selectOne<T extends SelectableDevice>(sel: DeviceSelector, devices: readonly T[]): T {
  const matches = devices.filter((d) => matchesSelector(sel, d));
  let distinct = matches.filter((d, i) =>
    matches.findIndex((e) => e.busNumber === d.busNumber && e.deviceAddress === d.deviceAddress) === i);
  // A stick exported through usbip-host and attached back here through vhci is listed twice with one identity: the
  // attached one is the one to use (the export belongs to whoever imports it), so the export drops out of a tie.
  const notExported = distinct.filter((d) => d.exported === undefined);
  if (notExported.length > 0 && notExported.length < distinct.length) distinct = notExported;
  const name = formatDeviceSelector(sel);
  const [first, second] = distinct;
  if (first === undefined) {
    const present = devices.map(describe).filter((d, i, all) => all.indexOf(d) === i).join(', ') || 'none';
    throw new UsbError('NOT_FOUND', `no USB mass-storage device matches ${name} (devices present: ${present})`);
  }
  if (second !== undefined) {
    throw new UsbmsArgumentError(`${distinct.length} devices match ${name} (${distinct.map(describe).join(', ')}); ` +
      'name one with vid:pid:serial or its port path');
  }
  return first;
}

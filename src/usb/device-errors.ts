/**
 * Errors of the device boundary beyond one port: a slot holding another device than the one named, a device
 * that does not leave or come back in time, a hub that cannot switch port power, a disk the kernel has mounted.
 * Each is a UsbError (branch on `code`, or on the class for the detail it carries).
 */
import { UsbError } from './errors.js';
import type { DeviceIdentity } from './backend.js';
import { formatPortPath, formatUsbipSelector, type PortLocation, type UsbipName } from './selector.js';
import type { UsbipExport } from './usbip.js';
import { hex4 } from '../util/hex.js';

/** `vid:pid serial S`, as messages name a device. */
export function formatIdentity(id: DeviceIdentity): string {
  return `${hex4(id.vendorId)}:${hex4(id.productId)}${id.serialNumber === undefined ? '' : ` serial ${id.serialNumber}`}`;
}

/** How messages name a slot: its port path, or `usbip:HOST:BUSID (port 4-1)` over USB/IP. */
export function formatSlot(l: PortLocation & { readonly usbip?: UsbipName | undefined }): string {
  return l.usbip === undefined ? `port ${formatPortPath(l)}` : `${formatUsbipSelector(l.usbip)} (port ${formatPortPath(l)})`;
}

/** The slot holds a device with another VID:PID or serial than the one first found there: never used silently. */
export class DeviceMismatchError extends UsbError {
  override readonly name = 'DeviceMismatchError';
  /** @param expected the slot's device; @param found what is in the port now */
  constructor(readonly expected: DeviceIdentity, readonly found: Omit<DeviceIdentity, 'busNumber' | 'portNumbers'>) {
    super('NOT_FOUND', `${formatSlot(expected)} now holds ${formatIdentity({ ...expected, ...found })}, ` +
      `not the device first found there (${formatIdentity(expected)}); refusing to use it`);
  }
}

/** A device did not leave (`gone`) or come back (`back`) within the time allowed. */
export class DeviceWaitTimeoutError extends UsbError {
  override readonly name = 'DeviceWaitTimeoutError';
  /** @param waitedFor what did not happen; @param location the port; @param timeoutMs how long it was given */
  constructor(readonly waitedFor: 'gone' | 'back', readonly location: PortLocation & { readonly usbip?: UsbipName | undefined },
    readonly timeoutMs: number, detail = '') {
    super('TIMEOUT', `the device at ${formatSlot(location)} did not ${waitedFor === 'gone' ? 'go away' :
      'come back'} within ${timeoutMs} ms${detail === '' ? '' : ` (${detail})`}`);
  }
}

/**
 * Why port power was refused: the hub switches all ports at once, none, is not a hub, or lacks the port; or the
 * port is a USB/IP link (vhci-hcd), whose hub is on another host.
 */
export type PortPowerRefusal = 'ganged' | 'no-switching' | 'not-a-hub' | 'no-such-port' | 'usbip';

/** Port power cannot be switched here; switching would be a silent no-op or hit other ports, so it is refused. */
export class PortPowerError extends UsbError {
  override readonly name = 'PortPowerError';
  /** @param reason why; @param location the port that was to be switched */
  constructor(readonly reason: PortPowerRefusal, readonly location: PortLocation, message: string) {
    super('NOT_SUPPORTED', message);
  }
}

/** Detaching the kernel driver of a disk whose filesystems the kernel has mounted (it would lose data). */
export class UsbMountedError extends UsbError {
  override readonly name = 'UsbMountedError';
  /** @param mounts `/dev/sdX1 on /media/stick` for each mounted filesystem */
  constructor(readonly mounts: readonly string[], message: string) { super('BUSY', message); }
}

/** The recipe for power over USB/IP: the hub is on the exporting host, so `usbms power` runs there. */
export function remotePowerRecipe(name: UsbipName): string {
  return `it is attached through USB/IP and its hub is on ${name.host}: port power is out of reach from here; ` +
    `run \`usbms power cycle --device ${name.busid}\` on ${name.host}; the cycle ends the USB/IP link, so attach ` +
    `it here again afterwards (\`usbip attach -r ${name.host} -b ${name.busid}\`; \`usbip bind\` on ${name.host} first ` +
    'if it is no longer exported there)';
}

/** Port power of a device attached through USB/IP: refused with the recipe (see remotePowerRecipe). */
export function remotePowerError(location: PortLocation, name: UsbipName): PortPowerError {
  return new PortPowerError('usbip', location, `${formatUsbipSelector(name)} (${formatPortPath(location)}): ` +
    remotePowerRecipe(name));
}

/**
 * The device is bound to usbip-host: this host exports it, and the host that attached it sends its own commands
 * to it. Using it here as well interleaves two hosts' commands on one stick, so it is refused unless forced.
 */
export class UsbipExportedError extends UsbError {
  override readonly name = 'UsbipExportedError';
  /** @param location the device's port here; @param exported what usbip-host says of it */
  constructor(readonly location: PortLocation, readonly exported: UsbipExport) {
    const where = exported.status === 'in-use'
      ? `in use${exported.to.length > 0 ? ` by ${exported.to.join(', ')}` : ''}` : exported.status;
    super('BUSY', `${formatPortPath(location)} is exported through USB/IP (bound to usbip-host, ${where}): another ` +
      'host uses it, and commands from here would interleave with its own. Use it on the host that attached it ' +
      `(usbip:HOST:${exported.busid} there), run \`usbip unbind -b ${exported.busid}\` to take it back, or pass ` +
      '--force-exported to use it anyway');
  }
}

/**
 * Errors of the device boundary beyond one port: a slot holding another device than the one named, a device
 * that does not leave or come back in time, a hub that cannot switch port power, a disk the kernel has mounted.
 * Each is a UsbError (branch on `code`, or on the class for the detail it carries).
 */
import { UsbError } from './errors.js';
import type { DeviceIdentity } from './backend.js';
import { formatPortPath, type PortLocation } from './selector.js';
import { hex4 } from '../util/hex.js';

/** `vid:pid serial S`, as messages name a device. */
export function formatIdentity(id: DeviceIdentity): string {
  return `${hex4(id.vendorId)}:${hex4(id.productId)}${id.serialNumber === undefined ? '' : ` serial ${id.serialNumber}`}`;
}

/** The slot holds a device with another VID:PID or serial than the one first found there: never used silently. */
export class DeviceMismatchError extends UsbError {
  override readonly name = 'DeviceMismatchError';
  /** @param expected the slot's device; @param found what is in the port now */
  constructor(readonly expected: DeviceIdentity, readonly found: Omit<DeviceIdentity, 'busNumber' | 'portNumbers'>) {
    super('NOT_FOUND', `port ${formatPortPath(expected)} now holds ${formatIdentity({ ...expected, ...found })}, ` +
      `not the device first found there (${formatIdentity(expected)}); refusing to use it`);
  }
}

/** A device did not leave (`gone`) or come back (`back`) within the time allowed. */
export class DeviceWaitTimeoutError extends UsbError {
  override readonly name = 'DeviceWaitTimeoutError';
  /** @param waitedFor what did not happen; @param location the port; @param timeoutMs how long it was given */
  constructor(readonly waitedFor: 'gone' | 'back', readonly location: PortLocation, readonly timeoutMs: number,
    detail = '') {
    super('TIMEOUT', `the device at port ${formatPortPath(location)} did not ${waitedFor === 'gone' ? 'go away' :
      'come back'} within ${timeoutMs} ms${detail === '' ? '' : ` (${detail})`}`);
  }
}

/** Why port power was refused: the hub switches all ports at once, none, is not a hub, or lacks the port. */
export type PortPowerRefusal = 'ganged' | 'no-switching' | 'not-a-hub' | 'no-such-port';

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

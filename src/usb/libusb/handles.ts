/**
 * Shared libusb handles. node-usb hands out ONE Device object per device for the whole process, and that object
 * holds one libusb handle: `open()` on an open Device is a no-op, `close()` closes the handle for everyone (or
 * throws "Can't close device with a pending request" while any request of anyone is in flight, leaving it open).
 * Every open handle also keeps a ref'd thread-safe function (node-usb's completion queue), so one handle left open
 * keeps the process from ever exiting - and `process.getActiveResourcesInfo()` does not show it.
 *
 * So every part of this process that opens a device (a listing reading strings, a port, a hub control) takes a
 * use of the handle here and gives it back; the handle is opened by the first use and closed by the last. Before
 * this, two sessions opened at once (usbms validate on two sticks) each listed every device while the other was
 * reading strings: the lister that had opened a device could not close it (the other's request was pending), the
 * other had only borrowed it, and the devices nobody held a session on stayed open forever (issue 11).
 */
import type { Device } from 'usb';
import { logger } from '../../util/log.js';
import { formatPortPath } from '../selector.js';

const log = logger('libusb', 'handles');

interface Entry {
  users: number;
  /** Opened by code that does not use this module (a caller's own Device): never closed here. */
  external: boolean;
  /** The last use was given back but libusb refused the close (a request still in flight): retry later. */
  closeFailed: boolean;
}

const entries = new Map<Device, Entry>();

/**
 * Take a use of `device`'s handle, opening it when this is the first (`defaultConfig` as node-usb's `open`: false
 * for a hub, whose configuration must not be touched). The first opener decides; later uses share its handle.
 * @throws what node-usb's `open()` throws (LibUSBException), with nothing taken.
 */
export function acquireHandle(device: Device, defaultConfig = true): void {
  const entry = entries.get(device);
  if (entry !== undefined) {
    // A handle whose close failed is still open: the new user takes it over.
    entry.users++;
    entry.closeFailed = false;
    return;
  }
  // `interfaces` is set exactly while node-usb's Device is open: someone outside this module opened it.
  const external = device.interfaces !== undefined;
  if (!external) device.open(defaultConfig);
  entries.set(device, { users: 1, external, closeFailed: false });
}

/**
 * Give a use back; the last one closes the handle. Returns false when libusb refused the close (a request of
 * this process is still in flight): the handle stays open and counted in {@link openHandleCount}; call
 * {@link retryClose} once that request is back.
 */
export function releaseHandle(device: Device): boolean {
  const entry = entries.get(device);
  // No use taken here: the caller opened the Device itself (a LibusbPort built from its parts) and is its only user.
  if (entry === undefined) return closeLast(device, { users: 0, external: false, closeFailed: false });
  if (entry.users === 0) return false; // its close was refused already: retryClose
  if (--entry.users > 0) return true;
  return closeLast(device, entry);
}

/** Close a handle whose last close was refused, if nobody took it since. True when it is closed (or in use). */
export function retryClose(device: Device): boolean {
  const entry = entries.get(device);
  if (entry === undefined || !entry.closeFailed) return true;
  return closeLast(device, entry);
}

function closeLast(device: Device, entry: Entry): boolean {
  if (entry.external) { entries.delete(device); return true; }
  try {
    device.close();
  } catch (e) {
    entry.closeFailed = true;
    entries.set(device, entry);
    log('close %s: %s', formatPortPath(device), (e as Error).message);
    return false;
  }
  entries.delete(device);
  return true;
}

/** How many uses of `device`'s handle are taken (0: not in use here). */
export function handleUsers(device: Device): number {
  return entries.get(device)?.users ?? 0;
}

/** How many devices this module holds open now, in use or with a refused close (0 when all are closed). */
export function openHandleCount(): number {
  return entries.size;
}

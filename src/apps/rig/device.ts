/**
 * One slot of a validation rig: a device named by its physical port path (Linux sysfs style, `1-2.3`) and its
 * identity (VID:PID and serial), so that after a reset, a power cycle or a re-plug the same slot is found again
 * and a different device in it is never taken for the one that was there.
 *
 * One implementation, BackendRigDevice (./backend-rig.ts), over any UsbBackend: libusb or software disks (src/sources).
 */
import type { UsbmsSession } from '../../open.js';
import { formatUsbipSelector, type UsbipName } from '../../api.js';
import { hex4 } from '../../util/hex.js';
import { sleep } from '../../util/sleep.js';

/** What names a slot in results: its port path and the identity of the device found there. */
export interface DeviceKey {
  /** Port path: bus, then the hub port chain (`1-2.3`). */
  readonly port: string;
  readonly vendorId: number;
  readonly productId: number;
  readonly serial: string | undefined;
  /** A device attached through USB/IP: its remote host and bus id, the slot's stable name (the port is vhci's). */
  readonly usbip?: UsbipName | undefined;
}

/** One slot of a rig, as the runner uses it (libusb or software disks: {@link rigDevicesOf}). */
export interface RigDevice {
  readonly key: DeviceKey;
  /** A Bulk-Only (protocol 0x50) mass-storage interface; `--all` keeps only these. */
  readonly bulkOnly: boolean;
  /** What the product string says, for people reading the results. */
  readonly product: string | undefined;
  /** Filesystems the kernel has mounted from this device: a destructive plan refuses a device with any. */
  mounted(): string[];
  /** A new session on the device (one at a time per device). */
  open(): Promise<UsbmsSession>;
  /**
   * Power off for `offMs`, on again, and wait for the same device to be back (rejects when it is not).
   * Absent when nothing can switch the power of this port.
   */
  powerCycle?(offMs: number): Promise<void>;
  /**
   * Why this slot's power cannot be switched from here, when that is known (a device attached through USB/IP: its
   * hub is on another host, and this says what to run there). `powerCycle` is then absent.
   */
  readonly powerOutOfReach?: string | undefined;
  /**
   * Resolves true as soon as the same device (port and identity; over USB/IP remote name and identity, and then
   * `key.port` names the vhci port it came back on) is present again, false after `timeoutMs`.
   */
  waitForReturn(timeoutMs: number): Promise<boolean>;
}


/** The slot's name: its port path, or `usbip:HOST:BUSID (4-1)` for a device attached through USB/IP. */
export function slotName(k: Pick<DeviceKey, 'port' | 'usbip'>): string {
  return k.usbip === undefined ? k.port : `${formatUsbipSelector(k.usbip)} (${k.port})`;
}

/**
 * What stays the same for a slot while its device comes and goes: the port path, or over USB/IP the remote name
 * (vhci gives the device another local port at every attach).
 */
export function slotId(k: Pick<DeviceKey, 'port' | 'usbip'>): string {
  return k.usbip === undefined ? k.port : formatUsbipSelector(k.usbip);
}

/** `1-2.3 f055:5b00 SERIAL`: how a slot is named in lines, tables and file names. */
export function describeKey(k: DeviceKey): string {
  return `${slotName(k)} ${hex4(k.vendorId)}:${hex4(k.productId)}${k.serial === undefined ? '' : ` ${k.serial}`}`;
}

/** The same device: identity equal (the port is the slot, compared by the caller). */
export function sameIdentity(a: DeviceKey, b: DeviceKey): boolean {
  return a.vendorId === b.vendorId && a.productId === b.productId && a.serial === b.serial;
}

/** A file-name-safe key: port and serial (the journal and backup files of a slot). */
export function keyFileName(k: DeviceKey): string {
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]/g, '_');
  // Over USB/IP the vhci port changes with every attach: the remote name keeps a resumed run's journal.
  return `${safe(slotId(k))}_${hex4(k.vendorId)}-${hex4(k.productId)}_${safe(k.serial ?? 'noserial')}`;
}


/** Poll `present` every `everyMs` until it says true (true) or `timeoutMs` passes (false). */
export async function pollUntil(present: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await present()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(everyMs, Math.max(1, deadline - Date.now())));
  }
}

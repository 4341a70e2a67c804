/**
 * The device boundary: how usbms finds, opens and powers USB devices, whatever they are made of.
 *
 * A {@link UsbBackend} is to devices what a {@link UsbPort} is to one interface: the only way in. Two implement it:
 * `LibusbBackend` (src/usb/libusb/backend.ts, node-usb `usb@2`) and `MockBackend` (src/mock/backend.ts, software
 * disks behind software hubs). The composition root (src/open.ts) and the CLI (`usbms list`, `usbms power`) take
 * a backend by injection and run the same code on both; everything that is not about one backend (selector
 * matching, waiting for a device to come back, the hub protocol of port power) lives in src/usb/ and is shared.
 *
 * ## Contract
 *
 * - **list()** resolves with one row per mass-storage interface of every device present at the time of the call,
 *   in a stable order (bus, then port path, then interface). A device that cannot be opened for its strings is
 *   listed anyway, with `accessDenied` and its strings undefined. It never rejects because one device misbehaves.
 *   Rows are snapshots: a device that re-enumerates shows up in a later call with a new `deviceAddress` and the
 *   same `portPath`. A device that has vanished is not listed (the libusb backend needs udevd for that on Linux:
 *   without it libusb's cached device list keeps unplugged devices).
 * - **open(selector, options)** opens the mass-storage interface of the one device the selector names (in its
 *   Bulk-Only setting when it has one, else its UAS setting; see UsbPort's "Alternate settings and pipes") and
 *   resolves with a claimed {@link UsbPort} whose `info` carries `portNumbers`. It rejects with a UsbmsArgumentError
 *   when the selector names several devices, or a `UsbError`: NOT_FOUND (none; the message lists those present),
 *   ACCESS, BUSY (a kernel driver is bound and `detachKernelDriver` was not given, or the interface is claimed),
 *   NOT_SUPPORTED (neither a Bulk-Only nor a UAS setting), or a {@link UsbMountedError} when detaching the kernel driver of a disk with mounted
 *   filesystems (unless `force`). With `expect`, the opened device's VID:PID and serial are checked against it on
 *   the open handle and a different device is refused with `DeviceMismatchError` (the port is closed again). A
 *   device bound to usbip-host (exported to another host) is refused with `UsbipExportedError` unless
 *   `forceExported`.
 * - **openHub(location)** opens the hub device at `location` (a hub, not a port behind it) for class requests on
 *   its default control pipe; no interface is claimed (Linux usbfs lets a program send device- and
 *   other-recipient requests to a hub the kernel's hub driver holds, which is what uhubctl relies on). It rejects
 *   NOT_FOUND when there is no device there and NOT_SUPPORTED when the device there is not a hub.
 */
import type { ControlSetup, UsbPort, UsbSpeed } from './port.js';
import type { KnownKeys } from '../util/options.js';
import type { DeviceSelector, PortLocation, SelectableDevice, UsbipName } from './selector.js';
import type { UsbipExport, UsbipImport } from './usbip.js';

/** Transport protocol of a mass-storage interface: Bulk-Only (0x50), UAS (0x62) or another one. */
export type MassStorageProtocol = 'BOT' | 'UAS' | 'other';

/** One mass-storage interface of one device, as `usbms list` shows it. */
export interface DeviceListing extends SelectableDevice {
  /** Port chain from the root hub, e.g. [2, 3] (a fresh array per row). */
  readonly portNumbers: number[];
  /** `busNumber` and `portNumbers` as a string, sysfs style: `1-2.3`. */
  readonly portPath: string;
  /** iManufacturer's string, when readable. */
  readonly manufacturer: string | undefined;
  /** iProduct's string, when readable. */
  readonly product: string | undefined;
  /** The device could not be opened (no udev rule): strings and kernelDriverActive are unknown. */
  readonly accessDenied: boolean;
  /** Link speed (Linux sysfs, else guessed from the bulk max packet size). */
  readonly speed: UsbSpeed;
  /** bInterfaceNumber of the mass-storage interface. */
  readonly interfaceNumber: number;
  /** Protocol of the interface's default alternate setting. */
  readonly protocol: MassStorageProtocol;
  /** bInterfaceProtocol of the default alternate setting. */
  readonly protocolCode: number;
  /** Some alternate setting speaks Bulk-Only (UAS devices usually offer one). */
  readonly hasBotAltSetting: boolean;
  /** Some alternate setting speaks UAS (protocol 0x62). */
  readonly hasUasAltSetting: boolean;
  /** undefined when unknown (no access, or the platform cannot tell). */
  readonly kernelDriverActive: boolean | undefined;
  /** Attached here through USB/IP (vhci-hcd): the remote host and bus id (src/usb/usbip.ts). */
  readonly usbip?: UsbipImport | undefined;
  /** Bound to usbip-host: exported to other hosts, refused unless `forceExported` (src/usb/usbip.ts). */
  readonly exported?: UsbipExport | undefined;
}

/** What identifies a device in a slot across re-enumeration (the address changes; these do not). */
export interface DeviceIdentity extends PortLocation {
  /** idVendor. */
  readonly vendorId: number;
  /** idProduct. */
  readonly productId: number;
  /** undefined: the device has no serial number (then VID:PID alone is checked). */
  readonly serialNumber: string | undefined;
  /**
   * A device attached through USB/IP: its remote host and bus id. Then these, not the local port (which changes
   * with every attach), are the slot: the device is found again wherever vhci attaches it next.
   */
  readonly usbip?: UsbipName | undefined;
}

/** Options of {@link UsbBackend.open}. */
export interface BackendOpenOptions {
  /** Detach a kernel driver (usb-storage) bound to the interface, and re-attach it on close. Default false. */
  detachKernelDriver?: boolean | undefined;
  /** Detach even when the kernel has a filesystem of the disk mounted. Default false. */
  force?: boolean | undefined;
  /** Use this bInterfaceNumber instead of the first Bulk-Only mass-storage interface. */
  interfaceNumber?: number | undefined;
  /** Refuse the device unless it has this VID:PID and serial (DeviceMismatchError). */
  expect?: DeviceIdentity | undefined;
  /**
   * Open a device this host exports through usbip-host (default: refused with UsbipExportedError, since the host
   * that imports it sends its own commands to the same device).
   */
  forceExported?: boolean | undefined;
}
/** The keys of BackendOpenOptions: a backend's open() refuses any other (src/util/options.ts). */
export const BACKEND_OPEN_KEYS = {
  detachKernelDriver: true, force: true, interfaceNumber: true, expect: true, forceExported: true,
} as const satisfies KnownKeys<BackendOpenOptions>;

/** The default control pipe of an open hub: class requests only (GET_DESCRIPTOR, GET_STATUS, SET/CLEAR_FEATURE). */
export interface HubControl {
  /** The hub's bcdUSB >= 0x0300: a SuperSpeed hub (descriptor type 0x2A, USB 3 port status bits). */
  readonly superSpeed: boolean;
  /** Device to host; resolves with the bytes received. A STALL rejects with UsbStallError. */
  controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer>;
  /** Host to device, no data stage. */
  controlOut(setup: ControlSetup, timeoutMs: number): Promise<void>;
  /**
   * The platform's own way to switch a port, when it has one that the OS respects: resolves true when it switched,
   * false when there is none (then SET/CLEAR_FEATURE(PORT_POWER) is sent on the control pipe). Linux's hub driver
   * powers a port that lost power back on by itself unless the port is disabled through sysfs, which is what the
   * libusb backend does here (uhubctl does the same on Linux 6.0+).
   */
  switchPortPower?(port: number, on: boolean): Promise<boolean>;
  /** Release the hub handle. Never rejects. */
  close(): Promise<void>;
}

/** The device boundary; see the contract at the top of this module. */
export interface UsbBackend {
  /** 'libusb' or 'mock': shown by `usbms list --json`, never branched on by callers. */
  readonly kind: string;
  /** Every mass-storage interface present, one row each (contract: list()). */
  list(): Promise<DeviceListing[]>;
  /** Open the mass-storage interface of the one device `selector` names (contract: open()). */
  open(selector: DeviceSelector, options?: BackendOpenOptions): Promise<UsbPort>;
  /** The default control pipe of the hub at `location` (contract: openHub()). */
  openHub(location: PortLocation): Promise<HubControl>;
  /**
   * Quirk overrides (the `--quirks` syntax, `vid:pid:FLAGS[,...]`) for devices this backend makes: software devices
   * bring the quirks they need this way, as a user would give them. Opaque text here; the session passes it on
   * after the user's own overrides, which win. libusb has none.
   */
  readonly quirkOverrides?: string | undefined;
}

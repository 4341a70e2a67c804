/**
 * What a device source is described by, and what the factory (./index.ts, `openSource`) makes of it. Every way
 * usbms gets a device is one of these: real hardware through libusb, software disks, a replayed capture, a rig of
 * software disks, or a backend a library user built. Nothing else in usbms builds a {@link UsbBackend}.
 */
import type { MockUsbDevice } from '../mock/index.js';
import type { ReplayUsbDevice } from '../mock/replay/index.js';
import type { UsbBackend } from '../usb/backend.js';
import type { LibusbBackendOptions } from '../usb/libusb/backend.js';
import type { DeviceSelector } from '../usb/selector.js';

/**
 * One software disk: a device you built, `'demo'` for the built-in demo disk, or `{ file }`: a `.json` device
 * description (src/sources/mock-spec.ts), any other file a raw image served as a removable disk.
 */
export type MockDeviceSpec = MockUsbDevice | 'demo' | { readonly file: string };

/** The description {@link openSource} turns into a backend. */
export type SourceSpec =
  /** Real devices through node-usb; `selector` names the one to open (`usbms list` shows them all). */
  | { readonly kind: 'libusb'; readonly selector?: string | DeviceSelector | undefined;
    readonly options?: LibusbBackendOptions | undefined }
  /** Software disks behind a software hub with per-port power, at `0-1.1`, `0-1.2`, ... in order. */
  | { readonly kind: 'mock'; readonly devices: readonly MockDeviceSpec[] }
  /**
   * A usbmon/usbms capture replayed as the device it recorded (or a ReplayUsbDevice you built). `device` picks the
   * capture's device by `bus:address` when it holds several.
   */
  | { readonly kind: 'replay'; readonly file: string | ReplayUsbDevice;
    readonly device?: string | DeviceSelector | undefined }
  /** A rig of software disks described in JSON (src/sources/mock-rig.ts). */
  | { readonly kind: 'rig'; readonly file: string }
  /** A backend you built (your own implementation of the device boundary); `selector` as for libusb. */
  | { readonly kind: 'backend'; readonly backend: UsbBackend; readonly selector?: string | DeviceSelector | undefined };

/** What a source gives: where devices are found and opened, and which one the description named. */
export interface DeviceSource {
  readonly backend: UsbBackend;
  /**
   * The device the description names: its selector, or the one device a software source or a replay holds.
   * Undefined when it names none (libusb without a selector, a rig of several disks).
   */
  readonly selector: DeviceSelector | undefined;
  /** The software disk, when the source is exactly one. */
  readonly mock: MockUsbDevice | undefined;
}

/**
 * The library's API without native code and without the applications: the session (openUsbms), the device
 * sources, the disk target driver, the SCSA layer (DDI names), the SCSI codecs, the Bulk-Only Transport engine,
 * the USB port and device boundary. The package root (./index.ts) exports all of it, plus the libusb classes and
 * the validation rigs. The applications (src/apps) import the layers only through this module (and open.ts,
 * disk/, the mock entry): importing it loads no libusb, which a libusb source loads when it opens.
 */
export { openUsbms, UsbmsOpenError, mountedFilesystemsOf } from './open.js';
export type { OpenUsbmsOptions, UsbmsSession, UsbmsOpenErrorCode, UsbmsOpenErrorKind } from './open.js';
// The one error convention: the code set, the base classes, the type guards (README "Errors").
export * from './util/errors.js';
export * from './disk/index.js';
export * as scsa from './scsa/index.js';
export * as scsi from './scsi/index.js';
export * as bot from './bot/index.js';
export { BotTransport, BotError, isBotError } from './bot/index.js';
// Device quirks (declarations, the table, overrides): the device's, read by both protocols, the HBA and the disk.
export * as quirks from './quirks/index.js';
export { parseQuirkOverrides, resolveQuirks, QuirkParseError } from './quirks/index.js';
export { UsbmsHba } from './scsa/index.js';
// The transport seam the HBA runs packets on (BotTransport implements it; src/transport/index.ts has the contract).
export type {
  Transport, TransportCommand, TransportResult, TransportSlot, TransportErrorKind, TransportProtocol, ResetLevel,
  DataDirection,
} from './transport/index.js';
export type { UsbPort, UsbTransfer, PortInfo, Pipe, UsbSpeed, ControlSetup } from './usb/port.js';
export * from './usb/errors.js';
export { listMassStorageDevices } from './open.js';
export type { MassStorageDeviceInfo } from './open.js';
export { parseDeviceSelector, DeviceSelectorError } from './usb/selector.js';
export type { DeviceSelector } from './usb/selector.js';
// The device boundary: backends (list / open / hubs), selectors, slots across re-enumeration, port power.
export type { UsbBackend, DeviceListing, DeviceIdentity, BackendOpenOptions, HubControl } from './usb/backend.js';
export { formatDeviceSelector, formatPortPath, formatUsbipSelector, matchesSelector, selectOne } from './usb/selector.js';
export type { UsbipName } from './usb/selector.js';
// USB/IP: devices attached through vhci-hcd and exported through usbip-host (docs/rigs-usbip.md).
export type { UsbipExport, UsbipImport, UsbipRoots } from './usb/usbip.js';
export { hex4, vidPid } from './util/hex.js';
export type { PortLocation } from './usb/selector.js';
export {
  DeviceAtPort, setPortPower, portStatus, waitForArrival, identityOf, compareIdentity, usbipNameOf,
} from './usb/device-at-port.js';
export type { WaitOptions, PowerCycleOptions } from './usb/device-at-port.js';
export {
  DeviceMismatchError, DeviceWaitTimeoutError, formatIdentity, formatSlot, PortPowerError, remotePowerError,
  remotePowerRecipe, UsbipExportedError, UsbMountedError,
} from './usb/device-errors.js';
// The one device-source factory (src/sources): libusb, software disks, a rig file, a replayed capture.
export { openSource, sourceSpecOf, RigSpecError } from './open.js';
export type { DeviceSource, MockDeviceSpec, SourceOptions, SourceSpec } from './open.js';

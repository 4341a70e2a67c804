/**
 * usbms: a userspace USB mass-storage host driver. The package root exports the layers from the top down:
 * the session (openUsbms) and the disk target driver, then the SCSA layer (DDI names), the SCSI codecs, the
 * Bulk-Only Transport engine, and the USB port. The software USB disk is a separate entry point: `usbms/mock`.
 */
// usb@2's declarations (LibusbPort, the device listings) use the ambient WebUSB types of its @types/w3c-web-usb:
// keep the reference in dist/index.d.ts so that consumers need not list them in `types` (TypeScript 6: [] by default).
/// <reference types="w3c-web-usb" preserve="true" />
export { openUsbms, UsbmsOpenError, mountedFilesystemsOf } from './open.js';
export type { OpenUsbmsOptions, UsbmsSession, UsbmsOpenErrorCode, UsbmsOpenErrorKind } from './open.js';
// The one error convention: the code set, the base classes, the type guards (README "Errors").
export * from './util/errors.js';
export * from './disk/index.js';
export * as scsa from './scsa/index.js';
export * as scsi from './scsi/index.js';
export * as bot from './bot/index.js';
export { BotTransport, BotError, isBotError, parseQuirkOverrides, resolveQuirks } from './bot/index.js';
export { UsbmsHba } from './scsa/index.js';
export type { UsbPort, UsbTransfer, PortInfo, Pipe, UsbSpeed, ControlSetup } from './usb/port.js';
export * from './usb/errors.js';
export { openLibusbPort, LibusbPort } from './usb/libusb/index.js';
export type { LibusbOpenOptions } from './usb/libusb/index.js';
export { listMassStorageDevices } from './open.js';
export type { MassStorageDeviceInfo } from './open.js';
export { parseDeviceSelector, DeviceSelectorError } from './usb/selector.js';
export type { DeviceSelector } from './usb/selector.js';
// The device boundary: backends (list / open / hubs), selectors, slots across re-enumeration, port power.
export type { UsbBackend, DeviceListing, DeviceIdentity, BackendOpenOptions, HubControl } from './usb/backend.js';
export { LibusbBackend } from './usb/libusb/index.js';
export { formatDeviceSelector, formatPortPath, matchesSelector, selectOne } from './usb/selector.js';
export type { PortLocation } from './usb/selector.js';
export { DeviceSlot, setPortPower, portStatus, waitForArrival, identityOf, compareIdentity } from './usb/slot.js';
export type { WaitOptions, PowerCycleOptions } from './usb/slot.js';
export { DeviceMismatchError, DeviceWaitTimeoutError, PortPowerError, UsbMountedError } from './usb/device-errors.js';
export { usbBackend } from './open.js';
// Validation rigs (usbms validate): slots by port path, plans, the runner, its events and reports (README "Validation rigs").
export {
  runRig, rigDevicesOf, BackendRigDevice, selectRigDevices, RigSelectError, resolvePlan, BUILTIN_PLANS, parsePlan,
  loadPlanFile, PlanError, isDestructive, RigError, junitXml, describeKey, probeDisk, RESET_TYPES,
} from './apps/rig/index.js';
export type {
  RunOptions, RigResult, DeviceResult, StepResult, BackendRigOptions, Selection, Selected, Plan, Step, StepKind, StepParams,
  Thresholds, RigDevice, DeviceKey, RigEvent, EventSink, DeviceRef, StepStatus, RigErrorKind, ResetType, ProbeOptions,
  ProbeResult,
} from './apps/rig/index.js';

/**
 * usbms: a userspace USB mass-storage host driver. The package root exports the layers from the top down:
 * the session (openUsbms) and the disk target driver, then the SCSA layer (DDI names), the SCSI codecs, the
 * Bulk-Only Transport engine, and the USB port (./api.ts), the libusb implementation of the port, and the
 * validation rigs. The software USB disk is a separate entry point: `usbms/mock`.
 */
// usb@2's declarations (LibusbPort, the device listings) use the ambient WebUSB types of its @types/w3c-web-usb:
// keep the reference in dist/index.d.ts so that consumers need not list them in `types` (TypeScript 6: [] by default).
/// <reference types="w3c-web-usb" preserve="true" />
export * from './api.js';
// node-usb usb@2: loads the native addon.
export { openLibusbPort, LibusbPort, LibusbBackend } from './usb/libusb/index.js';
export type { LibusbOpenOptions } from './usb/libusb/index.js';
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

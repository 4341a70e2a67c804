/**
 * usbms: a userspace USB mass-storage host driver for Node.js. It talks to USB sticks and card readers through
 * libusb (node-usb), without the kernel's usb-storage driver: an illumos-SCSA-style HBA over USB Bulk-Only
 * Transport, a disk target driver above it, and a software USB disk for tests.
 *
 * The package root exports the layers from the top down: the session ({@link openUsbms}) and the disk target
 * driver ({@link Disk}), then the SCSA layer (DDI names, {@link scsa}), the SCSI codecs ({@link scsi}), the
 * Bulk-Only Transport engine ({@link bot}), the USB port, backends and slots, and the validation rigs. The
 * software USB disk is a separate entry point: `usbms/mock`.
 *
 * ```ts
 * import { openUsbms } from 'usbms';
 *
 * const session = await openUsbms({ device: '0781:5567' }); // or { mock: true }: the built-in software disk
 * try {
 *   const disk = await session.openDisk(0);
 *   const first = await disk.read(0n, 1); // LBA 0, one block
 * } finally {
 *   await session.close();
 * }
 * ```
 *
 * @packageDocumentation
 * @module usbms
 */
// usb@2's declarations (LibusbPort, the device listings) use the ambient WebUSB types of its @types/w3c-web-usb:
// keep the reference in dist/index.d.ts so that consumers need not list them in `types` (TypeScript 6: [] by default).
/// <reference types="w3c-web-usb" preserve="true" />
export * from './api.js';
// node-usb usb@2: loads the native addon.
export { openLibusbPort, LibusbPort, LibusbBackend } from './usb/libusb/index.js';
// Recovery as it happens (OpenUsbmsOptions.onRecovery): timeouts, resets and retries, each as it begins.
export type { RecoveryEvent, RecoveryStep, RecoverySink } from './util/recovery.js';
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

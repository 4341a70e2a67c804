/**
 * usbms: a userspace USB mass-storage host driver. The package root exports the layers from the top down:
 * the session (openUsbms) and the disk target driver, then the SCSA layer (DDI names), the SCSI codecs, the
 * Bulk-Only Transport engine, and the USB port. The software USB disk is a separate entry point: `usbms/mock`.
 */
export { openUsbms, UsbmsOpenError, mountedFilesystemsOf } from './open.js';
export type { OpenUsbmsOptions, UsbmsSession, UsbmsOpenErrorCode } from './open.js';
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
export { listMassStorageDevices, parseDeviceSelector, DeviceSelectorError } from './usb/find.js';
export type { DeviceSelector, MassStorageDeviceInfo } from './usb/find.js';

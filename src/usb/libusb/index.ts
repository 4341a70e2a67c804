/** The libusb (node-usb `usb@2`) implementation of the USB port. */
export { LibusbPort } from './port.js';
export { openLibusbPort, openLibusbDevice, kernelDriverBusyMessage, type LibusbOpenOptions } from './open.js';
export { LibusbBackend, type LibusbBackendOptions } from './backend.js';
export { listLibusbDevices, findLibusbDevice } from './list.js';
export { mountedFilesystemsOf } from './mounts.js';
export { usbErrorFromLibusb, LibusbErrorCode, LibusbTransferStatus, ACCESS_HINT } from './errors.js';
export {
  chooseBotInterface, chooseMassStorageInterface, altSettingsOf, summarizeMassStorageInterfaces, protocolName, type BotInterfaceChoice,
  type InterfaceTable, type MassStorageInterfaceSummary, type MassStorageProtocol,
} from './select.js';

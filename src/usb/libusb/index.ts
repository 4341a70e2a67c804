/** The libusb (node-usb `usb@2`) implementation of the USB port. */
export { LibusbPort } from './port.js';
export { openLibusbPort, kernelDriverBusyMessage, type LibusbOpenOptions } from './open.js';
export { usbErrorFromLibusb, LibusbErrorCode, LibusbTransferStatus, ACCESS_HINT } from './errors.js';
export {
  chooseBotInterface, summarizeMassStorageInterfaces, protocolName, type BotInterfaceChoice,
  type InterfaceTable, type MassStorageInterfaceSummary, type MassStorageProtocol,
} from './select.js';

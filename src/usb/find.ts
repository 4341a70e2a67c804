/**
 * @deprecated Kept so that imports of the old module keep working: selectors live in ./selector.ts, libusb
 * enumeration in ./libusb/list.ts, and callers should list and open through a UsbBackend (./backend.ts).
 */
import type { DeviceListing } from './backend.js';
import { listLibusbDevices } from './libusb/list.js';

export {
  DeviceSelectorError, parseDeviceSelector, formatDeviceSelector, type DeviceSelector,
} from './selector.js';
export { hex4 } from '../util/hex.js';
export {
  speedFromSysfs, speedFromBulkMaxPacket, deviceSpeed, readStringDescriptor, readDeviceStrings, type DeviceStrings,
} from './libusb/list.js';

/** One mass-storage interface of one device (now {@link DeviceListing}). */
export type MassStorageDeviceInfo = DeviceListing;

/** Every mass-storage interface of every device present, through libusb (now `new LibusbBackend().list()`). */
export function listMassStorageDevices(): Promise<DeviceListing[]> { return listLibusbDevices(); }

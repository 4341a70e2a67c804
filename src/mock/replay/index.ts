/**
 * A recorded device replayed behind the software devices' port: `ReplayUsbDevice` turns a capture (a usbmon or
 * usbms pcap, read by src/usb/trace) back into a device that answers as the recorded one did.
 */
export { ReplayUsbDevice, replayDivergenceOf, type ReplayStats } from './device.js';
export { loadRecording, type Recording, type RecordedCommand, type DeviceChoice } from './recording.js';
export { ReplayUasDevice } from './uas-device.js';
export { loadUasRecording, holdsUas, type UasRecording, type RecordedUasCommand } from './uas-recording.js';
export { ReplayDivergenceError, UsbmsTraceSelectError } from './errors.js';

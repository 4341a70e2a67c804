/** What the composition root calls to open a replayed device. */
import { parseDeviceSelector, type DeviceSelector } from '../../usb/selector.js';
import type { UsbPort } from '../../usb/port.js';
import { UsbmsTraceSelectError } from './errors.js';
import { ReplayUsbDevice } from './device.js';

/**
 * A port onto the device recorded in `replay` (a capture file, or a ReplayUsbDevice you built). `device`, when
 * given, picks the device of a capture that holds several, by `bus:address` as the capture names it.
 */
export function openReplayPort(replay: string | ReplayUsbDevice, device?: string | DeviceSelector): UsbPort {
  if (typeof replay !== 'string') return replay.open();
  const sel = typeof device === 'string' ? parseDeviceSelector(device) : device;
  if (sel !== undefined && sel.kind !== 'location') {
    throw new UsbmsTraceSelectError('with --replay, --device names a device of the capture as BUS:ADDRESS');
  }
  const choice = sel === undefined ? undefined : { busNumber: sel.busNumber, deviceAddress: sel.deviceAddress };
  return ReplayUsbDevice.fromFile(replay, choice).open();
}

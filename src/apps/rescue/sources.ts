/**
 * Where a device comes back from after it re-enumerated: its port (src/usb/device-at-port.ts), the port path and the
 * identity (VID:PID, serial) of the device first found there, on the backend the rescue opened it through. The
 * same code serves hardware (libusb; port power through the parent hub, where its descriptor says the port
 * switches alone) and the software disk (its software hub switches per port).
 */
import {
  DeviceMismatchError, DeviceAtPort, formatIdentity, formatSlot, parseDeviceSelector, PortPowerError, type DeviceSelector,
  type UsbBackend,
} from '../../api.js';
import type { UsbmsSession } from '../../open.js';
import { logger } from '../../util/log.js';
import type { SessionSource } from './session-device.js';

const log = logger('rescue', 'device');

/** Port power stays off this long, with the device gone, before it is switched on again. */
const POWER_OFF_MS = 1000;

export function slotSource(slot: DeviceAtPort, open: (slot: DeviceAtPort) => Promise<UsbmsSession>, pollMs = 200): SessionSource {
  return {
    description: `${formatIdentity(slot.identity)} at ${formatSlot(slot.identity)}`,
    pollMs,
    async tryOpen(): Promise<UsbmsSession | undefined> {
      let row;
      try {
        row = await slot.current();
      } catch (e) {
        // Another device in the slot is never used in place of ours: keep waiting for ours.
        if (e instanceof DeviceMismatchError) { log('%s', e.message); return undefined; }
        throw e;
      }
      return row === undefined ? undefined : open(slot);
    },
    async powerCycle(waitMs: number): Promise<boolean> {
      try {
        await slot.powerCycle({ offMs: POWER_OFF_MS, timeoutMs: waitMs });
        return true;
      } catch (e) {
        if (e instanceof PortPowerError) { log('no power cycle: %s', e.message); return false; }
        throw e;
      }
    },
  };
}

/** The slot of the device `device` names on `backend` (any selector form; the identity comes from the listing). */
export function findSlot(backend: UsbBackend, device: string | DeviceSelector): Promise<DeviceAtPort> {
  return DeviceAtPort.find(backend, typeof device === 'string' ? parseDeviceSelector(device) : device);
}

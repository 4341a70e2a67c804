/**
 * A replayed capture as a device source: a backend holding the one device the capture recorded, listed where the
 * capture saw it (its bus and address) and opened as the ReplayUsbDevice's port.
 */
import { softwareListing } from '../mock/backend.js';
import {
  holdsUas, loadUasRecording, ReplayUasDevice, ReplayUsbDevice, UsbmsTraceSelectError, replayDivergenceOf,
  type ReplayDivergenceError,
} from '../mock/replay/index.js';
import type { BackendOpenOptions, DeviceListing, HubControl, UsbBackend } from '../usb/backend.js';
import { DeviceMismatchError } from '../usb/device-errors.js';
import { UsbError } from '../usb/errors.js';
import type { UsbPort } from '../usb/port.js';
import { parseDeviceSelector, selectOne, type DeviceSelector } from '../usb/selector.js';
import { readCapture, TraceFormatError } from '../usb/trace/index.js';
import { UsbmsOpenError } from './errors.js';
import type { DeviceSource } from './spec.js';

export { replayDivergenceOf, type ReplayDivergenceError };

/** The recorded device behind the device boundary. */
export class ReplayBackend implements UsbBackend {
  /** 'replay'. */
  readonly kind = 'replay';

  /** A Bulk-Only recording, or a UAS one (replayed through the software disk's UAS function). */
  constructor(readonly device: ReplayUsbDevice | ReplayUasDevice) {}

  /** The recorded device, at the bus and address the capture names. */
  get listing(): DeviceListing {
    const r = this.device.recording;
    const alts = this.device instanceof ReplayUasDevice ? this.device.device.altSettings : [];
    return softwareListing(r.info, { busNumber: r.busnum, portNumbers: r.info.portNumbers ?? [] }, r.devnum, alts);
  }

  list(): Promise<DeviceListing[]> { return Promise.resolve([this.listing]); }

  async open(selector: DeviceSelector, options: BackendOpenOptions = {}): Promise<UsbPort> {
    const row = selectOne(selector, await this.list());
    const expect = options.expect;
    if (expect !== undefined && (row.vendorId !== expect.vendorId || row.productId !== expect.productId ||
      row.serialNumber !== expect.serialNumber)) {
      throw new DeviceMismatchError(expect, this.device.recording.info);
    }
    return this.device.open();
  }

  openHub(): Promise<HubControl> {
    return Promise.reject(new UsbError('NOT_SUPPORTED', 'a replayed capture has no hubs to switch'));
  }
}

/** A capture that cannot be read, or names no single device, is the user's file problem (exit 15 / 1). */
function load(file: string, device: string | DeviceSelector | undefined): ReplayUsbDevice | ReplayUasDevice {
  const sel = typeof device === 'string' ? parseDeviceSelector(device) : device;
  try {
    if (sel !== undefined && sel.kind !== 'location') {
      throw new UsbmsTraceSelectError('with --replay, --device names a device of the capture as BUS:ADDRESS');
    }
    const choice = sel === undefined ? undefined : { busNumber: sel.busNumber, deviceAddress: sel.deviceAddress };
    // A capture of a UAS device (its configuration names the UAS pipes) replays as one; any other as Bulk-Only.
    const records = readCapture(file);
    if (holdsUas(records)) return new ReplayUasDevice(loadUasRecording(file, choice, records));
    return ReplayUsbDevice.fromFile(file, choice);
  } catch (e) {
    if (e instanceof UsbmsTraceSelectError) throw new UsbmsOpenError('BOTH_SELECTED', e.message);
    if (e instanceof TraceFormatError) throw new UsbmsOpenError('IMAGE', e.message);
    throw e;
  }
}

/** The source of `{ kind: 'replay', file, device }`. */
export function replaySource(file: string | ReplayUsbDevice | ReplayUasDevice, device: string | DeviceSelector | undefined): DeviceSource {
  const backend = new ReplayBackend(typeof file === 'string' ? load(file, device) : file);
  const { busNumber, deviceAddress } = backend.listing;
  return { backend, selector: { kind: 'location', busNumber, deviceAddress }, mock: undefined };
}

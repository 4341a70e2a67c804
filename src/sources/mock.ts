/** Software disks as a device source: the demo disk, image files, JSON descriptions, devices built in code. */
import { createDemoDisk, MockUsbDevice } from '../mock/index.js';
import { parseDeviceSelector } from '../usb/selector.js';
import { RigSpecError } from './errors.js';
import { mockFromFile } from './mock-file.js';
import { HUB_PORTS, mockBackendOf } from './mock-rig.js';
import type { DeviceSource, MockDeviceSpec } from './spec.js';

/** The device `spec` names (UsbmsOpenError IMAGE or MOCK_SPEC for a file that cannot be served). */
export function mockDeviceOf(spec: MockDeviceSpec): MockUsbDevice {
  if (spec === 'demo') return createDemoDisk();
  if (spec instanceof MockUsbDevice) return spec;
  return mockFromFile(spec.file);
}

/**
 * The devices plugged into a software hub at `0-1` (per-port power switching, so `usbms power --mock` can switch
 * them; the root hub cannot), at `0-1.1`, `0-1.2`, ... in order. Bus 0: no Linux host has one, so no real path
 * collides. One device is also the source's selected device.
 */
export async function mockSource(specs: readonly MockDeviceSpec[]): Promise<DeviceSource> {
  if (specs.length === 0) throw new RigSpecError('a software-disk source needs at least one device');
  if (specs.length > HUB_PORTS) throw new RigSpecError(`at most ${HUB_PORTS} --mock devices (use --rig for more)`);
  const devices = specs.map(mockDeviceOf);
  const backend = await mockBackendOf(devices.map((device, i) => ({ port: `0-1.${i + 1}`, device })));
  const only = devices.length === 1 ? devices[0] : undefined;
  return { backend, selector: only === undefined ? undefined : parseDeviceSelector('0-1.1'), mock: only };
}

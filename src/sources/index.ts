/**
 * The one device-source factory: every way usbms gets a device (libusb, software disks, a rig of them, a replayed
 * capture, a backend you built) is a {@link SourceSpec} that {@link openSource} turns into a {@link UsbBackend}.
 * openUsbms and every application (CLI commands, rigs, rescue) get their backend here and nowhere else.
 *
 * libusb (usb@2's native addon and its JavaScript) and the replay code load only when a source needs them: a
 * command on the software disk never touches them, and start-up is mostly module loading (README, Start-up).
 */
import type { MockUsbDevice } from '../mock/index.js';
import type { ReplayDivergenceError, ReplayUsbDevice } from '../mock/replay/index.js';
import type { UsbBackend } from '../usb/backend.js';
import { parseDeviceSelector, type DeviceSelector } from '../usb/selector.js';
import { UsbmsOpenError } from './errors.js';
import { mockSource } from './mock.js';
import { mockRigFromFile } from './mock-rig.js';
import type { DeviceSource, MockDeviceSpec, SourceSpec } from './spec.js';

export type { DeviceSource, MockDeviceSpec, SourceSpec } from './spec.js';
export { RigSpecError, UsbmsOpenError, type UsbmsOpenErrorCode, type UsbmsOpenErrorKind } from './errors.js';
export { mockBackendOf } from './mock-rig.js';
export { MockSpecError } from './mock-spec.js';

type ReplayModule = typeof import('./replay.js');
let replayModule: ReplayModule | undefined;

const selectorOf = (s: string | DeviceSelector | undefined): DeviceSelector | undefined =>
  typeof s === 'string' ? parseDeviceSelector(s) : s;

/** The backend `spec` describes, and the device it names (see {@link DeviceSource}). */
export async function openSource(spec: SourceSpec): Promise<DeviceSource> {
  switch (spec.kind) {
    case 'libusb': {
      const { LibusbBackend } = await import('../usb/libusb/backend.js');
      return { backend: new LibusbBackend(spec.options), selector: selectorOf(spec.selector), mock: undefined };
    }
    case 'mock':
      return mockSource(spec.devices);
    case 'rig':
      return { backend: await mockRigFromFile(spec.file), selector: undefined, mock: undefined };
    case 'replay':
      replayModule ??= await import('./replay.js');
      return replayModule.replaySource(spec.file, spec.device);
    case 'backend':
      return { backend: spec.backend, selector: selectorOf(spec.selector), mock: undefined };
  }
}

/** How openUsbms's options (and the CLI's --device, --mock, --replay) name a source; at most one of the sources. */
export interface SourceOptions {
  /** Where devices are found and opened (src/usb/backend.ts): a backend you built; default libusb. */
  backend?: UsbBackend | undefined;
  /**
   * `vid:pid[:serial]`, `bus:address` or a port path `1-2.3` (see src/usb/selector.ts); with `replay`, the
   * capture's device as `bus:address` when it holds several.
   */
  device?: string | DeviceSelector | undefined;
  /**
   * The software disk: a device you built, `true` for the demo disk, or a file name: a raw image to serve
   * (FileMedia), or a `.json` device description (src/sources/mock-spec.ts).
   */
  mock?: MockUsbDevice | string | true | undefined;
  /** Replay a capture (a usbmon pcap/pcapng file, or a ReplayUsbDevice) as the device (src/mock/replay). */
  replay?: string | ReplayUsbDevice | undefined;
}

/** The description `opts` give; refuses (UsbmsOpenError BOTH_SELECTED) options that name two sources. */
export function sourceSpecOf(opts: SourceOptions): SourceSpec {
  const { backend, device, mock, replay } = opts;
  if (replay !== undefined) {
    if (mock !== undefined || backend !== undefined) {
      throw new UsbmsOpenError('BOTH_SELECTED', 'give --replay alone (or with --device BUS:ADDRESS of the capture)');
    }
    return { kind: 'replay', file: replay, device };
  }
  if (mock !== undefined) {
    if (backend !== undefined) throw new UsbmsOpenError('BOTH_SELECTED', 'give either a backend or --mock, not both');
    if (device !== undefined) {
      throw new UsbmsOpenError('BOTH_SELECTED', 'give one of --device, --mock (or, in the API, port), not several');
    }
    const one: MockDeviceSpec = mock === true ? 'demo' : typeof mock === 'string' ? { file: mock } : mock;
    return { kind: 'mock', devices: [one] };
  }
  if (backend !== undefined) return { kind: 'backend', backend, selector: device };
  return { kind: 'libusb', selector: device };
}

/**
 * The divergence that ended a replay session (a replay port, or a port wrapped around one), else undefined. Only
 * a replay can diverge, and a replay source loads the replay code first, so without it there is nothing to find.
 */
export function replayDivergenceOf(port: object): ReplayDivergenceError | undefined {
  return replayModule?.replayDivergenceOf(port);
}

/**
 * The composition root: port (libusb or the software disk) -> BOT engine -> SCSA HBA -> disks.
 *
 * `openUsbms` is what the CLI and library users call; every layer is built on the one below it here and
 * nowhere else. Detaching the kernel's usb-storage driver is refused while the kernel has a filesystem of that
 * disk mounted (pulling a mounted disk away from the kernel loses data), unless `force`.
 */
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { BotTransport, parseQuirkOverrides, type BotTimeouts } from './bot/index.js';
import { Disk, type DiskOpenOptions } from './disk/index.js';
import { createDemoDisk, FileMedia, MockUsbDevice } from './mock/index.js';
import { RESET_ALL, RESET_TARGET, scsi_reset, UsbmsHba } from './scsa/index.js';
import { formatDeviceSelector, parseDeviceSelector, type DeviceSelector } from './usb/selector.js';
import type { DeviceListing as MassStorageDeviceInfo } from './usb/backend.js';
import { mountedFilesystemsOf } from './usb/libusb/mounts.js';
import { MockBackend } from './mock/backend.js';
import type { DeviceIdentity, UsbBackend } from './usb/backend.js';
import { matchesSelector } from './usb/selector.js';
import { mockFromSpec } from './open-mock.js';
import type { PcapOptions } from './usb/trace/index.js';
import type { ReplayDivergenceError, ReplayUsbDevice } from './mock/replay/index.js';
import type { UsbPort } from './usb/port.js';
import { UsbmsError } from './util/errors.js';
import { logger } from './util/log.js';

// What the command line needs from the layers below, re-exported by the composition root so that the CLI
// depends on this module (and the disk driver) only.
export { BotError, QuirkParseError } from './bot/index.js';
export { UsbError } from './usb/errors.js';
export type { MassStorageDeviceInfo };
export { mountedFilesystemsOf };

// libusb (usb@2's native addon and its JavaScript) and the trace layer load only when a session needs them: a
// command on the software disk never touches them, and start-up is mostly module loading (see README, Start-up).
type TraceModule = typeof import('./usb/trace/index.js') & typeof import('./mock/replay/index.js');
let traceModule: TraceModule | undefined;
async function loadTrace(): Promise<TraceModule> {
  traceModule ??= { ...await import('./usb/trace/index.js'), ...await import('./mock/replay/index.js') };
  return traceModule;
}

/** Every Bulk-Only mass-storage device libusb sees (loads libusb). */
export async function listMassStorageDevices(): Promise<MassStorageDeviceInfo[]> {
  const { LibusbBackend } = await import('./usb/libusb/backend.js');
  return new LibusbBackend().list();
}

/**
 * The divergence that ended a replay session (a replay port, or a port wrapped around one), else undefined. Only
 * a replay can diverge, and a replay loads the trace layer first, so without it there is nothing to find.
 */
export function replayDivergenceOf(port: object): ReplayDivergenceError | undefined {
  return traceModule?.replayDivergenceOf(port);
}

const log = logger('cli', 'open');

/** What openUsbms opens (a real device or the software disk) and how. */
export interface OpenUsbmsOptions {
  /** Where devices are found and opened (src/usb/backend.ts); default libusb, or the one `mock` builds. */
  backend?: UsbBackend | undefined;
  /** `vid:pid[:serial]`, `bus:address` or a port path `1-2.3` (see src/usb/selector.ts). */
  device?: string | DeviceSelector | undefined;
  /** Refuse the device unless it is this one (VID:PID and serial, DeviceMismatchError): a slot's identity. */
  expect?: DeviceIdentity | undefined;
  /**
   * The software disk: a device you built, `true` for the demo disk, or a file name: a raw image to serve
   * (FileMedia), or a `.json` device description (src/open-mock.ts).
   */
  mock?: MockUsbDevice | string | true | undefined;
  /**
   * A port you opened yourself: any {@link UsbPort} implementation (your own device, a wrapper around another
   * port). The session runs on it exactly as on the ports `device` and `mock` open, quirks included.
   */
  port?: UsbPort | undefined;
  /** Detach a bound kernel driver (refused when one of its filesystems is mounted, unless `force`). */
  detachKernelDriver?: boolean | undefined;
  force?: boolean | undefined;
  /** Use a device this host exports through usbip-host (default: refused, UsbipExportedError). */
  forceExported?: boolean | undefined;
  /** Quirk overrides, `vid:pid:flags[,...]`, or just `flags` for the device being opened. */
  quirks?: string | undefined;
  /** Command timeout (data phase and pkt_time), ms. */
  timeoutMs?: number | undefined;
  /**
   * Per-phase BOT timeouts over the defaults (and over timeoutMs for the data phase). `usbms rescue` bounds the
   * CBW, CSW and control phases too, so that a stick that hangs is noticed within seconds, not after 6 s each.
   */
  botTimeouts?: Partial<BotTimeouts> | undefined;
  /**
   * Bytes per BOT command (default: Linux's 120 KiB at high speed, 1 MiB at SuperSpeed); larger is faster where
   * the device takes it (`usbms tune` finds out). The device's quirks still cap it.
   */
  maxTransferBytes?: number | undefined;
  /** Write a usbmon pcap of everything on the wire to `pcap.file` (Wireshark reads it; src/usb/trace). */
  pcap?: PcapOptions | undefined;
  /**
   * Replay a capture (a usbmon pcap/pcapng file, or a ReplayUsbDevice) as the device: src/mock/replay. With it,
   * `device` may name `bus:address` of the capture's device when it holds several.
   */
  replay?: string | ReplayUsbDevice | undefined;
}

/** An open device: the port, the BOT engine, the HBA, and the disks opened on it. */
export interface UsbmsSession {
  readonly port: UsbPort;
  readonly transport: BotTransport;
  readonly hba: UsbmsHba;
  /** The software device, when the session runs on one. */
  readonly mock: MockUsbDevice | undefined;
/** Open the disk driver on a LUN (INQUIRY, TEST UNIT READY policy, READ CAPACITY, write protect). */
  openDisk(lun: number, opts?: DiskOpenOptions): Promise<Disk>;
  /**
   * scsi_reset(9F) of a LUN without opening a disk on it (so it works when the unit will not even answer
   * INQUIRY): 'target' = BOT Reset Recovery, 'bus' = USB port reset. True when the reset succeeded.
   */
  reset(lun: number, level?: 'target' | 'bus'): Promise<boolean>;
  /** Closes the disks opened here, detaches the HBA, closes the engine and the port. */
  close(): Promise<void>;
}

/** Why openUsbms refused (the constructor argument; `code` is `OPEN_` + kind). */
export type UsbmsOpenErrorKind = 'NO_DEVICE_SELECTED' | 'BOTH_SELECTED' | 'MOUNTED' | 'IMAGE' | 'MOCK_SPEC';
/** @deprecated The old name of {@link UsbmsOpenErrorKind}; `UsbmsOpenError.code` is now the namespaced code. */
export type UsbmsOpenErrorCode = UsbmsOpenErrorKind;

/** A refusal of openUsbms itself (what to open, or whether it is safe to): code OPEN_*. */
export class UsbmsOpenError extends UsbmsError {
  override readonly name = 'UsbmsOpenError';
  declare readonly code: `OPEN_${UsbmsOpenErrorKind}`;
  constructor(readonly kind: UsbmsOpenErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(`OPEN_${kind}`, message, options);
  }
}

export function mockFromImage(path: string): MockUsbDevice {
  if (!existsSync(path)) throw new UsbmsOpenError('IMAGE', `image ${path} does not exist`);
  const size = statSync(path).size;
  if (size === 0 || size % 512 !== 0) {
    throw new UsbmsOpenError('IMAGE', `image ${path} is ${size} bytes, not a non-zero multiple of 512`);
  }
  let readOnly = false;
  try { accessSync(path, fsConstants.W_OK); } catch { readOnly = true; }
  const media = new FileMedia(path, { readOnly });
  // Served as a removable medium, as most USB flash drives report themselves (RMB=1), so eject works too.
  return new MockUsbDevice({ luns: [{ blocks: BigInt(size / 512), media, writeProtected: readOnly, removable: true }] });
}

function mockFromSpecOrRefuse(path: string): MockUsbDevice {
  try {
    return mockFromSpec(path);
  } catch (e) {
    throw new UsbmsOpenError('MOCK_SPEC', (e as Error).message, { cause: e });
  }
}

/**
 * Why detaching the kernel driver of the device `selector` names would be unsafe: the mounted filesystems of
 * every matching mass-storage interface in `devices`, as a message (undefined: nothing mounted). Paths are
 * parameters for tests, as in mountedFilesystemsOf.
 */
export function detachRefusal(selector: DeviceSelector, devices: readonly MassStorageDeviceInfo[],
  sysRoot?: string, mountsFile?: string): string | undefined {
  const matches = devices.filter((d) => matchesSelector(selector, d));
  const mounted = matches.flatMap((d) => mountedFilesystemsOf(d, sysRoot, mountsFile));
  if (mounted.length === 0) return undefined;
  return `refusing to detach the kernel driver of ${formatDeviceSelector(selector)}: it has mounted ` +
    `filesystems (${mounted.join(', ')}); unmount them first (or pass --force to do it anyway)`;
}

/**
 * Where the software disk is plugged in its backend: bus 0 (no Linux host has one), port 1 of a software hub with
 * per-port power switching on root port 1, so `usbms power --mock` can switch it (the root hub cannot).
 */
export const MOCK_DEVICE_PORT = '0-1.1';
export const MOCK_HUB_PORT = '0-1';

export interface ChosenBackend {
  readonly backend: UsbBackend;
  /** The software device `mock` built, plugged in at MOCK_DEVICE_PORT. */
  readonly mock: MockUsbDevice | undefined;
  /** The selector of that device, when the backend was built for it. */
  readonly onlyDevice: string | undefined;
}

/**
 * The backend a session or a listing runs on: the one given, else a MockBackend holding the software disk `mock`
 * names (a device, `true` for the demo disk, an image or a `.json` description), else libusb.
 */
export async function usbBackend(opts: { backend?: UsbBackend | undefined; mock?: OpenUsbmsOptions['mock'] }): Promise<ChosenBackend> {
  if (opts.backend !== undefined && opts.mock !== undefined) {
    throw new UsbmsOpenError('BOTH_SELECTED', 'give either a backend or --mock, not both');
  }
  if (opts.backend !== undefined) return { backend: opts.backend, mock: undefined, onlyDevice: undefined };
  if (opts.mock === undefined) {
    const { LibusbBackend } = await import('./usb/libusb/backend.js');
    return { backend: new LibusbBackend(), mock: undefined, onlyDevice: undefined };
  }
  const mock = opts.mock === true ? createDemoDisk()
    : typeof opts.mock !== 'string' ? opts.mock
      : opts.mock.toLowerCase().endsWith('.json') ? mockFromSpecOrRefuse(opts.mock) : mockFromImage(opts.mock);
  const backend = new MockBackend();
  backend.addHub(MOCK_HUB_PORT, { ports: 4, powerSwitching: 'individual' });
  await backend.plug(MOCK_DEVICE_PORT, mock);
  return { backend, mock, onlyDevice: MOCK_DEVICE_PORT };
}

/** A capture file that cannot be read or written is the user's file problem (exit 15), not an internal error. */
function fileOrRefuse<T>(trace: TraceModule, open: () => T): T {
  const { TraceFormatError, TraceWriteError, UsbmsTraceSelectError } = trace;
  try {
    return open();
  } catch (e) {
    if (e instanceof UsbmsTraceSelectError) throw new UsbmsOpenError('BOTH_SELECTED', e.message);
    if (e instanceof TraceFormatError || e instanceof TraceWriteError) throw new UsbmsOpenError('IMAGE', e.message);
    throw e;
  }
}

function quirkText(text: string | undefined, port: UsbPort): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (text.includes(':')) return text;
  const id = `${port.info.vendorId.toString(16).padStart(4, '0')}:${port.info.productId.toString(16).padStart(4, '0')}`;
  return `${id}:${text}`;
}

export async function openUsbms(opts: OpenUsbmsOptions): Promise<UsbmsSession> {
  const selected = [opts.device, opts.mock, opts.port].filter((x) => x !== undefined).length;
  if (selected > 1) {
    throw new UsbmsOpenError('BOTH_SELECTED', 'give one of --device, --mock (or, in the API, port), not several');
  }
  let mock: MockUsbDevice | undefined;
  let port: UsbPort;
  if (opts.replay !== undefined) {
    if (opts.mock !== undefined || opts.port !== undefined) {
      throw new UsbmsOpenError('BOTH_SELECTED', 'give --replay alone (or with --device BUS:ADDRESS of the capture)');
    }
    const trace = await loadTrace();
    port = fileOrRefuse(trace, () => trace.openReplayPort(opts.replay ?? '', opts.device));
  } else if (opts.port !== undefined) {
    port = opts.port;
  } else {
    // One path for hardware and the software disk: `mock` only decides which backend the device is found in.
    const chosen = await usbBackend({ backend: opts.backend, mock: opts.mock });
    mock = chosen.mock;
    const device = opts.device ?? chosen.onlyDevice;
    if (device === undefined) {
      throw new UsbmsOpenError('NO_DEVICE_SELECTED', 'no device selected: pass --device vid:pid[:serial], ' +
        '--device bus:address or --device PORT-PATH (see `usbms list`), or --mock for the built-in emulated disk');
    }
    const selector = typeof device === 'string' ? parseDeviceSelector(device) : device;
    port = await chosen.backend.open(selector, { detachKernelDriver: opts.detachKernelDriver, force: opts.force,
      expect: opts.expect, forceExported: opts.forceExported });
  }
  let transport: BotTransport | undefined;
  try {
    const raw = port;
    if (opts.pcap !== undefined) { // before the engine sends anything: a complete capture
      const trace = await loadTrace();
      port = fileOrRefuse(trace, () => trace.tracePort(raw, opts.pcap));
    }
    const quirks = quirkText(opts.quirks, port);
    transport = await BotTransport.open(port, {
      ...(quirks === undefined ? {} : { quirkOverrides: parseQuirkOverrides(quirks) }),
      timeouts: { ...(opts.timeoutMs === undefined ? {} : { dataMs: opts.timeoutMs }), ...opts.botTimeouts },
      ...(opts.maxTransferBytes === undefined ? {} : { maxTransferBytes: opts.maxTransferBytes }),
    });
    const hba = UsbmsHba.attach(transport, { quirks: { senseLun0Only: transport.quirks.senseLun0Only } });
    return makeSession(port, transport, hba, mock, opts.timeoutMs);
  } catch (e) {
    if (transport !== undefined) await transport.close().catch(() => undefined);
    await port.close().catch(() => undefined);
    throw e;
  }
}

function makeSession(port: UsbPort, transport: BotTransport, hba: UsbmsHba, mock: MockUsbDevice | undefined,
  timeoutMs: number | undefined): UsbmsSession {
  const disks: Disk[] = [];
  let closed = false;
  const q = transport.quirks;
  return {
    port, transport, hba, mock,
    async openDisk(lun: number, diskOpts: DiskOpenOptions = {}): Promise<Disk> {
      const disk = await Disk.open(hba, lun, {
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...diskOpts,
        quirks: { fixCapacity: q.fixCapacity, noReadCapacity16: q.noReadCapacity16,
          noSynchronizeCache: q.noSynchronizeCache, ...diskOpts.quirks },
      });
      disks.push(disk);
      return disk;
    },
    async reset(lun: number, level: 'target' | 'bus' = 'target'): Promise<boolean> {
      return (await scsi_reset(hba.address(lun), level === 'bus' ? RESET_ALL : RESET_TARGET)) === 1;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const d of disks) await d.close().catch((e: unknown) => { log('disk close: %s', (e as Error).message); });
      await hba.detach().catch((e: unknown) => { log('hba detach: %s', (e as Error).message); });
      await transport.close().catch((e: unknown) => { log('transport close: %s', (e as Error).message); });
      await port.close();
    },
  };
}

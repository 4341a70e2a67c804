/**
 * The composition root: device source (src/sources: libusb, the software disk, a rig, a replay) -> port
 * (-> TracingPort) -> BOT engine -> SCSA HBA -> disks.
 *
 * `openUsbms` is what the CLI and library users call; every layer is built on the one below it here and
 * nowhere else. Detaching the kernel's usb-storage driver is refused while the kernel has a filesystem of that
 * disk mounted (pulling a mounted disk away from the kernel loses data), unless `force`.
 */
import { BOT_TIMEOUT_KEYS, type BotTimeouts } from './bot/index.js';
import { parseQuirkOverrides, quirkParts, type QuirkParts, type Quirks } from './quirks/index.js';
import { openTransport, parseTransportRequest, type OpenedTransport } from './open-transport.js';
import { UAS_TIMEOUT_KEYS, type UasTimeouts } from './uas/index.js';
import { Disk, type DiskOpenOptions } from './disk/index.js';
import type { MockUsbDevice } from './mock/index.js';
import { RESET_ALL, RESET_TARGET, scsi_reset, UsbmsHba } from './scsa/index.js';
import { openSource, sourceSpecOf, UsbmsOpenError, type SourceOptions } from './sources/index.js';
import { formatDeviceSelector, matchesSelector, type DeviceSelector } from './usb/selector.js';
import type { DeviceIdentity, DeviceListing as MassStorageDeviceInfo } from './usb/backend.js';
import { mountedFilesystemsOf } from './usb/libusb/mounts.js';
import type { PcapOptions } from './usb/trace/index.js';
import type { UsbPort } from './usb/port.js';
import { logger } from './util/log.js';
import { vidPid } from './util/hex.js';
import { rejectUnknownKeys, type KnownKeys } from './util/options.js';
import type { RecoverySink } from './util/recovery.js';

// What the command line needs from the layers below, re-exported by the composition root so that the CLI
// depends on this module (and the disk driver) only.
export { BotError } from './bot/index.js';
export { QuirkParseError } from './quirks/index.js';
export { UsbError } from './usb/errors.js';
export { describeTransportChoice } from './open-transport.js';
export type { MassStorageDeviceInfo };
export { mountedFilesystemsOf };
export {
  openSource, replayDivergenceOf, RigSpecError, sourceSpecOf, UsbmsOpenError, type DeviceSource, type MockDeviceSpec,
  type SourceOptions, type SourceSpec, type UsbmsOpenErrorCode, type UsbmsOpenErrorKind,
} from './sources/index.js';

/** Every Bulk-Only mass-storage device libusb sees (loads libusb). */
export async function listMassStorageDevices(): Promise<MassStorageDeviceInfo[]> {
  return (await openSource({ kind: 'libusb' })).backend.list();
}

const log = logger('cli', 'open');

/**
 * What openUsbms opens and how: the device (`backend`, `device`, `mock`, `replay`: see {@link SourceOptions}; the
 * one device-source factory, src/sources, turns them into a backend), or a `port` you opened yourself.
 */
export interface OpenUsbmsOptions extends SourceOptions {
  /** Refuse the device unless it is this one (VID:PID and serial, DeviceMismatchError): a slot's identity. */
  expect?: DeviceIdentity | undefined;
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
  /** `bot`, `uas` or `auto` (default): which wire protocol to run (src/open-transport.ts, docs/uas.md). */
  transport?: string | undefined;
  /** Per-phase UAS timeouts over the defaults (and over timeoutMs for the data phase), as botTimeouts for BOT. */
  uasTimeouts?: Partial<UasTimeouts> | undefined;
  /**
   * Told of each recovery step as it begins (a command's timeout, clear halt, Mass Storage Reset, port reset, the
   * disk driver's retries and waits for a unit to become ready): what is done, what it waits for, how long. The
   * disks opened on the session report to it too, unless their own options name another sink.
   */
  onRecovery?: RecoverySink | undefined;
}

const OPEN_USBMS_KEYS = {
  backend: true, device: true, expect: true, mock: true, port: true, detachKernelDriver: true, force: true,
  quirks: true, timeoutMs: true, botTimeouts: true, maxTransferBytes: true, pcap: true, replay: true, onRecovery: true, forceExported: true,
  transport: true, uasTimeouts: true,
} as const satisfies KnownKeys<OpenUsbmsOptions>;

/** An open device: the port, the BOT engine, the HBA, and the disks opened on it. */
export interface UsbmsSession {
  readonly port: UsbPort;
  /** The wire protocol the session runs: Bulk-Only (BotTransport) or UAS (UasTransport); see `transport.protocol`. */
  readonly transport: OpenedTransport['transport'];
  /** The device's resolved quirks (the table's, the user's overrides, the software disk's own). */
  readonly quirks: Quirks;
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

function quirkText(text: string | undefined, port: UsbPort): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (text.includes(':')) return text;
  const id = vidPid(port.info.vendorId, port.info.productId);
  return `${id}:${text}`;
}

/**
 * Open a device and everything above its port: the BOT engine, the SCSA HBA, and a session that opens disks on
 * its LUNs. The device is a real one (`device`: `vid:pid[:serial]`, `bus:address` or a port path, through libusb),
 * the software disk (`mock`), a port you made (`port`), or a capture replayed (`replay`); give one of them.
 * Detaching a kernel driver (`detachKernelDriver`) is refused while one of its filesystems is mounted, unless
 * `force`. Close the session when done: that releases the interface and gives the device back.
 *
 * @throws {@link UsbmsOpenError} when nothing or several devices are named, an image or device description
 *   cannot be used, or a mounted filesystem forbids the detach; the USB errors of the port (not found, busy,
 *   access denied) otherwise.
 */
export async function openUsbms(opts: OpenUsbmsOptions): Promise<UsbmsSession> {
  // Before anything is opened: a misspelt option must not quietly become its default.
  rejectUnknownKeys(opts, OPEN_USBMS_KEYS, 'openUsbms options');
  rejectUnknownKeys(opts.botTimeouts, BOT_TIMEOUT_KEYS, 'openUsbms options.botTimeouts');
  rejectUnknownKeys(opts.uasTimeouts, UAS_TIMEOUT_KEYS, 'openUsbms options.uasTimeouts');
  const { port, mock, deviceQuirks } = opts.port !== undefined
    ? { port: givenPort(opts, opts.port), mock: undefined, deviceQuirks: undefined } : await openPort(opts);
  let transport: OpenedTransport['transport'] | undefined;
  let traced = port;
  try {
    if (opts.pcap !== undefined) traced = await tracePort(port, opts.pcap); // before the engine sends anything
    // The user's overrides first (for one VID:PID the first override wins), then those the devices bring.
    const quirks = [quirkText(opts.quirks, traced), deviceQuirks].filter((q) => q !== undefined).join(',');
    const dataMs = opts.timeoutMs === undefined ? {} : { dataMs: opts.timeoutMs };
    const maxTransfer = opts.maxTransferBytes === undefined ? {} : { maxTransferBytes: opts.maxTransferBytes };
    // Bulk-Only or UAS: what the interface offers, its speed, --transport and IGNORE_UAS decide (docs/uas.md).
    const opened = await openTransport(traced, {
      request: parseTransportRequest(opts.transport),
      bot: { ...(quirks === '' ? {} : { quirkOverrides: parseQuirkOverrides(quirks) }),
        timeouts: { ...dataMs, ...opts.botTimeouts }, ...maxTransfer, onRecovery: opts.onRecovery },
      uas: { timeouts: { ...dataMs, ...opts.uasTimeouts }, ...maxTransfer, onRecovery: opts.onRecovery },
    });
    transport = opened.transport;
    const parts = quirkParts(opened.quirks);
    const hba = UsbmsHba.attach(transport, { quirks: parts.hba, onRecovery: opts.onRecovery });
    return makeSession(traced, opened, hba, mock, opts.timeoutMs, parts, opts.onRecovery);
  } catch (e) {
    if (transport !== undefined) await transport.close().catch(() => undefined);
    await traced.close().catch(() => undefined);
    throw e;
  }
}

/** A port the caller opened: nothing else may name a device then. */
function givenPort(opts: OpenUsbmsOptions, port: UsbPort): UsbPort {
  if (opts.replay !== undefined) {
    throw new UsbmsOpenError('BOTH_SELECTED', 'give --replay alone (or with --device BUS:ADDRESS of the capture)');
  }
  if (opts.device !== undefined || opts.mock !== undefined) {
    throw new UsbmsOpenError('BOTH_SELECTED', 'give one of --device, --mock (or, in the API, port), not several');
  }
  return port;
}

/**
 * The port of the device the options name, through the one device-source factory (src/sources), and the quirk
 * overrides the source's devices bring (software disks: UsbBackend.quirkOverrides).
 */
async function openPort(opts: OpenUsbmsOptions)
  : Promise<{ port: UsbPort; mock: MockUsbDevice | undefined; deviceQuirks: string | undefined }> {
  const source = await openSource(sourceSpecOf(opts));
  if (source.selector === undefined) {
    throw new UsbmsOpenError('NO_DEVICE_SELECTED', 'no device selected: pass --device vid:pid[:serial], ' +
      '--device bus:address, --device PORT-PATH or --device usbip:HOST:BUSID (see `usbms list`), or --mock for the ' +
      'built-in emulated disk');
  }
  const port = await source.backend.open(source.selector, { detachKernelDriver: opts.detachKernelDriver,
    force: opts.force, expect: opts.expect, forceExported: opts.forceExported });
  return { port, mock: source.mock, deviceQuirks: source.backend.quirkOverrides };
}

/** `port` traced into a usbmon pcap (the trace code loads only when a capture is asked for). */
async function tracePort(port: UsbPort, pcap: PcapOptions): Promise<UsbPort> {
  const trace = await import('./usb/trace/index.js');
  try {
    return trace.tracePort(port, pcap);
  } catch (e) {
    // A capture file that cannot be written is the user's file problem (exit 15), not an internal error.
    if (e instanceof trace.TraceWriteError) throw new UsbmsOpenError('IMAGE', e.message);
    throw e;
  }
}

function makeSession(port: UsbPort, opened: OpenedTransport, hba: UsbmsHba, mock: MockUsbDevice | undefined,
  timeoutMs: number | undefined, quirks: QuirkParts, onRecovery: RecoverySink | undefined): UsbmsSession {
  const disks: Disk[] = [];
  let closed = false;
  const transport = opened.transport;
  return {
    port, transport, quirks: opened.quirks, hba, mock,
    async openDisk(lun: number, diskOpts: DiskOpenOptions = {}): Promise<Disk> {
      const disk = await Disk.open(hba, lun, {
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        onRecovery,
        ...diskOpts,
        quirks: { ...quirks.disk, ...diskOpts.quirks },
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

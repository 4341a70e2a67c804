/**
 * MockBackend: the device boundary (src/usb/backend.ts) over software disks plugged into software hubs, so
 * `usbms list`, `--device PORT`, re-finding a device after it re-enumerates and port power run the same code as
 * on hardware.
 *
 * ```ts
 * const rig = new MockBackend();                       // bus 0: no Linux host has it, so no real path collides
 * rig.addHub('0-1', { ports: 4 });                     // per-port power switching
 * rig.plug('0-1.2', new MockUsbDevice({ serialNumber: 'A' }));
 * const port = await rig.open(parseDeviceSelector('0-1.2'));
 * ```
 *
 * Each enumeration (plug, power on) gives the device a new address on its bus, as a host controller does. Power
 * off detaches the device (sessions on it fail as gone); power on re-enumerates it after `enumerationDelayMs`.
 */
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';
import { BACKEND_OPEN_KEYS, type BackendOpenOptions, type DeviceListing, type HubControl, type UsbBackend } from '../usb/backend.js';
import { DeviceMismatchError } from '../usb/device-errors.js';
import { UsbError } from '../usb/errors.js';
import type { AltSettingInfo, PortInfo, UsbPort } from '../usb/port.js';
import type { UsbipExport, UsbipImport } from '../usb/usbip.js';
import { UsbipExportedError } from '../usb/device-errors.js';
import {
  formatPortPath, parseDeviceSelector, samePortLocation, selectOne, type DeviceSelector, type PortLocation,
} from '../usb/selector.js';
import type { MockUsbDevice } from './device.js';
import { MockHub, type MockHubOptions } from './hub.js';

/** How a software rig is built. */
export interface MockBackendOptions {
  /** Bus number of the root hub; default 0 (no Linux host has a bus 0). */
  busNumber?: number;
  /** Root hub ports; default 8. */
  rootPorts?: number;
  /** Root hub power switching; default 'none' (many root hubs cannot switch). */
  rootPowerSwitching?: MockHubOptions['powerSwitching'];
  /** From power on to the device being listed again (ms); default 20. */
  enumerationDelayMs?: number;
}

const MOCK_BACKEND_KEYS = {
  busNumber: true, rootPorts: true, rootPowerSwitching: true, enumerationDelayMs: true,
} as const satisfies KnownKeys<MockBackendOptions>;

interface Slot {
  readonly location: PortLocation;
  readonly device: MockUsbDevice;
  /** Descriptor facts read once at plug time (a device that is open cannot be probed again). */
  readonly info: PortInfo;
  address: number | undefined;
  /** What USB/IP says of the port (a software stand-in for vhci-hcd and usbip-host, see {@link PlugOptions}). */
  readonly usbip: PlugOptions;
}

/** How a software device is plugged: as a local device (default), attached through USB/IP, or exported. */
export interface PlugOptions {
  /** Listed as attached through vhci-hcd from this remote host and bus id. */
  readonly usbip?: UsbipImport | undefined;
  /** Listed as bound to usbip-host (exported), and refused by open() unless `forceExported`. */
  readonly exported?: UsbipExport | undefined;
}

function toLocation(at: string | PortLocation): PortLocation {
  if (typeof at !== 'string') return at;
  const sel = parseDeviceSelector(at);
  if (sel.kind !== 'port') throw new UsbmsArgumentError(`'${at}' is not a port path (e.g. 0-1.2)`);
  return sel;
}

const parentAndPort = (l: PortLocation): { parent: PortLocation; port: number } => ({
  parent: { busNumber: l.busNumber, portNumbers: l.portNumbers.slice(0, -1) },
  port: l.portNumbers[l.portNumbers.length - 1] ?? 0,
});

/** Software disks behind software hubs; see the module comment. */
export class MockBackend implements UsbBackend {
  /** 'mock'. */
  readonly kind = 'mock';
  /** The root hub of the bus. */
  readonly root: MockHub;
  private readonly hubs: MockHub[] = [];
  private readonly slots: Slot[] = [];
  private nextAddress = 2;
  private readonly enumerationDelayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pulled = new WeakSet<MockUsbDevice>();

  /** An empty bus: only its root hub. */
  constructor(opts: MockBackendOptions = {}) {
    rejectUnknownKeys(opts, MOCK_BACKEND_KEYS, 'MockBackend options');
    const busNumber = opts.busNumber ?? 0;
    this.enumerationDelayMs = opts.enumerationDelayMs ?? 20;
    this.root = this.makeHub({ busNumber, portNumbers: [] },
      { ports: opts.rootPorts ?? 8, powerSwitching: opts.rootPowerSwitching ?? 'none' });
  }

  /** The quirk overrides the plugged devices bring (their `hostQuirks`), joined; undefined when none does. */
  get quirkOverrides(): string | undefined {
    const all = this.slots.flatMap((s) => (s.device.hostQuirks === undefined ? [] : [s.device.hostQuirks]));
    return all.length === 0 ? undefined : all.join(',');
  }

  /** Add a hub at the port path `at` (its parent hub must exist). */
  addHub(at: string | PortLocation, opts: MockHubOptions = {}): MockHub {
    const location = toLocation(at);
    this.checkFree(location);
    const hub = this.makeHub(location, opts);
    return hub;
  }

  /** Plug `device` into the port `at` (its parent hub must exist); it enumerates at once if the port is powered. */
  async plug(at: string | PortLocation, device: MockUsbDevice, opts: PlugOptions = {}): Promise<void> {
    const location = toLocation(at);
    this.checkFree(location);
    // Plugging a device back in that unplug() pulled out connects it again (a fresh enumeration). A device that
    // went away by itself (a fault, disconnect()) stays gone: open() below refuses it as UsbDeviceGoneError.
    if (this.pulled.delete(device) && !device.isConnected) device.reconnect();
    // Read the descriptors once, as a host does on enumeration; the port is given back at once.
    const probe = device.open();
    const info = probe.info;
    await probe.close();
    const slot: Slot = { location, device, info, address: undefined, usbip: opts };
    this.slots.push(slot);
    if (this.chainPowered(location)) slot.address = this.nextAddress++;
    else device.disconnect();
  }

  /** Pull the device out of port `at` (surprise removal); returns it. */
  unplug(at: string | PortLocation): MockUsbDevice {
    const location = toLocation(at);
    const i = this.slots.findIndex((s) => samePortLocation(s.location, location));
    const slot = this.slots[i];
    if (slot === undefined) throw new UsbError('NOT_FOUND', `nothing is plugged into ${formatPortPath(location)}`);
    this.slots.splice(i, 1);
    slot.device.disconnect();
    this.pulled.add(slot.device);
    return slot.device;
  }

  /** The hub at `at`, for tests (its request log, its power state). */
  hubAt(at: string | PortLocation): MockHub | undefined {
    const location = toLocation(at);
    return [this.root, ...this.hubs].find((h) => samePortLocation(h.location, location));
  }

  /** The device plugged into `at`, for tests. */
  deviceAt(at: string | PortLocation): MockUsbDevice | undefined {
    const location = toLocation(at);
    return this.slots.find((s) => samePortLocation(s.location, location))?.device;
  }

  /** Every connected, enumerated device, by port path. */
  list(): Promise<DeviceListing[]> {
    const rows = this.slots.filter((s) => s.address !== undefined && s.device.isConnected).map((s) => this.row(s));
    rows.sort((a, b) => a.portPath.localeCompare(b.portPath, 'en', { numeric: true }));
    // Asynchronous like a real enumeration, so callers cannot come to rely on it being synchronous.
    return new Promise((resolve) => setImmediate(() => resolve(rows)));
  }

  /** A port on the one device `selector` names (see UsbBackend.open). */
  async open(selector: DeviceSelector, options: BackendOpenOptions = {}): Promise<UsbPort> {
    rejectUnknownKeys(options, BACKEND_OPEN_KEYS, 'MockBackend.open options');
    const row = selectOne(selector, await this.list());
    const slot = this.slots.find((s) => samePortLocation(s.location, row));
    if (slot === undefined || slot.address === undefined) throw new UsbError('NO_DEVICE', `${row.portPath} is gone`);
    if (row.exported !== undefined && options.forceExported !== true) throw new UsbipExportedError(row, row.exported);
    const expect = options.expect;
    if (expect !== undefined && (slot.info.vendorId !== expect.vendorId || slot.info.productId !== expect.productId ||
      slot.info.serialNumber !== expect.serialNumber)) {
      throw new DeviceMismatchError(expect, slot.info);
    }
    if (options.interfaceNumber !== undefined && options.interfaceNumber !== slot.info.interfaceNumber) {
      throw new UsbError('NOT_FOUND', `interface ${options.interfaceNumber} is not a mass-storage interface`);
    }
    return withLocation(slot.device.open(), { busNumber: slot.location.busNumber, deviceAddress: slot.address,
      portNumbers: [...slot.location.portNumbers] });
  }

  /** The default pipe of the software hub at `location`. */
  openHub(location: PortLocation): Promise<HubControl> {
    const hub = this.hubAt(location);
    if (hub !== undefined) return Promise.resolve(hub.pipe());
    const name = formatPortPath(location);
    if (this.slots.some((s) => samePortLocation(s.location, location))) {
      return Promise.reject(new UsbError('NOT_SUPPORTED', `the device at ${name} is not a hub`));
    }
    return Promise.reject(new UsbError('NOT_FOUND', `no USB device at ${name}`));
  }

  /** Cancel pending re-enumerations (a test's cleanup). */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private row(s: Slot): DeviceListing {
    return {
      ...softwareListing(s.info, s.location, s.address ?? 0, s.device.altSettings),
      ...(s.usbip.usbip === undefined ? {} : { usbip: s.usbip.usbip }),
      ...(s.usbip.exported === undefined ? {} : { exported: s.usbip.exported }),
    };
  }

  private makeHub(location: PortLocation, opts: MockHubOptions): MockHub {
    const hub = new MockHub(location, opts,
      (port, on) => { this.portPowerChanged({ busNumber: location.busNumber, portNumbers: [...location.portNumbers, port] }, on); },
      (port) => this.slots.some((s) => s.address !== undefined && s.device.isConnected &&
        samePortLocation(s.location, { busNumber: location.busNumber, portNumbers: [...location.portNumbers, port] })));
    if (location.portNumbers.length > 0) this.hubs.push(hub);
    return hub;
  }

  private checkFree(location: PortLocation): void {
    const name = formatPortPath(location);
    const { parent, port } = parentAndPort(location);
    const hub = this.hubAt(parent);
    if (hub === undefined) throw new UsbmsArgumentError(`no hub at ${formatPortPath(parent)} to plug ${name} into`);
    if (port < 1 || port > hub.ports) throw new UsbmsArgumentError(`hub ${formatPortPath(parent)} has no port ${port}`);
    if (this.hubAt(location) !== undefined || this.slots.some((s) => samePortLocation(s.location, location))) {
      throw new UsbmsArgumentError(`port ${name} is taken`);
    }
  }

  /** Every port from the root down to `location` has power. */
  private chainPowered(location: PortLocation): boolean {
    for (let n = 1; n <= location.portNumbers.length; n++) {
      const { parent, port } = parentAndPort({ busNumber: location.busNumber, portNumbers: location.portNumbers.slice(0, n) });
      if (this.hubAt(parent)?.isPowered(port) !== true) return false;
    }
    return true;
  }

  /** Power changed at `location`: everything plugged at or below it drops off, or enumerates again. */
  private portPowerChanged(location: PortLocation, on: boolean): void {
    const below = (s: Slot): boolean => s.location.busNumber === location.busNumber &&
      location.portNumbers.every((p, i) => s.location.portNumbers[i] === p);
    for (const slot of this.slots.filter(below)) {
      if (!on) {
        slot.address = undefined;
        slot.device.disconnect();
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.chainPowered(slot.location) || !this.slots.includes(slot)) return;
        slot.device.reconnect();
        slot.address = this.nextAddress++;
      }, this.enumerationDelayMs);
      this.timers.add(timer);
    }
  }
}

/**
 * The listing row of a software device (no kernel driver) plugged in at `location` with `address`: what its
 * alternate settings offer (Bulk-Only when it lists none).
 */
export function softwareListing(i: PortInfo, location: PortLocation, address: number,
  alts: readonly AltSettingInfo[] = []): DeviceListing {
  const first = alts[0]?.interfaceProtocol ?? 0x50;
  const offers = (p: number): boolean => (alts.length === 0 ? p === 0x50 : alts.some((a) => a.interfaceProtocol === p));
  return {
    vendorId: i.vendorId, productId: i.productId, busNumber: location.busNumber, deviceAddress: address,
    portNumbers: [...location.portNumbers], portPath: formatPortPath(location), serialNumber: i.serialNumber,
    manufacturer: i.manufacturer, product: i.product, accessDenied: false, speed: i.speed,
    interfaceNumber: i.interfaceNumber, protocol: first === 0x50 ? 'BOT' : first === 0x62 ? 'UAS' : 'other',
    protocolCode: first, hasBotAltSetting: offers(0x50), hasUasAltSetting: offers(0x62), kernelDriverActive: false,
  };
}

/** The device's port with the location the backend gave it (the device itself does not know where it is plugged). */
function withLocation(port: UsbPort, where: Pick<PortInfo, 'busNumber' | 'deviceAddress' | 'portNumbers'>): UsbPort {
  let seen = port.info;
  let info: PortInfo = { ...seen, ...where };
  const select = port.selectAltSetting?.bind(port);
  return {
    // Refreshed when the port's own info changes (selectAltSetting binds other pipes).
    get info(): PortInfo {
      if (port.info !== seen) { seen = port.info; info = { ...seen, ...where }; }
      return info;
    },
    get closed() { return port.closed; },
    ...(port.altSettings === undefined ? {} : { altSettings: port.altSettings }),
    ...(select === undefined ? {} : { selectAltSetting: select }),
    createTransfer: (pipe) => port.createTransfer(pipe),
    controlIn: (setup, length, timeoutMs) => port.controlIn(setup, length, timeoutMs),
    controlOut: (setup, data, timeoutMs) => port.controlOut(setup, data, timeoutMs),
    clearHalt: (pipe) => port.clearHalt(pipe),
    resetDevice: () => port.resetDevice(),
    close: () => port.close(),
    onDisconnect: (listener) => port.onDisconnect(listener),
  };
}

/**
 * A device at a port: a physical port and the identity (VID:PID, serial) of the device first found there. It is
 * what a port path means to a rig across re-enumeration: after a port reset, a re-plug or a power cycle the device
 * comes back with a new address on the same port, and is found there again; another device in that port (other
 * VID:PID or serial) is refused with {@link DeviceMismatchError}, never used in its place.
 *
 * A device attached through USB/IP is found by its remote host and bus id instead (`usbip:HOST:BUSID`): vhci puts
 * it on whatever port is free at each attach, so its local port means nothing across a detach and re-attach. The
 * identity check is the same; port power is refused with the recipe for the host that holds its hub.
 *
 * Every wait here polls `backend.list()` (libusb on Linux needs udevd running for its list to drop unplugged
 * devices; see hw-tests/lab/README.md, quirk 7) and is bounded by a timeout.
 */
import { BACKEND_OPEN_KEYS, type BackendOpenOptions, type DeviceIdentity, type DeviceListing, type UsbBackend } from './backend.js';
import {
  DeviceMismatchError, DeviceWaitTimeoutError, formatIdentity, PortPowerError, remotePowerError,
} from './device-errors.js';
import { checkPortSwitchable, getPortStatus, readHubDescriptor, setPortPowerFeature, type PortStatus } from './hub.js';
import type { UsbPort } from './port.js';
import {
  formatPortPath, formatUsbipSelector, samePortLocation, sameUsbipName, selectOne, type DeviceSelector,
  type PortLocation, type UsbipName,
} from './selector.js';
import { logger } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

const log = logger('usb', 'port-device');

/** How long and how often to poll the listing. */
export interface WaitOptions {
  /** Give up after this long (ms). Defaults: 5000 for gone, 15000 for back. */
  timeoutMs?: number | undefined;
  /** Time between two listings (ms); default 100. */
  pollMs?: number | undefined;
  /** Abort the wait (it rejects with the signal's reason). */
  signal?: AbortSignal | undefined;
}

/** Options of {@link DeviceAtPort.powerCycle}. */
export interface PowerCycleOptions extends WaitOptions {
  /** How long the port stays off (ms), counted from the moment the device is gone; default 1000. */
  offMs?: number | undefined;
}

const WAIT_KEYS = { timeoutMs: true, pollMs: true, signal: true } as const satisfies KnownKeys<WaitOptions>;
const POWER_CYCLE_KEYS = { ...WAIT_KEYS, offMs: true } as const satisfies KnownKeys<PowerCycleOptions>;
/** A slot's open() sets `expect` itself. */
const { expect: _expect, ...SLOT_OPEN_KEYS } = BACKEND_OPEN_KEYS;

/** What {@link compareIdentity} found. */
export type IdentityMatch = 'same' | 'different' | 'unknown';

/** The remote host and bus id of a device attached through USB/IP, when the kernel's record names them. */
export function usbipNameOf(d: Pick<DeviceListing, 'usbip'>): UsbipName | undefined {
  const u = d.usbip;
  return u?.host === undefined || u.busid === undefined ? undefined : { host: u.host, busid: u.busid };
}

/** The identity of a listed device (its port, VID:PID and serial; its remote name over USB/IP). */
export function identityOf(d: DeviceListing): DeviceIdentity {
  const usbip = usbipNameOf(d);
  return { busNumber: d.busNumber, portNumbers: [...d.portNumbers], vendorId: d.vendorId, productId: d.productId,
    serialNumber: d.serialNumber, ...(usbip === undefined ? {} : { usbip }) };
}

/**
 * Is `d` the device `id` describes? 'unknown' when the serial could not be read (no access): neither used nor
 * refused until it can be told.
 */
export function compareIdentity(id: DeviceIdentity, d: Pick<DeviceListing, 'vendorId' | 'productId' | 'serialNumber' |
  'accessDenied'>): IdentityMatch {
  if (d.vendorId !== id.vendorId || d.productId !== id.productId) return 'different';
  if (d.serialNumber === id.serialNumber) return 'same';
  if (d.serialNumber === undefined && d.accessDenied) return 'unknown';
  return 'different';
}

/**
 * The rows of `location` in a listing (one per mass-storage interface of the device there); for a USB/IP identity,
 * the rows of the device attached from that host and bus id, on whichever vhci port it is now.
 */
async function rowsAt(backend: UsbBackend, location: PortLocation & { readonly usbip?: UsbipName | undefined }): Promise<DeviceListing[]> {
  const usbip = location.usbip;
  return (await backend.list()).filter((d) => usbip !== undefined ? sameUsbipName(usbip, d.usbip) : samePortLocation(d, location));
}

/** A physical port and the identity of the device that belongs there (see the module comment). */
export class DeviceAtPort {
  private constructor(
    /** Where the device is listed and opened. */
    readonly backend: UsbBackend,
    /** Port, VID:PID and serial of the device first found at the port. */
    readonly identity: DeviceIdentity,
  ) {}

  /** The one device `selector` names now, at its port (any selector form: the identity is read from the listing). */
  static async find(backend: UsbBackend, selector: DeviceSelector): Promise<DeviceAtPort> {
    const d = selectOne(selector, await backend.list());
    return new DeviceAtPort(backend, identityOf(d));
  }

  /** A device known from earlier (a journal, a plan), at its port: nothing is checked until it is used. */
  static of(backend: UsbBackend, identity: DeviceIdentity): DeviceAtPort { return new DeviceAtPort(backend, identity); }

  /** The port path, `1-2.3` (over USB/IP: the vhci port where the device was found). */
  get portPath(): string { return formatPortPath(this.identity); }
  /** The device's name: the port path, or `usbip:HOST:BUSID` over USB/IP. */
  get name(): string { return this.identity.usbip === undefined ? this.portPath : formatUsbipSelector(this.identity.usbip); }
  /** A `port` selector for the device's port (`usbip` over USB/IP). */
  get selector(): DeviceSelector {
    if (this.identity.usbip !== undefined) return { kind: 'usbip', ...this.identity.usbip };
    return { kind: 'port', busNumber: this.identity.busNumber, portNumbers: this.identity.portNumbers };
  }
  /** `1-2.3 (vid:pid serial S)`; `usbip:HOST:BUSID (vid:pid serial S)` over USB/IP. */
  toString(): string { return `${this.name} (${formatIdentity(this.identity)})`; }

  /** Port power of a USB/IP slot is on another host: refused with the recipe (before anything is switched). */
  private checkPowerReachable(): void {
    if (this.identity.usbip !== undefined) throw remotePowerError(this.identity, this.identity.usbip);
  }

  /**
   * The device at the port now: undefined when the port is empty (or holds no mass-storage device).
   * @throws DeviceMismatchError when another device is there.
   */
  async current(): Promise<DeviceListing | undefined> {
    const row = (await rowsAt(this.backend, this.identity))[0];
    if (row === undefined) return undefined;
    if (compareIdentity(this.identity, row) === 'different') throw this.mismatch(row);
    return row;
  }

  /** Open the device at the port; the identity is checked again on the opened handle. */
  open(options: Omit<BackendOpenOptions, 'expect'> = {}): Promise<UsbPort> {
    rejectUnknownKeys(options, SLOT_OPEN_KEYS, 'DeviceSlot.open options');
    return this.backend.open(this.selector, { ...options, expect: this.identity });
  }

  /**
   * Wait until the device has left the port: the port is empty, or holds a device with another address than
   * `address` (it re-enumerated faster than one poll).
   */
  async waitGone(opts: WaitOptions & { address?: number | undefined } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = (await rowsAt(this.backend, this.identity))[0];
      if (row === undefined || (opts.address !== undefined && row.deviceAddress !== opts.address)) return;
      if (Date.now() >= deadline) throw new DeviceWaitTimeoutError('gone', this.identity, timeoutMs);
      await sleep(opts.pollMs ?? 100, opts.signal);
    }
  }

  /**
   * Wait until this very device is back (with another address than `notAddress`, when given) and resolve with
   * its row. A different device appearing at the port rejects at once with DeviceMismatchError.
   */
  async waitBack(opts: WaitOptions & { notAddress?: number | undefined } = {}): Promise<DeviceListing> {
    const timeoutMs = opts.timeoutMs ?? 15000;
    const deadline = Date.now() + timeoutMs;
    let unknown = false;
    for (;;) {
      const row = (await rowsAt(this.backend, this.identity))[0];
      if (row !== undefined && row.deviceAddress !== opts.notAddress) {
        const match = compareIdentity(this.identity, row);
        if (match === 'different') throw this.mismatch(row);
        if (match === 'same') return row;
        unknown = true;
      }
      if (Date.now() >= deadline) {
        throw new DeviceWaitTimeoutError('back', this.identity, timeoutMs,
          unknown ? 'a device is there, but its serial number cannot be read to check it is the same one' : '');
      }
      await sleep(opts.pollMs ?? 100, opts.signal);
    }
  }

  /** Switch the port off and wait until the device is gone. */
  async powerOff(opts: WaitOptions = {}): Promise<void> {
    rejectUnknownKeys(opts, WAIT_KEYS, 'DeviceSlot.powerOff options');
    this.checkPowerReachable();
    const before = await this.current();
    await setPortPower(this.backend, this.identity, false);
    await this.waitGone({ ...opts, address: before?.deviceAddress });
  }

  /** Switch the port on and wait until this very device is back. */
  async powerOn(opts: WaitOptions = {}): Promise<DeviceListing> {
    rejectUnknownKeys(opts, WAIT_KEYS, 'DeviceSlot.powerOn options');
    this.checkPowerReachable();
    await setPortPower(this.backend, this.identity, true);
    return this.waitBack(opts);
  }

  /** Off, `offMs` with the device gone, on, and back (identity checked). Resolves with the device's new row. */
  async powerCycle(opts: PowerCycleOptions = {}): Promise<DeviceListing> {
    rejectUnknownKeys(opts, POWER_CYCLE_KEYS, 'DeviceSlot.powerCycle options');
    this.checkPowerReachable();
    const before = await this.current();
    await setPortPower(this.backend, this.identity, false);
    try {
      await this.waitGone({ ...opts, address: before?.deviceAddress });
      await sleep(opts.offMs ?? 1000, opts.signal);
    } finally {
      // Whatever happened while it was off, never leave the port unpowered.
      await setPortPower(this.backend, this.identity, true).catch((e: unknown) => {
        log('power back on %s: %s', this.portPath, (e as Error).message);
      });
    }
    return this.waitBack({ ...opts, notAddress: before?.deviceAddress });
  }

  private mismatch(row: DeviceListing): DeviceMismatchError {
    return new DeviceMismatchError(this.identity,
      { vendorId: row.vendorId, productId: row.productId, serialNumber: row.serialNumber });
  }
}

/** Wait until any mass-storage device shows up at `location` (a port with no identity yet) and resolve with its row. */
export async function waitForArrival(backend: UsbBackend, location: PortLocation, opts: WaitOptions = {}): Promise<DeviceListing> {
  rejectUnknownKeys(opts, WAIT_KEYS, 'waitForArrival options');
  const timeoutMs = opts.timeoutMs ?? 15000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = (await rowsAt(backend, location))[0];
    if (row !== undefined) return row;
    if (Date.now() >= deadline) throw new DeviceWaitTimeoutError('back', location, timeoutMs);
    await sleep(opts.pollMs ?? 100, opts.signal);
  }
}

function parentOf(location: PortLocation): { hubAt: PortLocation; port: number } {
  const port = location.portNumbers[location.portNumbers.length - 1];
  if (port === undefined) {
    throw new PortPowerError('not-a-hub', location, `${formatPortPath(location)} is a root hub, not a port`);
  }
  return { hubAt: { busNumber: location.busNumber, portNumbers: location.portNumbers.slice(0, -1) }, port };
}

/**
 * Switch the power of the port at `location` through its parent hub (SET/CLEAR_FEATURE PORT_POWER), after its hub
 * descriptor says the port can be switched alone. Does not wait for the device (see DeviceAtPort for that).
 * @throws PortPowerError when the hub switches no ports or all at once, or has no such port; UsbError from the hub.
 */
export async function setPortPower(backend: UsbBackend, location: PortLocation, on: boolean): Promise<void> {
  const { hubAt, port } = parentOf(location);
  const hub = await backend.openHub(hubAt);
  try {
    checkPortSwitchable(await readHubDescriptor(hub), hubAt, port);
    log('port %s power %s', formatPortPath(location), on ? 'on' : 'off');
    if (await hub.switchPortPower?.(port, on) !== true) await setPortPowerFeature(hub, port, on);
  } finally {
    await hub.close();
  }
}

/** GET_STATUS of the port at `location` from its parent hub: connected, powered. */
export async function portStatus(backend: UsbBackend, location: PortLocation): Promise<PortStatus> {
  const { hubAt, port } = parentOf(location);
  const hub = await backend.openHub(hubAt);
  try {
    return await getPortStatus(hub, port);
  } finally {
    await hub.close();
  }
}

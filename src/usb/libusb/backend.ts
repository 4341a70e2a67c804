/**
 * LibusbBackend: the device boundary (src/usb/backend.ts) over node-usb `usb@2`: enumeration, opening by any
 * selector with the kernel-driver and mount checks, and hubs for port power.
 */
import { getDeviceList, type Device } from 'usb';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { BACKEND_OPEN_KEYS, type BackendOpenOptions, type DeviceListing, type HubControl, type UsbBackend } from '../backend.js';
import { UsbError } from '../errors.js';
import type { ControlSetup, UsbPort } from '../port.js';
import { formatDeviceSelector, formatPortPath, portNumbersOf, samePortLocation, type DeviceSelector, type PortLocation } from '../selector.js';
import { usbErrorFromLibusb } from './errors.js';
import { acquireHandle, releaseHandle } from './handles.js';
import { describeDevice, findLibusbDevice, listLibusbDevices } from './list.js';
import { openLibusbDevice, type LibusbOpenOptions } from './open.js';
import { refuseExported } from './usbip.js';
import { PortPowerError } from '../device-errors.js';
import { isVhciBus, LINUX_USBIP_ROOTS, type UsbipRoots } from '../usbip.js';
import { logger } from '../../util/log.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

const log = logger('libusb', 'hub');
const USB_CLASS_HUB = 0x09;

/** Options of {@link LibusbBackend}. */
export interface LibusbBackendOptions {
  /** Bound on a port's close() wait for cancelled transfers (ms); default 2000. */
  closeTimeoutMs?: number | undefined;
  /** Where Linux sysfs lists USB devices (tests point it elsewhere); default /sys/bus/usb/devices. */
  sysfsRoot?: string | undefined;
  /** Where the USB/IP files are read (src/usb/usbip.ts); default /sys, /var/run, /proc. */
  usbipRoots?: UsbipRoots | undefined;
}

const LIBUSB_BACKEND_KEYS = { closeTimeoutMs: true, sysfsRoot: true, usbipRoots: true } as const satisfies KnownKeys<LibusbBackendOptions>;

/** A hub's default control pipe through node-usb. The handle is the hub's own; nothing is claimed. */
class LibusbHubControl implements HubControl {
  readonly superSpeed: boolean;
  private closed = false;
  constructor(private readonly device: Device, private readonly release: () => void, private readonly sysfsRoot: string) {
    this.superSpeed = device.deviceDescriptor.bcdUSB >= 0x0300;
  }

  private transfer(setup: ControlSetup, dataOrLength: Buffer | number, timeoutMs: number): Promise<Buffer | number | undefined> {
    const what = `hub ${formatPortPath(this.device)} request 0x${setup.bmRequestType.toString(16)}/` +
      `0x${setup.bRequest.toString(16)}`;
    this.device.timeout = timeoutMs;
    return new Promise((resolve, reject) => {
      this.device.controlTransfer(setup.bmRequestType, setup.bRequest, setup.wValue, setup.wIndex, dataOrLength,
        (error, data) => { if (error !== undefined) reject(usbErrorFromLibusb(error, { what, pipe: 'control' })); else resolve(data); });
    });
  }

  async controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer> {
    const data = await this.transfer(setup, length, timeoutMs);
    return Buffer.isBuffer(data) ? data : Buffer.alloc(0);
  }

  async controlOut(setup: ControlSetup, timeoutMs: number): Promise<void> {
    await this.transfer(setup, Buffer.alloc(0), timeoutMs);
  }

  close(): Promise<void> {
    if (!this.closed) { this.closed = true; this.release(); }
    return Promise.resolve();
  }

  /**
   * Linux 6.0+: `/sys/bus/usb/devices/<hub>:<config>.0/<hub>-port<N>/disable`. Writing 1 makes the kernel clear
   * PORT_POWER itself and keep it off; a bare CLEAR_FEATURE from userspace is undone by the hub driver, which
   * powers an unpowered port back on when it handles the port's change (hub_port_connect in drivers/usb/core/hub.c).
   */
  switchPortPower(port: number, on: boolean): Promise<boolean> {
    const file = sysfsPortDisableFile(this.sysfsRoot, this.device, port);
    if (file === undefined) return Promise.resolve(false);
    try {
      writeFileSync(file, on ? '0' : '1');
      log('%s <- %s', file, on ? '0' : '1');
      return Promise.resolve(true);
    } catch (e) {
      // Not writable (no udev rule for it): the control request is the fallback, as in uhubctl.
      log('cannot write %s (%s); sending the hub request instead', file, (e as Error).message);
      return Promise.resolve(false);
    }
  }
}

/** The sysfs port `disable` file of port `port` of `hub`, when this kernel has one. */
function sysfsPortDisableFile(sysfsRoot: string, hub: Device, port: number): string | undefined {
  const name = formatPortPath(hub); // usbN for a root hub, B-P.P... otherwise
  let config = '1';
  try { config = readFileSync(`${sysfsRoot}/${name}/bConfigurationValue`, 'utf8').trim() || '1'; } catch { return undefined; }
  const iface = portNumbersOf(hub).length === 0 ? `${hub.busNumber}-0:${config}.0` : `${name}:${config}.0`;
  const file = `${sysfsRoot}/${name}/${iface}/${name}-port${port}/disable`;
  return existsSync(file) ? file : undefined;
}

/** The device boundary over node-usb `usb@2` (libusb). */
export class LibusbBackend implements UsbBackend {
  /** 'libusb'. */
  readonly kind = 'libusb';
  /** @param opts options for every port it opens */
  constructor(private readonly opts: LibusbBackendOptions = {}) {
    rejectUnknownKeys(opts, LIBUSB_BACKEND_KEYS, 'LibusbBackend options');
  }

  /** Every mass-storage interface libusb sees (devices opened briefly for their strings), with their USB/IP side. */
  list(): Promise<DeviceListing[]> { return listLibusbDevices(this.opts.usbipRoots); }

  /** Find, check (exported, kernel driver, mounts, identity), claim and open (see UsbBackend.open). */
  async open(selector: DeviceSelector, options: BackendOpenOptions = {}): Promise<UsbPort> {
    rejectUnknownKeys(options, BACKEND_OPEN_KEYS, 'LibusbBackend.open options');
    const { device, row } = await findLibusbDevice(selector, this.opts.usbipRoots);
    refuseExported(row, options.forceExported);
    const o: LibusbOpenOptions = {};
    if (options.detachKernelDriver !== undefined) o.detachKernelDriver = options.detachKernelDriver;
    if (options.force !== undefined) o.force = options.force;
    if (options.interfaceNumber !== undefined) o.interfaceNumber = options.interfaceNumber;
    if (options.expect !== undefined) o.expect = options.expect;
    if (this.opts.closeTimeoutMs !== undefined) o.closeTimeoutMs = this.opts.closeTimeoutMs;
    return openLibusbDevice(device, formatDeviceSelector(selector), o);
  }

  /** Open the hub at `location` without configuring or claiming it. */
  openHub(location: PortLocation): Promise<HubControl> {
    const name = formatPortPath(location);
    if (isVhciBus(location.busNumber, this.opts.usbipRoots ?? LINUX_USBIP_ROOTS)) {
      // vhci-hcd's root hub answers the hub requests, but its ports are TCP links: no power to switch here.
      return Promise.reject(new PortPowerError('usbip', location, `${name} is on vhci-hcd's virtual root hub ` +
        '(USB/IP): its devices are on other hosts, where their hubs are; run `usbms power` on the host that holds ' +
        'the hub (usbip port names it)'));
    }
    const device = getDeviceList().find((d) => samePortLocation(d, location));
    if (device === undefined) return Promise.reject(new UsbError('NOT_FOUND', `no USB device at ${name}`));
    if (device.deviceDescriptor.bDeviceClass !== USB_CLASS_HUB) {
      return Promise.reject(new UsbError('NOT_SUPPORTED', `the device at ${name} (${describeDevice(device)}) is not a hub`));
    }
    try {
      // node-usb shares one Device (one libusb handle) per device: two slots on one hub switching power at once
      // share it, and the last one closes it (handles.ts). No configuration change and no claim: hub class
      // requests to the device and its ports need neither.
      acquireHandle(device, false);
    } catch (e) {
      return Promise.reject(usbErrorFromLibusb(e, { what: `open hub ${name}` }));
    }
    return Promise.resolve(new LibusbHubControl(device, () => { releaseHandle(device); },
      this.opts.sysfsRoot ?? '/sys/bus/usb/devices'));
  }
}

/**
 * Rig slots over the device boundary (src/usb/backend.ts): hardware through libusb, or software disks behind
 * software hubs (MockBackend), with the same code. Each slot is a DeviceAtPort: its port path and the identity of
 * the device found there, so sessions, power cycles and waits always find that device again and refuse another.
 */
import { mountedFilesystemsOf, openUsbms, type UsbmsSession } from '../../open.js';
import {
  DeviceMismatchError, DeviceAtPort, DeviceWaitTimeoutError, identityOf, remotePowerRecipe, type DeviceListing,
  type UsbBackend,
} from '../../api.js';
import type { RecoveryEvent } from '../../util/recovery.js';
import type { DeviceKey, RigDevice } from './device.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

/** Options of the sessions {@link rigDevicesOf}'s slots open. */
export interface BackendRigOptions {
  /** Detach usb-storage for the session (refused while mounted). */
  detachKernelDriver?: boolean | undefined;
  /** Command timeout of the sessions, ms. */
  timeoutMs?: number | undefined;
  quirks?: string | undefined;
  /** Use devices exported through usbip-host (`--force-exported`). */
  forceExported?: boolean | undefined;
  /** Bytes per command of the sessions (openUsbms' `maxTransferBytes`; `--max-transfer`). */
  maxTransferBytes?: number | undefined;
  /** Told of each recovery step of the sessions (openUsbms' `onRecovery`), with the device it concerns. */
  onRecovery?: ((device: DeviceKey, e: RecoveryEvent) => void) | undefined;
  /** Paths for tests of the mount check. */
  sysRoot?: string | undefined;
  mountsFile?: string | undefined;
}

const BACKEND_RIG_KEYS = {
  detachKernelDriver: true, timeoutMs: true, quirks: true, maxTransferBytes: true, sysRoot: true, mountsFile: true, onRecovery: true, forceExported: true,
} as const satisfies KnownKeys<BackendRigOptions>;

/** A rig slot over a {@link UsbBackend}: libusb hardware, or software disks behind software hubs. */
export class BackendRigDevice implements RigDevice {
  /** The slot's key; over USB/IP its port follows the device to the vhci port it comes back on. */
  get key(): DeviceKey { return this.current; }
  private current: DeviceKey;
  readonly bulkOnly: boolean;
  readonly product: string | undefined;
  readonly slot: DeviceAtPort;
  /** Bound to usbip-host here: exported to another host (left out of --all, refused unless forced). */
  readonly exported: boolean;
  readonly powerOutOfReach: string | undefined;
  /** Power off, on, and back (absent over USB/IP: the hub is on another host). */
  readonly powerCycle?: (offMs: number) => Promise<void>;

  constructor(readonly backend: UsbBackend, readonly listing: DeviceListing, private readonly opts: BackendRigOptions = {}) {
    rejectUnknownKeys(opts, BACKEND_RIG_KEYS, 'BackendRigDevice options');
    this.slot = DeviceAtPort.of(backend, identityOf(listing));
    const usbip = this.slot.identity.usbip;
    this.current = { port: listing.portPath, vendorId: listing.vendorId, productId: listing.productId, serial: listing.serialNumber,
      ...(usbip === undefined ? {} : { usbip }) };
    // Bulk-Only: the default setting speaks it, or a UAS device offers it as an alternate setting (usbms uses that).
    this.bulkOnly = listing.protocol === 'BOT' || listing.hasBotAltSetting;
    this.product = listing.product;
    this.exported = listing.exported !== undefined;
    this.powerOutOfReach = usbip === undefined ? undefined : remotePowerRecipe(usbip);
    if (usbip === undefined) this.powerCycle = async (offMs) => { await this.slot.powerCycle({ offMs }); };
  }

  mounted(): string[] {
    return mountedFilesystemsOf(this.listing, this.opts.sysRoot, this.opts.mountsFile);
  }

  open(): Promise<UsbmsSession> {
    const report = this.opts.onRecovery;
    return openUsbms({ backend: this.backend, device: this.slot.selector, expect: this.slot.identity,
      detachKernelDriver: this.opts.detachKernelDriver, timeoutMs: this.opts.timeoutMs, quirks: this.opts.quirks,
      maxTransferBytes: this.opts.maxTransferBytes, forceExported: this.opts.forceExported,
      onRecovery: report === undefined ? undefined : (e) => { report(this.key, e); } });
  }

  async waitForReturn(timeoutMs: number): Promise<boolean> {
    try {
      const back = await this.slot.waitBack({ timeoutMs });
      if (back.portPath !== this.current.port) this.current = { ...this.current, port: back.portPath };
      return true;
    } catch (e) {
      // Another device in the slot is never taken for this one: for the run it did not come back.
      if (e instanceof DeviceWaitTimeoutError || e instanceof DeviceMismatchError) return false;
      throw e;
    }
  }
}

/** Every mass-storage device of the backend, one slot per device (its first mass-storage interface). */
export async function rigDevicesOf(backend: UsbBackend, opts: BackendRigOptions = {}): Promise<BackendRigDevice[]> {
  rejectUnknownKeys(opts, BACKEND_RIG_KEYS, 'rigDevicesOf options');
  const seen = new Set<string>();
  const out: BackendRigDevice[] = [];
  for (const row of await backend.list()) {
    if (seen.has(row.portPath)) continue;
    seen.add(row.portPath);
    out.push(new BackendRigDevice(backend, row, opts));
  }
  return out;
}

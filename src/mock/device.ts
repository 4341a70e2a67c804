/**
 * The software USB mass-storage device: one mass-storage interface whose alternate settings offer Bulk-Only
 * (bulk-in 0x81, bulk-out 0x02), UAS (command 0x04, status 0x83, data-in 0x81, data-out 0x02, named by Pipe Usage
 * descriptors) or both; its class requests on the control pipe, its LUNs, and the test controls (faults,
 * surprise removal, stats, wire log). SET_INTERFACE switches between the Bulk-Only function and the UAS function.
 */
import { BOT_REQUEST, BOT_REQUEST_TYPE } from '../usb/wire/bot.js';
import { UsbCancelledError, UsbDeviceGoneError, UsbError, UsbStallError } from '../usb/errors.js';
import {
  USB_FEATURE_ENDPOINT_HALT, USB_REQ_CLEAR_FEATURE, type AltSettingInfo, type ControlSetup, type Pipe, type PortInfo,
} from '../usb/port.js';
import { UAS_INTERFACE_PROTOCOL } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import { BulkOnlyFunction, type BotDeviceCore } from './bot-function.js';
import { InEndpoint, OutEndpoint, type HostXfer } from './endpoints.js';
import { FaultController } from './faults.js';
import { MockLun } from './lun.js';
import { MockUsbPort, type DeviceWire } from './port.js';
import { ScsiTarget } from './scsi-target.js';
import type { DeviceEvent, MockDeviceOptions, MockDeviceQuirks, MockDeviceStats } from './types.js';
import { UasFunction } from './uas/function.js';
import { targetBackend } from './uas/target-backend.js';
import { UasFaultController } from './uas/faults.js';
import { mockAltSettings, MOCK_UAS_ENDPOINTS } from './uas/descriptors.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys } from '../util/options.js';
import { MOCK_DEVICE_KEYS, MOCK_DEVICE_QUIRK_KEYS, MOCK_LUN_KEYS, MOCK_UAS_KEYS } from './option-keys.js';

const log = logger('mock');

export const MOCK_ENDPOINT_IN = MOCK_UAS_ENDPOINTS.dataIn;
export const MOCK_ENDPOINT_OUT = MOCK_UAS_ENDPOINTS.dataOut;
const INTERFACE_NUMBER = 0;
const DEFAULT_BLOCKS = (64 * 1024 * 1024) / 512;

/** Device options that cannot describe a device: code ARG_INVALID. */
export class MockDeviceConfigError extends UsbmsArgumentError {
  override readonly name = 'MockDeviceConfigError';
}

/** A software USB mass-storage device: Bulk-Only function, SCSI target, LUNs and fault injection; open() gives its UsbPort. */
export class MockUsbDevice {
  readonly luns: MockLun[];
  readonly faults: FaultController;
  /** UAS wire faults (src/mock/uas/faults.ts); medium errors and wedges stay in `faults`. */
  readonly uasFaults: UasFaultController;
  readonly stats: MockDeviceStats = {
    cbws: 0, csws: 0, invalidCbws: 0, phaseErrors: 0, resets: 0, clearHalts: { in: 0, out: 0, status: 0, command: 0 },
    stalls: { in: 0, out: 0, status: 0, command: 0 }, portResets: 0, getMaxLun: 0, bytesIn: 0, bytesOut: 0,
    uas: { commands: 0, tmfs: 0, senses: 0, responses: 0, readies: 0, maxTasks: 0 },
  };
  /** The alternate settings of the interface (what `transports` offers). */
  readonly altSettings: readonly AltSettingInfo[];
  readonly log: DeviceEvent[] = [];
  readonly quirks: MockDeviceQuirks;
  /** The quirk overrides a host needs for this device (MockDeviceOptions.hostQuirks). */
  readonly hostQuirks: string | undefined;
  /** Highest LUN that Get Max LUN reports (ghost LUNs included). */
  readonly maxLun: number;
  private readonly opts: MockDeviceOptions;
  private readonly logLimit: number;
  private readonly inEp: InEndpoint;
  private readonly outEp: OutEndpoint;
  private readonly statusEp: InEndpoint;
  private readonly commandEp: OutEndpoint;
  private readonly bot: BulkOnlyFunction;
  private readonly uas: UasFunction;
  /** The alternate setting selected now (SET_INTERFACE; 0 after a reset). */
  private alternateSetting = 0;
  private connected = true;
  private address = 2;
  private port: MockUsbPort | undefined;

  constructor(opts: MockDeviceOptions = {}) {
    rejectUnknownKeys(opts, MOCK_DEVICE_KEYS, 'MockUsbDevice options');
    rejectUnknownKeys(opts.quirks, MOCK_DEVICE_QUIRK_KEYS, 'MockUsbDevice options.quirks');
    rejectUnknownKeys(opts.uas, MOCK_UAS_KEYS, 'MockUsbDevice options.uas');
    opts.luns?.forEach((l, i) => { rejectUnknownKeys(l, MOCK_LUN_KEYS, `MockUsbDevice options.luns[${i}]`); });
    this.opts = opts;
    const mps = opts.maxPacketSize ?? 512;
    if (!Number.isInteger(mps) || mps < 8 || mps > 1024) throw new MockDeviceConfigError(`bad max packet size ${mps}`);
    const lunOpts = opts.luns ?? [{ blocks: DEFAULT_BLOCKS }];
    this.quirks = opts.quirks ?? {};
    this.hostQuirks = opts.hostQuirks;
    const ghosts = this.quirks.ghostLuns ?? 0;
    if (lunOpts.length < 1 || lunOpts.length + ghosts > 16) {
      throw new MockDeviceConfigError(`a device has 1..16 LUNs, got ${lunOpts.length + ghosts}`);
    }
    const serial = opts.serialNumber ?? 'USBMS0001';
    this.luns = lunOpts.map((o, i) => new MockLun(i, o, serial));
    this.maxLun = this.luns.length + ghosts - 1;
    this.faults = new FaultController(opts.seed ?? 1);
    this.logLimit = opts.logLimit ?? 512;
    this.inEp = new InEndpoint(mps, (n) => { this.stats.bytesIn += n; });
    this.outEp = new OutEndpoint(mps, (n) => { this.stats.bytesOut += n; });
    this.statusEp = new InEndpoint(mps, () => undefined, 'status');
    this.commandEp = new OutEndpoint(mps, () => undefined, 'command');
    this.altSettings = mockAltSettings(opts.transports ?? 'bot', mps);
    this.uasFaults = new UasFaultController();
    const target = new ScsiTarget({
      faults: this.faults,
      capacityOffByOne: this.quirks.capacityOffByOne ?? false,
      padVpdToAllocation: this.quirks.padVpdToAllocation ?? false,
      senseOnLun0Only: this.quirks.senseOnLun0Only ?? false,
      lunCount: () => this.maxLun + 1,
    });
    const core: BotDeviceCore = {
      inEp: this.inEp, outEp: this.outEp, target, faults: this.faults, stats: this.stats, quirks: this.quirks,
      shortDataPolicy: opts.shortDataPolicy ?? 'stall', maxLun: this.maxLun,
      lunAt: (n) => this.luns[n] ?? (n <= this.maxLun ? this.luns[0] : undefined),
      record: (e) => this.record(e),
      pullPlug: () => this.disconnect(),
    };
    this.bot = new BulkOnlyFunction(core);
    this.uas = new UasFunction({
      statusEp: this.statusEp, commandEp: this.commandEp, inEp: this.inEp, outEp: this.outEp,
      scsi: opts.uasScsi ?? targetBackend(target, this.maxLun, (n) => core.lunAt(n)),
      faults: this.uasFaults, stats: this.stats, quirks: this.quirks, options: opts.uas ?? {}, seed: opts.seed ?? 1,
      record: (e) => this.record(e),
      pullPlug: () => this.disconnect(),
    });
    this.faults.wedge.attach(() => this.reconnect());
    if (opts.powerOnUnitAttention) for (const lun of this.luns) lun.resetState();
    this.startFunction();
  }

  /** The protocol of the alternate setting selected now. */
  get function(): 'bot' | 'uas' {
    const alt = this.altSettings.find((a) => a.alternateSetting === this.alternateSetting);
    return alt?.interfaceProtocol === UAS_INTERFACE_PROTOCOL ? 'uas' : 'bot';
  }

  /** Commands in the UAS task set now (for tests). */
  get uasTasks(): number { return this.uas.taskCount; }

  /** Whether each data endpoint is halted (stalled). */
  get halted(): { in: boolean; out: boolean } { return { in: this.inEp.halted, out: this.outEp.halted }; }
  /** Whether UAS's status and command endpoints are halted. */
  get uasHalted(): { status: boolean; command: boolean } {
    return { status: this.statusEp.halted, command: this.commandEp.halted };
  }
  /** Whether the device is plugged in. */
  get isConnected(): boolean { return this.connected; }
  /** A port is open on the device. */
  get isOpen(): boolean { return this.port !== undefined; }

  /** A UsbPort onto this device's mass-storage interface. One at a time, like claiming the interface. */
  open(): MockUsbPort {
    if (!this.connected) throw new UsbDeviceGoneError('device is disconnected');
    if (this.port !== undefined) throw new UsbError('BUSY', 'interface already claimed by another open port');
    const port = new MockUsbPort(this.wire, this.portInfo(), this.altSettings);
    this.port = port;
    return port;
  }

  /** Surprise removal: everything in flight and everything after fails with UsbDeviceGoneError. */
  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    this.record({ type: 'disconnect' });
    this.volatileStateLost();
    this.bot.abort('disconnect');
    this.uas.abort('disconnect');
    const gone = (x: HostXfer): UsbError => new UsbDeviceGoneError(undefined, { actualLength: x.actual });
    for (const ep of this.endpoints()) ep.failAll(gone);
    const port = this.port;
    this.port = undefined;
    port?.deviceGone();
  }

  /** Plug back in: a fresh enumeration (new address), halts and BOT state cleared, media kept. */
  reconnect(): void {
    // A drop-out that never returns (src/mock/wedge.ts) is a dead device: no re-plug or power cycle revives it.
    if (this.connected || this.faults.wedge.dead) return;
    this.connected = true;
    this.address += 1;
    this.record({ type: 'reconnect' });
    this.faults.wedge.onReset('power');
    this.resetFunction();
    this.alternateSetting = 0;
    if (this.opts.powerOnUnitAttention) for (const lun of this.luns) lun.resetState();
    this.startFunction();
  }

  /** The binding a port opens with: setting 0's first bulk-in and bulk-out endpoints (see UsbPort). */
  private portInfo(): PortInfo {
    const mps = this.inEp.maxPacketSize;
    const eps = this.altSettings[0]?.endpoints ?? [];
    const first = (dirIn: boolean): number => eps.find((e) => ((e.address & 0x80) !== 0) === dirIn)?.address ?? 0;
    return {
      vendorId: this.opts.vendorId ?? 0xf055, productId: this.opts.productId ?? 0x5b00,
      serialNumber: this.opts.serialNumber ?? 'USBMS0001', manufacturer: this.opts.manufacturer ?? 'usbms',
      product: this.opts.product ?? 'Mock USB Disk', busNumber: 1, deviceAddress: this.address,
      speed: this.opts.speed ?? 'high', interfaceNumber: INTERFACE_NUMBER, alternateSetting: 0,
      endpoints: { in: first(true), out: first(false) }, maxPacketSize: { in: mps, out: mps },
    };
  }

  private record(e: DeviceEvent): void {
    this.log.push(e);
    // shift(), not splice(0, n): V8 trims the front of an array in place for shift (40 ns), while splice makes a
    // new array of what it removes and moves the rest (2 us: a tenth of a software-disk command, several per command).
    while (this.log.length > this.logLimit) this.log.shift();
    log('%o', e);
  }

  /** A reset or a power loss: what a controller keeps in RAM (see CachingMedia) is gone. */
  private volatileStateLost(): void {
    for (const lun of this.luns) lun.media.reset?.();
  }

  private resetFunction(): void {
    this.bot.abort('reset');
    this.uas.abort('reset');
    this.bot.needsResetRecovery = false;
    for (const ep of this.endpoints()) ep.clearHalt();
  }

  /** Start the function of the alternate setting selected now. */
  private startFunction(): void {
    if (this.function === 'uas') this.uas.start();
    else this.bot.start();
  }

  /** SET_INTERFACE: stop the function, clear the endpoints (halts and data toggles), start the setting's function. */
  private setInterface(alternateSetting: number): void {
    if (!this.altSettings.some((a) => a.alternateSetting === alternateSetting)) {
      throw new UsbStallError(`no alternate setting ${alternateSetting}`, { pipe: 'control' });
    }
    this.record({ type: 'set-interface', alternateSetting });
    const cancelled = (x: HostXfer): UsbError => new UsbCancelledError('SET_INTERFACE', { actualLength: x.actual });
    this.resetFunction();
    for (const ep of this.endpoints()) ep.failAll(cancelled);
    this.alternateSetting = alternateSetting;
    this.startFunction();
  }

  private endpoints(): (InEndpoint | OutEndpoint)[] { return [this.inEp, this.outEp, this.statusEp, this.commandEp]; }

  /** The endpoint at `address` in the setting selected now; undefined when the setting has no such endpoint. */
  private endpointAt(address: number): { ep: InEndpoint | OutEndpoint; pipe: Pipe } | undefined {
    const alt = this.altSettings.find((a) => a.alternateSetting === this.alternateSetting);
    if (alt?.endpoints.some((e) => e.address === address) !== true) return undefined;
    if (address === MOCK_UAS_ENDPOINTS.dataIn) return { ep: this.inEp, pipe: 'in' };
    if (address === MOCK_UAS_ENDPOINTS.dataOut) return { ep: this.outEp, pipe: 'out' };
    if (address === MOCK_UAS_ENDPOINTS.status) return { ep: this.statusEp, pipe: 'status' };
    if (address === MOCK_UAS_ENDPOINTS.command) return { ep: this.commandEp, pipe: 'command' };
    return undefined;
  }

  private clearHalt(address: number): void {
    const hit = this.endpointAt(address);
    if (hit === undefined) throw new UsbStallError(`CLEAR_FEATURE(HALT) for endpoint 0x${address.toString(16)}`, { pipe: 'control' });
    const { ep, pipe } = hit;
    this.stats.clearHalts[pipe] += 1;
    // After an invalid CBW only a Mass Storage Reset may end the stall (BOT §6.6.1); Clear Feature alone may not.
    const cleared = this.function === 'uas' || !this.bot.needsResetRecovery;
    if (cleared) ep.clearHalt();
    this.record({ type: 'clear-halt', pipe, cleared });
  }

  private massStorageReset(): void {
    this.stats.resets += 1;
    this.record({ type: 'mass-storage-reset' });
    this.faults.wedge.onReset('bot-reset');
    this.volatileStateLost();
    this.bot.abort('mass storage reset');
    this.bot.needsResetRecovery = false;
    this.bot.start();
  }

  /** The Bulk-Only class requests exist only while the Bulk-Only setting is selected. */
  private botRequestsAllowed(): boolean { return this.function === 'bot'; }

  private portReset(): void {
    this.stats.portResets += 1;
    this.record({ type: 'port-reset' });
    this.faults.wedge.onReset('port-reset');
    this.volatileStateLost();
    const cancelled = (x: HostXfer): UsbError => new UsbCancelledError('port reset', { actualLength: x.actual });
    for (const ep of this.endpoints()) ep.failAll(cancelled);
    this.resetFunction();
    for (const lun of this.luns) lun.resetState();
    this.alternateSetting = 0; // a reset device is unconfigured; the host sets the configuration, setting 0
    this.startFunction();
  }

  /** The control pipe. Returns the data stage for IN requests; throws UsbStallError for what it refuses. */
  private control(setup: ControlSetup, data: Buffer | undefined, length: number): Buffer | undefined {
    const { bmRequestType: type, bRequest: req, wValue, wIndex } = setup;
    const stall = (why: string): never => { throw new UsbStallError(`control request refused: ${why}`, { pipe: 'control' }); };
    if (type === BOT_REQUEST_TYPE.OUT && req === BOT_REQUEST.MASS_STORAGE_RESET && this.botRequestsAllowed()) {
      if (wIndex !== INTERFACE_NUMBER || wValue !== 0 || (data?.length ?? 0) !== 0) stall('bad Mass Storage Reset');
      this.massStorageReset();
      return undefined;
    }
    if (type === BOT_REQUEST_TYPE.IN && req === BOT_REQUEST.GET_MAX_LUN && this.botRequestsAllowed()) {
      this.stats.getMaxLun += 1;
      if (wIndex !== INTERFACE_NUMBER || wValue !== 0 || length < 1) stall('bad Get Max LUN');
      if (this.opts.getMaxLunStalls || this.faults.takeGetMaxLunStall()) {
        this.record({ type: 'get-max-lun', answer: 'stall' });
        stall('Get Max LUN not supported');
      }
      this.record({ type: 'get-max-lun', answer: this.maxLun });
      return Buffer.from([this.maxLun]);
    }
    const hit = this.endpointAt(wIndex);
    if (type === 0x02 && req === USB_REQ_CLEAR_FEATURE && wValue === USB_FEATURE_ENDPOINT_HALT && hit !== undefined) {
      this.clearHalt(wIndex);
      return undefined;
    }
    if (type === 0x82 && req === 0x00 && hit !== undefined) { // GET_STATUS(endpoint): bit 0 = halted
      return Buffer.from([hit.ep.halted ? 1 : 0, 0]).subarray(0, length);
    }
    if (type === 0x01 && req === 0x0b && wIndex === INTERFACE_NUMBER && (data?.length ?? 0) === 0) { // SET_INTERFACE
      this.setInterface(wValue);
      return undefined;
    }
    return stall(`unsupported request ${type.toString(16)}/${req.toString(16)}`);
  }

  /** What the port may do to the device; not part of the public API. */
  private readonly wire: DeviceWire = {
    connected: () => this.connected,
    submit: (address, x) => {
      const ep = this.endpointAt(address)?.ep;
      // An endpoint the selected setting does not have answers nothing a host could see but a stall.
      if (ep === undefined) x.finish(new UsbStallError(`no endpoint 0x${address.toString(16)} in this setting`));
      else ep.submit(x);
    },
    withdraw: (address, x) => this.endpointAt(address)?.ep.withdraw(x) ?? false,
    control: (setup, data, length) => this.control(setup, data, length),
    clearHalt: (address) => this.clearHalt(address),
    setInterface: (alternateSetting) => this.setInterface(alternateSetting),
    portReset: () => this.portReset(),
    released: (port) => { if (this.port === port) this.port = undefined; },
    schedule: (fn) => {
      const latency = this.opts.latencyMs ?? 0;
      if (latency > 0) setTimeout(fn, latency);
      else setImmediate(fn);
    },
  };
}

/**
 * The software USB mass-storage device: one Bulk-Only interface (bulk-in 0x81, bulk-out 0x02), its class
 * requests on the control pipe, its LUNs, and the test controls (faults, surprise removal, stats, wire log).
 */
import { BOT_REQUEST, BOT_REQUEST_TYPE } from '../usb/wire/bot.js';
import { UsbCancelledError, UsbDeviceGoneError, UsbError, UsbStallError } from '../usb/errors.js';
import { USB_FEATURE_ENDPOINT_HALT, USB_REQ_CLEAR_FEATURE, type ControlSetup, type Pipe, type PortInfo } from '../usb/port.js';
import { logger } from '../util/log.js';
import { BulkOnlyFunction, type BotDeviceCore } from './bot-function.js';
import { InEndpoint, OutEndpoint, type HostXfer } from './endpoints.js';
import { FaultController } from './faults.js';
import { MockLun } from './lun.js';
import { MockUsbPort, type DeviceWire } from './port.js';
import { ScsiTarget } from './scsi-target.js';
import type { DeviceEvent, MockDeviceOptions, MockDeviceQuirks, MockDeviceStats } from './types.js';
import { UsbmsArgumentError } from '../util/errors.js';

const log = logger('mock');

export const MOCK_ENDPOINT_IN = 0x81;
export const MOCK_ENDPOINT_OUT = 0x02;
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
  readonly stats: MockDeviceStats = {
    cbws: 0, csws: 0, invalidCbws: 0, phaseErrors: 0, resets: 0, clearHalts: { in: 0, out: 0 },
    stalls: { in: 0, out: 0 }, portResets: 0, getMaxLun: 0, bytesIn: 0, bytesOut: 0,
  };
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
  private readonly bot: BulkOnlyFunction;
  private connected = true;
  private address = 2;
  private port: MockUsbPort | undefined;

  constructor(opts: MockDeviceOptions = {}) {
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
    this.faults.wedge.attach(() => this.reconnect());
    if (opts.powerOnUnitAttention) for (const lun of this.luns) lun.resetState();
    this.bot.start();
  }

  /** Whether each bulk endpoint is halted (stalled). */
  get halted(): { in: boolean; out: boolean } { return { in: this.inEp.halted, out: this.outEp.halted }; }
  /** Whether the device is plugged in. */
  get isConnected(): boolean { return this.connected; }
  /** A port is open on the device. */
  get isOpen(): boolean { return this.port !== undefined; }

  /** A UsbPort onto this device's mass-storage interface. One at a time, like claiming the interface. */
  open(): MockUsbPort {
    if (!this.connected) throw new UsbDeviceGoneError('device is disconnected');
    if (this.port !== undefined) throw new UsbError('BUSY', 'interface already claimed by another open port');
    const port = new MockUsbPort(this.wire, this.portInfo());
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
    const gone = (x: HostXfer): UsbError => new UsbDeviceGoneError(undefined, { actualLength: x.actual });
    this.inEp.failAll(gone);
    this.outEp.failAll(gone);
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
    if (this.opts.powerOnUnitAttention) for (const lun of this.luns) lun.resetState();
    this.bot.start();
  }

  private portInfo(): PortInfo {
    const mps = this.inEp.maxPacketSize;
    return {
      vendorId: this.opts.vendorId ?? 0xf055, productId: this.opts.productId ?? 0x5b00,
      serialNumber: this.opts.serialNumber ?? 'USBMS0001', manufacturer: this.opts.manufacturer ?? 'usbms',
      product: this.opts.product ?? 'Mock USB Disk', busNumber: 1, deviceAddress: this.address,
      speed: this.opts.speed ?? 'high', interfaceNumber: INTERFACE_NUMBER, alternateSetting: 0,
      endpoints: { in: MOCK_ENDPOINT_IN, out: MOCK_ENDPOINT_OUT }, maxPacketSize: { in: mps, out: mps },
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
    this.bot.needsResetRecovery = false;
    this.inEp.clearHalt();
    this.outEp.clearHalt();
  }

  private endpoint(pipe: Pipe): InEndpoint | OutEndpoint { return pipe === 'in' ? this.inEp : this.outEp; }

  private clearHalt(pipe: Pipe): void {
    this.stats.clearHalts[pipe] += 1;
    // After an invalid CBW only a Mass Storage Reset may end the stall (BOT §6.6.1); Clear Feature alone may not.
    const cleared = !this.bot.needsResetRecovery;
    if (cleared) this.endpoint(pipe).clearHalt();
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

  private portReset(): void {
    this.stats.portResets += 1;
    this.record({ type: 'port-reset' });
    this.faults.wedge.onReset('port-reset');
    this.volatileStateLost();
    const cancelled = (x: HostXfer): UsbError => new UsbCancelledError('port reset', { actualLength: x.actual });
    this.inEp.failAll(cancelled);
    this.outEp.failAll(cancelled);
    this.resetFunction();
    for (const lun of this.luns) lun.resetState();
    this.bot.start();
  }

  /** The control pipe. Returns the data stage for IN requests; throws UsbStallError for what it refuses. */
  private control(setup: ControlSetup, data: Buffer | undefined, length: number): Buffer | undefined {
    const { bmRequestType: type, bRequest: req, wValue, wIndex } = setup;
    const stall = (why: string): never => { throw new UsbStallError(`control request refused: ${why}`, { pipe: 'control' }); };
    if (type === BOT_REQUEST_TYPE.OUT && req === BOT_REQUEST.MASS_STORAGE_RESET) {
      if (wIndex !== INTERFACE_NUMBER || wValue !== 0 || (data?.length ?? 0) !== 0) stall('bad Mass Storage Reset');
      this.massStorageReset();
      return undefined;
    }
    if (type === BOT_REQUEST_TYPE.IN && req === BOT_REQUEST.GET_MAX_LUN) {
      this.stats.getMaxLun += 1;
      if (wIndex !== INTERFACE_NUMBER || wValue !== 0 || length < 1) stall('bad Get Max LUN');
      if (this.opts.getMaxLunStalls || this.faults.takeGetMaxLunStall()) {
        this.record({ type: 'get-max-lun', answer: 'stall' });
        stall('Get Max LUN not supported');
      }
      this.record({ type: 'get-max-lun', answer: this.maxLun });
      return Buffer.from([this.maxLun]);
    }
    const pipe: Pipe | undefined = wIndex === MOCK_ENDPOINT_IN ? 'in' : wIndex === MOCK_ENDPOINT_OUT ? 'out' : undefined;
    if (type === 0x02 && req === USB_REQ_CLEAR_FEATURE && wValue === USB_FEATURE_ENDPOINT_HALT && pipe !== undefined) {
      this.clearHalt(pipe);
      return undefined;
    }
    if (type === 0x82 && req === 0x00 && pipe !== undefined) { // GET_STATUS(endpoint): bit 0 = halted
      return Buffer.from([this.endpoint(pipe).halted ? 1 : 0, 0]).subarray(0, length);
    }
    return stall(`unsupported request ${type.toString(16)}/${req.toString(16)}`);
  }

  /** What the port may do to the device; not part of the public API. */
  private readonly wire: DeviceWire = {
    connected: () => this.connected,
    submit: (pipe, x) => this.endpoint(pipe).submit(x),
    withdraw: (pipe, x) => this.endpoint(pipe).withdraw(x),
    control: (setup, data, length) => this.control(setup, data, length),
    clearHalt: (pipe) => this.clearHalt(pipe),
    portReset: () => this.portReset(),
    released: (port) => { if (this.port === port) this.port = undefined; },
    schedule: (fn) => {
      const latency = this.opts.latencyMs ?? 0;
      if (latency > 0) setTimeout(fn, latency);
      else setImmediate(fn);
    },
  };
}

/**
 * A software USB hub: answers the hub class requests of port power (GET_DESCRIPTOR(HUB), GET_STATUS(port),
 * SET_FEATURE / CLEAR_FEATURE(PORT_POWER)) byte for byte as a hub does, so the host side (src/usb/hub.ts) runs
 * the same code against it as against a real hub through libusb. Its power switching mode is what its descriptor
 * says; a hub without switching accepts CLEAR_FEATURE(PORT_POWER) and does nothing, as such hubs (and QEMU's
 * usb-hub without port-power=on) do, and a ganged hub switches all its ports at once.
 */
import { UsbStallError } from '../usb/errors.js';
import type { ControlSetup } from '../usb/port.js';
import type { HubControl } from '../usb/backend.js';
import {
  HUB_PORT_FEAT_POWER, PORT_STAT_CONNECTION, PORT_STAT_POWER, RT_HUB_IN, RT_PORT_IN, RT_PORT_OUT, SS_PORT_STAT_POWER,
  USB_DT_HUB, USB_DT_SS_HUB, USB_REQ_CLEAR_FEATURE, USB_REQ_GET_DESCRIPTOR, USB_REQ_GET_STATUS, USB_REQ_SET_FEATURE,
  type PowerSwitching,
} from '../usb/hub.js';
import type { PortLocation } from '../usb/selector.js';
import { asError, UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/** How a software hub is built. */
export interface MockHubOptions {
  /** Downstream ports, 1..15 (default 4). */
  ports?: number;
  /** Default 'individual' (what QEMU's usb-hub reports with port-power=on). */
  powerSwitching?: PowerSwitching;
  /** A SuperSpeed hub: descriptor type 0x2A and PORT_POWER at bit 9 of the port status. Default false. */
  superSpeed?: boolean;
  /** idVendor (default 0x0409). */
  vendorId?: number;
  /** idProduct (default 0x55aa). */
  productId?: number;
}

const MOCK_HUB_KEYS = {
  ports: true, powerSwitching: true, superSpeed: true, vendorId: true, productId: true,
} as const satisfies KnownKeys<MockHubOptions>;

const SWITCHING_BITS: Record<PowerSwitching, number> = { ganged: 0, individual: 1, none: 2 };

/** A software hub; see the module comment. */
export class MockHub {
  /** Downstream ports. */
  readonly ports: number;
  /** What its descriptor says about power switching. */
  readonly powerSwitching: PowerSwitching;
  /** A SuperSpeed hub. */
  readonly superSpeed: boolean;
  /** idVendor. */
  readonly vendorId: number;
  /** idProduct. */
  readonly productId: number;
  /** Requests received, newest last (what a test checks the host sent). */
  readonly requests: ControlSetup[] = [];
  private readonly powered: boolean[];

  /**
   * @param location where the hub itself is plugged in
   * @param opts its shape
   * @param onPower told when a port's power changes (the backend detaches or re-enumerates what is plugged there)
   * @param connected whether a powered port has a device plugged in (for PORT_CONNECTION)
   */
  constructor(readonly location: PortLocation, opts: MockHubOptions,
    private readonly onPower: (port: number, on: boolean) => void,
    private readonly connected: (port: number) => boolean) {
    rejectUnknownKeys(opts, MOCK_HUB_KEYS, 'MockHub options');
    this.ports = opts.ports ?? 4;
    if (!Number.isInteger(this.ports) || this.ports < 1 || this.ports > 15) throw new UsbmsArgumentError(`a hub has 1..15 ports, not ${this.ports}`, { argument: 'ports' });
    this.powerSwitching = opts.powerSwitching ?? 'individual';
    this.superSpeed = opts.superSpeed ?? false;
    this.vendorId = opts.vendorId ?? 0x0409;
    this.productId = opts.productId ?? 0x55aa;
    this.powered = Array.from({ length: this.ports }, () => true);
  }

  /** Whether downstream port `port` has power. */
  isPowered(port: number): boolean { return this.powered[port - 1] === true; }

  /** Its hub descriptor, as GET_DESCRIPTOR(HUB) returns it. */
  descriptor(): Buffer {
    // USB 2.0 Table 11-13: DeviceRemovable and PortPwrCtrlMask, one bit per port plus bit 0, rounded up to bytes.
    const maskBytes = Math.ceil((this.ports + 1) / 8);
    const b = Buffer.alloc(this.superSpeed ? 12 : 7 + 2 * maskBytes);
    b[0] = b.length;
    b[1] = this.superSpeed ? USB_DT_SS_HUB : USB_DT_HUB;
    b[2] = this.ports;
    // bits 1:0 power switching; bit 3 per-port over-current protection (as QEMU's hub reports)
    b.writeUInt16LE(SWITCHING_BITS[this.powerSwitching] | 0x08, 3);
    b[5] = 10; // bPwrOn2PwrGood: 20 ms
    if (!this.superSpeed) b.fill(0xff, 7 + maskBytes);
    return b;
  }

  private portStatus(port: number): Buffer {
    const b = Buffer.alloc(4);
    let status = 0;
    if (this.isPowered(port)) {
      status |= this.superSpeed ? SS_PORT_STAT_POWER : PORT_STAT_POWER;
      if (this.connected(port)) status |= PORT_STAT_CONNECTION;
    }
    b.writeUInt16LE(status, 0);
    return b;
  }

  private setPower(port: number, on: boolean): void {
    if (this.powerSwitching === 'none') return;
    const ports = this.powerSwitching === 'ganged' ? this.powered.map((_, i) => i + 1) : [port];
    for (const p of ports) {
      if (this.powered[p - 1] === on) continue;
      this.powered[p - 1] = on;
      this.onPower(p, on);
    }
  }

  /** One request on the hub's default pipe. Returns the data stage of an IN request; throws UsbStallError. */
  control(setup: ControlSetup, length: number): Buffer | undefined {
    this.requests.push(setup);
    const { bmRequestType: type, bRequest: req, wValue, wIndex } = setup;
    const stall = (why: string): never => { throw new UsbStallError(`hub refused the request: ${why}`, { pipe: 'control' }); };
    const portOk = wIndex >= 1 && wIndex <= this.ports;
    if (type === RT_HUB_IN && req === USB_REQ_GET_DESCRIPTOR) {
      if (wValue >> 8 !== (this.superSpeed ? USB_DT_SS_HUB : USB_DT_HUB)) stall(`descriptor type 0x${(wValue >> 8).toString(16)}`);
      return this.descriptor().subarray(0, length);
    }
    if (type === RT_PORT_IN && req === USB_REQ_GET_STATUS) {
      if (!portOk) stall(`no port ${wIndex}`);
      return this.portStatus(wIndex).subarray(0, length);
    }
    if (type === RT_PORT_OUT && (req === USB_REQ_SET_FEATURE || req === USB_REQ_CLEAR_FEATURE) && wValue === HUB_PORT_FEAT_POWER) {
      if (!portOk) stall(`no port ${wIndex}`);
      this.setPower(wIndex, req === USB_REQ_SET_FEATURE);
      return undefined;
    }
    return stall(`unsupported request 0x${type.toString(16)}/0x${req.toString(16)} wValue ${wValue}`);
  }

  /** The hub's default pipe as the host sees it: asynchronous, like every mock completion. */
  pipe(): HubControl {
    const answer = <T>(fn: () => T): Promise<T> => new Promise((resolve, reject) => {
      setImmediate(() => { try { resolve(fn()); } catch (e) { reject(asError(e)); } });
    });
    return {
      superSpeed: this.superSpeed,
      controlIn: (setup, length) => answer(() => this.control(setup, length) ?? Buffer.alloc(0)),
      controlOut: (setup) => answer(() => { this.control(setup, 0); }),
      close: () => Promise.resolve(),
    };
  }
}

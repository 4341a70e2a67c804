/**
 * The USB hub class requests behind port power (USB 2.0 §11.24, USB 3.2 §10.16), as uhubctl sends them, over any
 * backend's {@link HubControl}: the same bytes go to a real hub through libusb and to the software hub.
 *
 * - GET_DESCRIPTOR(HUB): bmRequestType 0xA0, bRequest 0x06, wValue 0x2900 (0x2A00 for a SuperSpeed hub),
 *   wIndex 0. Byte 2 bNbrPorts, bytes 3-4 wHubCharacteristics; its bits 1:0 are the power switching mode
 *   (§11.23.2.1): 00 ganged (all ports at once), 01 per port, 1X none (USB 1.x hubs; reserved in USB 2.0/3.x).
 * - SET_FEATURE / CLEAR_FEATURE(PORT_POWER): bmRequestType 0x23 (class, other = a port), bRequest 0x03 / 0x01,
 *   wValue 8, wIndex = port number.
 * - GET_STATUS(port): bmRequestType 0xA3, bRequest 0x00, wIndex = port, 4 bytes: wPortStatus, wPortChange.
 *   PORT_CONNECTION is bit 0; PORT_POWER is bit 8 on a USB 2.0 hub and bit 9 on a SuperSpeed hub.
 */
import type { HubControl } from './backend.js';
import { PortPowerError } from './device-errors.js';
import { formatPortPath, type PortLocation } from './selector.js';
import { UsbError } from './errors.js';

/** Descriptor type of a USB 2.0 hub descriptor. */
export const USB_DT_HUB = 0x29;
/** Descriptor type of a SuperSpeed hub descriptor. */
export const USB_DT_SS_HUB = 0x2a;
/** bRequest GET_STATUS. */
export const USB_REQ_GET_STATUS = 0x00;
/** bRequest CLEAR_FEATURE. */
export const USB_REQ_CLEAR_FEATURE = 0x01;
/** bRequest SET_FEATURE. */
export const USB_REQ_SET_FEATURE = 0x03;
/** bRequest GET_DESCRIPTOR. */
export const USB_REQ_GET_DESCRIPTOR = 0x06;
/** Port feature selector PORT_POWER (USB 2.0 Table 11-17). */
export const HUB_PORT_FEAT_POWER = 8;
/** Class request to the hub (device recipient), IN. */
export const RT_HUB_IN = 0xa0;
/** Class request to a port (other recipient), OUT / IN. */
export const RT_PORT_OUT = 0x23;
export const RT_PORT_IN = 0xa3;
/** wPortStatus: a device is connected. */
export const PORT_STAT_CONNECTION = 0x0001;
/** wPortStatus of a USB 2.0 hub: the port is powered. */
export const PORT_STAT_POWER = 0x0100;
/** wPortStatus of a SuperSpeed hub: the port is powered. */
export const SS_PORT_STAT_POWER = 0x0200;
/** USB 2.0 §11.24.2.10 allows 5 s for a hub's answers; uhubctl waits as long. */
export const HUB_CONTROL_TIMEOUT_MS = 5000;

/** How a hub switches port power (wHubCharacteristics bits 1:0). */
export type PowerSwitching = 'ganged' | 'individual' | 'none';

/** What port power needs from a hub descriptor. */
export interface HubDescriptor {
  /** bNbrPorts. */
  readonly ports: number;
  /** wHubCharacteristics. */
  readonly characteristics: number;
  /** Bits 1:0 of wHubCharacteristics. */
  readonly powerSwitching: PowerSwitching;
  /** bPwrOn2PwrGood x 2 ms: how long the hub needs from power on until the port's power is good. */
  readonly powerOnToGoodMs: number;
}

/** 00 ganged, 01 individual, 1X none. */
export function powerSwitchingOf(characteristics: number): PowerSwitching {
  const mode = characteristics & 0x03;
  return mode === 0 ? 'ganged' : mode === 1 ? 'individual' : 'none';
}

/** Parse a hub descriptor (USB 2.0 type 0x29 or USB 3 type 0x2A: the first 7 bytes agree). */
export function parseHubDescriptor(b: Buffer): HubDescriptor {
  if (b.length < 7 || (b[1] !== USB_DT_HUB && b[1] !== USB_DT_SS_HUB)) {
    throw new UsbError('IO', `not a hub descriptor (${b.length} bytes, type 0x${(b[1] ?? 0).toString(16)})`);
  }
  const characteristics = b.readUInt16LE(3);
  return { ports: b[2] ?? 0, characteristics, powerSwitching: powerSwitchingOf(characteristics), powerOnToGoodMs: (b[5] ?? 0) * 2 };
}

/** GET_DESCRIPTOR(HUB) of the hub's own type (0x29, or 0x2A for a SuperSpeed hub). */
export async function readHubDescriptor(hub: HubControl): Promise<HubDescriptor> {
  const type = hub.superSpeed ? USB_DT_SS_HUB : USB_DT_HUB;
  const raw = await hub.controlIn({ bmRequestType: RT_HUB_IN, bRequest: USB_REQ_GET_DESCRIPTOR, wValue: type << 8,
    wIndex: 0 }, 12, HUB_CONTROL_TIMEOUT_MS);
  return parseHubDescriptor(raw);
}

/** A port's GET_STATUS, decoded. */
export interface PortStatus {
  /** PORT_CONNECTION. */
  readonly connected: boolean;
  /** PORT_POWER (bit 8, or bit 9 on a SuperSpeed hub). */
  readonly powered: boolean;
  /** wPortStatus as received. */
  readonly raw: number;
}

/** GET_STATUS of one port of the hub. */
export async function getPortStatus(hub: HubControl, port: number): Promise<PortStatus> {
  const b = await hub.controlIn({ bmRequestType: RT_PORT_IN, bRequest: USB_REQ_GET_STATUS, wValue: 0, wIndex: port },
    4, HUB_CONTROL_TIMEOUT_MS);
  if (b.length < 2) throw new UsbError('IO', `GET_STATUS(port ${port}) returned ${b.length} bytes, not 4`);
  const raw = b.readUInt16LE(0);
  return { connected: (raw & PORT_STAT_CONNECTION) !== 0,
    powered: (raw & (hub.superSpeed ? SS_PORT_STAT_POWER : PORT_STAT_POWER)) !== 0, raw };
}

/**
 * Check that port `port` of the hub at `hubAt` can be switched on its own, and say why not otherwise. A one-port
 * hub with ganged switching switches that one port alone, so it counts as per-port (as uhubctl does).
 */
export function checkPortSwitchable(desc: HubDescriptor, hubAt: PortLocation, port: number): void {
  const hubName = formatPortPath(hubAt);
  const where = { busNumber: hubAt.busNumber, portNumbers: [...hubAt.portNumbers, port] };
  if (port < 1 || port > desc.ports) {
    throw new PortPowerError('no-such-port', where, `hub ${hubName} has ports 1..${desc.ports}, not ${port}`);
  }
  const chars = `wHubCharacteristics 0x${desc.characteristics.toString(16).padStart(4, '0')}`;
  if (desc.powerSwitching === 'none') {
    throw new PortPowerError('no-switching', where, `hub ${hubName} cannot switch port power (${chars}: no power ` +
      'switching); use a hub with per-port power switching');
  }
  if (desc.powerSwitching === 'ganged' && desc.ports > 1) {
    throw new PortPowerError('ganged', where, `hub ${hubName} switches the power of all its ${desc.ports} ports ` +
      `together (${chars}: ganged); refusing to switch port ${port} alone`);
  }
}

/** SET_FEATURE(PORT_POWER) when `on`, else CLEAR_FEATURE(PORT_POWER), on one port. */
export function setPortPowerFeature(hub: HubControl, port: number, on: boolean): Promise<void> {
  return hub.controlOut({ bmRequestType: RT_PORT_OUT, bRequest: on ? USB_REQ_SET_FEATURE : USB_REQ_CLEAR_FEATURE,
    wValue: HUB_PORT_FEAT_POWER, wIndex: port }, HUB_CONTROL_TIMEOUT_MS);
}

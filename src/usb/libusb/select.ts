/**
 * Choosing the mass-storage interface (and the alternate setting it opens in) from a configuration descriptor.
 * Pure: it works on the descriptor shapes node-usb returns (or hand-built ones in tests) and never touches a
 * device.
 */
import { UsbError } from '../errors.js';
import type { AltSettingInfo } from '../port.js';
import { BOT_INTERFACE } from '../wire/bot.js';
import { UAS_INTERFACE_PROTOCOL } from '../wire/uas.js';

export const USB_CLASS_MASS_STORAGE = BOT_INTERFACE.CLASS;
export const MSC_SUBCLASS_SCSI = BOT_INTERFACE.SUBCLASS_SCSI;
export const MSC_PROTOCOL_BOT = BOT_INTERFACE.PROTOCOL_BOT;
export const MSC_PROTOCOL_UAS = UAS_INTERFACE_PROTOCOL;
const TRANSFER_TYPE_BULK = 0x02;
const ENDPOINT_DIR_IN = 0x80;

/** The fields of node-usb's EndpointDescriptor that the choice reads. */
export interface EndpointDescriptorLike {
  readonly bEndpointAddress: number;
  readonly bmAttributes: number;
  readonly wMaxPacketSize: number;
  /** Class-specific descriptors after the endpoint's (UAS Pipe Usage); absent in hand-built test tables. */
  readonly extra?: Uint8Array;
}
/** The fields of node-usb's InterfaceDescriptor that the choice reads. */
export interface InterfaceDescriptorLike {
  readonly bInterfaceNumber: number;
  readonly bAlternateSetting: number;
  readonly bInterfaceClass: number;
  readonly bInterfaceSubClass: number;
  readonly bInterfaceProtocol: number;
  readonly endpoints: readonly EndpointDescriptorLike[];
}
/** `configDescriptor.interfaces`: one array of alternate settings per interface. */
export type InterfaceTable = readonly (readonly InterfaceDescriptorLike[])[];

export type { MassStorageProtocol } from '../backend.js';
import type { MassStorageProtocol } from '../backend.js';

export interface BulkEndpoint {
  readonly address: number;
  readonly maxPacketSize: number;
}

/** The interface/alternate setting usbms will claim, and its bulk pipes. */
export interface BotInterfaceChoice {
  /** Index into `configDescriptor.interfaces` (node-usb's Interface id). */
  readonly index: number;
  readonly interfaceNumber: number;
  readonly alternateSetting: number;
  readonly subclass: number;
  readonly bulkIn: BulkEndpoint;
  readonly bulkOut: BulkEndpoint;
}

/** What a mass-storage interface offers, for listing. */
export interface MassStorageInterfaceSummary {
  readonly index: number;
  readonly interfaceNumber: number;
  /** Protocol of the default (first) alternate setting. */
  readonly protocol: MassStorageProtocol;
  readonly protocolCode: number;
  readonly hasBotAltSetting: boolean;
  readonly hasUasAltSetting: boolean;
}

export function protocolName(code: number): MassStorageProtocol {
  if (code === MSC_PROTOCOL_BOT) return 'BOT';
  if (code === MSC_PROTOCOL_UAS) return 'UAS';
  return 'other';
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** Every mass-storage interface of a configuration, with what it offers. */
export function summarizeMassStorageInterfaces(interfaces: InterfaceTable): MassStorageInterfaceSummary[] {
  const out: MassStorageInterfaceSummary[] = [];
  interfaces.forEach((alts, index) => {
    const msAlts = alts.filter((a) => a.bInterfaceClass === USB_CLASS_MASS_STORAGE);
    const first = msAlts[0];
    if (first === undefined) return;
    out.push({
      index,
      interfaceNumber: first.bInterfaceNumber,
      protocol: protocolName(first.bInterfaceProtocol),
      protocolCode: first.bInterfaceProtocol,
      hasBotAltSetting: msAlts.some((a) => a.bInterfaceProtocol === MSC_PROTOCOL_BOT),
      hasUasAltSetting: msAlts.some((a) => a.bInterfaceProtocol === MSC_PROTOCOL_UAS),
    });
  });
  return out;
}

function bulkEndpoint(alt: InterfaceDescriptorLike, dirIn: boolean): BulkEndpoint | undefined {
  const ep = alt.endpoints.find((e) =>
    (e.bmAttributes & 0x03) === TRANSFER_TYPE_BULK && ((e.bEndpointAddress & ENDPOINT_DIR_IN) !== 0) === dirIn);
  // wMaxPacketSize bits 12:11 are high-bandwidth multipliers (not used by bulk); the size is bits 10:0.
  return ep === undefined ? undefined : { address: ep.bEndpointAddress, maxPacketSize: ep.wMaxPacketSize & 0x7ff };
}

/**
 * Pick the Bulk-Only alternate setting of a mass-storage interface (class 08, protocol 50; SCSI subclass 06
 * preferred over other subclasses). `wantedInterface` restricts the choice to one bInterfaceNumber.
 * @throws UsbError NOT_FOUND when there is no (such) mass-storage interface; NOT_SUPPORTED when mass storage is
 *   offered only with other protocols (e.g. UAS-only) or the Bulk-Only setting lacks a bulk-in/bulk-out pair.
 */
export function chooseBotInterface(interfaces: InterfaceTable, wantedInterface?: number): BotInterfaceChoice {
  return chooseInterface(interfaces, wantedInterface, [MSC_PROTOCOL_BOT]);
}

/**
 * The interface and setting a port opens: the Bulk-Only setting when there is one (as chooseBotInterface), else a
 * UAS setting, with `bulkIn`/`bulkOut` its first bulk-in and bulk-out endpoints (the transport chosen above the
 * port binds UAS's four pipes by their Pipe Usage descriptors: UsbPort.selectAltSetting).
 * @throws UsbError NOT_FOUND as chooseBotInterface; NOT_SUPPORTED when the interface speaks neither protocol.
 */
export function chooseMassStorageInterface(interfaces: InterfaceTable, wantedInterface?: number): BotInterfaceChoice {
  return chooseInterface(interfaces, wantedInterface, [MSC_PROTOCOL_BOT, MSC_PROTOCOL_UAS]);
}

/** Every alternate setting of the interface at `index`, as the port contract describes them. */
export function altSettingsOf(interfaces: InterfaceTable, index: number): AltSettingInfo[] {
  return (interfaces[index] ?? []).map((a) => ({
    alternateSetting: a.bAlternateSetting, interfaceClass: a.bInterfaceClass, interfaceSubClass: a.bInterfaceSubClass,
    interfaceProtocol: a.bInterfaceProtocol,
    endpoints: a.endpoints.map((e) => ({ address: e.bEndpointAddress, attributes: e.bmAttributes,
      maxPacketSize: e.wMaxPacketSize & 0x7ff, extra: e.extra ?? new Uint8Array(0) })),
  }));
}

/** `protocols` in order of preference. */
function chooseInterface(interfaces: InterfaceTable, wantedInterface: number | undefined,
  protocols: readonly number[]): BotInterfaceChoice {
  const candidates: { index: number; alt: InterfaceDescriptorLike }[] = [];
  const seenProtocols: string[] = [];
  interfaces.forEach((alts, index) => {
    for (const alt of alts) {
      if (alt.bInterfaceClass !== USB_CLASS_MASS_STORAGE) continue;
      if (wantedInterface !== undefined && alt.bInterfaceNumber !== wantedInterface) continue;
      seenProtocols.push(`interface ${alt.bInterfaceNumber} alt ${alt.bAlternateSetting}: subclass ` +
        `${hex2(alt.bInterfaceSubClass)} protocol ${hex2(alt.bInterfaceProtocol)} (${protocolName(alt.bInterfaceProtocol)})`);
      if (protocols.includes(alt.bInterfaceProtocol)) candidates.push({ index, alt });
    }
  });
  const which = wantedInterface === undefined ? 'the device has no' : `interface ${wantedInterface} is not a`;
  if (seenProtocols.length === 0) {
    throw new UsbError('NOT_FOUND', `${which} mass-storage interface (class 0x08)`);
  }
  if (candidates.length === 0) {
    const offered = protocols.includes(MSC_PROTOCOL_UAS) ? 'no Bulk-Only (protocol 0x50) or UAS (protocol 0x62)'
      : 'no Bulk-Only (protocol 0x50)';
    const speaks = protocols.includes(MSC_PROTOCOL_UAS) ? 'Bulk-Only Transport and UAS' : 'Bulk-Only Transport here';
    throw new UsbError('NOT_SUPPORTED', `the device offers ${offered} alternate setting on its ` +
      `mass-storage interface; found ${seenProtocols.join('; ')}. usbms speaks ${speaks}`);
  }
  // Preferred protocol first, then the SCSI subclass (stable sort keeps descriptor order otherwise).
  const rank = (a: InterfaceDescriptorLike): number => protocols.indexOf(a.bInterfaceProtocol) * 2 +
    (a.bInterfaceSubClass === MSC_SUBCLASS_SCSI ? 0 : 1);
  candidates.sort((a, b) => rank(a.alt) - rank(b.alt));
  for (const { index, alt } of candidates) {
    const bulkIn = bulkEndpoint(alt, true);
    const bulkOut = bulkEndpoint(alt, false);
    if (bulkIn === undefined || bulkOut === undefined) continue;
    return {
      index, interfaceNumber: alt.bInterfaceNumber, alternateSetting: alt.bAlternateSetting,
      subclass: alt.bInterfaceSubClass, bulkIn, bulkOut,
    };
  }
  throw new UsbError('NOT_SUPPORTED', 'the Bulk-Only alternate setting of the mass-storage interface has no ' +
    'bulk-in/bulk-out endpoint pair (malformed descriptors)');
}

/**
 * Choosing the Bulk-Only mass-storage interface from a configuration descriptor. Pure: it works on the
 * descriptor shapes node-usb returns (or hand-built ones in tests) and never touches a device.
 */
import { UsbError } from '../errors.js';
import { BOT_INTERFACE } from '../wire/bot.js';

export const USB_CLASS_MASS_STORAGE = BOT_INTERFACE.CLASS;
export const MSC_SUBCLASS_SCSI = BOT_INTERFACE.SUBCLASS_SCSI;
export const MSC_PROTOCOL_BOT = BOT_INTERFACE.PROTOCOL_BOT;
export const MSC_PROTOCOL_UAS = 0x62;
const TRANSFER_TYPE_BULK = 0x02;
const ENDPOINT_DIR_IN = 0x80;

/** The fields of node-usb's EndpointDescriptor that the choice reads. */
export interface EndpointDescriptorLike {
  readonly bEndpointAddress: number;
  readonly bmAttributes: number;
  readonly wMaxPacketSize: number;
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
  const candidates: { index: number; alt: InterfaceDescriptorLike }[] = [];
  const seenProtocols: string[] = [];
  interfaces.forEach((alts, index) => {
    for (const alt of alts) {
      if (alt.bInterfaceClass !== USB_CLASS_MASS_STORAGE) continue;
      if (wantedInterface !== undefined && alt.bInterfaceNumber !== wantedInterface) continue;
      seenProtocols.push(`interface ${alt.bInterfaceNumber} alt ${alt.bAlternateSetting}: subclass ` +
        `${hex2(alt.bInterfaceSubClass)} protocol ${hex2(alt.bInterfaceProtocol)} (${protocolName(alt.bInterfaceProtocol)})`);
      if (alt.bInterfaceProtocol === MSC_PROTOCOL_BOT) candidates.push({ index, alt });
    }
  });
  const which = wantedInterface === undefined ? 'the device has no' : `interface ${wantedInterface} is not a`;
  if (seenProtocols.length === 0) {
    throw new UsbError('NOT_FOUND', `${which} mass-storage interface (class 0x08)`);
  }
  if (candidates.length === 0) {
    throw new UsbError('NOT_SUPPORTED', 'the device offers no Bulk-Only (protocol 0x50) alternate setting on its ' +
      `mass-storage interface; found ${seenProtocols.join('; ')}. usbms speaks Bulk-Only Transport only`);
  }
  candidates.sort((a, b) => Number(b.alt.bInterfaceSubClass === MSC_SUBCLASS_SCSI) -
    Number(a.alt.bInterfaceSubClass === MSC_SUBCLASS_SCSI));
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

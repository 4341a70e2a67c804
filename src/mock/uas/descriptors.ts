/**
 * The software disk's interface descriptors: a Bulk-Only setting, a UAS setting (four bulk pipes, each with its
 * Pipe Usage descriptor, in QEMU usb-uas's order: command, status, data-in, data-out), or both.
 */
import type { AltSettingInfo, EndpointDescriptorInfo } from '../../usb/port.js';
import { PIPE_ID, PIPE_USAGE_DESCRIPTOR_TYPE, PipeUsageDescriptor, UAS_INTERFACE_PROTOCOL } from '../../usb/wire/uas.js';

/** Endpoint addresses of the software disk: the data pipes are shared by its Bulk-Only and UAS settings. */
export const MOCK_UAS_ENDPOINTS = { dataIn: 0x81, dataOut: 0x02, status: 0x83, command: 0x04 } as const;

const BULK = 0x02;
const MASS_STORAGE = 0x08;
const SCSI = 0x06;
const BULK_ONLY = 0x50;

function pipeUsage(pipeId: number): Uint8Array {
  const d = Buffer.alloc(PipeUsageDescriptor.span);
  PipeUsageDescriptor.encode({ bLength: PipeUsageDescriptor.span, bDescriptorType: PIPE_USAGE_DESCRIPTOR_TYPE,
    bPipeId: pipeId, reserved: 0 }, d);
  return d;
}

function endpoint(address: number, mps: number, extra: Uint8Array = new Uint8Array(0)): EndpointDescriptorInfo {
  return { address, attributes: BULK, maxPacketSize: mps, extra };
}

function botSetting(alternateSetting: number, mps: number): AltSettingInfo {
  return { alternateSetting, interfaceClass: MASS_STORAGE, interfaceSubClass: SCSI, interfaceProtocol: BULK_ONLY,
    endpoints: [endpoint(MOCK_UAS_ENDPOINTS.dataIn, mps), endpoint(MOCK_UAS_ENDPOINTS.dataOut, mps)] };
}

function uasSetting(alternateSetting: number, mps: number): AltSettingInfo {
  const e = MOCK_UAS_ENDPOINTS;
  return { alternateSetting, interfaceClass: MASS_STORAGE, interfaceSubClass: SCSI, interfaceProtocol: UAS_INTERFACE_PROTOCOL,
    endpoints: [endpoint(e.command, mps, pipeUsage(PIPE_ID.COMMAND)), endpoint(e.status, mps, pipeUsage(PIPE_ID.STATUS)),
      endpoint(e.dataIn, mps, pipeUsage(PIPE_ID.DATA_IN)), endpoint(e.dataOut, mps, pipeUsage(PIPE_ID.DATA_OUT))] };
}

/** The alternate settings a device offering `transports` has. */
export function mockAltSettings(transports: 'bot' | 'uas' | 'bot+uas', mps: number): AltSettingInfo[] {
  switch (transports) {
    case 'bot': return [botSetting(0, mps)];
    case 'uas': return [uasSetting(0, mps)];
    case 'bot+uas': return [botSetting(0, mps), uasSetting(1, mps)];
  }
}

/**
 * Finding UAS's four pipes: each bulk endpoint of a UAS alternate setting carries a Pipe Usage descriptor
 * (`04 24 ID 00`) among its extra descriptors (UAS-2 §5.3.3.2; Linux uas-detect.h uas_find_endpoints). The
 * interface descriptor's endpoint order means nothing.
 */
import type { AltSettingInfo, PipeBinding } from '../usb/port.js';
import { PIPE_ID, PIPE_USAGE_DESCRIPTOR_TYPE, PipeUsageDescriptor, UAS_INTERFACE_PROTOCOL } from '../usb/wire/uas.js';

const BULK = 0x02;
const DIR_IN = 0x80;

/** The bPipeID an endpoint's extra descriptors name, or undefined. */
export function pipeIdOf(extra: Uint8Array): number | undefined {
  let at = 0;
  while (at + 2 <= extra.length) {
    const len = extra[at] ?? 0;
    if (len < 2 || at + len > extra.length) return undefined;
    // Read in place: the port contract hands extra descriptors over as a Uint8Array, not necessarily a Buffer.
    if (extra[at + 1] === PIPE_USAGE_DESCRIPTOR_TYPE && len >= PipeUsageDescriptor.span) {
      return extra[at + PipeUsageDescriptor.offsets.bPipeId];
    }
    at += len;
  }
  return undefined;
}

/** Why an alternate setting cannot run UAS, or its pipes. */
export type UasPipesVerdict = { ok: true; binding: PipeBinding; maxPacketSize: number } | { ok: false; why: string };

/**
 * The four pipes of a UAS alternate setting: command (OUT), status (IN), data-in (IN), data-out (OUT), each a
 * bulk endpoint named by exactly one Pipe Usage descriptor of the right direction.
 */
export function findUasPipes(alt: AltSettingInfo): UasPipesVerdict {
  if (alt.interfaceProtocol !== UAS_INTERFACE_PROTOCOL) {
    return { ok: false, why: `alternate setting ${alt.alternateSetting} is not UAS (protocol 0x${alt.interfaceProtocol.toString(16)})` };
  }
  const found = new Map<number, number>();
  let mps = 0;
  for (const ep of alt.endpoints) {
    if ((ep.attributes & 0x03) !== BULK) continue;
    const id = pipeIdOf(ep.extra);
    if (id === undefined) continue;
    if (found.has(id)) return { ok: false, why: `two endpoints claim pipe ${id}` };
    const wantIn = id === PIPE_ID.STATUS || id === PIPE_ID.DATA_IN;
    if (((ep.address & DIR_IN) !== 0) !== wantIn) {
      return { ok: false, why: `endpoint 0x${ep.address.toString(16)} claims pipe ${id} in the wrong direction` };
    }
    found.set(id, ep.address);
    if (id === PIPE_ID.DATA_IN) mps = ep.maxPacketSize;
  }
  const at = (id: number): number | undefined => found.get(id);
  const command = at(PIPE_ID.COMMAND);
  const status = at(PIPE_ID.STATUS);
  const dataIn = at(PIPE_ID.DATA_IN);
  const dataOut = at(PIPE_ID.DATA_OUT);
  if (command === undefined || status === undefined || dataIn === undefined || dataOut === undefined) {
    const missing = [command === undefined ? 'command' : '', status === undefined ? 'status' : '',
      dataIn === undefined ? 'data-in' : '', dataOut === undefined ? 'data-out' : ''].filter((x) => x !== '');
    return { ok: false, why: `no Pipe Usage descriptor names the ${missing.join(', ')} pipe` };
  }
  return { ok: true, binding: { in: dataIn, out: dataOut, status, command }, maxPacketSize: mps };
}

/** A CBW as the replay reads it, from a capture (recording.ts) and from the host (device.ts). */
import {
  CBW_CB_LENGTH, CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_SIGNATURE, CbwLayout,
} from '../../usb/wire/bot.js';
import type { HostCbw } from './cdb-match.js';

/** `b` as a CBW (the CDB copied out); undefined when the bytes are not one. */
export function parseCbw(b: Buffer): HostCbw | undefined {
  if (b.length !== CBW_LENGTH) return undefined;
  const f = CbwLayout.decode(b);
  if (f.signature !== CBW_SIGNATURE) return undefined;
  const cbLength = Math.min(CBW_CB_LENGTH, Math.max(1, f.cbLength & 0x1f));
  return {
    tag: f.tag, dataLength: f.dataTransferLength, lun: f.lun & 0x0f, cdb: Buffer.from(f.cb.subarray(0, cbLength)),
    direction: f.dataTransferLength === 0 ? 'none' : (f.flags & CBW_FLAG_DATA_IN) !== 0 ? 'in' : 'out',
  };
}

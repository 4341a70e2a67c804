/**
 * Command Block Wrapper (BOT 1.0 §5.1): 31 bytes, little-endian, declared once (CbwLayout in src/usb/wire/bot.ts)
 * and encoded into a buffer the engine allocates at open time. Tags come from {@link TagCounter}.
 */
import type { DataDirection } from '../transport/index.js';
import { UsbmsArgumentError } from '../util/errors.js';
import {
  CBW_CB_LENGTH, CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE, CbwLayout,
} from '../usb/wire/bot.js';

// The wire declarations live in src/usb/wire/bot.ts (shared with the software disk, traces and the test hosts).
export { CBW_CB_LENGTH, CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_SIGNATURE, CbwLayout } from '../usb/wire/bot.js';

// The CBW's field offsets, read once: the encoder below runs per command.
const { signature: SIGNATURE, tag: TAG, dataTransferLength: LENGTH, flags: FLAGS, lun: LUN, cbLength: CB_LENGTH,
  cb: CB } = CBW_OFFSET;

export interface CbwFields {
  tag: number;
  dataTransferLength: number;
  direction: DataDirection;
  lun: number;
  cdb: Uint8Array;
  cdbLength: number;
}

/** Encodes CBWs into one 31-byte buffer owned by the encoder (no allocation per command). */
export class CbwEncoder {
  readonly buffer = Buffer.alloc(CBW_LENGTH);

  /** Encode and return the 31-byte buffer (the same one each time). Throws RangeError on out-of-range fields. */
  encode(f: CbwFields): Buffer {
    if (!Number.isInteger(f.lun) || f.lun < 0 || f.lun > 15) throw new UsbmsArgumentError(`LUN ${f.lun} is not 0..15`);
    if (!Number.isInteger(f.cdbLength) || f.cdbLength < 1 || f.cdbLength > CBW_CB_LENGTH) {
      throw new UsbmsArgumentError(`CDB length ${f.cdbLength} is not 1..16`);
    }
    if (f.cdb.length < f.cdbLength) throw new UsbmsArgumentError(`CDB has ${f.cdb.length} bytes, cdbLength says ${f.cdbLength}`);
    // Written field by field at the offsets CbwLayout declares (decodeCbw reads them back through the layout):
    // the generic layout encoder was 3 % of a command's CPU in the lab.
    const b = this.buffer;
    b.writeUInt32LE(CBW_SIGNATURE, SIGNATURE);
    b.writeUInt32LE(f.tag, TAG); // throws RangeError outside u32, as the layout did
    b.writeUInt32LE(f.dataTransferLength, LENGTH);
    // Direction bit is only meaningful with a data phase; BOT says the host sets it to 0 when there is none.
    b[FLAGS] = f.direction === 'in' ? CBW_FLAG_DATA_IN : 0;
    b[LUN] = f.lun;
    b[CB_LENGTH] = f.cdbLength;
    // Zero padded, so that no byte of a previous, longer CDB leaks into CBWCB.
    for (let i = 0; i < CBW_CB_LENGTH; i++) b[CB + i] = i < f.cdbLength ? (f.cdb[i] ?? 0) : 0;
    return b;
  }
}

/** Decoded CBW (used by tests and by anything that inspects the wire). */
export function decodeCbw(buf: Uint8Array): CbwFields & { signature: number } {
  const raw = CbwLayout.decode(buf);
  return {
    signature: raw.signature,
    tag: raw.tag,
    dataTransferLength: raw.dataTransferLength,
    direction: raw.dataTransferLength === 0 ? 'none' : (raw.flags & CBW_FLAG_DATA_IN) !== 0 ? 'in' : 'out',
    lun: raw.lun & 0x0f,
    cdb: raw.cb.subarray(0, raw.cbLength & 0x1f),
    cdbLength: raw.cbLength & 0x1f,
  };
}

/**
 * dCBWTag source: monotonic, wraps at 2^32, and never hands out the tag it handed out last time, so a stale CSW
 * of the previous command can never match the current one.
 */
export class TagCounter {
  private last: number;
  constructor(start = 0) { this.last = start >>> 0; }
  /** The next tag: never 0, wraps at 2^32. */
  next(): number {
    this.last = (this.last + 1) >>> 0;
    return this.last;
  }
  /** The last tag handed out. */
  get current(): number { return this.last; }
}

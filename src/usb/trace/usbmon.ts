/**
 * The Linux usbmon binary record (Documentation/usb/usbmon.rst, "binary API"), as libpcap stores it under
 * LINKTYPE_USB_LINUX_MMAPPED (220): a 64-byte header in the capture file's byte order, then the captured data.
 *
 *   id u64 @0 (same for the S and C of one URB), type @8 ('S' submission, 'C' callback, 'E' submission error),
 *   xfer_type @9 (0 iso, 1 interrupt, 2 control, 3 bulk), epnum @10 (0x80 = IN), devnum @11, busnum u16 @12,
 *   flag_setup @14 (0: a setup packet is in setup[]), flag_data @15 (0: data follows; '<' IN submission, '>' OUT
 *   callback), ts_sec s64 @16, ts_usec s32 @24, status s32 @28, length u32 @32 (submitted or actual), len_cap u32
 *   @36 (bytes in this record), setup[8] @40, interval s32 @48, start_frame s32 @52, xfer_flags u32 @56, ndesc @60.
 *
 * The mass-storage dissectors of Wireshark read these fields; src/usb/trace writes and reads exactly this layout.
 */
import type { UsbErrorKind } from '../errors.js';

export const LINKTYPE_USB_LINUX = 189; // the older 48-byte header (no interval..ndesc)
export const LINKTYPE_USB_LINUX_MMAPPED = 220;
export const USBMON_HEADER_LENGTH = 64;
export const USBMON_LEGACY_HEADER_LENGTH = 48;

export type EventType = 'S' | 'C' | 'E';
export const XFER_CONTROL = 2;
export const XFER_BULK = 3;
export const DIR_IN = 0x80;
/** URB_DIR_IN in xfer_flags (include/linux/usb.h), set on IN URBs as the kernel does. */
export const URB_DIR_IN = 0x0200;

/** Negative errno values usbmon puts in `status` (asm-generic/errno*.h). */
export const ERRNO = {
  ENOENT: -2, ENODEV: -19, EINVAL: -22, EPIPE: -32, EOVERFLOW: -75, EPROTO: -71, ECONNRESET: -104,
  ESHUTDOWN: -108, ETIMEDOUT: -110, EREMOTEIO: -121, EINPROGRESS: -115,
} as const;

/** One usbmon record: the header fields and a view of the captured bytes. */
export interface UsbmonRecord {
  readonly id: bigint;
  readonly type: EventType;
  readonly xferType: number;
  /** Endpoint address with the direction bit (0x80 = IN; control IN is 0x80). */
  readonly epnum: number;
  readonly devnum: number;
  readonly busnum: number;
  /** The SETUP packet, present on control submissions. */
  readonly setup: Buffer | undefined;
  readonly tsSec: number;
  readonly tsUsec: number;
  readonly status: number;
  /** Submitted length on 'S', actual length on 'C'. */
  readonly length: number;
  /** The captured bytes (len_cap of them; fewer than `length` when a snaplen cut them). */
  readonly data: Buffer;
}

/** What the status of a failed transfer is, in usbmon's words, for each way a usbms port transfer can fail. */
export function statusForError(kind: UsbErrorKind, phase: 'callback' | 'submit'): number {
  switch (kind) {
    case 'STALL': return ERRNO.EPIPE;
    case 'TIMEOUT': return ERRNO.ETIMEDOUT;
    case 'OVERFLOW': return ERRNO.EOVERFLOW;
    case 'CANCELLED': return ERRNO.ECONNRESET; // an asynchronous unlink, as libusb_cancel_transfer does
    case 'NO_DEVICE': return phase === 'submit' ? ERRNO.ENODEV : ERRNO.ESHUTDOWN;
    case 'CLOSED': return ERRNO.ENODEV;
    default: return ERRNO.EPROTO;
  }
}

/** How a recorded status reads back: what the device did to the transfer. */
export type RecordedOutcome = 'ok' | 'stall' | 'no-response' | 'overflow' | 'gone' | 'error';

export function outcomeOfStatus(status: number): RecordedOutcome {
  if (status === 0) return 'ok';
  if (status === ERRNO.EPIPE) return 'stall';
  if (status === ERRNO.EOVERFLOW) return 'overflow';
  // The host gave up waiting: a timeout, or the host unlinked the URB (kernel SCSI timeout, libusb cancel).
  if (status === ERRNO.ETIMEDOUT || status === ERRNO.ENOENT || status === ERRNO.ECONNRESET) return 'no-response';
  if (status === ERRNO.ESHUTDOWN || status === ERRNO.ENODEV) return 'gone';
  // -EREMOTEIO is a short read with URB_SHORT_NOT_OK: the data is there, the transfer just ended early.
  if (status === ERRNO.EREMOTEIO) return 'ok';
  return 'error';
}

/** Fields the writer fills per record (the rest are zero). */
export interface UsbmonHeaderFields {
  id: bigint;
  type: EventType;
  xferType: number;
  epnum: number;
  devnum: number;
  busnum: number;
  setup: Buffer | undefined;
  /** Microseconds since the epoch. */
  timeUs: number;
  status: number;
  length: number;
  lenCap: number;
  /** True when data follows the header (len_cap > 0 or an empty payload that is data, e.g. a ZLP). */
  hasData: boolean;
}

/** Encode the 64-byte header into `out` at `offset`, little-endian (the byte order of the file we write). */
export function encodeUsbmonHeader(out: Buffer, offset: number, f: UsbmonHeaderFields): void {
  const sec = Math.floor(f.timeUs / 1e6);
  out.fill(0, offset, offset + USBMON_HEADER_LENGTH);
  out.writeBigUInt64LE(f.id, offset);
  out[offset + 8] = f.type.charCodeAt(0);
  out[offset + 9] = f.xferType;
  out[offset + 10] = f.epnum;
  out[offset + 11] = f.devnum;
  out.writeUInt16LE(f.busnum, offset + 12);
  out[offset + 14] = f.setup === undefined ? 0x2d /* '-' */ : 0;
  const isIn = (f.epnum & DIR_IN) !== 0;
  out[offset + 15] = f.hasData ? 0 : (isIn ? 0x3c /* '<' */ : 0x3e /* '>' */);
  out.writeBigInt64LE(BigInt(sec), offset + 16);
  out.writeInt32LE(Math.floor(f.timeUs - sec * 1e6), offset + 24);
  out.writeInt32LE(f.status, offset + 28);
  out.writeUInt32LE(f.length, offset + 32);
  out.writeUInt32LE(f.lenCap, offset + 36);
  if (f.setup !== undefined) f.setup.copy(out, offset + 40, 0, 8);
  out.writeUInt32LE(isIn ? URB_DIR_IN : 0, offset + 56);
}

/** Decode one record's header and data from a pcap packet body (`le`: the file's byte order). */
export function decodeUsbmonRecord(body: Buffer, le: boolean, headerLength: number): UsbmonRecord {
  const u16 = (o: number): number => (le ? body.readUInt16LE(o) : body.readUInt16BE(o));
  const s32 = (o: number): number => (le ? body.readInt32LE(o) : body.readInt32BE(o));
  const u32 = (o: number): number => (le ? body.readUInt32LE(o) : body.readUInt32BE(o));
  const type = String.fromCharCode(body[8] ?? 0);
  const flagSetup = body[14];
  const lenCap = u32(36);
  return {
    id: le ? body.readBigUInt64LE(0) : body.readBigUInt64BE(0),
    type: type === 'S' || type === 'C' ? type : 'E',
    xferType: body[9] ?? 0,
    epnum: body[10] ?? 0,
    devnum: body[11] ?? 0,
    busnum: u16(12),
    setup: flagSetup === 0 ? body.subarray(40, 48) : undefined,
    tsSec: Number(le ? body.readBigInt64LE(16) : body.readBigInt64BE(16)),
    tsUsec: s32(24),
    status: s32(28),
    length: u32(32),
    // The record may hold fewer bytes than len_cap says when the pcap snaplen cut it.
    data: body.subarray(headerLength, headerLength + Math.min(lenCap, Math.max(0, body.length - headerLength))),
  };
}

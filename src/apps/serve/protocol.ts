/**
 * The numbers of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md, fixed newstyle; the values libnbd,
 * nbdkit, QEMU and the kernel's nbd.ko use). Names keep the document's, without the NBD_ prefix.
 */

/** 'NBDMAGIC': the first eight bytes a server sends. */
export const NBDMAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT': after NBDMAGIC from the server (newstyle), and before every option from the client. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Before every option reply. */
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (server, 16 bits). */
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
/** Client flags (32 bits): any other bit makes the server drop the connection. */
export const FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_C_NO_ZEROES = 1 << 1;

/** Options. */
export const OPT = {
  EXPORT_NAME: 1, ABORT: 2, LIST: 3, PEEK_EXPORT: 4, STARTTLS: 5, INFO: 6, GO: 7, STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9, SET_META_CONTEXT: 10,
} as const;

const ERR = 2 ** 31;
/** Option reply types; errors have bit 31 set. */
export const REP = {
  ACK: 1, SERVER: 2, INFO: 3, META_CONTEXT: 4,
  ERR_UNSUP: ERR + 1, ERR_POLICY: ERR + 2, ERR_INVALID: ERR + 3, ERR_PLATFORM: ERR + 4, ERR_TLS_REQD: ERR + 5,
  ERR_UNKNOWN: ERR + 6, ERR_SHUTDOWN: ERR + 7, ERR_BLOCK_SIZE_REQD: ERR + 8, ERR_TOO_BIG: ERR + 9,
} as const;

/** NBD_REP_INFO types (NBD_OPT_INFO / NBD_OPT_GO). */
export const INFO = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Transmission flags (16 bits, per export). */
export const TFLAG = {
  HAS_FLAGS: 1 << 0, READ_ONLY: 1 << 1, SEND_FLUSH: 1 << 2, SEND_FUA: 1 << 3, ROTATIONAL: 1 << 4, SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6, SEND_DF: 1 << 7, CAN_MULTI_CONN: 1 << 8, SEND_RESIZE: 1 << 9, SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Request types. */
export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;
/** Command flags. */
export const CMD_FLAG = { FUA: 1 << 0, NO_HOLE: 1 << 1, DF: 1 << 2, REQ_ONE: 1 << 3, FAST_ZERO: 1 << 4 } as const;

/** Structured reply flags and chunk types; error chunks have bit 15 set. */
export const REPLY_FLAG_DONE = 1 << 0;
export const REPLY_TYPE = { NONE: 0, OFFSET_DATA: 1, OFFSET_HOLE: 2, BLOCK_STATUS: 5, ERROR: 2 ** 15 + 1, ERROR_OFFSET: 2 ** 15 + 2 } as const;

/** The error values the protocol allows in replies (the usual Linux errno numbers). */
export const NBD_ERRNO = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;
export type NbdErrno = (typeof NBD_ERRNO)[keyof typeof NBD_ERRNO];

/** The errno's name, for logs and events. */
export function errnoName(e: number): string {
  return Object.entries(NBD_ERRNO).find(([, v]) => v === e)?.[0] ?? `errno ${e}`;
}

/** Request header: magic, flags, type, cookie, offset, length. */
export const REQUEST_LENGTH = 28;
export const SIMPLE_REPLY_LENGTH = 16;
export const CHUNK_HEADER_LENGTH = 20;
/** A string in the protocol (export name, message) is at most this long. */
export const MAX_STRING = 4096;

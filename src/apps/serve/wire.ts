/**
 * Building the server's messages and reading the client's fixed-size ones. Every builder returns a new small
 * Buffer (headers are tens of bytes; data is never copied into them: a READ's data goes to the socket as its own
 * buffer, behind its header, in one writev).
 */
import {
  CHUNK_HEADER_LENGTH, INFO, NBDMAGIC, IHAVEOPT, OPTION_REPLY_MAGIC, REPLY_TYPE, SIMPLE_REPLY_LENGTH,
  SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC,
} from './protocol.js';

/** The server's greeting: NBDMAGIC, IHAVEOPT, handshake flags. */
export function greeting(flags: number): Buffer {
  const b = Buffer.alloc(18);
  b.writeBigUInt64BE(NBDMAGIC, 0);
  b.writeBigUInt64BE(IHAVEOPT, 8);
  b.writeUInt16BE(flags, 16);
  return b;
}

/** One option reply: magic, the option it answers, reply type, data. */
export function optionReply(option: number, type: number, data: Buffer = EMPTY): Buffer {
  const b = Buffer.alloc(20 + data.length);
  b.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(type, 12);
  b.writeUInt32BE(data.length, 16);
  data.copy(b, 20);
  return b;
}
const EMPTY = Buffer.alloc(0);

/** NBD_REP_SERVER data: the name's length, the name, then a description for people. */
export function serverEntry(name: string, description: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const d = Buffer.from(description, 'utf8');
  const b = Buffer.alloc(4 + n.length + d.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  d.copy(b, 4 + n.length);
  return b;
}

/** NBD_INFO_EXPORT: size and transmission flags. */
export function infoExport(size: bigint, flags: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(INFO.EXPORT, 0);
  b.writeBigUInt64BE(size, 2);
  b.writeUInt16BE(flags, 10);
  return b;
}

/** NBD_INFO_NAME or NBD_INFO_DESCRIPTION: a string. */
export function infoString(type: typeof INFO.NAME | typeof INFO.DESCRIPTION, text: string): Buffer {
  const t = Buffer.from(text, 'utf8');
  const b = Buffer.alloc(2 + t.length);
  b.writeUInt16BE(type, 0);
  t.copy(b, 2);
  return b;
}

/** NBD_INFO_BLOCK_SIZE: minimum, preferred, maximum. */
export function infoBlockSize(min: number, preferred: number, max: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt16BE(INFO.BLOCK_SIZE, 0);
  b.writeUInt32BE(min, 2);
  b.writeUInt32BE(preferred, 6);
  b.writeUInt32BE(max, 10);
  return b;
}

/** NBD_OPT_EXPORT_NAME's answer: size, transmission flags, 124 zero bytes unless NO_ZEROES was agreed. */
export function exportNameReply(size: bigint, flags: number, noZeroes: boolean): Buffer {
  const b = Buffer.alloc(noZeroes ? 10 : 134);
  b.writeBigUInt64BE(size, 0);
  b.writeUInt16BE(flags, 8);
  return b;
}

/** A simple reply header: magic, error, the request's cookie (8 bytes as the client sent them). */
export function simpleReply(error: number, cookie: Buffer): Buffer {
  const b = Buffer.allocUnsafe(SIMPLE_REPLY_LENGTH);
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  cookie.copy(b, 8, 0, 8);
  return b;
}

function chunkHeader(b: Buffer, flags: number, type: number, cookie: Buffer, length: number): void {
  b.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  cookie.copy(b, 8, 0, 8);
  b.writeUInt32BE(length, 16);
}

/** The header of an NBD_REPLY_TYPE_OFFSET_DATA chunk (the data follows as its own buffer). */
export function dataChunkHeader(flags: number, cookie: Buffer, offset: number, dataLength: number): Buffer {
  const b = Buffer.allocUnsafe(CHUNK_HEADER_LENGTH + 8);
  chunkHeader(b, flags, REPLY_TYPE.OFFSET_DATA, cookie, 8 + dataLength);
  b.writeBigUInt64BE(BigInt(offset), CHUNK_HEADER_LENGTH);
  return b;
}

/** A chunk without payload (NBD_REPLY_TYPE_NONE, always the last). */
export function noneChunk(flags: number, cookie: Buffer): Buffer {
  const b = Buffer.allocUnsafe(CHUNK_HEADER_LENGTH);
  chunkHeader(b, flags, REPLY_TYPE.NONE, cookie, 0);
  return b;
}

/** An error chunk: NBD_REPLY_TYPE_ERROR, or NBD_REPLY_TYPE_ERROR_OFFSET when the offset is known. */
export function errorChunk(flags: number, cookie: Buffer, error: number, message: string, offset?: number): Buffer {
  const m = Buffer.from(message.slice(0, 1024), 'utf8');
  const tail = offset === undefined ? 0 : 8;
  const b = Buffer.alloc(CHUNK_HEADER_LENGTH + 6 + m.length + tail);
  chunkHeader(b, flags, offset === undefined ? REPLY_TYPE.ERROR : REPLY_TYPE.ERROR_OFFSET, cookie, 6 + m.length + tail);
  b.writeUInt32BE(error, CHUNK_HEADER_LENGTH);
  b.writeUInt16BE(m.length, CHUNK_HEADER_LENGTH + 4);
  m.copy(b, CHUNK_HEADER_LENGTH + 6);
  if (offset !== undefined) b.writeBigUInt64BE(BigInt(offset), CHUNK_HEADER_LENGTH + 6 + m.length);
  return b;
}

/** A request header as read off the wire (fields decoded; the cookie kept as the client's 8 bytes). */
export interface RequestHeader {
  magic: number;
  flags: number;
  type: number;
  /** Offset in bytes; Infinity when it does not fit 2^53 (past the end of any export). */
  offset: number;
  length: number;
}

/** Decode a 28-byte request header from `b` into `into`, and copy its cookie into `cookie`. */
export function decodeRequest(b: Buffer, into: RequestHeader, cookie: Buffer): void {
  into.magic = b.readUInt32BE(0);
  into.flags = b.readUInt16BE(4);
  into.type = b.readUInt16BE(6);
  b.copy(cookie, 0, 8, 16);
  const hi = b.readUInt32BE(16);
  into.offset = hi >= 0x20_0000 ? Infinity : hi * 2 ** 32 + b.readUInt32BE(20);
  into.length = b.readUInt32BE(24);
}

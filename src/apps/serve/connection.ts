/**
 * One client connection: the fixed newstyle handshake (options until NBD_OPT_GO or NBD_OPT_EXPORT_NAME), then
 * the transmission phase (requests checked, WRITE payloads read into an arena, handed to the export, replies sent
 * as each finishes, in any order).
 *
 * What a client gets for garbage, as proto.md prescribes: an option it does not know, NBD_REP_ERR_UNSUP; a known
 * option with the wrong data, NBD_REP_ERR_INVALID; an export that does not exist, NBD_REP_ERR_UNKNOWN; a request
 * with an unknown type or flag, a length of 0 or over 32 MiB, a range past the end, EINVAL (ENOSPC for a write
 * past the end), a write to a read-only export, EPERM. A wrong magic, unknown client flags, an option over
 * 64 KiB, a WRITE payload over 64 MiB that cannot be skipped, or more options than any client needs, close the
 * connection (a hard disconnect, which proto.md allows on a violation). A disconnect in the middle of a payload
 * drops that request before anything is written. None of it touches another connection.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { NbdExport } from './export.js';
import type { BufferPool } from './pool.js';
import { SharedBuffer } from './pool.js';
import {
  CMD, CMD_FLAG, FLAG_C_FIXED_NEWSTYLE, FLAG_C_NO_ZEROES, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, IHAVEOPT, INFO,
  MAX_STRING, NBD_ERRNO, OPT, REP, REPLY_FLAG_DONE, REQUEST_LENGTH, REQUEST_MAGIC, TFLAG, errnoName,
} from './protocol.js';
import { ServeError } from './errors.js';
import type { Feed } from './own-buffer.js';
import { StreamEndedError, StreamReader } from './reader.js';
import { NbdRequest, type ReplySink } from './request.js';
import type { TlsCredentials } from './tls.js';
import {
  dataChunkHeader, decodeRequest, errorChunk, exportNameReply, greeting, infoBlockSize, infoExport, infoString,
  optionReply, serverEntry, simpleReply, type RequestHeader,
} from './wire.js';

/** Requests over this are refused (EINVAL); nbdkit's and qemu-nbd's limit too. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** A refused WRITE's payload up to this size is read and dropped; a larger one closes the connection. */
const MAX_SKIPPED_PAYLOAD = 64 * 1024 * 1024;
/** Option data over this closes the connection (names are at most 4096 bytes; nothing needs more). */
const MAX_OPTION_BYTES = 64 * 1024;
/** A client that sends more options than this is not negotiating. */
const MAX_OPTIONS = 128;
/** Requests of one connection in flight before it reads no further (TCP holds the client back). */
const MAX_IN_FLIGHT = 256;
/** WRITE payload bytes of one connection held before it reads no further. */
const MAX_IN_FLIGHT_BYTES = 128 * 1024 * 1024;
/** Each connection's WRITE payloads go one after the other into arenas of this size (so runs can merge them). */
const ARENA_BYTES = 8 * 1024 * 1024;
/** The handshake must be over within this long. */
const HANDSHAKE_MS = 60_000;

/** What every connection shares: the exports, TLS, the buffer pool, the server's events. */
export interface ConnectionContext {
  readonly exports: readonly NbdExport[];
  /** FORCEDTLS when set: every option but STARTTLS and ABORT is refused until TLS is up. */
  readonly tls: TlsCredentials | undefined;
  readonly pool: BufferPool;
  readonly emit: (e: ConnectionEvent) => void;
}

/** What a connection reports. */
export type ConnectionEvent =
  | { readonly type: 'export-opened'; readonly client: number; readonly export: string; readonly structured: boolean;
    readonly tls: boolean }
  | { readonly type: 'protocol-error'; readonly client: number; readonly message: string };

/** The client broke the protocol: the connection is closed. */
class ProtocolError extends ServeError {
  override readonly name = 'ProtocolError';
  constructor(message: string) { super('SERVE_PROTOCOL', message); }
}

export class NbdConnection implements ReplySink {
  private stream: Duplex;
  private readonly reader: StreamReader;
  private readonly scratch = Buffer.alloc(REQUEST_LENGTH);
  private structured = false;
  private tlsUp = false;
  private exp: NbdExport | undefined;
  private inFlight = 0;
  private inFlightBytes = 0;
  private wake: (() => void) | undefined;
  /**
   * Replies finished in one turn of the event loop leave in one writev: the socket stays corked until the loop's
   * check phase (setImmediate), after every completion and request that the poll phase brought has been handled,
   * including those that finish in later microtasks. A command that completes eight 128 KiB requests then costs one
   * system call (and one wake-up of the client) instead of eight, which the lab's profile showed as the largest
   * share of the server's time per MiB.
   */
  private batching = false;
  private readonly endBatch = (): void => { this.batching = false; this.stream.uncork(); };
  private arena: { shared: SharedBuffer; used: number } | undefined;
  private shuttingDown = false;
  /** Resolves when the connection is over (socket closed, every request answered or dropped). */
  readonly done: Promise<void>;

  /** `feedTo` given: the socket reads into a buffer of its own and its reads are handed to what it is given. */
  constructor(readonly id: number, private readonly socket: Socket, private readonly ctx: ConnectionContext,
    feedTo?: (feed: Feed) => void) {
    this.stream = socket;
    if (feedTo === undefined) this.reader = new StreamReader(socket);
    else {
      this.reader = new StreamReader(socket, () => { socket.resume(); });
      feedTo(this.reader.feed);
    }
    socket.setNoDelay(true);
    // Errors surface through the reader on the stream in use (plain or TLS); the plain socket under TLS must not
    // throw one nobody listens to.
    socket.on('error', () => undefined);
    this.done = this.serve();
  }

  /**
   * The server is stopping: a connection still negotiating is closed; in transmission, requests still arriving
   * are answered ESHUTDOWN (proto.md) and the connection ends once every request in flight is answered.
   */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.exp === undefined) this.destroy();
    else if (this.inFlight === 0) void this.endStream();
  }

  /** Close at once (the server gave up waiting). */
  destroy(): void { this.stream.destroy(); this.socket.destroy(); }

  private async serve(): Promise<void> {
    try {
      const timer = setTimeout(() => { this.fail('the handshake did not finish within 60 s'); }, HANDSHAKE_MS);
      let chosen: boolean;
      try {
        chosen = await this.handshake();
      } finally {
        clearTimeout(timer);
      }
      if (chosen) await this.transmission();
    } catch (e) {
      if (e instanceof ProtocolError) this.fail(e.message);
      else if (!(e instanceof StreamEndedError)) this.fail(`connection failed: ${(e as Error).message}`);
    }
    while (this.inFlight > 0) await new Promise<void>((r) => { this.wake = r; });
    await this.endStream();
    this.arena?.shared.unref();
    this.arena = undefined;
  }

  private fail(message: string): void {
    if (this.stream.destroyed) return;
    this.ctx.emit({ type: 'protocol-error', client: this.id, message });
    this.stream.destroy();
    this.socket.destroy();
  }

  private ending: Promise<void> | undefined;
  /** End the stream cleanly (TLS close_notify, then FIN); destroyed if the client does not let go in 5 s. */
  private endStream(): Promise<void> {
    this.ending ??= new Promise((resolve) => {
      if (this.stream.destroyed) { resolve(); return; }
      this.stream.once('close', () => { resolve(); });
      this.stream.end(() => { this.socket.destroy(); });
      setTimeout(() => { this.destroy(); }, 5000).unref();
    });
    return this.ending;
  }

  private write(buffers: readonly Buffer[], done?: () => void): void {
    const s = this.stream;
    if (s.destroyed || s.writableEnded) { done?.(); return; }
    s.cork();
    for (let i = 0; i < buffers.length - 1; i++) s.write(buffers[i]);
    s.write(buffers[buffers.length - 1], done === undefined ? undefined : () => { done(); });
    s.uncork();
  }

  private async bytes(n: number): Promise<void> {
    const wait = this.reader.need(n);
    if (wait !== undefined) await wait;
  }

  private async u32(): Promise<number> {
    await this.bytes(4);
    this.reader.copy(this.scratch, 0, 4);
    return this.scratch.readUInt32BE(0);
  }

  // ---- handshake ----------------------------------------------------------------------------------------------

  /** True when an export was chosen (transmission follows); false when the client aborted. */
  private async handshake(): Promise<boolean> {
    this.write([greeting(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)]);
    const clientFlags = await this.u32();
    if ((clientFlags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) !== 0) {
      throw new ProtocolError(`unknown client flags 0x${clientFlags.toString(16)}`);
    }
    const fixed = (clientFlags & FLAG_C_FIXED_NEWSTYLE) !== 0;
    const noZeroes = (clientFlags & FLAG_C_NO_ZEROES) !== 0;
    for (let n = 0; n < MAX_OPTIONS; n++) {
      await this.bytes(16);
      this.reader.copy(this.scratch, 0, 16);
      if (this.scratch.readBigUInt64BE(0) !== IHAVEOPT) throw new ProtocolError('an option without the IHAVEOPT magic');
      const option = this.scratch.readUInt32BE(8);
      const length = this.scratch.readUInt32BE(12);
      if (!fixed && option !== OPT.EXPORT_NAME) {
        throw new ProtocolError(`option ${option} from a client without fixed newstyle (it cannot take an error reply)`);
      }
      if (length > MAX_OPTION_BYTES) throw new ProtocolError(`option ${option} with ${length} bytes of data`);
      await this.bytes(length);
      const data = this.reader.take(length);
      const result = await this.option(option, data, noZeroes);
      if (result !== 'more') return result === 'chosen';
    }
    throw new ProtocolError(`more than ${MAX_OPTIONS} options`);
  }

  private reply(option: number, type: number, data?: Buffer): void { this.write([optionReply(option, type, data)]); }

  private refuse(option: number, type: number, message: string): 'more' {
    this.reply(option, type, Buffer.from(message, 'utf8'));
    return 'more';
  }

  private async option(option: number, data: Buffer, noZeroes: boolean): Promise<'more' | 'chosen' | 'aborted'> {
    if (this.ctx.tls !== undefined && !this.tlsUp && option !== OPT.STARTTLS && option !== OPT.ABORT) {
      // FORCEDTLS: NBD_OPT_EXPORT_NAME cannot be refused, so the connection ends; the rest get TLS_REQD.
      if (option === OPT.EXPORT_NAME) throw new ProtocolError('NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only server');
      return this.refuse(option, REP.ERR_TLS_REQD, 'this server requires TLS: send NBD_OPT_STARTTLS first');
    }
    switch (option) {
      case OPT.EXPORT_NAME: {
        const exp = this.findExport(data.toString('utf8'));
        if (exp === undefined) throw new ProtocolError(`NBD_OPT_EXPORT_NAME of an unknown export "${data.toString('utf8')}"`);
        this.write([exportNameReply(exp.size, exp.flags(this.structured), noZeroes)]);
        this.choose(exp);
        return 'chosen';
      }
      case OPT.ABORT:
        this.reply(option, REP.ACK);
        return 'aborted';
      case OPT.LIST:
        if (data.length !== 0) return this.refuse(option, REP.ERR_INVALID, 'NBD_OPT_LIST takes no data');
        for (const e of this.ctx.exports) this.reply(option, REP.SERVER, serverEntry(e.name, e.description));
        this.reply(option, REP.ACK);
        return 'more';
      case OPT.STARTTLS: return this.startTls(data);
      case OPT.INFO:
      case OPT.GO: return this.info(option, data);
      case OPT.STRUCTURED_REPLY:
        if (data.length !== 0) return this.refuse(option, REP.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
        this.structured = true;
        this.reply(option, REP.ACK);
        return 'more';
      case OPT.LIST_META_CONTEXT:
      case OPT.SET_META_CONTEXT: return this.metaContext(option, data);
      default:
        return this.refuse(option, REP.ERR_UNSUP, `option ${option} is not supported`);
    }
  }

  private async startTls(data: Buffer): Promise<'more'> {
    const creds = this.ctx.tls;
    if (data.length !== 0) return this.refuse(OPT.STARTTLS, REP.ERR_INVALID, 'NBD_OPT_STARTTLS takes no data');
    if (creds === undefined) return this.refuse(OPT.STARTTLS, REP.ERR_POLICY, 'this server was started without TLS');
    if (this.tlsUp) return this.refuse(OPT.STARTTLS, REP.ERR_INVALID, 'TLS is already up');
    await new Promise<void>((resolve) => { this.write([optionReply(OPT.STARTTLS, REP.ACK)], resolve); });
    // The client waits for the ACK before its ClientHello: anything already here broke that order.
    this.reader.detach();
    if (this.reader.available > 0) throw new ProtocolError('data after NBD_OPT_STARTTLS before the TLS handshake');
    try {
      this.stream = await creds.upgrade(this.socket);
    } catch (e) {
      throw new ProtocolError(`TLS handshake failed: ${(e as Error).message}`);
    }
    this.reader.attach(this.stream);
    this.tlsUp = true;
    return 'more';
  }

  /** NBD_OPT_INFO / NBD_OPT_GO: name length, name, count of info requests, requests (16 bits each). */
  private info(option: number, data: Buffer): 'more' | 'chosen' {
    const nameLength = data.length >= 4 ? data.readUInt32BE(0) : -1;
    if (nameLength < 0 || nameLength > MAX_STRING || data.length < 6 + nameLength) {
      return this.refuse(option, REP.ERR_INVALID, 'malformed NBD_OPT_INFO/GO data');
    }
    const count = data.readUInt16BE(4 + nameLength);
    if (data.length !== 6 + nameLength + 2 * count) {
      return this.refuse(option, REP.ERR_INVALID, 'NBD_OPT_INFO/GO: the info requests do not match their count');
    }
    const name = data.toString('utf8', 4, 4 + nameLength);
    const exp = this.findExport(name);
    if (exp === undefined) return this.refuse(option, REP.ERR_UNKNOWN, `no export named "${name}"`);
    const asked = new Set<number>();
    for (let i = 0; i < count; i++) asked.add(data.readUInt16BE(6 + nameLength + 2 * i));
    this.reply(option, REP.INFO, infoExport(exp.size, exp.flags(this.structured)));
    if (asked.has(INFO.NAME)) this.reply(option, REP.INFO, infoString(INFO.NAME, exp.name));
    if (asked.has(INFO.DESCRIPTION)) this.reply(option, REP.INFO, infoString(INFO.DESCRIPTION, exp.description));
    // Sent whether asked or not (proto.md allows it); the export serves unaligned requests either way.
    this.reply(option, REP.INFO, infoBlockSize(...exp.blockSizes()));
    this.reply(option, REP.ACK);
    if (option === OPT.INFO) return 'more';
    this.choose(exp);
    return 'chosen';
  }

  /** No metadata contexts (no NBD_CMD_BLOCK_STATUS): a well-formed query selects none, which is a plain ACK. */
  private metaContext(option: number, data: Buffer): 'more' {
    if (!this.structured) return this.refuse(option, REP.ERR_INVALID, 'negotiate structured replies first');
    let at = 0;
    const str = (): string | undefined => {
      if (at + 4 > data.length) return undefined;
      const n = data.readUInt32BE(at);
      if (n > MAX_STRING || at + 4 + n > data.length) return undefined;
      at += 4 + n;
      return data.toString('utf8', at - n, at);
    };
    const name = str();
    const queries = at + 4 <= data.length ? data.readUInt32BE(at) : -1;
    at += 4;
    let ok = name !== undefined && queries >= 0;
    for (let i = 0; ok && i < queries; i++) ok = str() !== undefined;
    if (!ok || at !== data.length) return this.refuse(option, REP.ERR_INVALID, 'malformed metadata context query');
    if (this.findExport(name ?? '') === undefined) return this.refuse(option, REP.ERR_UNKNOWN, `no export named "${name ?? ''}"`);
    this.reply(option, REP.ACK);
    return 'more';
  }

  /** The export of that name; the empty (default) name is the first export. */
  private findExport(name: string): NbdExport | undefined {
    return name === '' ? this.ctx.exports[0] : this.ctx.exports.find((e) => e.name === name);
  }

  private choose(exp: NbdExport): void {
    this.exp = exp;
    this.ctx.emit({ type: 'export-opened', client: this.id, export: exp.name, structured: this.structured, tls: this.tlsUp });
  }

  // ---- transmission -------------------------------------------------------------------------------------------

  private async transmission(): Promise<void> {
    const exp = this.exp!;
    const h: RequestHeader = { magic: 0, flags: 0, type: 0, offset: 0, length: 0 };
    for (;;) {
      while (this.inFlight >= MAX_IN_FLIGHT || this.inFlightBytes >= MAX_IN_FLIGHT_BYTES || this.stream.writableNeedDrain) {
        await new Promise<void>((r) => {
          this.wake = r;
          if (this.stream.writableNeedDrain) this.stream.once('drain', r);
        });
      }
      await this.bytes(REQUEST_LENGTH);
      const req = new NbdRequest(this);
      this.reader.copy(this.scratch, 0, REQUEST_LENGTH);
      decodeRequest(this.scratch, h, req.cookie);
      if (h.magic !== REQUEST_MAGIC) throw new ProtocolError(`a request with magic 0x${h.magic.toString(16)}`);
      if (h.type === CMD.DISC) return;
      req.type = h.type;
      req.flags = h.flags;
      req.offset = h.offset;
      req.length = h.length;
      const errno = this.shuttingDown ? NBD_ERRNO.ESHUTDOWN : this.check(exp, h);
      if (h.type === CMD.WRITE) {
        if (errno !== 0) {
          if (h.length > MAX_SKIPPED_PAYLOAD) throw new ProtocolError(`a ${h.length}-byte WRITE payload`);
          await this.reader.skipStreaming(h.length);
        } else {
          await this.receive(exp, req);
        }
      }
      this.inFlight++;
      if (errno !== 0) {
        req.failure = { errno, message: `${errnoName(errno)}: ${this.refusal(exp, h, errno)}`, sense: undefined, lba: undefined };
        this.complete(req);
        continue;
      }
      exp.submit(req);
    }
  }

  /** The request's payload, read from the socket into this connection's arena (one copy, no more). */
  private async receive(exp: NbdExport, req: NbdRequest): Promise<void> {
    let a = this.arena;
    if (a === undefined || a.used + req.length > a.shared.buf.length) {
      a?.shared.unref();
      const size = Math.max(ARENA_BYTES, req.length);
      a = this.arena = { shared: new SharedBuffer(this.ctx.pool, this.ctx.pool.acquire(size)), used: 0 };
    }
    const data = a.shared.buf.subarray(a.used, a.used + req.length);
    a.used += req.length;
    a.shared.ref();
    req.holder = a.shared;
    req.data = data;
    this.inFlightBytes += req.length;
    exp.arriving(req);
    try {
      const arriving = this.reader.copyStreaming(data, 0, req.length);
      if (arriving !== undefined) await arriving;
    } catch (e) {
      // The client left in the middle of the payload: the request is dropped, nothing of it is written.
      this.inFlightBytes -= req.length;
      exp.dropped(req);
      req.release();
      throw e;
    }
  }

  /** The errno a request gets before it reaches the disk, or 0. */
  private check(exp: NbdExport, h: RequestHeader): number {
    const writes = h.type === CMD.WRITE || h.type === CMD.TRIM || h.type === CMD.WRITE_ZEROES;
    let allowed = exp.readOnly ? 0 : CMD_FLAG.FUA;
    if (h.type === CMD.WRITE_ZEROES) allowed |= CMD_FLAG.NO_HOLE;
    if (h.type === CMD.READ && this.structured) allowed |= CMD_FLAG.DF;
    if ((h.flags & ~allowed) !== 0) return NBD_ERRNO.EINVAL;
    switch (h.type) {
      case CMD.READ: case CMD.WRITE: case CMD.TRIM: case CMD.WRITE_ZEROES: break;
      case CMD.FLUSH: return exp.readOnly || h.offset !== 0 || h.length !== 0 ? NBD_ERRNO.EINVAL : 0;
      default: return NBD_ERRNO.EINVAL;
    }
    if (writes && exp.readOnly) return NBD_ERRNO.EPERM;
    if (h.type === CMD.TRIM && !exp.trim) return NBD_ERRNO.EINVAL;
    if (h.length === 0) return NBD_ERRNO.EINVAL;
    if ((h.type === CMD.READ || h.type === CMD.WRITE) && h.length > MAX_REQUEST_BYTES) return NBD_ERRNO.EINVAL;
    if (BigInt(h.offset === Infinity ? 2 ** 64 : h.offset) + BigInt(h.length) > exp.size) {
      return h.type === CMD.WRITE || h.type === CMD.WRITE_ZEROES ? NBD_ERRNO.ENOSPC : NBD_ERRNO.EINVAL;
    }
    return 0;
  }

  private refusal(exp: NbdExport, h: RequestHeader, errno: number): string {
    if (errno === NBD_ERRNO.ESHUTDOWN) return 'the server is shutting down';
    if (errno === NBD_ERRNO.EPERM) return `export ${exp.name} is read-only`;
    if (errno === NBD_ERRNO.ENOSPC || (errno === NBD_ERRNO.EINVAL && h.length > 0 && h.length <= MAX_REQUEST_BYTES &&
      BigInt(h.offset === Infinity ? 2 ** 64 : h.offset) + BigInt(h.length) > exp.size)) {
      return `offset ${h.offset} + length ${h.length} is past the end of the export (${exp.size} bytes)`;
    }
    return `request type ${h.type} flags 0x${h.flags.toString(16)} length ${h.length} is not valid here`;
  }

  /** ReplySink: send the reply of a finished request (simple or structured, as agreed), then free it. */
  complete(req: NbdRequest): void {
    if (!this.batching && !this.stream.destroyed) {
      this.batching = true;
      this.stream.cork();
      setImmediate(this.endBatch);
    }
    this.inFlight--;
    if (req.type === CMD.WRITE) this.inFlightBytes -= req.length;
    const f = req.failure;
    const release = (): void => { req.release(); };
    if (req.type === CMD.READ && f === undefined) {
      const data = req.data!;
      this.write(this.structured ? [dataChunkHeader(REPLY_FLAG_DONE, req.cookie, req.offset, data.length), data]
        : [simpleReply(0, req.cookie), data], release);
    } else if (f === undefined) {
      this.write([simpleReply(0, req.cookie)], release);
    } else if (!this.structured) {
      this.write([simpleReply(f.errno, req.cookie)], release); // no payload after an error (proto.md, simple replies)
    } else {
      const withOffset = req.type === CMD.READ || req.type === CMD.WRITE || req.type === CMD.TRIM;
      const chunks: Buffer[] = [];
      if (req.type === CMD.READ && req.data !== undefined && req.data.length > 0) {
        chunks.push(dataChunkHeader(0, req.cookie, req.offset, req.data.length), req.data);
      }
      chunks.push(errorChunk(REPLY_FLAG_DONE, req.cookie, f.errno, f.message, withOffset ? req.failedAt : undefined));
      this.write(chunks, release);
    }
    this.wake?.();
    if (this.shuttingDown && this.inFlight === 0) void this.endStream();
  }
}

/** The transmission flags a connection got, by name (for logs). */
export function describeFlags(flags: number): string {
  return Object.entries(TFLAG).filter(([, v]) => (flags & v) !== 0).map(([k]) => k).join(',');
}

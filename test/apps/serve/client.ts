/**
 * A small NBD client written from proto.md for the tests, deliberately not src/apps/serve's codec: it sends what
 * a test asks for (including garbage) and parses what comes back, byte by byte.
 */
import * as net from 'node:net';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
export const OPT = { EXPORT_NAME: 1, ABORT: 2, LIST: 3, STARTTLS: 5, INFO: 6, GO: 7, STRUCTURED_REPLY: 8, LIST_META: 9, SET_META: 10 };
export const REP = { ACK: 1, SERVER: 2, INFO: 3, ERR_UNSUP: 2 ** 31 + 1, ERR_POLICY: 2 ** 31 + 2, ERR_INVALID: 2 ** 31 + 3,
  ERR_TLS_REQD: 2 ** 31 + 5, ERR_UNKNOWN: 2 ** 31 + 6 };
export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 };
export const FLAG = { FUA: 1, NO_HOLE: 2, DF: 4 };
export const ERRNO = { EPERM: 1, EIO: 5, EINVAL: 22, ENOSPC: 28, ESHUTDOWN: 108 };

export interface OptionReply { option: number; type: number; data: Buffer }
export interface Reply {
  error: number;
  /** READ data, reassembled from its chunks (simple: the payload). */
  data: Buffer;
  /** Structured: each chunk's type, flags and (error chunks) offset and message. */
  chunks: { type: number; flags: number; offset?: bigint; message?: string; length: number }[];
}

/** The raw byte stream with "give me n bytes" reads. */
export class Raw {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => { this.buf = Buffer.concat([this.buf, b]); this.waiter?.(); });
    socket.on('close', () => { this.closed = true; this.waiter?.(); });
    socket.on('error', () => undefined);
  }
  static connect(port: number | string): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = typeof port === 'number' ? net.connect(port, '127.0.0.1') : net.connect(port);
      s.once('connect', () => { resolve(new Raw(s)); });
      s.once('error', reject);
    });
  }
  async read(n: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.closed) throw new Error(`connection closed with ${this.buf.length} of ${n} bytes`);
      if (Date.now() > deadline) throw new Error(`no ${n} bytes within ${timeoutMs} ms`);
      await new Promise<void>((r) => { this.waiter = r; setTimeout(r, 50); });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Resolves true when the server closes the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }
  write(b: Buffer): void { this.socket.write(b); }
  end(): void { this.socket.destroy(); }
}

export class TestClient {
  structured = false;
  size = 0n;
  flags = 0;
  private nextCookie = 1n;
  private readonly pending = new Map<bigint, { resolve: (r: Reply) => void; reply: Reply }>();
  private pumping = false;

  private constructor(readonly raw: Raw) {}

  /** Connect and read the greeting; send client flags (fixed newstyle, no zeroes by default). */
  static async open(port: number | string, clientFlags = 3): Promise<TestClient> {
    const raw = await Raw.connect(port);
    const g = await raw.read(18);
    if (g.readBigUInt64BE(0) !== NBDMAGIC || g.readBigUInt64BE(8) !== IHAVEOPT) throw new Error('bad greeting');
    if ((g.readUInt16BE(16) & 1) === 0) throw new Error('server without fixed newstyle');
    const f = Buffer.alloc(4);
    f.writeUInt32BE(clientFlags);
    raw.write(f);
    return new TestClient(raw);
  }

  /** Connect, negotiate (structured when asked) and NBD_OPT_GO `name`. */
  static async go(port: number | string, name: string, structured = true): Promise<TestClient> {
    const c = await TestClient.open(port);
    if (structured) {
      const r = await c.option(OPT.STRUCTURED_REPLY);
      if (r[0]?.type !== REP.ACK) throw new Error('structured replies refused');
      c.structured = true;
    }
    const replies = await c.option(OPT.GO, infoRequest(name, [3]));
    const last = replies[replies.length - 1]!;
    if (last.type !== REP.ACK) throw new Error(`GO refused: ${last.type} ${last.data.toString()}`);
    const exp = replies.find((r) => r.type === REP.INFO && r.data.readUInt16BE(0) === 0)!;
    c.size = exp.data.readBigUInt64BE(2);
    c.flags = exp.data.readUInt16BE(10);
    return c;
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0), magic = IHAVEOPT): void {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(magic, 0);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(data.length, 12);
    this.raw.write(Buffer.concat([h, data]));
  }

  async optionReply(): Promise<OptionReply> {
    const h = await this.raw.read(20);
    if (h.readBigUInt64BE(0) !== OPT_REPLY_MAGIC) throw new Error('bad option reply magic');
    const len = h.readUInt32BE(16);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data: await this.raw.read(len) };
  }

  /** Send an option and collect replies up to the final one (ACK or an error). */
  async option(option: number, data?: Buffer): Promise<OptionReply[]> {
    this.sendOption(option, data);
    const out: OptionReply[] = [];
    for (;;) {
      const r = await this.optionReply();
      out.push(r);
      if (r.type === REP.ACK || r.type >= 2 ** 31) return out;
    }
  }

  /** Send one request (header and payload as given, nothing checked); returns its cookie. */
  send(type: number, offset: number | bigint, length: number, opts: { flags?: number; payload?: Buffer; magic?: number;
    cookie?: bigint } = {}): bigint {
    const cookie = opts.cookie ?? this.nextCookie++;
    const h = Buffer.alloc(28);
    h.writeUInt32BE(opts.magic ?? 0x25609513, 0);
    h.writeUInt16BE(opts.flags ?? 0, 4);
    h.writeUInt16BE(type, 6);
    h.writeBigUInt64BE(cookie, 8);
    h.writeBigUInt64BE(BigInt(offset), 16);
    h.writeUInt32BE(length, 24);
    this.raw.write(opts.payload === undefined ? h : Buffer.concat([h, opts.payload]));
    return cookie;
  }

  /** Send and wait for the reply. */
  async request(type: number, offset: number | bigint, length: number, opts: { flags?: number; payload?: Buffer } = {})
    : Promise<Reply> {
    const cookie = this.send(type, offset, length, opts);
    if (type === CMD.READ) this.offsets.set(cookie, BigInt(offset));
    return this.reply(cookie, type === CMD.READ ? length : 0);
  }

  /** The reply of `cookie` (replies of other requests that arrive meanwhile are kept for their own call). */
  reply(cookie: bigint, readLength = 0): Promise<Reply> {
    const p = new Promise<Reply>((resolve) => {
      this.pending.set(cookie, { resolve, reply: { error: 0, data: Buffer.alloc(readLength), chunks: [] } });
    });
    void this.pump();
    return p;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.size > 0) await this.readOne();
    } finally {
      this.pumping = false;
    }
  }

  private async readOne(): Promise<void> {
    const magic = (await this.raw.read(4)).readUInt32BE(0);
    if (magic === 0x67446698) {
      const rest = await this.raw.read(12);
      const cookie = rest.readBigUInt64BE(4);
      const p = this.pending.get(cookie);
      if (p === undefined) throw new Error(`simple reply for unknown cookie ${cookie}`);
      p.reply.error = rest.readUInt32BE(0);
      if (p.reply.error === 0 && p.reply.data.length > 0) p.reply.data = Buffer.from(await this.raw.read(p.reply.data.length));
      this.pending.delete(cookie);
      p.resolve(p.reply);
      return;
    }
    if (magic !== 0x668e33ef) throw new Error(`bad reply magic 0x${magic.toString(16)}`);
    const h = await this.raw.read(16);
    const flags = h.readUInt16BE(0);
    const type = h.readUInt16BE(2);
    const cookie = h.readBigUInt64BE(4);
    const length = h.readUInt32BE(12);
    const payload = Buffer.from(await this.raw.read(length));
    const p = this.pending.get(cookie);
    if (p === undefined) throw new Error(`chunk for unknown cookie ${cookie}`);
    const chunk: Reply['chunks'][number] = { type, flags, length };
    if (type === 1) {
      const off = payload.readBigUInt64BE(0);
      chunk.offset = off;
      payload.copy(p.reply.data, Number(off - this.requestOffset(cookie)), 8);
    } else if (type >= 0x8000) {
      p.reply.error = payload.readUInt32BE(0);
      const ml = payload.readUInt16BE(4);
      chunk.message = payload.toString('utf8', 6, 6 + ml);
      if (type === 0x8002) chunk.offset = payload.readBigUInt64BE(6 + ml);
    }
    p.reply.chunks.push(chunk);
    if ((flags & 1) !== 0) {
      this.pending.delete(cookie);
      p.resolve(p.reply);
    }
  }

  private readonly offsets = new Map<bigint, bigint>();
  /** Remember a READ's offset so that OFFSET_DATA chunks land in place (call before send for structured reads). */
  read(offset: number, length: number, flags = 0): Promise<Reply> {
    const cookie = this.nextCookie++;
    this.offsets.set(cookie, BigInt(offset));
    this.send(CMD.READ, offset, length, { flags, cookie });
    return this.reply(cookie, length);
  }
  private requestOffset(cookie: bigint): bigint { return this.offsets.get(cookie) ?? 0n; }

  write(offset: number, payload: Buffer, flags = 0): Promise<Reply> {
    return this.request(CMD.WRITE, offset, payload.length, { flags, payload });
  }

  disconnect(): void {
    this.send(CMD.DISC, 0, 0);
    this.raw.socket.end();
  }
}

/** NBD_OPT_INFO / GO data: name length, name, info request count, requests. */
export function infoRequest(name: string, infos: number[] = []): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  b.writeUInt16BE(infos.length, 4 + n.length);
  infos.forEach((t, i) => b.writeUInt16BE(t, 6 + n.length + 2 * i));
  return b;
}

/** Test helpers: a server on a software disk, in this process, on a TCP port of loopback. */
import { MemoryMedia, MockUsbDevice, type MockDeviceOptions, type MockLunOptions } from '../../../src/mock/index.js';
import { openUsbms, type UsbmsSession } from '../../../src/open.js';
import { serveNbd, type NbdServeOptions, type NbdServer, type ServeEvent } from '../../../src/apps/serve/index.js';

export interface Served {
  dev: MockUsbDevice;
  media: MemoryMedia[];
  session: UsbmsSession;
  server: NbdServer;
  port: number;
  events: ServeEvent[];
  close(): Promise<void>;
}

/** A software disk with these LUNs (MemoryMedia each, random content unless `blank`), served on 127.0.0.1:0. */
export async function serve(luns: Partial<MockLunOptions>[] = [{}], opts: Partial<NbdServeOptions> = {},
  devOpts: MockDeviceOptions = {}, blank = false, maxTransferBytes?: number): Promise<Served> {
  const media: MemoryMedia[] = [];
  const dev = new MockUsbDevice({ ...devOpts, luns: luns.map((l) => {
    const blocks = BigInt(l.blocks ?? 8192);
    const m = new MemoryMedia(blocks * BigInt(l.blockSize ?? 512));
    if (!blank) m.write(0n, pattern(Number(m.size)));
    media.push(m);
    return { media: m, ...l, blocks };
  }) });
  const session = await openUsbms({ mock: dev, maxTransferBytes });
  const events: ServeEvent[] = [];
  const server = await serveNbd(session, { listen: { host: '127.0.0.1', port: 0 }, name: 'd',
    ...opts, onEvent: (e) => { events.push(e); opts.onEvent?.(e); } });
  const port = 'port' in server.address ? server.address.port : 0;
  return { dev, media, session, server, port, events, close: () => server.close() };
}

/** Deterministic, block-distinct content: byte i is a hash of i, so a wrong block never matches by accident. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(Math.ceil(n / 4) * 4);
  let x = seed >>> 0;
  for (let i = 0; i < n; i += 4) {
    x = (Math.imul(x ^ (i >>> 2), 0x9e3779b1) + 0x7f4a7c15) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b.subarray(0, n);
}

/** The bytes the media holds at [offset, offset + length). */
export function mediaBytes(m: MemoryMedia, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  m.read(BigInt(offset), b);
  return b;
}

/** READ/WRITE opcodes the device saw (CBWs). */
export function opcodes(dev: MockUsbDevice): number[] {
  return dev.log.flatMap((e) => (e.type === 'cbw' ? [e.opcode] : []));
}

/** The data length of each READ(10) the device was sent, in order. */
export function readLengths(dev: MockUsbDevice): number[] {
  return dev.log.flatMap((e) => (e.type === 'cbw' && e.opcode === 0x28 ? [e.length] : []));
}

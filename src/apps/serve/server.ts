/**
 * `serveNbd`: an open usbms session served as NBD exports, one per LUN, on a Unix socket (by default, mode 0600 in
 * a 0700 directory of the user's runtime directory) or on TCP when asked (loopback, or any address with TLS).
 */
import { existsSync, mkdirSync, chmodSync, lstatSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskNoMediumError, formatPortPath, UsbmsArgumentError, type UsbmsSession } from '../../api.js';
import { NbdConnection, type ConnectionEvent } from './connection.js';
import { DeviceLink, type LinkEvent, type ReattachOptions } from './device.js';
import { ServeError } from './errors.js';
import { NbdExport, type ExportErrorEvent, type ExportInfo } from './export.js';
import { withOwnReadBuffer } from './own-buffer.js';
import { BufferPool } from './pool.js';
import { loadTls, type TlsOptions } from './tls.js';
import { WRITE_BEHIND_LIMIT } from './write-behind.js';

/** Where to listen: a Unix socket path, or a TCP host and port. */
export type ListenAddress = { readonly socket: string } | { readonly host: string; readonly port: number };

/** Options of {@link serveNbd}. */
export interface NbdServeOptions {
  /** The LUNs to serve (default [0]); 'all' serves every LUN that has a medium. */
  readonly luns?: readonly number[] | 'all' | undefined;
  /** Serve writable exports (default false: NBD_FLAG_READ_ONLY, every write refused with EPERM). */
  readonly write?: boolean | undefined;
  /** Default: a Unix socket in the runtime directory, see {@link defaultSocketPath}. */
  readonly listen?: ListenAddress | undefined;
  /** Export name (one LUN), or the prefix of `NAME-lunN` (several); default `PORTPATH-lunN`. */
  readonly name?: string | undefined;
  /** TLS credentials: required for a TCP address other than loopback. With them, TLS is required of every client. */
  readonly tls?: TlsOptions | undefined;
  /**
   * Bytes read ahead of a sequential reader, per export (default 8 MiB; 0: none). The window is read while the
   * replies before it go out, so the device and the socket work at once (see docs/serve.md).
   */
  readonly readaheadBytes?: number | undefined;
  /**
   * Answer aligned WRITEs without FUA once they are queued, up to 32 MiB ahead of the stick per export, instead of
   * once the stick has them (default false). FLUSH still waits for all of them and reports one that failed; a stick
   * that never comes back loses what was answered and not yet written (see docs/serve.md, write-behind).
   */
  readonly writeBack?: boolean | undefined;
  /** How to find the device again after a re-plug; without it a vanished device fails requests with EIO. */
  readonly reattach?: ReattachOptions | undefined;
  /** Every event, as it happens (the CLI prints them, as NDJSON with --json). */
  readonly onEvent?: ((e: ServeEvent) => void) | undefined;
}

/** An export as the `listening` event lists it. */
export type ExportSummary = Omit<ExportInfo, 'size'> & { readonly size: bigint; readonly uri: string };

/** What the server reports. */
export type ServeEvent =
  | { readonly type: 'listening'; readonly address: ListenAddress; readonly tls: 'x509' | 'psk' | 'none';
    readonly exports: readonly ExportSummary[] }
  | { readonly type: 'connected'; readonly client: number; readonly remote: string }
  | { readonly type: 'disconnected'; readonly client: number }
  | { readonly type: 'closed' }
  | ConnectionEvent | ExportErrorEvent | LinkEvent;

/** A running server. */
export interface NbdServer {
  readonly address: ListenAddress;
  readonly exports: readonly ExportSummary[];
  /** Stop: no new connections, ESHUTDOWN to new requests, wait for those in flight, close the session. */
  close(): Promise<void>;
}

/**
 * The default Unix socket: `usbms/nbd-NAME.sock` in $XDG_RUNTIME_DIR (else /run/user/UID, else the temporary
 * directory's `usbms-UID`). The `usbms` directory is made 0700, so the socket is the user's alone.
 */
export function defaultSocketPath(name: string): string {
  const uid = process.getuid?.() ?? 0;
  const runtime = process.env.XDG_RUNTIME_DIR ?? (existsSync(`/run/user/${uid}`) ? `/run/user/${uid}` : undefined);
  const dir = runtime === undefined ? join(tmpdir(), `usbms-${uid}`) : join(runtime, 'usbms');
  return join(dir, `nbd-${name.replace(/[^A-Za-z0-9._-]/g, '_')}.sock`);
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^::ffff:/i.test(h)) return isLoopback(h.slice(7));
  return net.isIPv4(h) && h.startsWith('127.');
}

/** The NBD URI of an export (nbd+unix:// or nbd://, nbds when TLS is required). */
function uriOf(address: ListenAddress, name: string, tls: boolean): string {
  const path = encodeURIComponent(name);
  if ('socket' in address) return `nbd${tls ? 's' : ''}+unix:///${path}?socket=${address.socket}`;
  const host = net.isIPv6(address.host) ? `[${address.host}]` : address.host;
  return `nbd${tls ? 's' : ''}://${host}:${address.port}/${path}`;
}

async function usableLuns(session: UsbmsSession, luns: NbdServeOptions['luns']): Promise<number[]> {
  if (luns === undefined) return [0];
  if (luns !== 'all') {
    for (const l of luns) {
      if (!Number.isInteger(l) || l < 0 || l > session.hba.maxLun) {
        throw new UsbmsArgumentError(`LUN ${l} does not exist (the device has LUNs 0..${session.hba.maxLun})`, { argument: 'luns' });
      }
    }
    if (new Set(luns).size !== luns.length || luns.length === 0) throw new UsbmsArgumentError('give each LUN once', { argument: 'luns' });
    return [...luns];
  }
  const found: number[] = [];
  for (let lun = 0; lun <= session.hba.maxLun; lun++) {
    const d = await session.openDisk(lun).catch(() => undefined);
    if (d?.mediumPresent === true) found.push(lun);
    await d?.close();
  }
  if (found.length === 0) throw new UsbmsArgumentError('no LUN of the device has a medium to serve', { argument: 'luns' });
  return found;
}

/** Make the directory of a Unix socket (0700 when it is ours to make) and clear a stale socket file. */
async function prepareSocketPath(path: string, isDefault: boolean): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  try {
    if (isDefault) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid)) {
        throw new ServeError('SERVE_LISTEN', `${dir} is not a directory of this user`);
      }
      chmodSync(dir, 0o700);
    }
    if (!existsSync(path)) return;
    if (!lstatSync(path).isSocket()) throw new ServeError('SERVE_LISTEN', `${path} exists and is not a socket`);
  } catch (e) {
    if (e instanceof ServeError) throw e;
    throw new ServeError('SERVE_LISTEN', `cannot use ${path}: ${(e as Error).message}`, { cause: e });
  }
  // A socket file nobody answers on is left from a server that died: remove it. One that answers is in use.
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(path, () => { c.destroy(); resolve(true); });
    c.on('error', () => { resolve(false); });
  });
  if (live) throw new ServeError('SERVE_LISTEN', `${path} is in use by a running server`);
  unlinkSync(path);
}

function listen(server: net.Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const where = 'socket' in address ? address.socket : `${address.host}:${address.port}`;
      reject(new ServeError('SERVE_LISTEN', `cannot listen on ${where}: ${e.code ?? e.message}`, { cause: e }));
    };
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      const a = server.address();
      resolve(a !== null && typeof a === 'object' ? { host: a.address, port: a.port } : address);
    };
    if ('socket' in address) server.listen(address.socket, done);
    else server.listen(address.port, address.host, done);
  });
}

/**
 * Serve the LUNs of an open session as NBD exports until `close()`. The server takes the session over: it
 * closes it (and, after a re-plug, the sessions it opened itself) when it stops.
 */
/** The most an export reads ahead (the window's buffer, twice over: the one read from and the one filling). */
const MAX_READAHEAD_BYTES = 64 * 1024 * 1024;
/** Connections served at once; one more is closed as it is accepted. */
const MAX_CONNECTIONS = 64;

export async function serveNbd(session: UsbmsSession, opts: NbdServeOptions = {}): Promise<NbdServer> {
  const emit = (e: ServeEvent): void => { opts.onEvent?.(e); };
  const tls = opts.tls === undefined ? undefined : loadTls(opts.tls);
  const portPath = session.port.info.portNumbers === undefined ? `bus${session.port.info.busNumber}`
    : formatPortPath({ busNumber: session.port.info.busNumber, portNumbers: session.port.info.portNumbers });
  const address: ListenAddress = opts.listen ?? { socket: defaultSocketPath(opts.name ?? portPath) };
  if ('host' in address && !isLoopback(address.host) && tls === undefined) {
    throw new UsbmsArgumentError(`listening on ${address.host}, not a loopback address, needs TLS (a certificate or ` +
      'a PSK file): the disk would be open to the network in clear', { argument: 'listen' });
  }
  const ahead = opts.readaheadBytes;
  if (ahead !== undefined && (!Number.isSafeInteger(ahead) || ahead < 0 || ahead > MAX_READAHEAD_BYTES)) {
    throw new UsbmsArgumentError(`readaheadBytes ${ahead}: a whole number of bytes from 0 to ${MAX_READAHEAD_BYTES}`,
      { argument: 'readaheadBytes' });
  }
  const luns = await usableLuns(session, opts.luns);
  const write = opts.write === true;
  const link = await DeviceLink.open(session, luns, write, opts.reattach, emit);
  const empty = luns.find((lun) => !link.disk(lun).mediumPresent);
  if (empty !== undefined) {
    await link.close();
    throw new DiskNoMediumError(`LUN ${empty}: medium not present, nothing to serve`);
  }
  const pool = new BufferPool();
  const serial = session.port.info.serialNumber ?? '';
  const exports: NbdExport[] = [];
  try {
    for (const lun of luns) {
      const name = opts.name === undefined ? `${portPath}-lun${lun}` : luns.length === 1 ? opts.name : `${opts.name}-lun${lun}`;
      const info = link.disk(lun).info;
      const description = [info.vendor, info.product, serial].filter((x) => x !== '').join(' ');
      exports.push(await NbdExport.open(link, lun, name, description, write, pool, emit, opts.readaheadBytes,
        opts.writeBack === true ? WRITE_BEHIND_LIMIT : 0));
    }
    if ('socket' in address) await prepareSocketPath(address.socket, opts.listen === undefined);
  } catch (e) {
    await link.close();
    throw e;
  }
  const connections = new Set<NbdConnection>();
  let nextClient = 1;
  // pauseOnConnect: nothing is read from an accepted socket before its handle moves to one reading into its own
  // buffer (own-buffer.ts); the server's own count of connections goes with the accepted one, so the limit is ours
  const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
    if (connections.size >= MAX_CONNECTIONS) { accepted.destroy(); return; }
    const own = withOwnReadBuffer(accepted);
    const socket = own?.socket ?? accepted;
    if (own === undefined) accepted.resume();
    const conn = new NbdConnection(nextClient++, socket, { exports, tls, pool, emit }, own?.feedTo);
    connections.add(conn);
    emit({ type: 'connected', client: conn.id, remote: socket.remoteAddress === undefined ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}` });
    void conn.done.then(() => {
      connections.delete(conn);
      emit({ type: 'disconnected', client: conn.id });
    });
  });
  let bound: ListenAddress;
  try {
    bound = await listen(server, address);
    if ('socket' in bound) chmodSync(bound.socket, 0o600);
  } catch (e) {
    await link.close();
    throw e;
  }
  const summaries: ExportSummary[] = exports.map((e) => ({ name: e.name, lun: e.lun, description: e.description,
    size: e.size, blockSize: e.blockSize, readOnly: e.readOnly, trim: e.trim, transferBytes: e.transferBytes,
    uri: uriOf(bound, e.name, tls !== undefined) }));
  emit({ type: 'listening', address: bound, tls: tls?.kind ?? 'none', exports: summaries });
  let closing: Promise<void> | undefined;
  return {
    address: bound,
    exports: summaries,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => { server.close(() => { r(); }); });
        link.stop(); // requests waiting for a vanished device fail now rather than after --reattach-timeout
        for (const c of connections) c.shutdown();
        const all = Promise.all([...connections].map((c) => c.done));
        const late = setTimeout(() => { for (const c of connections) c.destroy(); }, 10_000);
        await all;
        clearTimeout(late);
        await stopped;
        await Promise.all(exports.map((e) => e.drain())); // WRITEs answered ahead of the stick reach it first
        await link.close();
        if ('socket' in bound && existsSync(bound.socket)) unlinkSync(bound.socket);
        emit({ type: 'closed' });
      })();
      return closing;
    },
  };
}

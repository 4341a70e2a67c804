/**
 * `usbms serve`: the disk as a Network Block Device (src/apps/serve, docs/serve.md), until SIGINT or SIGTERM.
 *
 * Read-only unless --write. A Unix socket (0600, in the runtime directory) unless --listen; TCP on loopback, or on
 * another address only with TLS. The device is known by its slot (port path, VID:PID, serial), so when it is
 * unplugged or power-cycled requests wait up to --reattach-timeout for the same device to come back.
 */
import type { Argv } from 'yargs';
import { DeviceAtPort, parseDeviceSelector } from '../../../api.js';
import type { UsbmsSession } from '../../../open.js';
import { serveNbd, type ListenAddress, type NbdServeOptions, type ServeEvent, type TlsOptions } from '../../serve/index.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { formatBytes } from '../format.js';
import { openSession, run, sourceOf, type GlobalArgs } from '../context.js';

interface ServeArgs extends Omit<GlobalArgs, 'lun'> {
  /** N, N,M,... or all (the global --lun is one number; serve takes several). */
  lun: string;
  socket?: string | undefined;
  listen?: string | undefined;
  write: boolean;
  name?: string | undefined;
  'tls-cert'?: string | undefined;
  'tls-key'?: string | undefined;
  'tls-ca'?: string | undefined;
  'tls-psk'?: string | undefined;
  'reattach-timeout': number;
  readahead: number;
  'write-back': boolean;
}

function parseLuns(text: string): number[] | 'all' {
  if (text.trim().toLowerCase() === 'all') return 'all';
  const luns = text.split(',').map((s) => Number(s.trim()));
  if (luns.some((l) => !Number.isInteger(l) || l < 0 || l > 15)) throw new CliError(`--lun ${text} is not N, N,M,... (0..15) or all`);
  return luns;
}

/** `--listen PORT`, `HOST:PORT` or `[V6]:PORT`; a bare port listens on 127.0.0.1. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(`--listen ${text} is not PORT, HOST:PORT or [IPV6]:PORT`);
  }
  const host = m[1] ?? m[2];
  return { host: host === undefined || host === '' ? '127.0.0.1' : host, port };
}

function tlsOptions(a: ServeArgs): TlsOptions | undefined {
  const cert = a['tls-cert'];
  const key = a['tls-key'];
  const psk = a['tls-psk'];
  if (psk !== undefined) {
    if (cert !== undefined || key !== undefined) throw new CliError('give --tls-psk or --tls-cert/--tls-key, not both');
    return { psk };
  }
  if (cert === undefined && key === undefined) {
    if (a['tls-ca'] !== undefined) throw new CliError('--tls-ca needs --tls-cert and --tls-key');
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new CliError('--tls-cert and --tls-key go together');
  return { cert, key, ca: a['tls-ca'] };
}

/** One NDJSON line: BigInt as a number while exact, as a decimal string beyond 2^53. */
function ndjson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v !== 'bigint' ? v
    : v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()));
}

/** Events for people, one line each on stderr. */
function describe(e: ServeEvent): string | undefined {
  switch (e.type) {
    case 'listening': {
      const where = 'socket' in e.address ? `Unix socket ${e.address.socket}` : `${e.address.host}:${e.address.port}`;
      const rows = e.exports.map((x) => `  ${x.name}: LUN ${x.lun}, ${formatBytes(x.size)} in ${x.blockSize}-byte blocks, ` +
        `${x.readOnly ? 'read-only' : 'writable'}${x.trim ? ', trim' : ''}, ${x.description}\n    ${x.uri}`);
      return `usbms serve: listening on ${where}${e.tls === 'none' ? '' : ` (TLS ${e.tls} required)`}\n${rows.join('\n')}`;
    }
    case 'connected': return `usbms serve: client ${e.client} connected (${e.remote})`;
    case 'export-opened': return `usbms serve: client ${e.client} opened ${e.export}${e.tls ? ' over TLS' : ''}`;
    case 'disconnected': return `usbms serve: client ${e.client} disconnected`;
    case 'protocol-error': return `usbms serve: client ${e.client}: ${e.message}; connection closed`;
    case 'error': return `usbms serve: ${e.export}: ${e.op} of ${e.length} bytes at ${e.offset} failed: ${e.message}` +
      `${e.sense === undefined ? '' : ` [sense ${e.sense}]`}`;
    case 'replug':
      if (e.phase === 'gone') return `usbms serve: the device is gone (${e.reason}); requests wait for it`;
      if (e.phase === 'refused') return `usbms serve: refused: ${e.reason}`;
      if (e.phase === 'back') return `usbms serve: the device is back after ${(e.waitedMs / 1000).toFixed(1)} s`;
      return `usbms serve: the device did not come back in ${(e.waitedMs / 1000).toFixed(1)} s; requests fail with EIO`;
    case 'closed': return 'usbms serve: stopped';
  }
}

async function serveCmd(a: ServeArgs): Promise<number> {
  const luns = parseLuns(a.lun);
  if (a.socket !== undefined && a.listen !== undefined) throw new CliError('give --socket or --listen, not both');
  const listen: ListenAddress | undefined = a.listen !== undefined ? parseListen(a.listen)
    : a.socket !== undefined ? { socket: a.socket } : undefined;
  const wait = a['reattach-timeout'];
  if (!Number.isFinite(wait) || wait < 0) throw new CliError(`--reattach-timeout ${wait} is not a number of seconds >= 0`);
  const ahead = a.readahead;
  if (!Number.isFinite(ahead) || ahead < 0 || ahead > 64) throw new CliError(`--readahead ${ahead} is not a number of MiB from 0 to 64`);
  const tls = tlsOptions(a);
  const global: GlobalArgs = { ...a, lun: 0 };
  let session: UsbmsSession;
  let reattach: NbdServeOptions['reattach'];
  if (a.replay !== undefined) {
    session = await openSession(global);
  } else {
    // Known by its slot on one backend for the whole run, so that after a re-plug it is found again, and only it.
    const { backend, selector } = await sourceOf(global);
    const device = a.device === undefined ? selector : parseDeviceSelector(a.device);
    if (device === undefined) throw new CliError('serve needs --device (see `usbms list`) or --mock');
    const slot = await DeviceAtPort.find(backend, device);
    const open = (s: DeviceAtPort): Promise<UsbmsSession> => openSession({ ...global, device: undefined, mock: undefined },
      { backend, device: s.selector, expect: s.identity });
    session = await open(slot);
    reattach = wait > 0 ? { slot, open, timeoutMs: wait * 1000 } : undefined;
  }
  const print = (e: ServeEvent): void => {
    if (a.json) { process.stdout.write(`${ndjson(e)}\n`); return; }
    const line = describe(e);
    if (line !== undefined) process.stderr.write(`${line}\n`);
  };
  let server;
  try {
    server = await serveNbd(session, { luns, write: a.write, listen, name: a.name, tls, reattach, onEvent: print,
      readaheadBytes: Math.round(ahead * 1024 * 1024), writeBack: a['write-back'] });
  } catch (e) {
    await session.close().catch(() => undefined);
    throw e;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  if (!a.json) process.stderr.write(`usbms serve: ${signal}: answering the requests in flight, then stopping\n`);
  await server.close();
  return EXIT.OK;
}

export function registerServeCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('serve', 'serve the disk as a Network Block Device (nbd-client, QEMU, qemu-img, nbdcopy, nbdfuse)',
    (b) => withExamples(b, 'serve')
      .option('lun', { type: 'string', default: '0', describe: 'LUN to serve: N, N,M,... or all (one export each)' })
      .option('socket', { type: 'string', describe: 'Unix socket path (default: usbms/nbd-NAME.sock in $XDG_RUNTIME_DIR, mode 0600)' })
      .option('listen', { type: 'string', describe: 'TCP [HOST:]PORT instead (loopback unless TLS is given)' })
      .option('write', { type: 'boolean', default: false, describe: 'writable exports (default read-only)' })
      .option('name', { type: 'string', describe: 'export name (several LUNs: NAME-lunN); default PORTPATH-lunN' })
      .option('tls-cert', { type: 'string', describe: 'TLS: server certificate (PEM); requires TLS of every client' })
      .option('tls-key', { type: 'string', describe: 'TLS: its private key (PEM)' })
      .option('tls-ca', { type: 'string', describe: 'TLS: require client certificates signed by this CA (PEM)' })
      .option('tls-psk', { type: 'string', describe: 'TLS with pre-shared keys: a psktool file of identity:hexkey lines' })
      .option('reattach-timeout', { type: 'number', default: 60, describe: 'seconds requests wait for the device after an unplug (0: fail at once)' })
      .option('readahead', { type: 'number', default: 8, describe: 'MiB read ahead of a sequential reader, per export (0: none)' })
      .option('write-back', { type: 'boolean', default: false, describe: 'answer WRITEs before the stick has them (up to 32 MiB; FLUSH waits): faster, but an unplug loses them' }),
    (a) => run(() => serveCmd(a as unknown as ServeArgs)));
}

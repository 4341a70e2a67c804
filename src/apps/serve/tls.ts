/**
 * TLS for `usbms serve`, in the two forms nbdkit and qemu-nbd take: X.509 (a certificate and its key in PEM
 * files, optionally a CA to check client certificates against) or pre-shared keys (a file of `identity:hexkey`
 * lines, the format of GnuTLS's psktool, which nbdkit --tls-psk and qemu's tls-creds-psk read).
 *
 * PSK runs on TLS 1.2 with the PSK cipher suites (OpenSSL, under Node, offers PSK only below TLS 1.3); X.509 takes
 * TLS 1.2 or 1.3. The NBD protocol asks for at least TLS 1.2 (proto.md, "TLS versions").
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ServeError } from './errors.js';

/** TLS credentials, as files: X.509 (`cert`, `key`, optional `ca` to require client certificates) or PSK. */
export type TlsOptions =
  | { readonly cert: string; readonly key: string; readonly ca?: string | undefined }
  | { readonly psk: string };

/** Credentials loaded and checked once, for every connection. */
export interface TlsCredentials {
  readonly kind: 'x509' | 'psk';
  /** Wrap a socket that just acknowledged NBD_OPT_STARTTLS; resolves once the handshake is done. */
  upgrade(socket: Duplex): Promise<tls.TLSSocket>;
}

const PSK_CIPHERS = ['ECDHE-PSK-CHACHA20-POLY1305', 'ECDHE-PSK-AES256-CBC-SHA384', 'ECDHE-PSK-AES128-CBC-SHA256',
  'DHE-PSK-AES256-GCM-SHA384', 'DHE-PSK-AES128-GCM-SHA256', 'PSK-AES256-GCM-SHA384', 'PSK-AES128-GCM-SHA256'].join(':');
/** A TLS handshake that has not finished in this long is given up (the client is gone or not speaking TLS). */
const HANDSHAKE_MS = 30_000;

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ServeError('SERVE_TLS', `cannot read the TLS ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The identities and keys of a psktool file: `identity:hexkey` per line (blank lines and `#` comments skipped). */
export function parsePskFile(text: string, path: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const at = line.lastIndexOf(':');
    const id = line.slice(0, at);
    const hex = line.slice(at + 1).trim();
    if (at <= 0 || !/^([0-9a-f]{2})+$/i.test(hex)) {
      throw new ServeError('SERVE_TLS', `${path}:${i + 1}: not an "identity:hexkey" line`);
    }
    keys.set(id, Buffer.from(hex, 'hex'));
  });
  if (keys.size === 0) throw new ServeError('SERVE_TLS', `${path} holds no "identity:hexkey" line`);
  return keys;
}

/** Load and check the credentials (any problem is a ServeError SERVE_TLS, before anything listens). */
export function loadTls(opts: TlsOptions): TlsCredentials {
  if ('psk' in opts) {
    const keys = parsePskFile(read(opts.psk, 'PSK file').toString('utf8'), opts.psk);
    const context = tls.createSecureContext({ ciphers: PSK_CIPHERS, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    // TLSSocket takes pskCallback for a server socket too (lib/_tls_wrap.js), though @types/node lists it only
    // for tls.createServer and tls.connect.
    const options: tls.TLSSocketOptions & { pskCallback: (s: tls.TLSSocket, identity: string) => Buffer | null } = {
      isServer: true, secureContext: context, pskCallback: (_s, identity) => keys.get(identity) ?? null,
    };
    return { kind: 'psk', upgrade: (socket) => handshake(new tls.TLSSocket(socket, options)) };
  }
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: read(opts.cert, 'certificate'), key: read(opts.key, 'key'),
      ...(opts.ca === undefined ? {} : { ca: read(opts.ca, 'CA certificate') }), minVersion: 'TLSv1.2' });
  } catch (e) {
    if (e instanceof ServeError) throw e;
    throw new ServeError('SERVE_TLS', `the TLS certificate or key cannot be used: ${(e as Error).message}`, { cause: e });
  }
  const verify = opts.ca !== undefined;
  return { kind: 'x509', upgrade: (socket) => handshake(new tls.TLSSocket(socket, {
    isServer: true, secureContext: context, requestCert: verify, rejectUnauthorized: verify,
  })) };
}

function handshake(t: tls.TLSSocket): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { t.destroy(new ServeError('SERVE_PROTOCOL', 'TLS handshake timed out')); }, HANDSHAKE_MS);
    const fail = (e: Error): void => { clearTimeout(timer); t.destroy(); reject(e); };
    t.once('secure', () => { clearTimeout(timer); t.off('error', fail); t.off('close', closed); resolve(t); });
    const closed = (): void => { fail(new ServeError('SERVE_CLIENT_GONE', 'the client closed the connection during the TLS handshake')); };
    t.once('error', fail);
    t.once('close', closed);
  });
}

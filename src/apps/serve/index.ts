/**
 * `usbms/serve`: the disk as a Network Block Device. `serveNbd(session, options)` serves the LUNs of an open usbms
 * session to any NBD client (the kernel's nbd-client, QEMU, qemu-img, libnbd's nbdinfo / nbdcopy / nbdfuse);
 * docs/serve.md says what it covers and how to use it.
 */
export { serveNbd, defaultSocketPath, isLoopback } from './server.js';
export type { NbdServeOptions, NbdServer, ServeEvent, ListenAddress, ExportSummary } from './server.js';
export type { ReattachOptions, LinkEvent } from './device.js';
export type { ExportErrorEvent, ExportInfo } from './export.js';
export type { ConnectionEvent } from './connection.js';
export type { TlsOptions } from './tls.js';
export { parsePskFile } from './tls.js';
export { ServeError, failureOf, type RequestFailure } from './errors.js';
export { NBD_ERRNO, errnoName } from './protocol.js';

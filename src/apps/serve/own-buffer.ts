/**
 * An accepted connection that reads into a buffer of its own.
 *
 * Node reads an accepted socket into a new 64 KiB buffer per read; those buffers' allocation and garbage collection
 * and the stream machinery around them were a fifth of the server's time per MiB of WRITE payload in the lab's
 * profile. A socket made with `new net.Socket({ handle, onread })` reads into one buffer of ours instead, but Node
 * offers `onread` only to sockets it does not accept itself, so the accepted socket's handle (`_handle`, the field
 * Node's own cluster and child_process code moves between sockets the same way) is moved into such a socket and the
 * accepted one is destroyed (which also gives the server its connection count back). Where the handle is not there,
 * the accepted socket is used as it is, reading Node's way.
 */
import net, { type Socket } from 'node:net';

/** Bytes one read may bring: four times Node's own, so a 1 MiB WRITE run arrives in four reads, not sixteen. */
export const READ_BUFFER_BYTES = 256 * 1024;

/** What reads into the connection's buffer: returns false to stop the socket until its resume() is called. */
export type Feed = (n: number, buf: Buffer) => boolean;

export interface OwnBufferSocket {
  readonly socket: Socket;
  /** Who takes the bytes read (set before the event loop turns, as the socket starts reading at once). */
  readonly feedTo: (feed: Feed) => void;
}

/** `raw` (accepted by a server created with pauseOnConnect) as a socket reading into its own buffer, or undefined. */
export function withOwnReadBuffer(raw: Socket): OwnBufferSocket | undefined {
  const holder = raw as unknown as { _handle?: unknown };
  const handle = holder._handle;
  if (handle === null || typeof handle !== 'object') return undefined;
  let feed: Feed = () => false;
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  holder._handle = null; // the accepted socket lets go of it: destroying it below closes nothing
  // `handle` is an option @types/node does not list (Node's own server passes it the same way)
  const options = { handle, readable: true, writable: true,
    onread: { buffer, callback: (n: number, buf: Buffer) => feed(n, buf) } };
  const socket = new net.Socket(options);
  raw.destroy();
  return { socket, feedTo: (f) => { feed = f; } };
}

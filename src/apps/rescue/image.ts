/**
 * The output image: sparse, written only where data was rescued, at its own offset. Nothing is ever written
 * where a read failed (a later run, or another copy of the same data, may still fill it), and an existing image
 * is never shortened, as ddrescue does.
 */
import { UsbmsError } from '../../util/errors.js';
import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';

/** Node's file positions are doubles: exact only below 2^53 bytes (8 PiB), far past any USB stick. */
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

export class RescueImageError extends UsbmsError {
  override readonly name = 'RescueImageError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('RESCUE_IMAGE', message, options); }
}

function exact(n: bigint, what: string): number {
  if (n < 0n || n > MAX_EXACT) throw new RescueImageError(`${what} ${n} is beyond what a file position can hold exactly`);
  return Number(n);
}

export class RescueImage {
  private constructor(private readonly fd: number, readonly path: string) {}

  /** Open (or create) `path` for a source of `size` bytes: grown to `size` with a hole, never truncated. */
  static open(path: string, size: bigint): RescueImage {
    const bytes = exact(size, 'image size');
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    try {
      if (fstatSync(fd).size < bytes) ftruncateSync(fd, bytes);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new RescueImage(fd, path);
  }

  /** Write `data` at byte `offset`. */
  write(offset: bigint, data: Buffer): void {
    const at = exact(offset + BigInt(data.length), 'image offset') - data.length;
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, at + done);
  }

  /** Data written so far is on the disk (called before saving a mapfile that claims it). */
  sync(): void { fdatasyncSync(this.fd); }

  close(): void { closeSync(this.fd); }
}

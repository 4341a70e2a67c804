/**
 * Typed USB errors. Every failure that crosses the port boundary is one of these, whatever the implementation
 * (libusb or the software device), so the layers above branch on `code`, never on message text.
 */
import type { Pipe } from './port.js';

export type UsbErrorCode =
  | 'STALL' // the endpoint answered STALL (halted); it stays halted until clearHalt
  | 'TIMEOUT' // the transfer did not complete within its timeout; it was cancelled
  | 'OVERFLOW' // the device sent more than the buffer holds (babble)
  | 'NO_DEVICE' // the device is gone (unplugged, or reset into another identity)
  | 'CANCELLED' // the transfer was cancelled by cancel() or by close()
  | 'CLOSED' // the port was closed before the call
  | 'BUSY' // the interface is held by another driver (a kernel driver is bound)
  | 'ACCESS' // permission denied (no udev rule)
  | 'NOT_FOUND' // no such device or interface
  | 'NOT_SUPPORTED' // the platform or device cannot do it
  | 'INVALID' // a caller's mistake (bad argument, transfer already in flight)
  | 'IO'; // anything else libusb reports

export interface UsbErrorOptions {
  /** Bytes moved before the failure (libusb reports them even on error). */
  actualLength?: number;
  pipe?: Pipe | 'control';
  /** The libusb error or transfer status number, when there is one. */
  errno?: number;
  cause?: unknown;
}

export class UsbError extends Error {
  override readonly name: string = 'UsbError';
  readonly actualLength: number;
  readonly pipe: Pipe | 'control' | undefined;
  readonly errno: number | undefined;

  constructor(readonly code: UsbErrorCode, message: string, opts: UsbErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.actualLength = opts.actualLength ?? 0;
    this.pipe = opts.pipe;
    this.errno = opts.errno;
  }
}

export class UsbStallError extends UsbError {
  override readonly name = 'UsbStallError';
  constructor(message = 'endpoint stalled', opts: UsbErrorOptions = {}) { super('STALL', message, opts); }
}
export class UsbTimeoutError extends UsbError {
  override readonly name = 'UsbTimeoutError';
  constructor(message = 'transfer timed out', opts: UsbErrorOptions = {}) { super('TIMEOUT', message, opts); }
}
export class UsbOverflowError extends UsbError {
  override readonly name = 'UsbOverflowError';
  constructor(message = 'device sent more data than requested (babble)', opts: UsbErrorOptions = {}) {
    super('OVERFLOW', message, opts);
  }
}
export class UsbDeviceGoneError extends UsbError {
  override readonly name = 'UsbDeviceGoneError';
  constructor(message = 'device disconnected', opts: UsbErrorOptions = {}) { super('NO_DEVICE', message, opts); }
}
export class UsbCancelledError extends UsbError {
  override readonly name = 'UsbCancelledError';
  constructor(message = 'transfer cancelled', opts: UsbErrorOptions = {}) { super('CANCELLED', message, opts); }
}
export class UsbClosedError extends UsbError {
  override readonly name = 'UsbClosedError';
  constructor(message = 'port is closed', opts: UsbErrorOptions = {}) { super('CLOSED', message, opts); }
}

export function isUsbError(e: unknown, code?: UsbErrorCode): e is UsbError {
  return e instanceof UsbError && (code === undefined || e.code === code);
}

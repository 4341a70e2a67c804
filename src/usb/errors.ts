/**
 * Typed USB errors. Every failure that crosses the port boundary is one of these, whatever the implementation
 * (libusb or the software device), so the layers above branch on `kind` (or the namespaced `code`), never on
 * message text. A caller's mistake at this boundary (a transfer submitted twice, a bad pipe name) is not a USB
 * failure: it is a UsbmsArgumentError (code ARG_INVALID), as at every layer.
 */
import { UsbmsError, type UsbmsErrorCode } from '../util/errors.js';
import type { Pipe } from './pipe.js';

/** What went wrong, in USB terms (the constructor argument; `code` is `USB_` + kind). */
export type UsbErrorKind =
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
  | 'IO'; // anything else libusb reports

/** @deprecated The old name of {@link UsbErrorKind}; `UsbError.code` is now the namespaced code. */
export type UsbErrorCode = UsbErrorKind;

/** The namespaced code of each kind. */
export const USB_ERROR_CODES: Readonly<Record<UsbErrorKind, UsbmsErrorCode>> = {
  STALL: 'USB_STALL', TIMEOUT: 'USB_TIMEOUT', OVERFLOW: 'USB_OVERFLOW', NO_DEVICE: 'USB_NO_DEVICE',
  CANCELLED: 'USB_CANCELLED', CLOSED: 'USB_CLOSED', BUSY: 'USB_BUSY', ACCESS: 'USB_ACCESS', NOT_FOUND: 'USB_NOT_FOUND',
  NOT_SUPPORTED: 'USB_NOT_SUPPORTED', IO: 'USB_IO',
};

/** Context of a {@link UsbError}. */
export interface UsbErrorOptions {
  /** Bytes moved before the failure (libusb reports them even on error). */
  actualLength?: number;
  /** The pipe the failed transfer was on. */
  pipe?: Pipe | 'control';
  /** The libusb error or transfer status number, when there is one. */
  errno?: number;
  /** The libusb exception (or other error) this one stands for. */
  cause?: unknown;
}

/** A failure at the USB port boundary. */
export class UsbError extends UsbmsError {
  override readonly name: string = 'UsbError';
  /** Bytes moved before the failure. */
  readonly actualLength: number;
  /** The pipe the failed transfer was on, when it was a transfer. */
  readonly pipe: Pipe | 'control' | undefined;
  /** The libusb error or transfer status number, when there is one. */
  readonly errno: number | undefined;

  constructor(readonly kind: UsbErrorKind, message: string, opts: UsbErrorOptions = {}) {
    super(USB_ERROR_CODES[kind], message, { cause: opts.cause });
    this.actualLength = opts.actualLength ?? 0;
    this.pipe = opts.pipe;
    this.errno = opts.errno;
  }
}

/** The endpoint answered STALL (kind 'STALL', code USB_STALL). */
export class UsbStallError extends UsbError {
  override readonly name = 'UsbStallError';
  constructor(message = 'endpoint stalled', opts: UsbErrorOptions = {}) { super('STALL', message, opts); }
}
/** The transfer timed out and was cancelled (USB_TIMEOUT). */
export class UsbTimeoutError extends UsbError {
  override readonly name = 'UsbTimeoutError';
  constructor(message = 'transfer timed out', opts: UsbErrorOptions = {}) { super('TIMEOUT', message, opts); }
}
/** The device sent more than the buffer holds (USB_OVERFLOW). */
export class UsbOverflowError extends UsbError {
  override readonly name = 'UsbOverflowError';
  constructor(message = 'device sent more data than requested (babble)', opts: UsbErrorOptions = {}) {
    super('OVERFLOW', message, opts);
  }
}
/** The device is gone (USB_NO_DEVICE). */
export class UsbDeviceGoneError extends UsbError {
  override readonly name = 'UsbDeviceGoneError';
  constructor(message = 'device disconnected', opts: UsbErrorOptions = {}) { super('NO_DEVICE', message, opts); }
}
/** The transfer was cancelled (USB_CANCELLED). */
export class UsbCancelledError extends UsbError {
  override readonly name = 'UsbCancelledError';
  constructor(message = 'transfer cancelled', opts: UsbErrorOptions = {}) { super('CANCELLED', message, opts); }
}
/** The port was closed (USB_CLOSED). */
export class UsbClosedError extends UsbError {
  override readonly name = 'UsbClosedError';
  constructor(message = 'port is closed', opts: UsbErrorOptions = {}) { super('CLOSED', message, opts); }
}

/** Whether `e` is a {@link UsbError} (optionally: of this kind). */
export function isUsbError(e: unknown, kind?: UsbErrorKind): e is UsbError {
  return e instanceof UsbError && (kind === undefined || e.kind === kind);
}

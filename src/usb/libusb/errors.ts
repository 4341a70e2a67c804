/**
 * libusb failures -> the typed errors of src/usb/errors.ts.
 *
 * node-usb reports two kinds of numbers in `error.errno`: an async transfer's completion status
 * (LIBUSB_TRANSFER_*, small positive numbers) and a synchronous call's error code (LIBUSB_ERROR_*, negative).
 * They never overlap, so one table serves both. The constants mirror libusb.h; a unit test checks them against
 * the values node-usb exports.
 */
import {
  UsbCancelledError, UsbDeviceGoneError, UsbError, UsbOverflowError, UsbStallError, UsbTimeoutError,
  type UsbErrorOptions,
} from '../errors.js';
import type { Pipe } from '../port.js';

export const LibusbTransferStatus = {
  COMPLETED: 0, ERROR: 1, TIMED_OUT: 2, CANCELLED: 3, STALL: 4, NO_DEVICE: 5, OVERFLOW: 6,
} as const;

export const LibusbErrorCode = {
  IO: -1, INVALID_PARAM: -2, ACCESS: -3, NO_DEVICE: -4, NOT_FOUND: -5, BUSY: -6, TIMEOUT: -7,
  OVERFLOW: -8, PIPE: -9, INTERRUPTED: -10, NO_MEM: -11, NOT_SUPPORTED: -12, OTHER: -99,
} as const;

/** Where the failure happened, for the message and the error's fields. */
export interface LibusbErrorContext {
  /** What was being done, e.g. 'bulk-in transfer', 'claim interface 0'. */
  what: string;
  pipe?: Pipe | 'control';
  actualLength?: number;
}

/** The project's udev rules are the fix users need for ACCESS; say so where the error is made. */
export const ACCESS_HINT =
  'permission denied opening the USB device: install the udev rules from the usbms package (udev/ folder) ' +
  'and re-plug the device, or run as a user with access to /dev/bus/usb';

/** The errno of a node-usb LibUSBException (or undefined for anything else). */
export function libusbErrno(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('errno' in error)) return undefined;
  const errno = error.errno;
  return typeof errno === 'number' ? errno : undefined;
}

/** Map any error thrown or reported by node-usb to a UsbError subclass. A UsbError passes through unchanged. */
export function usbErrorFromLibusb(error: unknown, ctx: LibusbErrorContext): UsbError {
  if (error instanceof UsbError) return error;
  const errno = libusbErrno(error);
  const opts: UsbErrorOptions = { cause: error, actualLength: ctx.actualLength ?? 0 };
  if (errno !== undefined) opts.errno = errno;
  if (ctx.pipe !== undefined) opts.pipe = ctx.pipe;
  const detail = error instanceof Error ? error.message : String(error);
  const msg = (text: string): string => `${ctx.what}: ${text}`;
  switch (errno) {
    case LibusbTransferStatus.STALL:
    case LibusbErrorCode.PIPE:
      return new UsbStallError(msg('endpoint stalled'), opts);
    case LibusbTransferStatus.TIMED_OUT:
    case LibusbErrorCode.TIMEOUT:
      return new UsbTimeoutError(msg('timed out'), opts);
    case LibusbTransferStatus.OVERFLOW:
    case LibusbErrorCode.OVERFLOW:
      return new UsbOverflowError(msg('device sent more data than the buffer holds (babble)'), opts);
    case LibusbTransferStatus.NO_DEVICE:
    case LibusbErrorCode.NO_DEVICE:
      return new UsbDeviceGoneError(msg('device disconnected'), opts);
    case LibusbTransferStatus.CANCELLED:
      return new UsbCancelledError(msg('cancelled'), opts);
    case LibusbErrorCode.ACCESS:
      return new UsbError('ACCESS', msg(ACCESS_HINT), opts);
    case LibusbErrorCode.BUSY:
      return new UsbError('BUSY', msg('resource busy (another driver or program holds it)'), opts);
    case LibusbErrorCode.NOT_FOUND:
      return new UsbError('NOT_FOUND', msg('not found'), opts);
    case LibusbErrorCode.NOT_SUPPORTED:
      return new UsbError('NOT_SUPPORTED', msg('not supported on this platform or device'), opts);
    case LibusbErrorCode.INVALID_PARAM:
      // libusb refused a parameter usbms passed on (or the kernel said EINVAL): a USB failure, not the caller's.
      return new UsbError('IO', msg('invalid parameter'), opts);
    default:
      return new UsbError('IO', msg(detail), opts);
  }
}

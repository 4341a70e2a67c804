import { describe, it, expect } from 'vitest';
import { usb } from 'usb';
import { LibusbErrorCode, LibusbTransferStatus, usbErrorFromLibusb } from '../../../src/usb/libusb/errors.js';
import {
  UsbCancelledError, UsbDeviceGoneError, UsbError, UsbOverflowError, UsbStallError, UsbTimeoutError,
  type UsbErrorCode,
} from '../../../src/usb/errors.js';

/** What node-usb hands us: an Error with the libusb number in errno. */
function libusbException(errno: number, message = 'LIBUSB_SOMETHING'): Error {
  return Object.assign(new Error(message), { errno });
}

describe('libusb error mapping', () => {
  it('uses the same numbers as the node-usb binding', () => {
    expect(LibusbTransferStatus).toEqual({
      COMPLETED: usb.LIBUSB_TRANSFER_COMPLETED, ERROR: usb.LIBUSB_TRANSFER_ERROR, TIMED_OUT: usb.LIBUSB_TRANSFER_TIMED_OUT,
      CANCELLED: usb.LIBUSB_TRANSFER_CANCELLED, STALL: usb.LIBUSB_TRANSFER_STALL, NO_DEVICE: usb.LIBUSB_TRANSFER_NO_DEVICE,
      OVERFLOW: usb.LIBUSB_TRANSFER_OVERFLOW,
    });
    expect(LibusbErrorCode).toEqual({
      IO: usb.LIBUSB_ERROR_IO, INVALID_PARAM: usb.LIBUSB_ERROR_INVALID_PARAM, ACCESS: usb.LIBUSB_ERROR_ACCESS,
      NO_DEVICE: usb.LIBUSB_ERROR_NO_DEVICE, NOT_FOUND: usb.LIBUSB_ERROR_NOT_FOUND, BUSY: usb.LIBUSB_ERROR_BUSY,
      TIMEOUT: usb.LIBUSB_ERROR_TIMEOUT, OVERFLOW: usb.LIBUSB_ERROR_OVERFLOW, PIPE: usb.LIBUSB_ERROR_PIPE,
      INTERRUPTED: usb.LIBUSB_ERROR_INTERRUPTED, NO_MEM: usb.LIBUSB_ERROR_NO_MEM,
      NOT_SUPPORTED: usb.LIBUSB_ERROR_NOT_SUPPORTED, OTHER: usb.LIBUSB_ERROR_OTHER,
    });
  });

  const cases: [string, number, UsbErrorCode, (new (...a: never[]) => UsbError)][] = [
    ['transfer STALL', LibusbTransferStatus.STALL, 'STALL', UsbStallError],
    ['ERROR_PIPE', LibusbErrorCode.PIPE, 'STALL', UsbStallError],
    ['transfer TIMED_OUT', LibusbTransferStatus.TIMED_OUT, 'TIMEOUT', UsbTimeoutError],
    ['ERROR_TIMEOUT', LibusbErrorCode.TIMEOUT, 'TIMEOUT', UsbTimeoutError],
    ['transfer OVERFLOW', LibusbTransferStatus.OVERFLOW, 'OVERFLOW', UsbOverflowError],
    ['ERROR_OVERFLOW', LibusbErrorCode.OVERFLOW, 'OVERFLOW', UsbOverflowError],
    ['transfer NO_DEVICE', LibusbTransferStatus.NO_DEVICE, 'NO_DEVICE', UsbDeviceGoneError],
    ['ERROR_NO_DEVICE', LibusbErrorCode.NO_DEVICE, 'NO_DEVICE', UsbDeviceGoneError],
    ['transfer CANCELLED', LibusbTransferStatus.CANCELLED, 'CANCELLED', UsbCancelledError],
    ['transfer ERROR', LibusbTransferStatus.ERROR, 'IO', UsbError],
    ['ERROR_IO', LibusbErrorCode.IO, 'IO', UsbError],
    ['ERROR_OTHER', LibusbErrorCode.OTHER, 'IO', UsbError],
    ['ERROR_ACCESS', LibusbErrorCode.ACCESS, 'ACCESS', UsbError],
    ['ERROR_BUSY', LibusbErrorCode.BUSY, 'BUSY', UsbError],
    ['ERROR_NOT_FOUND', LibusbErrorCode.NOT_FOUND, 'NOT_FOUND', UsbError],
    ['ERROR_NOT_SUPPORTED', LibusbErrorCode.NOT_SUPPORTED, 'NOT_SUPPORTED', UsbError],
    // libusb refusing a parameter usbms passed on is a USB failure, not the caller's mistake.
    ['ERROR_INVALID_PARAM', LibusbErrorCode.INVALID_PARAM, 'IO', UsbError],
  ];
  it.each(cases)('maps %s to code %s, keeping errno, pipe and actualLength', (_label, errno, code, cls) => {
    const cause = libusbException(errno);
    const e = usbErrorFromLibusb(cause, { what: 'bulk-in transfer', pipe: 'in', actualLength: 1024 });
    expect(e).toBeInstanceOf(cls);
    expect(e.kind).toBe(code);
    expect(e.code).toBe(`USB_${code}`);
    expect(e.errno).toBe(errno);
    expect(e.actualLength).toBe(1024);
    expect(e.pipe).toBe('in');
    expect(e.cause).toBe(cause);
    expect(e.message).toContain('bulk-in transfer');
  });

  it('tells the user about the udev rules on ACCESS', () => {
    const e = usbErrorFromLibusb(libusbException(LibusbErrorCode.ACCESS), { what: 'open USB device 46f4:0001' });
    expect(e.message).toMatch(/udev/);
  });

  it('maps a plain Error without errno to IO with its message, and passes UsbErrors through', () => {
    const e = usbErrorFromLibusb(new TypeError('Device is not open'), { what: 'submit' });
    expect(e.code).toBe('USB_IO');
    expect(e.errno).toBeUndefined();
    expect(e.message).toContain('Device is not open');
    const typed = new UsbStallError();
    expect(usbErrorFromLibusb(typed, { what: 'x' })).toBe(typed);
  });
});

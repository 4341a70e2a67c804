/**
 * The USB port: everything the layers above need from ONE mass-storage interface of ONE device.
 *
 * This is the hardware boundary of usbms. It has two implementations: `LibusbPort` (src/usb/libusb/, node-usb
 * `usb@2` over libusb) and `MockUsbPort` (src/mock/, the software USB disk). The BOT engine receives a port by
 * injection and cannot tell them apart. The shared contract suite (test/usb/port-contract.ts) checks any
 * implementation against the rules written here.
 *
 * ## Contract
 *
 * Bulk transfers go through reusable {@link UsbTransfer} objects made once by {@link UsbPort.createTransfer}.
 * A transfer submits the caller's own Buffer (the device reads or writes that memory; nothing is copied).
 *
 * - **Success / short transfer.** `submit` resolves with the number of bytes moved. On an IN pipe a transfer
 *   ends when the buffer is full or when the device sends a short packet (shorter than max packet size, or
 *   zero-length); a short transfer is NOT an error: it resolves with `actual < buffer.length`.
 * - **Stall.** `submit` rejects with `UsbStallError` (`code 'STALL'`, `actualLength` = bytes moved before the
 *   stall). The pipe stays halted, and every later transfer on it stalls, until `clearHalt(pipe)`.
 * - **Timeout.** `submit(buffer, timeoutMs)` with `timeoutMs > 0` rejects with `UsbTimeoutError` after that
 *   long, with `actualLength` = bytes moved so far; the transfer is cancelled before the promise settles, so
 *   the buffer is free again when the rejection is seen. `timeoutMs = 0` means no timeout.
 * - **Overflow (babble).** An IN transfer whose device sends more than the buffer can hold (a packet that does not
 *   fit) rejects with `UsbOverflowError`; bytes that fit may have been written, `actualLength` says how many.
 * - **Disconnect.** When the device goes away, every transfer in flight rejects with `UsbDeviceGoneError`, as
 *   does every later call (submit, control, clearHalt, reset), and the `onDisconnect` listeners run once.
 * - **Cancel.** `cancel()` on a transfer in flight makes its `submit` reject with `UsbCancelledError`; on an idle
 *   transfer it does nothing.
 * - **Close with transfers in flight.** `close()` cancels every transfer in flight (each rejects with
 *   `UsbCancelledError`), waits until all of them have settled, releases the interface (and re-attaches a
 *   kernel driver the port detached), then resolves. It never hangs on a device that no longer answers.
 *   Every call after close rejects with `UsbClosedError`; a second close resolves at once.
 * - **Several in flight.** Many transfers may be in flight on one pipe; they complete in submission order,
 *   each filled in turn (a short packet completes only the transfer it lands in; the next transfer then
 *   receives whatever the device sends next).
 * - A transfer that is already in flight may not be submitted again: that rejects with a `UsbmsArgumentError`
 *   (code ARG_INVALID), as does a bad pipe name or timeout.
 */
import type { UsbError } from './errors.js';
import type { Pipe } from './pipe.js';

// A bulk pipe of the mass-storage interface (its own module: the errors name pipes too, and the port names errors).
export type { Pipe } from './pipe.js';
/** The bus speed of the device. */
export type UsbSpeed = 'low' | 'full' | 'high' | 'super' | 'super-plus' | 'unknown';

/** What identifies the device and the chosen mass-storage interface. */
export interface PortInfo {
  readonly vendorId: number;
  readonly productId: number;
  readonly serialNumber: string | undefined;
  readonly manufacturer: string | undefined;
  readonly product: string | undefined;
  readonly busNumber: number;
  readonly deviceAddress: number;
  /**
   * The hub port chain from the root hub (`1-2.3` is bus 1, ports [2, 3]): where the device is plugged in, which
   * stays the same when it re-enumerates. Set by every backend's `open` (src/usb/backend.ts).
   */
  readonly portNumbers?: readonly number[];
  readonly speed: UsbSpeed;
  readonly interfaceNumber: number;
  readonly alternateSetting: number;
  /** bulk-in and bulk-out endpoint addresses (with the direction bit) */
  readonly endpoints: { readonly in: number; readonly out: number };
  /** wMaxPacketSize of the bulk endpoints */
  readonly maxPacketSize: { readonly in: number; readonly out: number };
}

/** A SETUP packet for the default control pipe. */
export interface ControlSetup {
  readonly bmRequestType: number;
  readonly bRequest: number;
  readonly wValue: number;
  readonly wIndex: number;
}

/** A reusable bulk transfer bound to one pipe. Made once, submitted many times, never copies. */
export interface UsbTransfer {
  readonly pipe: Pipe;
  /** True between submit and the settling of its promise. */
  readonly inFlight: boolean;
  /**
   * Submit `buffer` (its whole length; pass a `subarray` view for part of a larger buffer). For an OUT pipe the
   * device reads it; for an IN pipe the device writes into it. Resolves with the bytes moved.
   * @param timeoutMs 0 = wait forever.
   */
  submit(buffer: Buffer, timeoutMs: number): Promise<number>;
  /** Cancel if in flight (the submit rejects with UsbCancelledError). */
  cancel(): void;
}

/** The one hardware boundary: a claimed Bulk-Only interface, implemented by libusb (LibusbPort) and by the software disk (MockUsbPort). The contract of each call is above. */
export interface UsbPort {
  readonly info: PortInfo;
  readonly closed: boolean;

  /** Make a reusable transfer for `pipe`. Cheap to keep; allocate once per packet, not per command. */
  createTransfer(pipe: Pipe): UsbTransfer;

  /**
   * Control transfer, device to host. Resolves with the bytes received (possibly fewer than `length`).
   * A STALL rejects with UsbStallError (the default pipe recovers by itself on the next SETUP).
   */
  controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer>;
  /** Control transfer, host to device, with an optional data stage. */
  controlOut(setup: ControlSetup, data: Buffer | undefined, timeoutMs: number): Promise<void>;

  /** CLEAR_FEATURE(ENDPOINT_HALT) on the pipe's endpoint; also resets its data toggle. */
  clearHalt(pipe: Pipe): Promise<void>;

  /**
   * USB port reset of the whole device (libusb_reset_device). Transfers in flight reject with UsbCancelledError
   * or UsbDeviceGoneError. If the device comes back as a different device, this rejects with
   * UsbDeviceGoneError and the port is unusable.
   */
  resetDevice(): Promise<void>;

  /** See the contract above: cancels in-flight transfers, waits for them, releases, re-attaches. */
  close(): Promise<void>;

  /** Called once when the device disappears. Returns an unsubscribe function. */
  onDisconnect(listener: (error: UsbError) => void): () => void;
}

/** Standard and class request constants used on the control pipe. */
export const USB_REQ_CLEAR_FEATURE = 0x01;
export const USB_FEATURE_ENDPOINT_HALT = 0x00;

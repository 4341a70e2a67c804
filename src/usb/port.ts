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
 *
 * ## Alternate settings and pipes
 *
 * A port opens one mass-storage interface in its Bulk-Only alternate setting when it has one (else in the first
 * mass-storage setting, e.g. a UAS-only device's), with `in` and `out` bound to that setting's first bulk-in and
 * bulk-out endpoints. A port that can switch lists every setting of the interface in `altSettings`, with each
 * endpoint's extra (class-specific) descriptors as the device sent them, and switches with `selectAltSetting`:
 *
 * - **Which setting, which pipes.** `selectAltSetting(n, binding)` sends SET_INTERFACE(n) and binds pipe names to
 *   endpoint addresses of setting n (`in`/`out` always; `status`/`command` for UAS's four pipes). The port does not
 *   interpret the class descriptors: the protocol above it reads them (UAS's Pipe Usage descriptors) and says which
 *   endpoint is which. Afterwards `info.alternateSetting`, `info.endpoints` and `info.maxPacketSize` describe the
 *   new setting.
 * - **When.** Only with no transfer in flight; transfers made before the switch must not be submitted after it
 *   (their endpoint may no longer exist): make new ones. Both violations reject with a `UsbmsArgumentError`, as
 *   does an unknown setting or an address that setting does not have (nothing is sent then).
 * - **Failure.** The device refusing SET_INTERFACE rejects with UsbStallError (the port stays in the setting it
 *   was in); a disconnect with UsbDeviceGoneError.
 * - **Reset.** `resetDevice()` restores the selected setting and binding (the device comes back in setting 0).
 * - A port that cannot switch (a replay of a capture, a wrapper that does not pass the switch on) leaves
 *   `altSettings` and `selectAltSetting` undefined: it speaks whatever its current setting is.
 * - `createTransfer` for a pipe the current binding does not have throws a `UsbmsArgumentError`.
 */
import type { UsbError } from './errors.js';
import type { Pipe } from './pipe.js';

// A bulk pipe of the mass-storage interface (its own module: the errors name pipes too, and the port names errors).
export type { Pipe } from './pipe.js';

/** Endpoint addresses (with the direction bit) bound to the pipes of the current alternate setting. */
export interface PipeBinding {
  readonly in: number;
  readonly out: number;
  /** UAS only. */
  readonly status?: number;
  /** UAS only. */
  readonly command?: number;
}

/** One endpoint of an alternate setting, as its descriptors say. */
export interface EndpointDescriptorInfo {
  /** bEndpointAddress (bit 7 set: IN). */
  readonly address: number;
  /** bmAttributes (bits 1:0 = 2: bulk). */
  readonly attributes: number;
  /** wMaxPacketSize, bits 10:0. */
  readonly maxPacketSize: number;
  /** The class- and vendor-specific descriptors that follow the endpoint descriptor (UAS: `04 24 ID 00`). */
  readonly extra: Uint8Array;
}

/** One alternate setting of the claimed interface. */
export interface AltSettingInfo {
  readonly alternateSetting: number;
  readonly interfaceClass: number;
  readonly interfaceSubClass: number;
  /** bInterfaceProtocol: 0x50 Bulk-Only, 0x62 UAS. */
  readonly interfaceProtocol: number;
  readonly endpoints: readonly EndpointDescriptorInfo[];
}
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
  /** Endpoint addresses (with the direction bit) of the pipes bound now: bulk-in and bulk-out, and UAS's two more. */
  readonly endpoints: PipeBinding;
  /** wMaxPacketSize of the data pipes */
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

/** The one hardware boundary: a claimed mass-storage interface, implemented by libusb (LibusbPort) and by the software disk (MockUsbPort). The contract of each call is above. */
export interface UsbPort {
  /** What the port is and which pipes are bound now (a new object after selectAltSetting). */
  readonly info: PortInfo;
  readonly closed: boolean;

  /** Every alternate setting of the claimed interface (see "Alternate settings and pipes" above). */
  readonly altSettings?: readonly AltSettingInfo[] | undefined;
  /** SET_INTERFACE and bind pipes to endpoints of that setting (see "Alternate settings and pipes" above). */
  selectAltSetting?(alternateSetting: number, binding: PipeBinding, timeoutMs: number): Promise<void>;

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

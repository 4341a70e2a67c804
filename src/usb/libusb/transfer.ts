/**
 * One reusable bulk transfer over node-usb: wraps ONE native `Transfer` (libusb_transfer) made once, and
 * submits the caller's Buffer itself - libusb reads or writes that memory, nothing is copied.
 *
 * libusb's own timeout is 0 (infinite): the per-submit timeout is a timer that cancels the transfer, so the
 * promise settles only after libusb has given the buffer back (the contract's "cancelled before the promise
 * settles"), and the CANCELLED status that follows is reported as a UsbTimeoutError.
 */
import type { Transfer, LibUSBException } from 'usb';
import { UsbCancelledError, UsbDeviceGoneError, UsbError, UsbTimeoutError } from '../errors.js';
import type { Pipe, UsbTransfer } from '../port.js';
import { LibusbTransferStatus, libusbErrno, usbErrorFromLibusb } from './errors.js';
import { logger } from '../../util/log.js';
import { UsbmsArgumentError } from '../../util/errors.js';

const log = logger('libusb', 'xfer');

/** What a transfer needs from its port (kept narrow so the port's internals stay private). */
export interface TransferHost {
  /** Rejects with the reason the port cannot take I/O now (closed, gone), or undefined when it can. */
  unusableReason(): UsbError | undefined;
  /** The port is gone: a CANCELLED status then means disconnect, not a caller's cancel. */
  readonly gone: boolean;
  transferStarted(t: LibusbTransfer): void;
  transferSettled(t: LibusbTransfer, error: UsbError | undefined): void;
}

type CancelReason = 'none' | 'caller' | 'timeout' | 'close' | 'gone';

export class LibusbTransfer implements UsbTransfer {
  private native: Transfer;
  private resolveFn: ((n: number) => void) | undefined;
  private rejectFn: ((e: UsbError) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cancelReason: CancelReason = 'none';
  private busy = false;

  constructor(
    readonly pipe: Pipe,
    private readonly host: TransferHost,
    private readonly makeNative: (callback: (error: LibUSBException | undefined, buffer: Buffer, actual: number) => void) => Transfer,
    /** False once the port's pipes were rebound (UsbPort.selectAltSetting): the endpoint may be gone. */
    private readonly current: () => boolean = () => true,
  ) {
    // One callback for the life of the transfer: no closure is made per submit.
    this.native = makeNative(this.onComplete);
  }

  get inFlight(): boolean {
    return this.busy;
  }

  submit(buffer: Buffer, timeoutMs: number): Promise<number> {
    const unusable = this.host.unusableReason();
    if (unusable !== undefined) return Promise.reject(unusable);
    if (this.busy) return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe} transfer is already in flight`));
    if (!this.current()) {
      return Promise.reject(new UsbmsArgumentError(`bulk-${this.pipe} transfer made before the alternate setting changed`));
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new UsbmsArgumentError(`timeoutMs must be >= 0, got ${timeoutMs}`, { argument: 'timeoutMs' }));
    }
    const promise = new Promise<number>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    try {
      this.native.submit(buffer);
    } catch (e) {
      // node-usb sets the native transfer's buffer before libusb_submit_transfer and keeps it when that fails
      // (LIBUSB_ERROR_NO_MEM: usbfs memory), so the transfer would refuse every later submit as "already active":
      // a fresh native transfer replaces it.
      this.native = this.makeNative(this.onComplete);
      const err = usbErrorFromLibusb(e, { what: `submit bulk-${this.pipe}`, pipe: this.pipe });
      this.finish(undefined, err);
      return promise;
    }
    this.busy = true;
    this.cancelReason = 'none';
    this.host.transferStarted(this);
    if (timeoutMs > 0) this.timer = setTimeout(this.onTimeout, timeoutMs);
    return promise;
  }

  cancel(): void {
    this.cancelWith('caller');
  }

  /** For the port: close() (the submit rejects UsbCancelledError) or a disconnect (UsbDeviceGoneError). */
  cancelFor(reason: 'close' | 'gone'): void {
    this.cancelWith(reason);
  }

  private cancelWith(reason: CancelReason): void {
    if (!this.busy) return;
    if (this.cancelReason === 'none') this.cancelReason = reason;
    try {
      this.native.cancel();
    } catch (e) {
      // libusb could not cancel (device already gone): the completion with NO_DEVICE follows on its own.
      log('cancel bulk-%s failed: %s', this.pipe, (e as Error).message);
    }
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    this.cancelWith('timeout');
  };

  private readonly onComplete = (error: LibUSBException | undefined, _buffer: Buffer, actual: number): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.busy = false;
    if (error === undefined) {
      this.finish(actual, undefined);
      return;
    }
    this.finish(undefined, this.mapCompletionError(error, actual));
  };

  private mapCompletionError(error: LibUSBException, actual: number): UsbError {
    const what = `bulk-${this.pipe} transfer`;
    const opts = { actualLength: actual, pipe: this.pipe, errno: error.errno, cause: error } as const;
    // Once the device is gone every failure in flight is the disconnect (libusb may report CANCELLED or ERROR);
    // only close() keeps its own answer.
    if (this.host.gone && this.cancelReason !== 'close') {
      return new UsbDeviceGoneError(`${what}: device disconnected`, opts);
    }
    if (libusbErrno(error) === LibusbTransferStatus.CANCELLED) {
      if (this.cancelReason === 'timeout') return new UsbTimeoutError(`${what}: timed out`, opts);
      return new UsbCancelledError(`${what}: cancelled`, opts);
    }
    return usbErrorFromLibusb(error, { what, pipe: this.pipe, actualLength: actual });
  }

  private finish(actual: number | undefined, error: UsbError | undefined): void {
    const resolve = this.resolveFn;
    const reject = this.rejectFn;
    this.resolveFn = undefined;
    this.rejectFn = undefined;
    // Before the promise settles, so that close() and disconnect bookkeeping see the transfer gone first.
    this.host.transferSettled(this, error);
    if (error !== undefined) reject?.(error);
    else resolve?.(actual ?? 0);
  }
}

/**
 * The software device's bulk-IN endpoint (src/mock/endpoints.ts) with the two things a replay needs that the
 * emulated disk never does: a zero-length packet (a recorded data phase that ended short on a packet boundary)
 * and a transfer failing with a recorded error.
 */
import { InEndpoint } from '../endpoints.js';
import type { DeviceAbort } from '../endpoints.js';
import type { UsbError } from '../../usb/errors.js';
import { UsbmsInternalError } from '../../util/errors.js';

type Pending = { kind: 'zlp' } | { kind: 'fail'; error: UsbError };

export class ReplayInEndpoint extends InEndpoint {
  private pending: { what: Pending; resolve(): void; reject(e: Error): void } | undefined;

  /** End the host's current IN transfer with a zero-length packet (waits for one to be submitted). */
  sendZlp(): Promise<void> { return this.whenHead({ kind: 'zlp' }); }

  /** Fail the host's current IN transfer with `error` (waits for one to be submitted). */
  failNext(error: UsbError): Promise<void> { return this.whenHead({ kind: 'fail', error }); }

  protected override pump(): void {
    super.pump();
    const p = this.pending;
    if (p === undefined || this.queue[0] === undefined) return;
    this.pending = undefined;
    this.finishHead(p.what.kind === 'zlp' ? undefined : p.what.error);
    p.resolve();
  }

  protected override abortDeviceSide(err: DeviceAbort): void {
    super.abortDeviceSide(err);
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }

  private whenHead(what: Pending): Promise<void> {
    if (this.pending !== undefined) return Promise.reject(new UsbmsInternalError('bulk-in: replay is already waiting'));
    return new Promise((resolve, reject) => {
      this.pending = { what, resolve, reject };
      this.pump();
    });
  }
}

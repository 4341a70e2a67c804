/** Errors of tracing and replay. */
import { UsbmsError } from '../../util/errors.js';
import { UsbError } from '../../usb/errors.js';

/** The capture holds no (or more than one) mass-storage device to replay; the message says which to pick. */
export class UsbmsTraceSelectError extends UsbmsError {
  override readonly name = 'UsbmsTraceSelectError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('TRACE_SELECT', message, options); }
}

/**
 * The host asked the replayed device for something the recording does not hold. It reaches the host as a
 * device that went away (code NO_DEVICE: no recovery can help), carrying both sides of the first divergence.
 */
export class ReplayDivergenceError extends UsbError {
  override readonly name = 'ReplayDivergenceError';
  constructor(readonly asked: string, readonly recorded: string, readonly file: string) {
    super('NO_DEVICE', `replay of ${file} diverged: the host sent ${asked}, but the recording holds ${recorded}`);
  }
}

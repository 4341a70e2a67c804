/**
 * How a failed wire operation is named. Inside a command every failure becomes a {@link PhaseFailure}; the
 * engine then runs Reset Recovery (or not) and turns it into the public BotError.
 */
import { isUsbError } from '../usb/errors.js';
import { CSW_LENGTH, CSW_SIGNATURE } from './csw.js';
import { BOT_ERROR_CODES, type BotErrorKind, type BotPhase } from './errors.js';
import { UsbmsError } from '../util/errors.js';

/** Raised inside a command to leave it through the recovery path (never escapes the engine: a BotError does). */
export class PhaseFailure extends UsbmsError {
  override readonly name = 'PhaseFailure';
  constructor(readonly kind: BotErrorKind, readonly phase: BotPhase, message: string,
    override readonly cause: unknown, readonly transferred: number) {
    super(BOT_ERROR_CODES[kind], message, { cause });
  }
}

/**
 * The kind of a USB failure. A disconnect wins over everything (nothing can be recovered), an abort over the
 * cancellation it caused; then timeout and babble; anything else (a stalled CBW, an I/O error) is 'transport'.
 */
export function usbFailureKind(e: unknown, deviceGone: boolean, aborted: boolean): BotErrorKind {
  if (deviceGone || isUsbError(e, 'NO_DEVICE')) return 'device-gone';
  if (aborted) return 'aborted';
  if (isUsbError(e, 'TIMEOUT')) return 'timeout';
  if (isUsbError(e, 'OVERFLOW')) return 'overrun';
  return 'transport';
}

export function usbFailure(e: unknown, phase: BotPhase, transferred: number, deviceGone: boolean,
  aborted: boolean): PhaseFailure {
  const what = e instanceof Error ? e.message : String(e);
  return new PhaseFailure(usbFailureKind(e, deviceGone, aborted), phase, `${phase} phase failed: ${what}`, e,
    transferred);
}

/**
 * After a data-in phase that filled every byte the host asked for, a packet longer than a CSW that does not even
 * start with the CSW signature is the rest of the device's data: babble that fell on a packet boundary.
 */
export function looksLikeExtraData(buf: Buffer, n: number): boolean {
  return n > CSW_LENGTH && buf.readUInt32LE(0) !== CSW_SIGNATURE;
}

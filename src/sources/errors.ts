/** Why a device source or openUsbms refused: what to open, or whether it is safe to. */
import { UsbmsArgumentError, UsbmsError } from '../util/errors.js';

/** Why openUsbms refused (the constructor argument; `code` is `OPEN_` + kind). */
export type UsbmsOpenErrorKind = 'NO_DEVICE_SELECTED' | 'BOTH_SELECTED' | 'MOUNTED' | 'IMAGE' | 'MOCK_SPEC';
/** @deprecated The old name of {@link UsbmsOpenErrorKind}; `UsbmsOpenError.code` is now the namespaced code. */
export type UsbmsOpenErrorCode = UsbmsOpenErrorKind;

/** A refusal of openUsbms itself (what to open, or whether it is safe to): code OPEN_*. */
export class UsbmsOpenError extends UsbmsError {
  override readonly name = 'UsbmsOpenError';
  declare readonly code: `OPEN_${UsbmsOpenErrorKind}`;
  constructor(readonly kind: UsbmsOpenErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(`OPEN_${kind}`, message, options);
  }
}

/** A rig description (src/sources/mock-rig.ts) that cannot be used: a caller's mistake (code ARG_INVALID). */
export class RigSpecError extends UsbmsArgumentError {
  override readonly name = 'RigSpecError';
}

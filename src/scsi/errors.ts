/**
 * Typed errors of the SCSI codec layer. A parameter or CDB that cannot be encoded faithfully is the caller's
 * mistake (code ARG_INVALID, with the precise `reason`); a device payload that cannot be trusted is a
 * ScsiDataError (code SCSI_DATA_SHORT or SCSI_DATA_INVALID). Callers branch on `code`, never on messages.
 */
import { UsbmsArgumentError, UsbmsError } from '../util/errors.js';

/** Why a parameter or CDB was refused. */
export type ScsiParamErrorCode =
  | 'SCSI_PARAM_RANGE'   // a value does not fit the field it goes into (e.g. READ(10) lba >= 2^32)
  | 'SCSI_PARAM_INVALID' // a combination the standard forbids (e.g. INQUIRY page code without EVPD)
  | 'SCSI_CDB_LENGTH'    // a CDB buffer shorter than the command's CDB length
  | 'SCSI_CDB_OPCODE';   // a CDB whose opcode/service action is not the command asked to decode it

/**
 * A command parameter or CDB that cannot be encoded/decoded faithfully (never silently truncated instead):
 * code ARG_INVALID, `reason` says which rule, `field` which field.
 */
export class ScsiParamError extends UsbmsArgumentError {
  override readonly name = 'ScsiParamError';
  constructor(
    readonly reason: ScsiParamErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message, { argument: field });
  }
}

/** Why a data-in payload was refused (these are also the error codes). */
export type ScsiDataErrorCode =
  | 'SCSI_DATA_SHORT'    // fewer bytes than the fixed part of the payload
  | 'SCSI_DATA_INVALID'; // bytes that contradict the format (wrong page code, impossible lengths)

/** A data-in payload from a device that cannot be decoded into a trustworthy value. */
export class ScsiDataError extends UsbmsError {
  override readonly name = 'ScsiDataError';
  declare readonly code: ScsiDataErrorCode;
  constructor(code: ScsiDataErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

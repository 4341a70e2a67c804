/**
 * Typed errors of the SCSI codec layer. Both carry a `code` so callers (disk driver, CLI) can branch on it
 * without parsing messages.
 */

export type ScsiParamErrorCode =
  | 'SCSI_PARAM_RANGE'   // a value does not fit the field it goes into (e.g. READ(10) lba >= 2^32)
  | 'SCSI_PARAM_INVALID' // a combination the standard forbids (e.g. INQUIRY page code without EVPD)
  | 'SCSI_CDB_LENGTH'    // a CDB buffer shorter than the command's CDB length
  | 'SCSI_CDB_OPCODE';   // a CDB whose opcode/service action is not the command asked to decode it

/** A command parameter or CDB that cannot be encoded/decoded faithfully. Never silently truncated instead. */
export class ScsiParamError extends RangeError {
  override readonly name = 'ScsiParamError';
  constructor(
    readonly code: ScsiParamErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export type ScsiDataErrorCode =
  | 'SCSI_DATA_SHORT'    // fewer bytes than the fixed part of the payload
  | 'SCSI_DATA_INVALID'; // bytes that contradict the format (wrong page code, impossible lengths)

/** A data-in payload from a device that cannot be decoded into a trustworthy value. */
export class ScsiDataError extends Error {
  override readonly name = 'ScsiDataError';
  constructor(
    readonly code: ScsiDataErrorCode,
    message: string,
  ) {
    super(message);
  }
}

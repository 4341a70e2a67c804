/**
 * Sense data as the disk driver needs it (key, ASC/ASCQ, INFORMATION) and the mapping from sense to a typed
 * DiskError. Decoding and the text come from the SCSI codec layer (src/scsi), so `usbms sense` and an error
 * message say the same thing as `sg_decode_sense`.
 */
import { decodeSense, formatSense } from '../scsi/index.js';
import {
  DiskError, DiskIllegalRequestError, DiskMediumError, DiskNoMediumError, DiskNotReadyError,
  DiskWriteProtectedError, type DiskSense,
} from './errors.js';

export const SENSE_KEY = {
  NO_SENSE: 0x0, RECOVERED_ERROR: 0x1, NOT_READY: 0x2, MEDIUM_ERROR: 0x3, HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5, UNIT_ATTENTION: 0x6, DATA_PROTECT: 0x7, BLANK_CHECK: 0x8, ABORTED_COMMAND: 0xb,
  MISCOMPARE: 0xe,
} as const;

/** Normalise fixed or descriptor sense. `raw` is kept as given (callers pass a copy they own). */
export function decodeDiskSense(raw: Buffer): DiskSense {
  const s = decodeSense(raw);
  return {
    key: s.senseKey, asc: s.asc, ascq: s.ascq,
    information: s.valid ? s.information : undefined,
    // One line: error messages and logs print it after a colon.
    raw, text: formatSense(s).trim().replace(/\s*\n\s*/g, '; '), decoded: s,
  };
}

/** The typed error for a CHECK CONDITION that is not retried (or whose retries ran out). */
export function errorForSense(sense: DiskSense, command: string, lba: bigint | undefined): DiskError {
  const message = `${command}${lba === undefined ? '' : ` at LBA ${lba}`}: ${sense.text}`;
  const opts = { sense, lba, status: 0x02 };
  switch (sense.key) {
    case SENSE_KEY.NOT_READY:
      return sense.asc === 0x3a ? new DiskNoMediumError(message, opts) : new DiskNotReadyError(message, opts);
    case SENSE_KEY.MEDIUM_ERROR:
      // The device names the failing block in INFORMATION; without it, the best we know is the command's LBA.
      return new DiskMediumError(message, { ...opts, lba: sense.information ?? lba });
    case SENSE_KEY.HARDWARE_ERROR:
      return new DiskError('hardware', message, { ...opts, lba: sense.information ?? lba });
    case SENSE_KEY.ILLEGAL_REQUEST:
      return new DiskIllegalRequestError(message, opts);
    case SENSE_KEY.DATA_PROTECT:
      return new DiskWriteProtectedError(message, opts);
    case SENSE_KEY.UNIT_ATTENTION:
      return new DiskError('unit-attention', message, opts);
    case SENSE_KEY.ABORTED_COMMAND:
      return new DiskError('aborted', message, opts);
    default:
      return new DiskError('check-condition', message, opts);
  }
}

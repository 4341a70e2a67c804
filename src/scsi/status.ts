/**
 * SCSI status byte names (SAM-5 5.3) and sg3_utils' exit statuses, so the CLI exits the way sg_* tools do.
 */
import { SenseKey } from './asc.js';
import type { SenseData } from './sense.js';

/** SCSI status byte values (SAM-5 5.3). */
export const ScsiStatus = {
  GOOD: 0x00, CHECK_CONDITION: 0x02, CONDITION_MET: 0x04, BUSY: 0x08, RESERVATION_CONFLICT: 0x18,
  TASK_SET_FULL: 0x28, ACA_ACTIVE: 0x30, TASK_ABORTED: 0x40,
} as const;

const STATUS_NAMES: Readonly<Record<number, string>> = {
  0x00: 'GOOD', 0x02: 'CHECK CONDITION', 0x04: 'CONDITION MET', 0x08: 'BUSY', 0x18: 'RESERVATION CONFLICT',
  0x28: 'TASK SET FULL', 0x30: 'ACA ACTIVE', 0x40: 'TASK ABORTED',
};

/** The name of a status byte, e.g. "CHECK CONDITION". */
export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `reserved status 0x${status.toString(16).padStart(2, '0')}`;
}

/** sg3_utils exit statuses (sg_lib.h SG_LIB_CAT_*, SG_LIB_*). */
export const ExitStatus = {
  OK: 0, SYNTAX_ERROR: 1, NOT_READY: 2, MEDIUM_HARD: 3, ILLEGAL_REQUEST: 5, UNIT_ATTENTION: 6, DATA_PROTECT: 7,
  INVALID_OP: 9, COPY_ABORTED: 10, ABORTED_COMMAND: 11, MISCOMPARE: 14, FILE_ERROR: 15, NO_SENSE: 20,
  RECOVERED: 21, LBA_OUT_OF_RANGE: 22, RESERVATION_CONFLICT: 24, CONDITION_MET: 25, BUSY: 26, TASK_SET_FULL: 27,
  ACA_ACTIVE: 28, TASK_ABORTED: 29, TIMEOUT: 33, TRANSPORT_ERROR: 35, PROTECTION: 40, MALFORMED: 97,
  OTHER_SENSE: 98, OTHER: 99,
} as const;

/** sg_err_category_sense(): the exit status for a CHECK CONDITION with this sense. */
export function exitStatusForSense(s: SenseData): number {
  if (s.malformed) return ExitStatus.MALFORMED;
  switch (s.senseKey) {
    case SenseKey.NO_SENSE: return ExitStatus.NO_SENSE;
    case SenseKey.RECOVERED_ERROR: return ExitStatus.RECOVERED;
    case SenseKey.NOT_READY: return ExitStatus.NOT_READY;
    case SenseKey.MEDIUM_ERROR: case SenseKey.HARDWARE_ERROR: case SenseKey.BLANK_CHECK: return ExitStatus.MEDIUM_HARD;
    case SenseKey.ILLEGAL_REQUEST:
      if (s.asc === 0x20 && s.ascq === 0x00) return ExitStatus.INVALID_OP;
      if (s.asc === 0x21 && s.ascq === 0x00) return ExitStatus.LBA_OUT_OF_RANGE;
      return ExitStatus.ILLEGAL_REQUEST;
    case SenseKey.UNIT_ATTENTION: return ExitStatus.UNIT_ATTENTION;
    case SenseKey.DATA_PROTECT: return ExitStatus.DATA_PROTECT;
    case SenseKey.COPY_ABORTED: return ExitStatus.COPY_ABORTED;
    // ASC 0x10 under ABORTED COMMAND is a protection information (DIF) failure: sg3_utils reports it apart.
    case SenseKey.ABORTED_COMMAND: return s.asc === 0x10 ? ExitStatus.PROTECTION : ExitStatus.ABORTED_COMMAND;
    case SenseKey.MISCOMPARE: return ExitStatus.MISCOMPARE;
    default: return ExitStatus.OTHER_SENSE;
  }
}

/** Exit status for a completed command's status byte (with its sense when CHECK CONDITION). */
export function exitStatusForStatus(status: number, sense?: SenseData): number {
  switch (status) {
    case ScsiStatus.GOOD: return ExitStatus.OK;
    case ScsiStatus.CHECK_CONDITION: return sense === undefined ? ExitStatus.OTHER_SENSE : exitStatusForSense(sense);
    case ScsiStatus.CONDITION_MET: return ExitStatus.CONDITION_MET;
    case ScsiStatus.BUSY: return ExitStatus.BUSY;
    case ScsiStatus.RESERVATION_CONFLICT: return ExitStatus.RESERVATION_CONFLICT;
    case ScsiStatus.TASK_SET_FULL: return ExitStatus.TASK_SET_FULL;
    case ScsiStatus.ACA_ACTIVE: return ExitStatus.ACA_ACTIVE;
    case ScsiStatus.TASK_ABORTED: return ExitStatus.TASK_ABORTED;
    default: return ExitStatus.OTHER;
  }
}

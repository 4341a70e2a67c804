/**
 * The UAS adversary's catalogue of lies, in the shape of the Bulk-Only one (faults.ts): where each strikes, and
 * whether the command it strikes signals failure in a way no spec-following host can miss (CHECK CONDITION with a
 * failing sense, a residue the host counts itself, a protocol violation, a timeout, a disconnect). Only those may
 * carry wrong data (`corrupts`); every other kind succeeds with the right data or fails without touching it.
 */
import type { FaultInfo } from './faults.js';

export const UAS_COMMAND_FAULTS = {
  // the COMMAND IU
  'iu-stall': { phase: 'cbw', corrupts: false, what: 'the COMMAND IU is stalled (not taken)' },
  'iu-hang': { phase: 'cbw', corrupts: false, what: 'the COMMAND IU is never taken (NAK until the host gives up)' },
  'ready-hang': { phase: 'cbw', corrupts: false, what: 'the command is taken, then nothing: no READY, no status' },
  'overlapped-tag': { phase: 'csw', corrupts: false, what: 'RESPONSE OVERLAPPED TAG ATTEMPTED instead of running it' },
  'task-set-full': { phase: 'csw', corrupts: false, what: 'status TASK SET FULL without running it' },
  'wrong-ready': { phase: 'data-in', corrupts: false, what: 'WRITE READY for a read (a data phase the wrong way)' },
  // data-in
  'in-short': { phase: 'data-in', corrupts: true, what: 'part of the data (short packet), status GOOD: the host counts the rest' },
  'in-short-check': { phase: 'data-in', corrupts: true, what: 'part of the data, CHECK CONDITION MEDIUM ERROR' },
  'in-stall': { phase: 'data-in', corrupts: true, what: 'part of the data, STALL data-in, status GOOD or MEDIUM ERROR' },
  'in-hang': { phase: 'data-in', corrupts: true, what: 'part of the data, then nothing' },
  'in-babble': { phase: 'data-in', corrupts: true, what: 'more data than the host asked for' },
  'in-stall-end': { phase: 'data-in', corrupts: false, what: 'all data, STALL data-in, a good status (legal; data intact)' },
  // status
  'status-hang': { phase: 'csw', corrupts: true, what: 'all data, then no status IU' },
  'status-dup': { phase: 'csw', corrupts: false, what: 'the status IU twice (the second names a free tag)' },
  'status-spurious': { phase: 'csw', corrupts: false, what: 'a status IU for a tag nothing holds, before the real one' },
  'status-bad-iu': { phase: 'csw', corrupts: true, what: 'an IU with an unknown IU ID for the tag, then the status' },
  'status-short-iu': { phase: 'csw', corrupts: true, what: 'a SENSE IU of 4..15 bytes' },
  'status-stall': { phase: 'csw', corrupts: false, what: 'the status pipe stalls once, then the good status (legal)' },
  // SCSI status with sense in the SENSE IU
  'chk-medium': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, MEDIUM ERROR 03/11/00 with the LBA' },
  'chk-hardware': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, HARDWARE ERROR 04/44/00' },
  'chk-aborted': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, ABORTED COMMAND 0B/00/06' },
  'chk-unit-attention': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, UNIT ATTENTION 06/29/00' },
  'chk-recovered': { phase: 'scsi', corrupts: false, what: 'CHECK CONDITION, RECOVERED ERROR 01/17/01, data intact (success)' },
  'chk-no-sense': { phase: 'scsi', corrupts: false, what: 'CHECK CONDITION with NO SENSE 00/00/00, data intact' },
  // the sense itself untrustworthy
  'sense-short': { phase: 'sense', corrupts: true, what: 'CHECK CONDITION, 8 bytes of RECOVERED-looking sense whose length says 10 more' },
  'sense-length-over': { phase: 'sense', corrupts: true, what: 'CHECK CONDITION, the IU claims 252 bytes of sense, 18 RECOVERED-looking ones come' },
  'sense-bad-code': { phase: 'sense', corrupts: true, what: 'CHECK CONDITION, response code 0x00 with RECOVERED in the key byte' },
  'sense-none': { phase: 'sense', corrupts: true, what: 'CHECK CONDITION with no sense bytes at all' },
  // data-out
  'out-stall': { phase: 'data-out', corrupts: false, what: 'takes part of the data, STALL data-out, MEDIUM ERROR; a prefix may land' },
  'out-cut': { phase: 'data-out', corrupts: false, what: 'takes part of the data, status GOOD; a prefix may land' },
  'out-check': { phase: 'data-out', corrupts: false, what: 'takes everything, a prefix lands, CHECK CONDITION write error' },
} as const satisfies Record<string, FaultInfo>;

export const UAS_CONTROL_FAULTS = {
  'tmf-hang': { phase: 'control', corrupts: false, what: 'a task management function is never answered' },
  'tmf-refuse': { phase: 'control', corrupts: false, what: 'a task management function is answered TMF FAILED' },
  'tmf-unsupported': { phase: 'control', corrupts: false, what: 'a task management function is answered TMF NOT SUPPORTED' },
  'clear-hang': { phase: 'control', corrupts: false, what: 'CLEAR_FEATURE(HALT) never answers (the OS times it out)' },
  'clear-fail': { phase: 'control', corrupts: false, what: 'CLEAR_FEATURE(HALT) fails and the halt stays' },
  'reset-fail': { phase: 'control', corrupts: false, what: 'the USB port reset fails' },
  'reset-gone': { phase: 'control', corrupts: false, what: 'the port reset re-enumerates the device: the port is gone' },
} as const satisfies Record<string, FaultInfo>;

export type UasCommandFault = keyof typeof UAS_COMMAND_FAULTS;
export type UasControlFault = keyof typeof UAS_CONTROL_FAULTS;
export type UasFaultKind = UasCommandFault | UasControlFault | 'unplug';

export const UAS_COMMAND_FAULT_KINDS = Object.keys(UAS_COMMAND_FAULTS) as UasCommandFault[];
export const UAS_CONTROL_FAULT_KINDS = Object.keys(UAS_CONTROL_FAULTS) as UasControlFault[];
export const ALL_UAS_FAULT_KINDS = [...UAS_COMMAND_FAULT_KINDS, ...UAS_CONTROL_FAULT_KINDS, 'unplug'] as UasFaultKind[];

/** Which command (by device command index) gets which lie, which control request fails, and where the plug goes. */
export interface UasFaultPlan {
  commands: Map<number, UasCommandFault>;
  controls: Map<number, UasControlFault>;
  unplug?: { at: number; phase: 'cbw' | 'data' | 'csw' } | undefined;
}

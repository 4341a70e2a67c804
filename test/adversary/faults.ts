/**
 * The adversary's catalogue of lies. Each kind says where it strikes and whether the command it strikes
 * *signals failure* in a way no spec-following host can miss (a CHECK CONDITION with a failing sense, a phase
 * error, a residue, an invalid CSW, a short count, a timeout, a disconnect). Only those may corrupt data:
 * `corrupts: true` means the device is allowed to send wrong bytes in that command's data phase. Every other
 * kind either succeeds with the right data (a lie the host must see through) or fails without touching it.
 */
export interface FaultInfo {
  readonly phase: 'cbw' | 'data-in' | 'data-out' | 'csw' | 'scsi' | 'sense' | 'control' | 'plug';
  /** May corrupt the data the same command returns (only when it signals failure). */
  readonly corrupts: boolean;
  readonly what: string;
}

export const COMMAND_FAULTS = {
  // CBW phase
  'cbw-hang': { phase: 'cbw', corrupts: false, what: 'the CBW is never accepted (NAK until the host times out)' },
  'cbw-stall': { phase: 'cbw', corrupts: false, what: 'the CBW transfer stalls bulk-out' },
  // data-in phase
  'in-short-stall': { phase: 'data-in', corrupts: true, what: 'part of the data, STALL, then a CSW (residue honest or 0)' },
  'in-short-lying': { phase: 'data-in', corrupts: true, what: 'a short data phase, CSW passed with residue 0' },
  'in-pad': { phase: 'data-in', corrupts: true, what: 'part of the data padded with junk to full length, residue says so' },
  'in-residue': { phase: 'data-in', corrupts: true, what: 'all bytes moved, CSW passed with a residue > 0' },
  'in-stall-no-csw': { phase: 'data-in', corrupts: true, what: 'part of the data, STALL, and no CSW ever' },
  'in-hang': { phase: 'data-in', corrupts: true, what: 'part of the data, then NAK forever' },
  'in-babble': { phase: 'data-in', corrupts: true, what: 'more data than asked for (overflow / junk where the CSW is due)' },
  'in-csw-early': { phase: 'data-in', corrupts: true, what: 'the CSW inside the data phase, then nothing' },
  'in-phase-error': { phase: 'data-in', corrupts: true, what: 'data, then CSW status 2' },
  'in-stall-end': { phase: 'data-in', corrupts: false, what: 'all data, STALL, then a good CSW (legal; data intact)' },
  // data-out phase
  'out-stall': { phase: 'data-out', corrupts: false, what: 'accepts part of the data, STALL OUT, failing CSW; a prefix may land' },
  'out-hang': { phase: 'data-out', corrupts: false, what: 'accepts part of the data, then NAK forever; a prefix may land' },
  'out-residue': { phase: 'data-out', corrupts: false, what: 'accepts everything, processes a prefix, CSW passed with residue' },
  'out-phase-error': { phase: 'data-out', corrupts: false, what: 'accepts everything, some lands, CSW status 2' },
  'out-check': { phase: 'data-out', corrupts: false, what: 'accepts everything, a prefix lands, CHECK CONDITION write error' },
  // CSW phase
  'csw-hang': { phase: 'csw', corrupts: true, what: 'data as asked, then no CSW' },
  'csw-stall-once': { phase: 'csw', corrupts: false, what: 'the CSW read stalls once, then the good CSW (legal)' },
  'csw-stall-twice': { phase: 'csw', corrupts: false, what: 'the CSW read stalls twice before the good CSW' },
  'csw-zlp': { phase: 'csw', corrupts: false, what: 'a zero-length packet before the good CSW (legal)' },
  'csw-zlp-twice': { phase: 'csw', corrupts: false, what: 'two zero-length packets before the good CSW' },
  'csw-short': { phase: 'csw', corrupts: true, what: 'a CSW of 1..12 bytes' },
  'csw-long': { phase: 'csw', corrupts: true, what: 'a CSW of 14..64 bytes (a good CSW followed by junk)' },
  'csw-bad-signature': { phase: 'csw', corrupts: true, what: 'a CSW with a wrong dCSWSignature' },
  'csw-wrong-tag': { phase: 'csw', corrupts: true, what: 'a CSW with a wrong dCSWTag' },
  'csw-residue-over': { phase: 'csw', corrupts: true, what: 'dCSWDataResidue > dCBWDataTransferLength (not meaningful)' },
  'csw-bad-status': { phase: 'csw', corrupts: true, what: 'bCSWStatus 3..255' },
  'csw-phase-error': { phase: 'csw', corrupts: true, what: 'CSW status 2 after a normal data phase' },
  'csw-duplicate': { phase: 'csw', corrupts: false, what: 'a good CSW, then the same CSW again (stale for the next command)' },
  // SCSI status (CHECK CONDITION with sense)
  'chk-medium': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, MEDIUM ERROR 03/11/00 with the LBA' },
  'chk-hardware': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, HARDWARE ERROR 04/44/00' },
  'chk-aborted': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, ABORTED COMMAND 0B/00/06' },
  'chk-unit-attention': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, UNIT ATTENTION 06/29/00' },
  'chk-not-ready': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, NOT READY 02/04/01 (becoming ready)' },
  'chk-descriptor': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION, descriptor-format MEDIUM ERROR sense' },
  'chk-recovered': { phase: 'scsi', corrupts: false, what: 'CHECK CONDITION, RECOVERED ERROR 01/17/01, data intact (success)' },
  'chk-no-sense': { phase: 'scsi', corrupts: false, what: 'CHECK CONDITION with NO SENSE 00/00/00, data intact' },
  'chk-no-sense-corrupt': { phase: 'scsi', corrupts: true, what: 'CHECK CONDITION with NO SENSE 00/00/00, READ data corrupted, a WRITE landed in part' },
  // the REQUEST SENSE after a CHECK CONDITION (the command itself fails and may be corrupted)
  'sense-padded': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE pads with RECOVERED-looking bytes, residue says none is valid' },
  'sense-padded-honest': { phase: 'sense', corrupts: true, what: 'a real MEDIUM ERROR sense then RECOVERED-looking padding, residue honest' },
  'sense-short': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE sends 8 bytes of RECOVERED sense whose additional length says 10 more' },
  'sense-stale': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE returns an old UNIT ATTENTION instead of this command\'s sense' },
  'sense-rs-check': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE itself ends CHECK CONDITION, its data RECOVERED-looking' },
  'sense-rs-phase': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE ends in phase error, its data RECOVERED-looking' },
  'sense-rs-stall': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE stalls at once, CSW passed with residue 0 (lying)' },
  'sense-rs-hang': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE never completes' },
  'sense-rs-bad-csw': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE gets RECOVERED-looking data and a wrong-tag CSW' },
  'sense-bad-code': { phase: 'sense', corrupts: true, what: 'sense with response code 0x00 and RECOVERED in the key byte' },
  'sense-none': { phase: 'sense', corrupts: true, what: 'REQUEST SENSE sends nothing (residue = allocation length)' },
} as const satisfies Record<string, FaultInfo>;

export const CONTROL_FAULTS = {
  'ctl-hang': { phase: 'control', corrupts: false, what: 'the control request (Mass Storage Reset, Get Max LUN) times out' },
  'ctl-stall': { phase: 'control', corrupts: false, what: 'the control request stalls' },
  'ctl-io': { phase: 'control', corrupts: false, what: 'the control request fails with an I/O error' },
  'clear-hang': { phase: 'control', corrupts: false, what: 'CLEAR_FEATURE(HALT) never answers (the OS times it out)' },
  'clear-fail': { phase: 'control', corrupts: false, what: 'CLEAR_FEATURE(HALT) fails and the halt stays' },
  'reset-fail': { phase: 'control', corrupts: false, what: 'the USB port reset fails' },
  'reset-hang': { phase: 'control', corrupts: false, what: 'the USB port reset takes until the OS gives up' },
  'reset-gone': { phase: 'control', corrupts: false, what: 'the port reset re-enumerates the device: the port is gone' },
  'maxlun-bogus': { phase: 'control', corrupts: false, what: 'Get Max LUN answers 0xA5' },
  'maxlun-empty': { phase: 'control', corrupts: false, what: 'Get Max LUN answers zero bytes' },
} as const satisfies Record<string, FaultInfo>;

export const PLUG_FAULTS = {
  unplug: { phase: 'plug', corrupts: false, what: 'surprise removal in the middle of a command (CBW, data or CSW phase)' },
} as const satisfies Record<string, FaultInfo>;

export type CommandFault = keyof typeof COMMAND_FAULTS;
export type ControlFault = keyof typeof CONTROL_FAULTS;
export type FaultKind = CommandFault | ControlFault | keyof typeof PLUG_FAULTS;

export const COMMAND_FAULT_KINDS = Object.keys(COMMAND_FAULTS) as CommandFault[];
export const CONTROL_FAULT_KINDS = Object.keys(CONTROL_FAULTS) as ControlFault[];
export const ALL_FAULT_KINDS = [...COMMAND_FAULT_KINDS, ...CONTROL_FAULT_KINDS, 'unplug'] as FaultKind[];

export function faultInfo(k: FaultKind): FaultInfo {
  return (COMMAND_FAULTS as Record<string, FaultInfo>)[k] ?? (CONTROL_FAULTS as Record<string, FaultInfo>)[k]
    ?? PLUG_FAULTS.unplug;
}

/** Which command (by device command index) gets which lie, which control request fails, and where the plug goes. */
export interface FaultPlan {
  commands: Map<number, CommandFault>;
  controls: Map<number, ControlFault>;
  /** Device command index at which the device vanishes, and in which phase. */
  unplug?: { at: number; phase: 'cbw' | 'data' | 'csw' } | undefined;
}

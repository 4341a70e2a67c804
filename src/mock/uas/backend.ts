/**
 * The SCSI side of the software disk's UAS function, as types only (so the device options can name it without
 * importing the function): the software disk's own target (target-backend.ts) or a recording (src/mock/replay).
 */

/** What the device intends for one command (filled by the SCSI backend, reused between commands). */
export interface UasPlan {
  direction: 'none' | 'in' | 'out';
  length: number;
  /** For 'in': the data, `length` bytes. */
  data: Buffer;
  /** The SCSI status byte: GOOD 0x00, CHECK CONDITION 0x02 ... */
  status: number;
  /** For 'out': where the data goes; its finish() says 0 (GOOD) or 1 (CHECK CONDITION). */
  sink: { accept(offset: number, chunk: Buffer): void; finish(received: number): 0 | 1 } | undefined;
  /** The device never ends this command (a recording whose status never came). */
  hang: boolean;
}

/**
 * The SCSI side the UAS function serves: the software disk's target and LUNs (src/mock/device.ts), or a recorded
 * device answering from a capture (src/mock/replay).
 */
export interface UasScsiBackend {
  /** Highest LUN; a command for a higher one is refused INCORRECT LUN. */
  readonly maxLun: number;
  /** The device's intent for `cdb` on `lun`, into `plan`. */
  execute(lun: number, cdb: Buffer, plan: UasPlan): void;
  /** The sense of the CHECK CONDITION `execute` or a sink just reported, into `dst` (then forgotten); its length. */
  takeSense(lun: number, dst: Buffer): number;
  /** The data-out phase ended before the device had all it wanted: the command fails with this sense. */
  writeCut(lun: number): void;
  /** LOGICAL UNIT RESET (or I_T NEXUS RESET) took effect on `lun`. */
  resetLun(lun: number): void;
}


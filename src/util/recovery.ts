/**
 * Recovery as it happens: each step the BOT engine (timeouts, clear halt, Mass Storage Reset, port reset), the UAS
 * transport (timeouts, ABORT TASK, LOGICAL UNIT RESET, I_T NEXUS RESET, clear halt, port reset) and the
 * disk driver (retries, waiting for a unit to become ready) take against a device that misbehaves, reported to an
 * optional sink as the step begins, so that a person watching a command on a hanging device is told what is being
 * waited for and for how long instead of seeing a frozen progress bar. Reporting only: a sink cannot change what
 * recovery does, and without one nothing is built (a healthy command never reaches these paths anyway).
 */

/** What recovery is doing. */
export type RecoveryStep =
  /** A command had no answer within its phase's timeout (BOT: the engine then runs Reset Recovery). */
  | 'timeout'
  /** CLEAR_FEATURE(ENDPOINT_HALT) on a bulk pipe. */
  | 'clear-halt'
  /** Bulk-Only Mass Storage Reset, the first step of Reset Recovery (BOT 1.0 §5.3.4). */
  | 'mass-storage-reset'
  /** USB port reset: the device re-enumerates (when Reset Recovery failed, or asked for). */
  | 'port-reset'
  /** UAS: ABORT TASK of one command's tag. */
  | 'abort-task'
  /** UAS: LOGICAL UNIT RESET (every command of the LUN ends). */
  | 'lun-reset'
  /** UAS: I_T NEXUS RESET (every command of the target ends). */
  | 'nexus-reset'
  /** The disk driver sends a failed command again: `attempt` of `attempts`. */
  | 'retry'
  /** NOT READY "becoming ready" (or in progress): the disk driver polls until the unit is ready. */
  | 'wait-ready'
  /** NOT READY "initializing command required": the disk driver sends START STOP UNIT (start). */
  | 'start-unit';

/** One recovery step as it begins. */
export interface RecoveryEvent {
  readonly step: RecoveryStep;
  /** What happened or what is done, in words ("READ(10) at LBA 2048 timed out", "data phase of tag 7"). */
  readonly detail: string;
  /** What the step now waits for, in words; undefined when it waits for nothing. */
  readonly waitingFor?: string | undefined;
  /** The longest it waits, in ms, when that is bounded. */
  readonly timeoutMs?: number | undefined;
  /** 'retry': which attempt this is (1 = the first retry) and how many retries are allowed. */
  readonly attempt?: number | undefined;
  readonly attempts?: number | undefined;
}

/** Where recovery steps are reported (an option of BotTransport.open, Disk.open and openUsbms). */
export type RecoverySink = (e: RecoveryEvent) => void;

/** A wait as people read it: "30 s", "1.5 s", "200 ms". */
export function formatWait(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`;
}

/**
 * What the rescue engine needs from the source device, and how it tells a bad block from a sick device.
 *
 * The engine only ever reads: the interface has no write at all, so nothing the engine does can reach the
 * source medium. Everything that makes the device answer again (resets, power, waiting for it to re-enumerate)
 * sits behind this interface too, so the engine is tested against software devices and runs unchanged on
 * hardware (session-device.ts).
 */
import { isDiskError } from '../../disk/index.js';

export interface RescueDevice {
  /** Logical block size in bytes (from READ CAPACITY). */
  readonly blockSize: number;
  readonly blocks: bigint;
  /** Who the device is, for messages: "f055:5b00 USBMS0001 (bus 1 port 2)". */
  readonly description: string;
  /** Read `blocks` blocks at `lba` into `into` (whole blocks); rejects with the disk driver's DiskError. */
  read(lba: bigint, blocks: number, into: Buffer): Promise<void>;
  /** TEST UNIT READY: does the unit answer at all? */
  testUnitReady(): Promise<void>;
  /** BOT Reset Recovery (Mass Storage Reset, clear both halts). True when it went through. */
  resetTarget(): Promise<boolean>;
  /** USB port reset (the device re-enumerates in place). True when it went through. */
  resetBus(): Promise<boolean>;
  /**
   * Switch the hub port's power off and on, when the hub can (per-port power switching); undefined when it
   * cannot or the platform gives no access. After it, `reopen` finds the device again.
   */
  readonly powerCycle: (() => Promise<boolean>) | undefined;
  /**
   * Wait up to `waitMs` for the SAME device (vendor, product, serial, and port path where known) to be present,
   * then open a fresh session and disk on it. False when it did not come back in time.
   */
  reopen(waitMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * - 'read-error': the device answered, with a CHECK CONDITION about this command (MEDIUM ERROR, ABORTED COMMAND
 *   as QEMU's blkdebug reports, HARDWARE ERROR...): the block is bad, the device is fine.
 * - 'device': no proper answer (timeout, transport failure, the unit not ready or busy): the device needs help
 *   before anything else can be read, and the block counts as failed.
 * - 'gone': the device disconnected.
 */
export type ReadFailure = 'read-error' | 'device' | 'gone';

export function classifyReadFailure(e: unknown): ReadFailure {
  if (!isDiskError(e)) throw e;
  switch (e.kind) {
    case 'device-gone':
      return 'gone';
    case 'timeout': case 'transport': case 'busy': case 'bad-response': case 'not-ready': case 'no-medium':
    case 'unit-attention':
      return 'device';
    case 'medium': case 'hardware': case 'check-condition': case 'illegal-request': case 'data-protect':
    case 'no-sense': // a false check condition on every try: the device's answer about this read
      return 'read-error';
    case 'aborted':
      // ABORTED COMMAND with sense is the device's verdict on this read; without sense the packet was aborted.
      return e.sense === undefined ? 'device' : 'read-error';
    case 'invalid-argument': case 'out-of-range': case 'closed': case 'read-only':
      throw e; // our own mistake, not the device's: never paper over it as a bad block
  }
}

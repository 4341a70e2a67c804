/**
 * The session and disk of one slot, and what may happen to them mid-plan: a Bulk-Only reset, a USB port reset,
 * a power cycle (the session is closed, the power switched, the same device waited for and opened again), a
 * step cut off by its timeout (the session is closed so that whatever it waits on fails), or the device vanishing.
 */
import { UsbmsError } from '../../util/errors.js';
import type { Disk } from '../../disk/index.js';
import type { UsbmsSession } from '../../open.js';
import type { ResetType } from './counterfeit.js';
import { describeKey, type RigDevice } from './device.js';

/** What went wrong with a device under test (the constructor argument; `code` is `RIG_` + kind). */
export type RigErrorKind = 'RESET_FAILED' | 'NO_POWER_SWITCH' | 'NOT_BACK' | 'NOT_OPEN' | 'TIMEOUT' | 'VANISHED';
/** @deprecated The old name of {@link RigErrorKind}; `RigError.code` is now the namespaced code. */
export type RigErrorCode = RigErrorKind;

/** A failure of the rig around the device (not of a SCSI command): which one is in `code`. */
export class RigError extends UsbmsError {
  override readonly name: string = 'RigError';
  constructor(readonly kind: RigErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(`RIG_${kind}`, message, options);
  }
}

export interface HandleOptions {
  lun?: number;
  allowWrite?: boolean;
  /** How long a power-cycled device is waited for, ms (default 30 000). */
  returnTimeoutMs?: number;
  /** NOT READY poll interval of the disk (tests make it short). */
  readyPollMs?: number;
}

export class DeviceHandle {
  private session: UsbmsSession | undefined;
  private current: Disk | undefined;
  private goneFlag = false;
  private unsubscribe: (() => void) | undefined;

  constructor(readonly device: RigDevice, private readonly opts: HandleOptions = {}) {}

  get lun(): number { return this.opts.lun ?? 0; }
  /** The device disconnected since the session was opened. */
  get gone(): boolean { return this.goneFlag; }
  get isOpen(): boolean { return this.current !== undefined; }

  get disk(): Disk {
    if (this.current === undefined) throw new RigError('NOT_OPEN', `${describeKey(this.device.key)}: no session open`);
    return this.current;
  }

  async open(): Promise<Disk> {
    await this.close();
    this.goneFlag = false;
    const session = await this.device.open();
    this.session = session;
    this.unsubscribe = session.port.onDisconnect(() => { this.goneFlag = true; });
    try {
      this.current = await session.openDisk(this.lun, {
        allowWrite: this.opts.allowWrite === true,
        ...(this.opts.readyPollMs === undefined ? {} : { readyPollMs: this.opts.readyPollMs }),
      });
    } catch (e) {
      await this.close();
      throw e;
    }
    return this.current;
  }

  /** Close the session; whatever waits on it fails (this is how a timed-out step is cut off). */
  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    this.current = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await s?.close().catch(() => undefined);
  }

  /** Reset the device the way `type` says; resolves with the disk to go on with. */
  async reset(type: ResetType, offMs = 1000): Promise<Disk> {
    const disk = this.disk;
    if (type === 'none') return disk;
    if (type === 'power') return this.powerCycle(offMs);
    const session = this.session;
    if (session === undefined) throw new RigError('NOT_OPEN', 'no session open');
    const ok = await session.reset(this.lun, type === 'bot' ? 'target' : 'bus');
    if (!ok) throw new RigError('RESET_FAILED', `${describeKey(this.device.key)}: ${type === 'bot' ? 'Bulk-Only' : 'USB port'} reset failed`);
    return disk;
  }

  get canPowerCycle(): boolean { return this.device.powerCycle !== undefined; }
  /** Why a power cycle cannot be done here (for a skipped step's reason). */
  get noPowerReason(): string {
    return this.device.powerOutOfReach ?? 'no per-port power switching for this slot';
  }

  /** Power off, on, wait for the same device, open it again. */
  async powerCycle(offMs = 1000): Promise<Disk> {
    const cycle = this.device.powerCycle?.bind(this.device);
    if (cycle === undefined) {
      throw new RigError('NO_POWER_SWITCH', `${describeKey(this.device.key)}: ${this.device.powerOutOfReach ??
        "nothing can switch this port's power (needs a hub with per-port power switching)"}`);
    }
    await this.close();
    await cycle(offMs);
    if (!(await this.device.waitForReturn(this.opts.returnTimeoutMs ?? 30_000))) {
      throw new RigError('NOT_BACK', `${describeKey(this.device.key)}: did not come back after the power cycle`);
    }
    return this.open();
  }
}

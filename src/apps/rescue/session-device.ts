/**
 * RescueDevice over a usbms session (src/open.ts): the disk driver reads, scsi_reset does the resets, and
 * re-opening goes through openUsbms again once the same device is back in its slot (sources.ts).
 */
import type { Disk, DiskOpenOptions } from '../../disk/index.js';
import type { UsbmsSession } from '../../open.js';
import { logger } from '../../util/log.js';
import type { RescueDevice } from './device.js';
import { sleep } from '../../util/sleep.js';

const log = logger('rescue', 'device');

/**
 * Where the device comes back from: its slot (port path + identity, src/usb/device-at-port.ts) on the backend the first
 * session was opened on (libusb, or the software hub of the mock).
 */
export interface SessionSource {
  /** VID:PID, serial and port path, for messages. */
  readonly description: string;
  /** A new session on the same device if it is present now, else undefined (the caller polls). */
  tryOpen(): Promise<UsbmsSession | undefined>;
  /** Port power off/on and wait for the device; false when the hub cannot switch that port. */
  powerCycle(waitMs: number): Promise<boolean>;
  /** How often tryOpen is polled while waiting, ms. */
  readonly pollMs: number;
}


export class SessionRescueDevice implements RescueDevice {
  readonly blockSize: number;
  readonly blocks: bigint;
  readonly powerCycle: (() => Promise<boolean>) | undefined;

  private constructor(private session: UsbmsSession, private disk: Disk, private readonly lun: number,
    private readonly diskOptions: DiskOpenOptions, private readonly source: SessionSource, powerWaitMs: number) {
    this.blockSize = disk.blockSize;
    this.blocks = disk.blocks;
    this.powerCycle = async () => {
      await this.dropSession();
      return source.powerCycle(powerWaitMs);
    };
  }

  /** Open LUN `lun` of the session (read-only: the disk is opened without allowWrite, so writes are refused). */
  static async open(session: UsbmsSession, lun: number, diskOptions: DiskOpenOptions, source: SessionSource,
    powerWaitMs: number): Promise<SessionRescueDevice> {
    const disk = await session.openDisk(lun, { ...diskOptions, allowWrite: false });
    return new SessionRescueDevice(session, disk, lun, diskOptions, source, powerWaitMs);
  }

  get description(): string { return this.source.description; }
  get mediumPresent(): boolean { return this.disk.mediumPresent; }

  async read(lba: bigint, blocks: number, into: Buffer): Promise<void> {
    await this.disk.read(lba, blocks, into);
  }

  testUnitReady(): Promise<void> { return this.disk.testUnitReady(); }

  resetTarget(): Promise<boolean> { return this.session.reset(this.lun, 'target'); }

  resetBus(): Promise<boolean> { return this.session.reset(this.lun, 'bus'); }

  async reopen(waitMs: number): Promise<boolean> {
    await this.dropSession();
    const deadline = Date.now() + waitMs;
    for (;;) {
      let session: UsbmsSession | undefined;
      try {
        session = await this.source.tryOpen();
      } catch (e) {
        log('reopen: %s', (e as Error).message);
      }
      if (session !== undefined) {
        const refused = await this.adopt(session);
        if (refused === undefined) return true;
        log('reopen refused: %s', refused);
        await session.close().catch(() => undefined);
      }
      if (Date.now() + this.source.pollMs > deadline) return false;
      await sleep(this.source.pollMs);
    }
  }

  /** Take a new session if the medium is the same (the slot checked the device's identity); the reason when not. */
  private async adopt(session: UsbmsSession): Promise<string | undefined> {
    let disk: Disk;
    try {
      disk = await session.openDisk(this.lun, { ...this.diskOptions, allowWrite: false });
    } catch (e) {
      return `LUN ${this.lun} does not open: ${(e as Error).message}`;
    }
    if (disk.blockSize !== this.blockSize || disk.blocks !== this.blocks) {
      return `the medium is now ${disk.blocks} blocks of ${disk.blockSize} bytes, was ${this.blocks} of ${this.blockSize}`;
    }
    this.session = session;
    this.disk = disk;
    log('re-opened %s', this.description);
    return undefined;
  }

  private async dropSession(): Promise<void> {
    await this.session.close().catch((e: unknown) => { log('close: %s', (e as Error).message); });
  }

  async close(): Promise<void> { await this.dropSession(); }
}

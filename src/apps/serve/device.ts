/**
 * The device behind the exports, across re-plugs: the open session and one Disk per served LUN, and what happens
 * when the stick goes away. A command that fails because the device vanished (DISK_GONE, or a transport failure
 * or timeout while its slot is empty or holds a new address) does not fail the NBD request: the link closes the
 * dead session, waits up to `timeoutMs` for the same device (VID:PID, serial, port: its DeviceAtPort) to come back,
 * opens it again, checks each LUN has the same size and block length, and the command runs again there. Every
 * request that meets the gap joins the same wait. A different device in the slot, or the same one with another
 * medium, is refused and the wait goes on; past the timeout the requests fail (EIO) and later ones fail at once
 * unless the device is back by then.
 */
import {
  DeviceMismatchError, DiskGoneError, isDiskError, UsbmsArgumentError, type DeviceAtPort, type Disk, type UsbmsSession,
} from '../../api.js';
import { sleep } from '../../util/sleep.js';
import { ServeError } from './errors.js';

/** How a lost device is found again: its slot, how to open a session there, how long to wait. */
export interface ReattachOptions {
  /** The port and identity of the device being served (DeviceAtPort.find on its backend). */
  readonly slot: DeviceAtPort;
  /** Open a new session on the slot's device (openUsbms with the slot's selector and `expect: slot.identity`). */
  open(slot: DeviceAtPort): Promise<UsbmsSession>;
  /** How long requests wait for the device to come back, ms. */
  readonly timeoutMs: number;
  /** How often the slot is looked at while waiting, ms (default 200). */
  readonly pollMs?: number | undefined;
}

/** What the link reports about the device (the server turns these into its events). */
export type LinkEvent =
  | { readonly type: 'replug'; readonly phase: 'gone'; readonly reason: string }
  | { readonly type: 'replug'; readonly phase: 'refused'; readonly reason: string }
  | { readonly type: 'replug'; readonly phase: 'back'; readonly waitedMs: number }
  | { readonly type: 'replug'; readonly phase: 'timeout'; readonly waitedMs: number };

export class DeviceLink {
  private readonly disks = new Map<number, Disk>();
  private waiting: Promise<void> | undefined;
  private lost = false;
  private closed = false;

  private constructor(private session: UsbmsSession, private readonly luns: readonly number[],
    private readonly allowWrite: boolean, private readonly reattach: ReattachOptions | undefined,
    private readonly emit: (e: LinkEvent) => void) {}

  /** Open every LUN of `luns` on `session` (the link owns the session from now on). */
  static async open(session: UsbmsSession, luns: readonly number[], allowWrite: boolean,
    reattach: ReattachOptions | undefined, emit: (e: LinkEvent) => void): Promise<DeviceLink> {
    const link = new DeviceLink(session, luns, allowWrite, reattach, emit);
    for (const lun of luns) link.disks.set(lun, await session.openDisk(lun, { allowWrite }));
    return link;
  }

  /** The session in use now (a new one after each re-plug). */
  get current(): UsbmsSession { return this.session; }

  /** The disk of `lun` as it is now (for its size and properties; commands go through run). */
  disk(lun: number): Disk {
    const d = this.disks.get(lun);
    if (d === undefined) throw new UsbmsArgumentError(`LUN ${lun} is not served`, { argument: 'lun' });
    return d;
  }

  /**
   * Run `command` on the disk of `lun`. When it fails because the device went away, wait for the device to come
   * back (see the module comment) and run it again there; any other failure is the command's.
   */
  async run<T>(lun: number, command: (disk: Disk) => Promise<T>): Promise<T> {
    for (;;) {
      if (this.waiting !== undefined) await this.waiting;
      else if (this.lost) await this.startWait('a request after the device was lost', true);
      const disk = this.disk(lun);
      try {
        return await command(disk);
      } catch (e) {
        if (this.closed) throw e;
        if (this.disk(lun) !== disk) continue; // the device came back meanwhile: run it again there
        if (!(await this.isGone(e, disk))) throw e;
        if (this.disk(lun) === disk) await this.startWait((e as Error).message, false);
      }
    }
  }

  /** The server is stopping: a wait for the device ends now (its requests fail), commands on the wire finish. */
  stop(): void { this.closed = true; }

  /** Close the disks and the session (the server is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    await this.session.close().catch(() => undefined); // closes its disks (SYNCHRONIZE CACHE when writable)
  }

  /** A failure that means the device is no longer there (not a failure of the command itself). */
  private async isGone(e: unknown, disk: Disk): Promise<boolean> {
    if (this.reattach === undefined || !isDiskError(e)) return false;
    // A disk closed under the command: its session was dropped because the device went away.
    if (e.kind === 'device-gone' || disk.closed) return true;
    if (e.kind !== 'transport' && e.kind !== 'timeout') return false;
    try {
      const row = await this.reattach.slot.current();
      return row === undefined || row.deviceAddress !== this.session.port.info.deviceAddress;
    } catch (err) {
      if (err instanceof DeviceMismatchError) return true;
      throw err;
    }
  }

  /** One wait for everyone: the first failing request starts it, the others join it. */
  private startWait(reason: string, quick: boolean): Promise<void> {
    this.waiting ??= this.waitBack(reason, quick).finally(() => { this.waiting = undefined; });
    return this.waiting;
  }

  private async waitBack(reason: string, quick: boolean): Promise<void> {
    const r = this.reattach;
    if (r === undefined) throw new DiskGoneError(reason);
    if (!quick) this.emit({ type: 'replug', phase: 'gone', reason });
    const started = Date.now();
    const deadline = quick ? started : started + r.timeoutMs;
    await this.session.close().catch(() => undefined); // closes its disks too
    const refused = new Set<string>();
    const refuse = (why: string): void => {
      if (refused.has(why)) return;
      refused.add(why);
      this.emit({ type: 'replug', phase: 'refused', reason: why });
    };
    for (;;) {
      if (this.closed) throw new DiskGoneError('the server is closing');
      const why = await this.tryAdopt(r).catch((e: unknown) => (e as Error).message);
      if (why === undefined) {
        this.lost = false;
        this.emit({ type: 'replug', phase: 'back', waitedMs: Date.now() - started });
        return;
      }
      if (why !== '') refuse(why);
      if (Date.now() >= deadline) {
        this.lost = true;
        if (!quick) this.emit({ type: 'replug', phase: 'timeout', waitedMs: Date.now() - started });
        throw new DiskGoneError(`the device did not come back within ${r.timeoutMs / 1000} s (${reason})`);
      }
      await sleep(r.pollMs ?? 200);
    }
  }

  /** Open the slot's device if it is there: undefined when adopted, '' when absent, else why it was refused. */
  private async tryAdopt(r: ReattachOptions): Promise<string | undefined> {
    try {
      if (await r.slot.current() === undefined) return '';
    } catch (e) {
      if (e instanceof DeviceMismatchError) return e.message;
      throw e;
    }
    const session = await r.open(r.slot);
    const disks = new Map<number, Disk>();
    try {
      for (const lun of this.luns) {
        const was = this.disk(lun);
        const d = await session.openDisk(lun, { allowWrite: this.allowWrite });
        disks.set(lun, d);
        if (d.blocks !== was.blocks || d.blockSize !== was.blockSize) {
          throw new ServeError('SERVE_OTHER_MEDIUM', `LUN ${lun} now holds ${d.blocks} blocks of ${d.blockSize} bytes, was ${was.blocks} of ` +
            `${was.blockSize}: another medium, refused`);
        }
      }
    } catch (e) {
      await session.close().catch(() => undefined);
      throw e;
    }
    this.session = session;
    for (const [lun, d] of disks) this.disks.set(lun, d);
    return undefined;
  }
}

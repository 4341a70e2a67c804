/**
 * What the two adversarial disks share, whatever protocol they speak (device.ts: Bulk-Only, uas-device.ts: UAS):
 * the physical device — its LUNs and media, the device clock, counters, the host's declared writes (the oracle's
 * STRAY-WRITE evidence), plugging in and out, and the device's own timers.
 */
import type { AltSettingInfo, PortInfo } from '../../src/usb/port.js';
import { BLOCK, claimedStamp, NOT_A_STAMP } from './medium.js';
import { AdversaryPort, type PortDevice } from './port.js';
import { Rng } from './prng.js';
import { Lun } from './target.js';
import type { DeviceConfig, DeviceCounters } from './device.js';

/**
 * Lies that break the adversary's own rule, for the oracle's self-test only: a READ that is corrupted while it
 * reports success, a write that also lands on the next block, a device that never answers again.
 */
export interface Sabotage {
  silentCorruption?: boolean;
  strayWrite?: boolean;
  deadAfterFaults?: boolean;
  /** A timer the device never clears (LEAK self-test; `clearSabotage` removes it). */
  leakTimer?: boolean;
  /** Control requests never answer, whatever their timeout, until the device is pulled (HANG self-test). */
  controlNeverAnswers?: boolean;
}

export abstract class AdversaryDisk implements PortDevice {
  readonly luns: Lun[];
  faultsOn = true;
  /** Device clock: one tick per block that lands on a medium. */
  clock = 0;
  readonly counters: DeviceCounters = {
    commands: 0, faults: {}, massStorageResets: 0, clearHalts: 0, portResets: 0, plugs: 0, corruptedCommands: 0,
  };
  /** Blocks written with content no host write to that block carries (STRAY-WRITE evidence). */
  readonly strays: string[] = [];
  /** Things the host did that the protocol forbids. */
  readonly protocol: string[] = [];
  sabotage: Sabotage = {};
  protected readonly rng: Rng;
  protected port: AdversaryPort | undefined;
  /** Called on unplug (control requests that wait for it). */
  protected readonly onUnplug: (() => void)[] = [];
  /** Per LUN, per LBA: write ids the host declared for that block (see expectWrite). */
  private readonly coverage: Map<number, Set<number>>[];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly config: DeviceConfig, rngSalt: number) {
    this.rng = new Rng(config.seed ^ rngSalt);
    this.luns = config.lunBlocks.map((b, i) => new Lun(i, b, config.descriptorSense));
    this.coverage = this.luns.map(() => new Map<number, Set<number>>());
  }

  abstract pump(port: AdversaryPort): void;
  abstract control(...args: Parameters<PortDevice['control']>): ReturnType<PortDevice['control']>;

  released(_port: AdversaryPort): void { /* the interface is free again; nothing to re-attach */ }

  /** A new port object for plug number n (the device is plugged in again), power-on unit attention. */
  protected plugIn(info: (plug: number) => PortInfo, altSettings?: readonly AltSettingInfo[]): AdversaryPort {
    if (this.port !== undefined && !this.port.gone && !this.port.closed) throw new Error('device is already plugged in');
    const n = ++this.counters.plugs;
    const port = new AdversaryPort(info(n), this, n, altSettings);
    if (this.config.uaOnReset) for (const l of this.luns) l.unitAttention = true;
    this.port = port;
    return port;
  }

  /** Surprise removal of whatever port is plugged in now. */
  unplug(): void {
    const p = this.port;
    for (const f of this.onUnplug.splice(0)) f();
    if (p === undefined || p.gone || p.closed) return;
    this.count('unplug');
    p.disconnect(this.config.goneListenersFirst);
  }

  get currentPort(): AdversaryPort | undefined { return this.port; }

  /** The host is about to write id `id` over these blocks (a write op of the schedule). */
  expectWrite(lun: number, lba: number, blocks: number, id: number): void {
    const m = this.coverage[lun]!;
    for (let i = 0; i < blocks; i++) {
      let s = m.get(lba + i);
      if (s === undefined) m.set(lba + i, (s = new Set([0])));
      s.add(id);
    }
  }

  /** Timers of the device itself still pending (its own LEAK accounting). */
  get pendingTimers(): number { return this.timers.size; }

  protected count(k: string): void { this.counters.faults[k] = (this.counters.faults[k] ?? 0) + 1; }

  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.timers.delete(t); resolve(); }, ms);
      this.timers.add(t);
    });
  }

  /** Put `blocks` blocks of `data` on `lun` from `lba` on, and note any block no host write declared. */
  protected land(lun: Lun, lba0: number, data: Buffer, blocks: number): void {
    for (let i = 0; i < blocks; i++) {
      const lba = lba0 + i;
      const src = data.subarray(i * BLOCK, (i + 1) * BLOCK);
      const id = lun.medium.write(lba, src, ++this.clock);
      if (this.sabotage.strayWrite === true && lba + 1 < lun.blocks) lun.medium.write(lba + 1, src, ++this.clock);
      const declared = this.coverage[lun.index]!.get(lba);
      if (id === NOT_A_STAMP || declared === undefined || !declared.has(id)) {
        const c = claimedStamp(src);
        this.strays.push(`LUN ${lun.index} LBA ${lba}: got ${c === undefined ? 'unstamped data'
          : `the stamp of write ${c.id} for LUN ${c.lun} LBA ${c.lba}`}${id === NOT_A_STAMP && c !== undefined ? ' (body differs)' : ''}`);
      }
    }
  }
}

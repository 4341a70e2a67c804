/**
 * Finite HBA resources (packets, bytes of DMA memory bound or allocated) and the three ways a target driver
 * may wait for them (scsi_init_pkt(9F)): NULL_FUNC fails at once, SLEEP_FUNC waits (a Promise), and a callback
 * function is queued and called when resources may have been freed: it returns 0 to stay queued, 1 when done.
 * Callbacks run from setImmediate, never inside the caller that freed the resources, and a throwing callback
 * is logged and dropped: it can neither block the HBA nor break the caller.
 */
import { logger } from '../util/log.js';
import type { ResourceCallback } from './types.js';

const log = logger('hba', 'resources');

/** The budget scsi_hba_attach_setup gives an HBA: packets allocated at once, and bytes of DMA memory bound at once. */
export interface ResourceLimits {
  /** Packets between scsi_init_pkt and scsi_destroy_pkt at any one time. */
  maxPackets: number;
  /** Bytes bound for DMA (and consistent memory allocated) at any one time. */
  maxDmaBytes: number;
}

/** The HBA's budget of packets and DMA bytes in flight; callers that find it short wait or get null (NULL_FUNC). */
export class ResourcePool {
  packets = 0;
  dmaBytes = 0;
  private readonly callbacks: { fn: ResourceCallback; arg: unknown }[] = [];
  private sleepers: (() => void)[] = [];
  private drainScheduled = false;

  constructor(readonly limits: ResourceLimits) {}

  /** Take one packet from the budget; false when none is left. */
  takePacket(): boolean {
    if (this.packets >= this.limits.maxPackets) return false;
    this.packets++;
    return true;
  }

  /** Give a packet back and wake a waiter. */
  releasePacket(): void {
    this.packets--;
    this.freed();
  }

  /** Take `bytes` of DMA budget; false when they do not fit now. */
  takeDma(bytes: number): boolean {
    if (this.dmaBytes + bytes > this.limits.maxDmaBytes) return false;
    this.dmaBytes += bytes;
    return true;
  }

  /** Give `bytes` of DMA budget back and wake a waiter. */
  releaseDma(bytes: number): void {
    if (bytes === 0) return;
    this.dmaBytes -= bytes;
    this.freed();
  }

  /** A SLEEP_FUNC caller: resolves the next time resources are freed (then it tries again). */
  waitForRelease(): Promise<void> {
    return new Promise((resolve) => this.sleepers.push(resolve));
  }

  /**
   * A callback-function caller: remembered until it returns 1. Queued once per (function, argument), as
   * ddi_set_callback does: a callback that retries scsi_init_pkt with itself and fails again must not end up in
   * the queue twice (and then four times, ...).
   */
  enqueueCallback(fn: ResourceCallback, arg: unknown): void {
    if (!this.queued(fn, arg)) this.callbacks.push({ fn, arg });
  }

  private queued(fn: ResourceCallback, arg: unknown): boolean {
    return this.callbacks.some((c) => c.fn === fn && c.arg === arg);
  }

  /** Callers waiting for resources. */
  get waiting(): number {
    return this.callbacks.length + this.sleepers.length;
  }

  private freed(): void {
    if (this.drainScheduled || (this.callbacks.length === 0 && this.sleepers.length === 0)) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  /** Each waiter gets one chance per release; those that fail again wait for the next one. */
  private drain(): void {
    this.drainScheduled = false;
    const sleepers = this.sleepers;
    this.sleepers = [];
    for (const wake of sleepers) wake();
    const round = this.callbacks.splice(0, this.callbacks.length);
    for (const cb of round) {
      let r: number;
      try {
        r = cb.fn(cb.arg);
        if (r !== 0 && r !== 1) log('resource callback returned %O, not 0 or 1: dropped', r);
      } catch (err) {
        log('resource callback threw, dropped: %O', err);
        continue;
      }
      // Anything but 0 (1, or a misbehaving return value) ends the registration; 0 asks for another chance.
      if (r === 0 && !this.queued(cb.fn, cb.arg)) this.callbacks.push(cb);
    }
  }
}

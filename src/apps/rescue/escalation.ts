/**
 * The escalation ladder: what to do when the device stops answering properly, mildest first, each rung proven
 * by a health check before the rescue goes on:
 *
 * 1. BOT Reset Recovery (the class reset: the stick's firmware drops the command it is stuck in);
 * 2. USB port reset (the device re-enumerates in place; its state is lost, its identity kept);
 * 3. port power cycle, where the hub switches per-port power (a flash controller wedged beyond any reset);
 * 4. waiting for the same device to come back (unplugged, or re-enumerated after the power cycle).
 *
 * A disconnected device skips the resets (nothing can be sent to it) and goes to the power cycle and waiting. When no rung
 * brings it back the rescue stops with `RescueDeviceLostError`; the caller saves the mapfile.
 */
import { UsbmsError } from '../../util/errors.js';
import { logger } from '../../util/log.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';
import type { RescueDevice } from './device.js';
import type { EscalationRecord, EscalationStep } from './events.js';

const log = logger('rescue', 'escalation');

export class RescueDeviceLostError extends UsbmsError {
  override readonly name = 'RescueDeviceLostError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('RESCUE_DEVICE_LOST', message, options); }
}

/** A stop was asked for (SIGINT) while the ladder was being climbed (code RESCUE_INTERRUPTED). */
export class RescueInterruptedError extends UsbmsError {
  override readonly name = 'RescueInterruptedError';
  constructor(message: string, options: { cause?: unknown } = {}) { super('RESCUE_INTERRUPTED', message, options); }
}

export interface LadderOptions {
  /** How long rung 4 (and the return after a power cycle) waits for the device, ms. */
  readonly waitDeviceMs: number;
  /** Proves the device works again: resolves true when it does. Never throws. */
  readonly healthy: () => Promise<boolean>;
  readonly onRecord: (r: EscalationRecord) => void;
  /** Polled between rungs: true gives up climbing (the caller stops the run). */
  readonly stopRequested?: () => boolean;
}

const LADDER_OPTION_KEYS = { waitDeviceMs: true, healthy: true, onRecord: true, stopRequested: true } as const satisfies KnownKeys<LadderOptions>;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Climb until the device is healthy. `gone` starts at the waiting rung. Resolves with the rung that worked;
 * rejects with RescueDeviceLostError when none did.
 */
export async function escalate(dev: RescueDevice, reason: string, pos: bigint, gone: boolean, o: LadderOptions)
  : Promise<EscalationStep> {
  rejectUnknownKeys(o, LADDER_OPTION_KEYS, 'escalate options');
  const rungs: { step: EscalationStep; run: () => Promise<string> }[] = [];
  if (!gone) {
    rungs.push({ step: 'bot-reset', run: async () => (await dev.resetTarget() ? 'Reset Recovery done' : 'Reset Recovery failed') });
    rungs.push({ step: 'port-reset', run: async () => (await dev.resetBus() ? 'port reset done' : 'port reset failed') });
  }
  // A device that fell off the bus by itself may be a crashed controller: power is worth a try for it too.
  const power = dev.powerCycle;
  if (power !== undefined) {
    rungs.push({ step: 'power-cycle', run: async () => {
      const cycled = await power();
      if (!cycled) return 'the hub refused to switch the port power';
      const back = await dev.reopen(o.waitDeviceMs);
      return back ? 'port power cycled, device re-opened' : 'port power cycled, device did not come back';
    } });
  } else {
    log('no port power control for %s: rung skipped', dev.description);
  }
  rungs.push({ step: 'wait-reconnect', run: async () => {
    const back = await dev.reopen(o.waitDeviceMs);
    return back ? `the same device is back (${dev.description})` : `the device did not come back within ${o.waitDeviceMs / 1000} s`;
  } });

  for (const rung of rungs) {
    if (o.stopRequested?.() === true) throw new RescueInterruptedError('interrupted while the device was being recovered');
    const started = Date.now();
    let detail: string;
    let ok = false;
    try {
      detail = await rung.run();
      ok = await o.healthy();
      if (!ok) detail += '; the device still does not answer';
    } catch (e) {
      detail = `${rung.step} failed: ${message(e)}`;
    }
    const record: EscalationRecord = { step: rung.step, ok, reason, detail, pos, ms: Date.now() - started };
    log('%s at %d: %s (%s)', rung.step, pos, ok ? 'recovered' : 'not recovered', detail);
    o.onRecord(record);
    if (ok) return rung.step;
  }
  throw new RescueDeviceLostError(`${dev.description} stopped answering (${reason}) and no reset, power cycle or wait ` +
    'brought it back');
}

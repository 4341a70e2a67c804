/**
 * Control-pipe side of BOT: Get Max LUN with its fallbacks, and Reset Recovery in the order BOT 1.0 §5.3.4
 * prescribes (Mass Storage Reset, Clear Feature HALT bulk-in, then bulk-out), with a USB port reset as the last
 * resort when any step fails.
 */
import { isUsbError } from '../usb/errors.js';
import type { ControlSetup, UsbPort } from '../usb/port.js';
import { logger } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import type { RecoverySink } from '../util/recovery.js';
import type { Quirks } from '../quirks/index.js';
import { BOT_MAX_LUN, BOT_REQUEST, BOT_REQUEST_TYPE } from '../usb/wire/bot.js';

const log = logger('bot');

/** bRequest of Bulk-Only Mass Storage Reset (src/usb/wire/bot.ts). */
export const BOMSR_REQUEST = BOT_REQUEST.MASS_STORAGE_RESET;
/** bRequest of Get Max LUN (src/usb/wire/bot.ts). */
export const GET_MAX_LUN_REQUEST = BOT_REQUEST.GET_MAX_LUN;
const CLASS_INTERFACE_OUT = BOT_REQUEST_TYPE.OUT;
const CLASS_INTERFACE_IN = BOT_REQUEST_TYPE.IN;
/** The highest LUN Get Max LUN may report; a larger answer is taken as 0 (Linux usb-storage). */
export const MAX_LUN_LIMIT = BOT_MAX_LUN;

export function massStorageResetSetup(interfaceNumber: number): ControlSetup {
  return { bmRequestType: CLASS_INTERFACE_OUT, bRequest: BOMSR_REQUEST, wValue: 0, wIndex: interfaceNumber };
}

export function getMaxLunSetup(interfaceNumber: number): ControlSetup {
  return { bmRequestType: CLASS_INTERFACE_IN, bRequest: GET_MAX_LUN_REQUEST, wValue: 0, wIndex: interfaceNumber };
}

/**
 * Highest LUN. Every doubtful answer means 0 (a single-LUN device may STALL the request; an answer above 15 is
 * nonsense, Linux takes it as 0 too). Only a disconnect is thrown, since nothing else can work after it.
 */
export async function queryMaxLun(port: UsbPort, quirks: Quirks, timeoutMs: number): Promise<number> {
  if (quirks.singleLun || quirks.noGetMaxLun) {
    log('Get Max LUN not sent (%s): max LUN 0', quirks.singleLun ? 'SINGLE_LUN' : 'NO_GET_MAX_LUN');
    return 0;
  }
  let answer: Buffer;
  try {
    answer = await port.controlIn(getMaxLunSetup(port.info.interfaceNumber), 1, timeoutMs);
  } catch (e) {
    if (isUsbError(e, 'NO_DEVICE')) throw e;
    if (isUsbError(e, 'STALL')) log('Get Max LUN stalled: single-LUN device, max LUN 0');
    else log('Get Max LUN failed (%s): assuming max LUN 0', e instanceof Error ? e.message : String(e));
    return 0;
  }
  const lun = answer[0];
  if (lun === undefined) {
    log('Get Max LUN returned no data: max LUN 0');
    return 0;
  }
  if (lun > MAX_LUN_LIMIT) {
    log('Get Max LUN answered %d (> 15): max LUN 0', lun);
    return 0;
  }
  log('max LUN %d', lun);
  return lun;
}

export interface RecoveryTimeouts {
  readonly controlMs: number;
  readonly resetDelayMs: number;
}

/**
 * Reset Recovery. Resolves true when the device is back (by BOT reset or by port reset), false when even the
 * port reset failed. Rejects only with UsbDeviceGoneError. No transfer of ours may be in flight when called.
 */
export async function resetRecovery(port: UsbPort, t: RecoveryTimeouts, report?: RecoverySink, why = 'asked for')
  : Promise<boolean> {
  try {
    report?.({ step: 'mass-storage-reset', detail: `Reset Recovery (${why}): Bulk-Only Mass Storage Reset`,
      waitingFor: 'the device to accept it', timeoutMs: t.controlMs });
    await port.controlOut(massStorageResetSetup(port.info.interfaceNumber), undefined, t.controlMs);
    // Some bridges answer control requests but are still resetting (RESET_DELAY quirk).
    if (t.resetDelayMs > 0) await sleep(t.resetDelayMs);
    for (const pipe of ['in', 'out'] as const) {
      report?.({ step: 'clear-halt', detail: `clear halt of bulk-${pipe}`, waitingFor: 'the device to accept it' });
      await port.clearHalt(pipe);
    }
    log('reset recovery done (mass storage reset, clear halt in, clear halt out)');
    return true;
  } catch (e) {
    if (isUsbError(e, 'NO_DEVICE')) throw e;
    log('reset recovery failed (%s): trying a port reset', e instanceof Error ? e.message : String(e));
  }
  return portResetOnly(port, report, 'Reset Recovery failed: USB port reset');
}

/** USB port reset. true = the device is back; false = it failed. Rejects only with UsbDeviceGoneError. */
export async function portResetOnly(port: UsbPort, report?: RecoverySink, detail = 'USB port reset'): Promise<boolean> {
  try {
    report?.({ step: 'port-reset', detail, waitingFor: 'the device to re-enumerate' });
    await port.resetDevice();
    log('port reset done');
    return true;
  } catch (e) {
    if (isUsbError(e, 'NO_DEVICE')) throw e;
    log('port reset failed (%s): device unusable until replugged', e instanceof Error ? e.message : String(e));
    return false;
  }
}

/**
 * Opening UAS on a port: find the UAS alternate setting and its four pipes, refuse what node-usb 2 cannot run
 * (SuperSpeed, where UAS needs bulk streams), select the setting, and ask the device for its LUNs.
 */
import type { AltSettingInfo, UsbPort, UsbSpeed } from '../usb/port.js';
import { isUsbError } from '../usb/errors.js';
import { UAS_INTERFACE_PROTOCOL } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import { UasError } from './errors.js';
import { scanLuns } from './lun-scan.js';
import { effectiveUasTimeouts, UAS_OPTION_KEYS, UAS_TIMEOUT_KEYS, type UasOptions } from './options.js';
import { rejectUnknownKeys } from '../util/options.js';
import { findUasPipes } from './pipes.js';
import { UasTransport } from './transport.js';

const log = logger('uas', 'open');

/** Why UAS cannot run at `speed` here, or undefined when it can (high speed and below: no streams needed). */
export function uasSpeedProblem(speed: UsbSpeed): string | undefined {
  if (speed !== 'super' && speed !== 'super-plus') return undefined;
  return `UAS at SuperSpeed needs USB 3 bulk streams (one stream per command), and node-usb 2 (libusb's ` +
    `libusb_alloc_streams) exposes none`;
}

/** The UAS alternate setting of the port's interface, if it has one. */
export function uasAltSetting(port: UsbPort): AltSettingInfo | undefined {
  return port.altSettings?.find((a) => a.interfaceProtocol === UAS_INTERFACE_PROTOCOL);
}

/**
 * Open the UAS transport on `port` (its interface claimed, in any setting): select the UAS setting with its pipes
 * bound, and find the LUNs.
 * @throws UasError 'unsupported' (no UAS setting, pipes not named, SuperSpeed); 'device-gone'.
 */
export async function openUasTransport(port: UsbPort, opts: UasOptions = {}): Promise<UasTransport> {
  rejectUnknownKeys(opts, UAS_OPTION_KEYS, 'openUasTransport options');
  rejectUnknownKeys(opts.timeouts, UAS_TIMEOUT_KEYS, 'openUasTransport options.timeouts');
  const speedProblem = uasSpeedProblem(port.info.speed);
  if (speedProblem !== undefined) throw new UasError('unsupported', 'open', speedProblem);
  const alt = uasAltSetting(port);
  if (alt === undefined) {
    throw new UasError('unsupported', 'open', 'the interface offers no UAS (protocol 0x62) alternate setting');
  }
  const pipes = findUasPipes(alt);
  if (!pipes.ok) throw new UasError('unsupported', 'open', `the UAS setting's pipes cannot be found: ${pipes.why}`);
  const bound = port.info.endpoints;
  const already = port.info.alternateSetting === alt.alternateSetting && bound.status === pipes.binding.status &&
    bound.command === pipes.binding.command && bound.in === pipes.binding.in && bound.out === pipes.binding.out;
  if (!already) {
    if (port.selectAltSetting === undefined) {
      throw new UasError('unsupported', 'open', 'this port cannot select the UAS alternate setting');
    }
    try {
      await port.selectAltSetting(alt.alternateSetting, pipes.binding, effectiveUasTimeouts(opts).controlMs);
    } catch (e) {
      const kind = isUsbError(e, 'NO_DEVICE') ? 'device-gone' : 'transport';
      throw new UasError(kind, 'open', `SET_INTERFACE to the UAS setting ${alt.alternateSetting} failed`, { cause: e });
    }
  }
  const tr = new UasTransport(port, opts);
  await scanLuns(tr);
  log('open: setting %d, command 0x%s status 0x%s data-in 0x%s data-out 0x%s, mps %d, queue depth %d, %d LUN(s)',
    alt.alternateSetting, hex(pipes.binding.command), hex(pipes.binding.status), hex(pipes.binding.in),
    hex(pipes.binding.out), tr.maxPacketSize, tr.queueDepth, tr.maxLun + 1);
  return tr;
}

const hex = (n: number | undefined): string => (n ?? 0).toString(16);

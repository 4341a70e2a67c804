/**
 * `usbms power off|on|cycle|status --device PORT`: switch the power of a hub port (SET/CLEAR_FEATURE PORT_POWER
 * on its parent hub, as uhubctl does) and wait for the device there to be gone and back, the same device (VID:PID
 * and serial) or an error. A hub that cannot switch that port alone is refused, never a silent no-op, and so is a
 * device attached through USB/IP (its hub is on another host: the refusal says to run `usbms power` there).
 */
import type { Argv } from 'yargs';
import {
  DeviceAtPort, formatPortPath, hex4, parseDeviceSelector, portStatus, remotePowerError, selectOne, setPortPower,
  usbipNameOf, waitForArrival, type DeviceListing, type PortLocation, type UsbBackend,
} from '../../../api.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { info, out, printJson, run, sourceOf, type GlobalArgs } from '../context.js';

type Action = 'off' | 'on' | 'cycle' | 'status';
interface PowerArgs extends GlobalArgs { action: Action; 'off-ms': number; 'wait-ms': number }

/** The device at the port, as the JSON result names it. */
interface PortDevice { vendorId: string; productId: string; serial: string | null; address: number }

function deviceOf(d: DeviceListing | undefined): PortDevice | null {
  return d === undefined ? null : { vendorId: hex4(d.vendorId), productId: hex4(d.productId),
    serial: d.serialNumber ?? null, address: d.deviceAddress };
}

type PowerResult = Record<string, string | number | boolean | PortDevice | null>;

/** The JSON result's keys as people read them: each line labelled, a device as words, times with their unit. */
const LABELS: Readonly<Record<string, string>> = {
  port: 'port', action: 'action', powered: 'port powered', connected: 'device connected', device: 'device',
  addressBefore: 'address before', addressAfter: 'address after', offMs: 'time off', ms: 'took',
};

function deviceText(d: PortDevice): string {
  return `${d.vendorId}:${d.productId}${d.serial === null ? '' : ` serial ${d.serial}`} address ${d.address}`;
}

function powerText(result: Readonly<PowerResult>): string {
  return Object.entries(result).map(([k, v]) => {
    const text = v === null ? (k === 'device' ? 'none' : 'unknown')
      : typeof v === 'boolean' ? (v ? 'yes' : 'no')
        : typeof v === 'object' ? deviceText(v)
          : k === 'ms' || k === 'offMs' ? `${v} ms` : String(v);
    return `${LABELS[k] ?? k}: ${text}`;
  }).join('\n');
}

function checkMs(v: number, what: string, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new CliError(`--${what} ${v} is not 0..${max} ms`);
  return v;
}

/** The port `--device` names: a port path as given, or the port of the device another selector names. */
async function portOf(backend: UsbBackend, device: string | undefined): Promise<PortLocation> {
  if (device === undefined) throw new CliError('usbms power needs --device PORT (a port path such as 1-2.3; see usbms list)');
  const sel = parseDeviceSelector(device);
  if (sel.kind === 'port') return sel;
  return selectOne(sel, await backend.list());
}

async function power(a: PowerArgs): Promise<number> {
  const offMs = checkMs(a['off-ms'], 'off-ms', 600_000);
  const waitMs = checkMs(a['wait-ms'], 'wait-ms', 600_000);
  const { backend } = await sourceOf(a);
  const location = await portOf(backend, a.device);
  const port = formatPortPath(location);
  const present = (await backend.list()).find((d) => formatPortPath(d) === port);
  // A device attached through USB/IP: its hub is on the exporting host (the vhci root hub here has no power).
  const remote = present === undefined ? undefined : usbipNameOf(present);
  if (remote !== undefined) throw remotePowerError(location, remote);
  const slot = present === undefined ? undefined : DeviceAtPort.of(backend, {
    busNumber: location.busNumber, portNumbers: location.portNumbers, vendorId: present.vendorId,
    productId: present.productId, serialNumber: present.serialNumber });
  const t0 = Date.now();
  let result: PowerResult;
  switch (a.action) {
    case 'status': {
      const s = await portStatus(backend, location);
      result = { port, powered: s.powered, connected: s.connected, device: deviceOf(present) };
      break;
    }
    case 'off':
      if (slot !== undefined) await slot.powerOff({ timeoutMs: waitMs });
      else await setPortPower(backend, location, false);
      result = { port, action: 'off', device: deviceOf(present), ms: Date.now() - t0 };
      break;
    case 'on': {
      await setPortPower(backend, location, true);
      const back = slot !== undefined ? await slot.waitBack({ timeoutMs: waitMs })
        : await waitForArrival(backend, location, { timeoutMs: waitMs });
      result = { port, action: 'on', device: deviceOf(back), ms: Date.now() - t0 };
      break;
    }
    case 'cycle': {
      if (slot === undefined) throw new CliError(`no mass-storage device at ${port} to power-cycle (usbms list shows them)`, 'USB_NOT_FOUND');
      info(`usbms: power cycling ${slot.toString()} (${offMs} ms off)`);
      const back = await slot.powerCycle({ offMs, timeoutMs: waitMs });
      result = { port, action: 'cycle', device: deviceOf(back), addressBefore: present?.deviceAddress ?? null,
        addressAfter: back.deviceAddress, offMs, ms: Date.now() - t0 };
      break;
    }
  }
  if (a.json) printJson(result);
  else out(powerText(result));
  return EXIT.OK;
}

export function registerPowerCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('power <action>', 'switch a hub port\'s power (uhubctl-style) and wait for its device', (b) => withExamples(b, 'power')
    .positional('action', { choices: ['off', 'on', 'cycle', 'status'] as const, describe: 'what to do with the port' })
    .option('off-ms', { type: 'number', default: 1000, describe: 'cycle: how long the port stays off once the device is gone (ms)' })
    .option('wait-ms', { type: 'number', default: 15000, describe: 'how long to wait for the device to go and come back (ms)' }),
  (a) => run(() => power(a as unknown as PowerArgs)));
}

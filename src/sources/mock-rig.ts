/**
 * Rigs of software disks: a MockBackend with software hubs (per-port power switching) and devices plugged in at
 * port paths on bus 0 (no Linux host has one), so plans, reports, power cycles and vanishing devices are tried
 * (and tested) exactly as on hardware.
 *
 * - `{ kind: 'mock', devices }` (`--mock A.json --mock B.img ...`, ./mock.ts): a hub at `0-1`, the devices at
 *   `0-1.1`, `0-1.2`, ... in order;
 * - `usbms validate --rig RIG.json`: `{ "devices": [{ "port": "0-1.2", "mock": "dev.json" }, { "port": "0-1.3",
 *   "personality": "cached-counterfeit", "serial": "CC1" }] }`, paths relative to the rig file; the hubs the port
 *   paths need are added (7 ports each).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MockBackend } from '../mock/backend.js';
import { createPersonality, PERSONALITY_IDS, type MockUsbDevice, type PersonalityName } from '../mock/index.js';
import { rejectUnknownKeys } from '../util/options.js';
import { RigSpecError } from './errors.js';
import { mockFromFile } from './mock-file.js';

/** The keys of a rig description and of each of its devices. */
const RIG_SPEC_KEYS = { devices: true } as const;
const RIG_DEVICE_KEYS = { port: true, mock: true, personality: true, serial: true } as const;

/** Ports of each software hub. */
export const HUB_PORTS = 7;
const PORT_PATH = /^(\d{1,3})-(\d{1,3}(\.\d{1,3})*)$/;

function deviceFromPath(path: string): MockUsbDevice {
  if (!existsSync(path)) throw new RigSpecError(`mock device ${path} does not exist`);
  try {
    return mockFromFile(path);
  } catch (e) {
    throw new RigSpecError(`mock device ${path}: ${(e as Error).message}`);
  }
}

/** Plug each device at its port path, adding the hubs on the way (bus 0 only). */
export async function mockBackendOf(devices: readonly { port: string; device: MockUsbDevice }[],
  opts: { enumerationDelayMs?: number } = {}): Promise<MockBackend> {
  const backend = new MockBackend(opts.enumerationDelayMs === undefined ? {} : { enumerationDelayMs: opts.enumerationDelayMs });
  for (const { port, device } of devices) {
    const m = PORT_PATH.exec(port);
    if (m === null || m[1] !== '0') throw new RigSpecError(`port ${JSON.stringify(port)} is not a bus-0 port path like 0-1.2`);
    const chain = (m[2] ?? '').split('.');
    if (chain.length < 2) throw new RigSpecError(`port ${port}: software disks sit behind a hub (0-1.N), not on the root hub`);
    for (let n = 1; n < chain.length; n++) {
      const hub = `0-${chain.slice(0, n).join('.')}`;
      if (backend.hubAt(hub) === undefined) backend.addHub(hub, { ports: HUB_PORTS, powerSwitching: 'individual' });
    }
    try {
      await backend.plug(port, device);
    } catch (e) {
      throw new RigSpecError(`port ${port}: ${(e as Error).message}`);
    }
  }
  return backend;
}

function entryDevice(e: Record<string, unknown>, i: number, base: string): MockUsbDevice {
  if (typeof e.mock === 'string') return deviceFromPath(resolve(base, e.mock));
  if (typeof e.personality === 'string') {
    if (!(e.personality in PERSONALITY_IDS)) {
      throw new RigSpecError(`devices[${i}].personality ${JSON.stringify(e.personality)} is not one of ` +
        `${Object.keys(PERSONALITY_IDS).join(', ')}`);
    }
    if (e.serial !== undefined && typeof e.serial !== 'string') throw new RigSpecError(`devices[${i}].serial is not a string`);
    return createPersonality(e.personality as PersonalityName, e.serial === undefined ? {} : { serialNumber: e.serial });
  }
  throw new RigSpecError(`devices[${i}] needs "mock" (a device .json or an image file) or "personality"`);
}

/** `--rig FILE`: the devices a rig description lists, plugged in. */
export function mockRigFromFile(path: string): Promise<MockBackend> {
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new RigSpecError(`rig description ${path}: ${(e as Error).message}`);
  }
  if (typeof spec === 'object' && spec !== null) rejectUnknownKeys(spec, RIG_SPEC_KEYS, `rig description ${path}`);
  const devices = (spec as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices) || devices.length === 0) throw new RigSpecError(`rig description ${path} needs "devices": [...]`);
  return mockBackendOf(devices.map((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw new RigSpecError(`devices[${i}] is not an object`);
    const entry = e as Record<string, unknown>;
    rejectUnknownKeys(entry, RIG_DEVICE_KEYS, `rig description ${path}: devices[${i}]`);
    const port = entry.port ?? `0-1.${i + 1}`;
    if (typeof port !== 'string') throw new RigSpecError(`devices[${i}].port is not a port path like 0-1.2`);
    return { port, device: entryDevice(entry, i, dirname(resolve(path))) };
  }));
}

/** A rig of software disks behind a software hub, and the events a run emits. */
import { createPersonality, MockUsbDevice, type MockDeviceOptions } from '../../../src/mock/index.js';
import type { MockBackend } from '../../../src/mock/backend.js';
import { rigDevicesOf, type BackendRigDevice, type RigEvent } from '../../../src/apps/rig/index.js';
import { mockBackendOf } from '../../../src/sources/index.js';

export const MIB = 1024 * 1024;

/** A plain good stick of `mib` MiB with serial `serial`. */
export function stick(serial: string, mib = 2, extra: MockDeviceOptions = {}): MockUsbDevice {
  return new MockUsbDevice({ serialNumber: serial, product: `Stick ${serial}`, luns: [{ blocks: (mib * MIB) / 512 }], ...extra });
}

/** The cache-hiding counterfeit: claims 4 x `realMiB`. */
export function cachedFake(serial: string, realMiB = 1): MockUsbDevice {
  return createPersonality('cached-counterfeit', { serialNumber: serial, realBytes: realMiB * MIB });
}

export interface TestRig { backend: MockBackend; devices: BackendRigDevice[] }

export async function testRig(devs: Record<string, MockUsbDevice>): Promise<TestRig> {
  const backend = await mockBackendOf(Object.entries(devs).map(([port, device]) => ({ port, device })), { enumerationDelayMs: 5 });
  return { backend, devices: await rigDevicesOf(backend) };
}

export function collector(): { events: RigEvent[]; onEvent: (e: RigEvent) => void } {
  const events: RigEvent[] = [];
  return { events, onEvent: (e) => { events.push(e); } };
}

export const stepEvents = (events: RigEvent[], port: string): Extract<RigEvent, { event: 'step' }>[] =>
  events.filter((e): e is Extract<RigEvent, { event: 'step' }> => e.event === 'step' && e.device.port === port);

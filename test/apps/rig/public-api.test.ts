/**
 * The rig API from the package root (src/index.ts), as a library user builds a rig: slots from a backend, a
 * selection, a plan, the run with its events, and the JUnit report - on software disks behind a software hub.
 */
import { describe, expect, it } from 'vitest';
import {
  describeKey, isDestructive, junitXml, resolvePlan, RigSelectError, rigDevicesOf, runRig, selectRigDevices,
  type RigEvent,
} from '../../../src/index.js';
import { MockBackend, MockUsbDevice } from '../../../src/mock/index.js';

describe('rig API from the package root', () => {
  it('runs the quick plan on two slots named by port path, with events and a JUnit suite per device', async () => {
    const backend = new MockBackend({ enumerationDelayMs: 1 });
    backend.addHub('0-1', { ports: 4, powerSwitching: 'individual' });
    await backend.plug('0-1.1', new MockUsbDevice({ luns: [{ blocks: 2048 }], serialNumber: 'A1' }));
    await backend.plug('0-1.3', new MockUsbDevice({ luns: [{ blocks: 2048 }], serialNumber: 'A3' }));
    await backend.plug('0-1.4', new MockUsbDevice({ luns: [{ blocks: 2048 }], serialNumber: 'A4' }));
    const present = await rigDevicesOf(backend);
    const { devices } = selectRigDevices(present, { devices: ['0-1.1', '0-1.3'] });
    expect(devices.map((d) => d.key.port)).toEqual(['0-1.1', '0-1.3']);
    const plan = resolvePlan('quick');
    expect(isDestructive(plan)).toBe(false);
    const events: RigEvent[] = [];
    const result = await runRig(devices, { plan, write: false, seed: 1, readyPollMs: 5, onEvent: (e) => events.push(e) });
    expect(result.exitCode).toBe(0);
    expect(result.devices.map((d) => [describeKey(d.device.key), d.status, d.steps.length]))
      .toEqual([[expect.stringMatching(/^0-1\.1 .* A1$/), 'pass', 6], [expect.stringMatching(/^0-1\.3 .* A3$/), 'pass', 6]]);
    expect(events.filter((e) => e.event === 'done').map((e) => e.device.port).sort()).toEqual(['0-1.1', '0-1.3']);
    const xml = junitXml(result, plan.name);
    expect(xml.match(/<testsuite /g)).toHaveLength(2);
    expect(xml.match(/<testcase /g)).toHaveLength(12);
    expect(() => selectRigDevices(present, {})).toThrow(RigSelectError);
  });
});

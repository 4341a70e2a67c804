/**
 * Several devices at once on the software disk: one good, one faulty (an unreadable block), one that vanishes
 * mid-plan and comes back, one counterfeit behind a RAM cache, one that hangs; each gets its own verdict, and
 * none of them stops or slows the others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parsePlan, resolvePlan, runRig, type RigEvent } from '../../../src/apps/rig/index.js';
import { cachedFake, collector, MIB, stepEvents, stick, testRig, type TestRig } from './helpers.js';

let rig: TestRig | undefined;
afterEach(() => { rig?.backend.dispose(); rig = undefined; });

const statusOf = (events: RigEvent[], port: string): Record<string, string> =>
  Object.fromEntries(stepEvents(events, port).map((e) => [e.step ?? '', e.status] as const));

describe('usbms validate on a rig of software disks', () => {
  it('runs quick on every device at once: the faulty one fails with exit 3, the others pass', async () => {
    const faulty = stick('BAD', 2);
    faulty.faults.inject({ fault: { kind: 'medium-error', lbas: [BigInt(MIB / 512 - 1 + 1)] } }); // the middle LBA
    rig = await testRig({ '0-1.1': stick('A'), '0-1.2': faulty, '0-1.3': stick('C') });
    const { events, onEvent } = collector();
    const r = await runRig(rig.devices, { plan: resolvePlan('quick'), write: false, seed: 1, onEvent, readyPollMs: 5 });
    expect(r.devices.map((d) => [d.device.key.port, d.status, d.exitCode])).toEqual([
      ['0-1.1', 'pass', 0], ['0-1.2', 'fail', 3], ['0-1.3', 'pass', 0]]);
    expect(r.exitCode).toBe(3);
    expect(statusOf(events, '0-1.2')).toMatchObject({ 'identify': 'pass', 'read-points': 'fail', 'sequential-read': 'fail', 'random-read': 'pass' });
    const quickSteps = ['identify', 'capacity', 'unit-ready', 'read-points', 'sequential-read', 'random-read'];
    expect(Object.keys(statusOf(events, '0-1.1'))).toEqual(quickSteps);
    const id = stepEvents(events, '0-1.3')[0]!;
    expect(id).toMatchObject({ device: { port: '0-1.3', vidPid: 'f055:5b00', serial: 'C' }, figures: { product: 'Mock Disk' } });
  });

  it('full: the cached counterfeit is caught (exit 14), the vanishing device is reported and watched, the good one passes', async () => {
    const vanishing = stick('GONE', 2);
    rig = await testRig({ '0-1.1': stick('GOOD', 2), '0-1.2': cachedFake('FAKE', 1), '0-1.3': vanishing });
    const { events, onEvent } = collector();
    // Pull the plug once write-verify starts on the vanishing device, plug it back 100 ms later.
    const spy = (e: RigEvent): void => {
      onEvent(e);
      if (e.event === 'step-start' && e.device.port === '0-1.3' && e.step === 'write-verify') {
        setTimeout(() => { vanishing.disconnect(); setTimeout(() => { vanishing.reconnect(); }, 100); }, 5);
      }
    };
    const r = await runRig(rig.devices, { plan: resolvePlan('full'), write: true, restore: true, seed: 3, onEvent: spy,
      readyPollMs: 5, returnTimeoutMs: 5000 });
    const by = Object.fromEntries(r.devices.map((d) => [d.device.key.serial ?? '', d] as const));
    expect(by.GOOD).toMatchObject({ status: 'pass', exitCode: 0 });
    expect(by.FAKE).toMatchObject({ status: 'fail', exitCode: 14 });
    expect(statusOf(events, '0-1.2')).toMatchObject({ 'counterfeit': 'fail', 'write-verify': 'fail', 'restore': 'pass' });
    const fakeProbe = stepEvents(events, '0-1.2').find((e) => e.step === 'counterfeit')!;
    expect(fakeProbe.figures).toMatchObject({ usableBlocks: MIB / 512, resetType: 'port' });
    expect(by.GONE).toMatchObject({ status: 'error', exitCode: 35 });
    const gone = events.filter((e) => e.device.port === '0-1.3').map((e) => e.event);
    expect(gone).toEqual(expect.arrayContaining(['vanished', 'returned']));
    // after it came back, the rest of the plan ran on it again (and its data was put back)
    expect(statusOf(events, '0-1.3')).toMatchObject({ 'write-verify': 'error', 'random-write': 'pass', 'restore': 'pass' });
    expect(r.exitCode).toBe(14);
  });

  it('a device that never comes back is lost: its remaining steps are skipped', async () => {
    const vanishing = stick('LOST', 2);
    rig = await testRig({ '0-1.1': stick('OK'), '0-1.2': vanishing });
    const { events, onEvent } = collector();
    const spy = (e: RigEvent): void => {
      onEvent(e);
      if (e.event === 'step-start' && e.device.port === '0-1.2' && e.step === 'sequential-read') vanishing.disconnect();
    };
    const r = await runRig(rig.devices, { plan: resolvePlan('quick'), write: false, seed: 1, onEvent: spy, readyPollMs: 5,
      returnTimeoutMs: 300 });
    expect(r.devices[1]).toMatchObject({ status: 'error', exitCode: 35 });
    expect(statusOf(events, '0-1.2')).toMatchObject({ 'sequential-read': 'error', 'random-read': 'skip' });
    expect(events.some((e) => e.event === 'lost' && e.device.port === '0-1.2')).toBe(true);
    expect(r.devices[0]).toMatchObject({ status: 'pass' });
  });

  it('a hanging device is cut off by its step timeout (exit 33) and does not hold up the others', async () => {
    const hanging = stick('HANG', 2);
    rig = await testRig({ '0-1.1': stick('FAST'), '0-1.2': hanging });
    const plan = parsePlan({ name: 't', steps: [
      { step: 'identify' }, { step: 'sequential-read', timeoutS: 1, params: { sizeMiB: 1 } }, { step: 'capacity' }] });
    const { events, onEvent } = collector();
    hanging.faults.inject({ match: { opcode: 0x28 }, times: 1000, fault: { kind: 'no-response', phase: 'data' } });
    const t0 = Date.now();
    const r = await runRig(rig.devices, { plan, write: false, seed: 1, onEvent, readyPollMs: 5 });
    expect(r.devices[1]).toMatchObject({ status: 'error', exitCode: 33 });
    expect(statusOf(events, '0-1.2')).toMatchObject({ 'sequential-read': 'error' });
    const doneAt = (port: string): number => Date.parse(events.find((e) => e.event === 'done' && e.device.port === port)!.time);
    expect(doneAt('0-1.1') - t0).toBeLessThan(800); // finished while the other one still hung
    expect(doneAt('0-1.2') - t0).toBeGreaterThanOrEqual(1000);
  });

  it('a destructive plan is refused without --write, device by device', async () => {
    rig = await testRig({ '0-1.1': stick('W') });
    const r = await runRig(rig.devices, { plan: resolvePlan('full'), write: false, seed: 1 });
    expect(r.devices[0]).toMatchObject({ status: 'error', exitCode: 1 });
    expect(r.devices[0]!.steps.every((s) => s.status === 'skip')).toBe(true);
  });

  it('endurance with a power cycle between writing and reading back survives it every cycle', async () => {
    const dev = stick('END', 1);
    rig = await testRig({ '0-1.1': dev });
    const { events, onEvent } = collector();
    const plan = parsePlan({ name: 'e', steps: [{ step: 'endurance', params: { cycles: 2, powerCycle: true, offMs: 20 } }] });
    const r = await runRig(rig.devices, { plan, write: true, seed: 5, onEvent, readyPollMs: 5 });
    expect(r.devices[0]).toMatchObject({ status: 'pass', exitCode: 0 });
    const phases = events.filter((e) => e.event === 'progress').map((e) => (e.event === 'progress' ? `${e.figures.cycle}:${e.figures.phase}` : ''));
    expect(phases).toEqual(['1:written', '1:power-cycled', '1:verified', '2:written', '2:power-cycled', '2:verified']);
    expect(dev.log.filter((e) => e.type === 'reconnect')).toHaveLength(2);
  });
});

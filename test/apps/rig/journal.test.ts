/** Journals: what a resumed run takes from them, and what it runs again. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceJournal, parsePlan, resolvePlan, runRig, type RigEvent } from '../../../src/apps/rig/index.js';
import { collector, stick, testRig, type TestRig } from './helpers.js';

let rig: TestRig | undefined;
afterEach(() => { rig?.backend.dispose(); rig = undefined; });

describe('journal', () => {
  it('is one file per device, named by port and serial, holding the seed and the finished steps', async () => {
    rig = await testRig({ '0-1.1': stick('J1'), '0-1.2': stick('J2') });
    const dir = mkdtempSync(join(tmpdir(), 'usbms-journal-'));
    await runRig(rig.devices, { plan: resolvePlan('quick'), write: false, seed: 21, journalDir: dir, readyPollMs: 5 });
    const j = JSON.parse(readFileSync(join(dir, '0-1.2_f055-5b00_J2.journal.json'), 'utf8')) as { seed: number; plan: string; steps: Record<string, { status: string }> };
    expect(j).toMatchObject({ seed: 21, plan: 'quick' });
    expect(Object.keys(j.steps)).toEqual(['identify', 'capacity', 'unit-ready', 'read-points', 'sequential-read', 'random-read']);
    expect(DeviceJournal.fileFor(dir, rig.devices[0]!.key)).toBe(join(dir, '0-1.1_f055-5b00_J1.journal.json'));
    // again: everything comes from the journal, with the first run's seed
    const { events, onEvent } = collector();
    await runRig(rig.devices, { plan: resolvePlan('quick'), write: false, seed: 99, journalDir: dir, onEvent, readyPollMs: 5 });
    const steps = events.filter((e): e is Extract<RigEvent, { event: 'step' }> => e.event === 'step');
    expect(steps.every((e) => e.resumed)).toBe(true);
    expect(events.find((e) => e.event === 'start')).toMatchObject({ seed: 21, resumed: true });
  });

  it('a refused run (no --write) leaves nothing that a later run would take for done', async () => {
    rig = await testRig({ '0-1.1': stick('R') });
    const dir = mkdtempSync(join(tmpdir(), 'usbms-journal-'));
    const plan = parsePlan({ name: 'wv', steps: [{ step: 'write-verify' }] });
    const refused = await runRig(rig.devices, { plan, write: false, seed: 1, journalDir: dir });
    expect(refused.devices[0]).toMatchObject({ status: 'error', exitCode: 1 });
    const r = await runRig(rig.devices, { plan, write: true, seed: 1, journalDir: dir, readyPollMs: 5 });
    expect(r.devices[0]!.steps[0]).toMatchObject({ status: 'pass', resumed: false, figures: { badBlocks: 0 } });
  });

  it('a journal of another plan is not resumed', async () => {
    rig = await testRig({ '0-1.1': stick('P') });
    const dir = mkdtempSync(join(tmpdir(), 'usbms-journal-'));
    await runRig(rig.devices, { plan: parsePlan({ name: 'one', steps: [{ step: 'identify' }] }), write: false, seed: 1, journalDir: dir });
    const r = await runRig(rig.devices, { plan: parsePlan({ name: 'two', steps: [{ step: 'identify' }] }), write: false, seed: 1, journalDir: dir });
    expect(r.devices[0]!.steps[0]).toMatchObject({ status: 'pass', resumed: false });
  });
});

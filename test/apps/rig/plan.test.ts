/** Plan files: the built-in plans, and clear typed errors for every kind of mistake. */
import { describe, expect, it } from 'vitest';
import { BUILTIN_PLANS, isDestructive, parsePlan, PlanError, resolvePlan } from '../../../src/apps/rig/index.js';

const err = (json: unknown): PlanError => {
  try { parsePlan(json, 'p.json'); } catch (e) { if (e instanceof PlanError) return e; throw e; }
  throw new Error('no error');
};

describe('plans', () => {
  it('the built-in plans parse; quick is read-only, full and endurance write', () => {
    for (const name of Object.keys(BUILTIN_PLANS)) expect(resolvePlan(name).steps.length).toBeGreaterThan(0);
    expect(isDestructive(resolvePlan('quick'))).toBe(false);
    expect(isDestructive(resolvePlan('full'))).toBe(true);
    expect(isDestructive(resolvePlan('endurance'))).toBe(true);
    expect(resolvePlan('full').steps.map((s) => s.step)).toEqual(expect.arrayContaining(['counterfeit', 'write-verify', 'restore']));
  });

  it('fills in names and default timeouts, keeps parameters and thresholds', () => {
    const p = parsePlan({ steps: [{ step: 'random-read', params: { ios: 100 }, thresholds: { class: 'A1' } },
      { step: 'random-read', name: 'rr2', timeoutS: 5 }] });
    expect(p.steps[0]).toMatchObject({ name: 'random-read', params: { ios: 100 }, thresholds: { class: 'A1' }, timeoutS: 600 });
    expect(p.steps[1]).toMatchObject({ name: 'rr2', timeoutS: 5 });
  });

  it('names the key of every mistake', () => {
    expect(err([]).message).toMatch(/p\.json: a plan must be a JSON object/);
    expect(err({ steps: [] }).path).toBe('steps');
    expect(err({ steps: [{ step: 'fly' }] })).toMatchObject({ path: 'steps[0].step' });
    expect(err({ steps: [{ step: 'fly' }] }).message).toMatch(/known: identify, capacity/);
    expect(err({ steps: [{ step: 'identify' }, { step: 'sequential-read', params: { sizeMb: 1 } }] }))
      .toMatchObject({ path: 'steps[1].params.sizeMb' });
    expect(err({ steps: [{ step: 'sequential-read', thresholds: { minMBps: -1 } }] }).message)
      .toMatch(/steps\[0\]\.thresholds\.minMBps: -1 is not a non-negative number/);
    expect(err({ steps: [{ step: 'random-read', thresholds: { class: 'A3' } }] }).message).toMatch(/"A1" or "A2"/);
    expect(err({ steps: [{ step: 'identify', thresholds: { minIops: 1 } }] }).message).toMatch(/unknown threshold/);
    expect(err({ steps: [{ step: 'endurance', params: { cycles: 0 } }] }).message).toMatch(/positive integer/);
    expect(err({ steps: [{ step: 'counterfeit', params: { resetType: 'usb' } }] }).message).toMatch(/none, bot, port or power/);
    expect(err({ steps: [{ step: 'identify' }, { step: 'identify' }] }).path).toBe('steps[1].name');
    expect(err({ steps: [{ step: 'identify', timeout: 3 }] }).path).toBe('steps[0].timeout');
    expect(err({ steps: [{ step: 'identify' }], retsore: true }).path).toBe('retsore');
  });

  it('an unknown plan name is neither built in nor a file', () => {
    expect(() => resolvePlan('quik')).toThrow(/neither a built-in plan \(quick, full, endurance\) nor a plan file/);
  });
});

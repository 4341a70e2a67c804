/** JUnit XML of a run (valid XML, properly escaped, a testsuite per device, a testcase per step) and the lines. */
import { afterEach, describe, expect, it } from 'vitest';
import { eventLine, junitXml, resolvePlan, runRig, SlotTable, xmlEscape } from '../../../src/apps/rig/index.js';
import { collector, stick, testRig, type TestRig } from './helpers.js';
import { parseXml } from './xml.js';

let rig: TestRig | undefined;
afterEach(() => { rig?.backend.dispose(); rig = undefined; });

describe('xmlEscape and the XML check', () => {
  it('escapes markup and drops characters XML forbids', () => {
    const nasty = `a<b>&"c'\u0000\u0007d`;
    const x = `<r a="${xmlEscape(nasty)}">${xmlEscape(nasty)}</r>`;
    const el = parseXml(x);
    expect(el.attrs.a).toBe(`a<b>&"c'd`);
    expect(el.text).toBe(`a<b>&"c'd`);
  });

  it('the check rejects what is not well-formed', () => {
    expect(() => parseXml('<a><b></a></b>')).toThrow(/closes/);
    expect(() => parseXml('<a x="1 & 2"/>')).toThrow(/bare &/);
    expect(() => parseXml('<a>1 < 2</a>')).toThrow();
    expect(() => parseXml('<a/><b/>')).toThrow(/second root/);
    expect(() => parseXml('<a x=1/>')).toThrow(/bad attribute/);
  });
});

describe('JUnit report', () => {
  it('has a testsuite per device and a testcase per step, with failures and skips', async () => {
    const bad = stick('S<&>"1', 2); // a serial that needs escaping
    bad.faults.inject({ fault: { kind: 'medium-error', lbas: [0n] } });
    rig = await testRig({ '0-1.1': stick('OK'), '0-1.2': bad });
    const plan = resolvePlan('full');
    const { events, onEvent } = collector();
    const r = await runRig(rig.devices, { plan, write: true, seed: 2, onEvent, readyPollMs: 5 });
    const root = parseXml(junitXml(r, plan.name));
    expect(root.name).toBe('testsuites');
    expect(root.children).toHaveLength(2);
    for (const suite of root.children) {
      expect(suite.name).toBe('testsuite');
      const cases = suite.children.filter((c) => c.name === 'testcase');
      expect(cases.map((c) => c.attrs.name)).toEqual(plan.steps.map((s) => s.name));
      expect(Number(suite.attrs.tests)).toBe(plan.steps.length);
    }
    const [okSuite, badSuite] = root.children;
    expect(okSuite!.attrs.name).toBe('0-1.1 f055:5b00 OK');
    expect(badSuite!.attrs.name).toBe('0-1.2 f055:5b00 S<&>"1');
    const props = Object.fromEntries(badSuite!.children[0]!.children.map((p) => [p.attrs.name ?? '', p.attrs.value ?? ''] as const));
    // unreadable LBA 0: read-points fails with 3, the counterfeit probe (as `usbms probe`) with 14, the worst
    expect(props).toMatchObject({ port: '0-1.2', serial: 'S<&>"1', exitCode: '14', status: 'fail' });
    // backup and restore are skipped without --restore; read-points fails on LBA 0
    const caseOf = (name: string) => badSuite!.children.find((c) => c.attrs.name === name)!;
    expect(caseOf('backup').children.map((c) => c.name)).toContain('skipped');
    expect(caseOf('read-points').children.find((c) => c.name === 'failure')?.attrs.message).toMatch(/LBA 0/);
    expect(Number(badSuite!.attrs.failures)).toBeGreaterThan(0);
    expect(Number(okSuite!.attrs.failures) + Number(okSuite!.attrs.errors)).toBe(0);
    // figures are JSON in system-out
    const figs = JSON.parse(okSuite!.children.find((c) => c.attrs.name === 'capacity')!.children.find((c) => c.name === 'system-out')!.text) as unknown;
    expect(figs).toMatchObject({ blocks: 4096, blockSize: 512 });
    // plain lines name the slot and the status
    const line = eventLine(events.find((e) => e.event === 'done' && e.device.port === '0-1.2')!);
    expect(line).toMatch(/^0-1\.2 f055:5b00 S<&>"1: FAIL \(exit 14\)/);
  });
});

describe('the live table of slots', () => {
  it('keeps one row per slot and redraws them in place (cursor up, line cleared)', () => {
    let text = '';
    const tty = { columns: 100, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
    const t = new SlotTable(tty);
    const dev = (port: string) => ({ port, vidPid: 'f055:5b00', serial: port === '0-1.1' ? 'A' : 'B', usbip: null });
    const time = new Date().toISOString();
    t.update({ time, device: dev('0-1.1'), step: null, event: 'start', plan: 'quick', seed: 1, resumed: false });
    t.update({ time, device: dev('0-1.2'), step: 'identify', event: 'step-start', kind: 'identify' });
    t.draw();
    t.update({ time, device: dev('0-1.2'), step: null, event: 'done', status: 'fail', exitCode: 3, reason: 'unreadable' });
    const frames = text.split('\x1b[2A');
    expect(frames.length).toBeGreaterThanOrEqual(2); // later frames move up over the two rows drawn before
    const last = frames.at(-1)!.split('\n').filter((l) => l !== '');
    expect(last).toHaveLength(2);
    expect(last[0]).toMatch(/^\r0-1\.1 f055:5b00 A\s+running/);
    expect(last[1]).toMatch(/^\r0-1\.2 f055:5b00 B\s+done\s+FAIL\s+unreadable/);
    expect(last[1]!.endsWith('\x1b[K')).toBe(true);
  });

  it('keeps a USB/IP slot in its row when the stick comes back on another vhci port, showing the new port', () => {
    let text = '';
    const tty = { columns: 100, write: (s: string) => { text += s; return true; } } as unknown as NodeJS.WriteStream;
    const t = new SlotTable(tty);
    const dev = (port: string) => ({ port, vidPid: 'f055:5b00', serial: 'R', usbip: { host: 'lab1', busid: '1-1.3' } });
    const time = new Date().toISOString();
    t.update({ time, device: dev('4-1'), step: 'sequential-read', event: 'vanished', reason: 'watching' });
    t.update({ time, device: dev('4-2'), step: 'sequential-read', event: 'returned', reason: null });
    t.draw();
    const last = text.split('\x1b[1A').at(-1)!.split('\n').filter((l) => l !== '');
    expect(last).toHaveLength(1);
    expect(last[0]).toMatch(/^\rusbip:lab1:1-1\.3 \(4-2\) f055:5b00 R\s+back/);
  });
});

/**
 * `usbms validate` and `usbms probe --reset-type` as a user runs them: NDJSON on stdout, JUnit files, exit
 * statuses, refusals, and an endurance run killed mid-way and resumed from its journal.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from '../cli/build.js';
import { usbms } from '../cli/run.js';
import { parseXml } from './xml.js';

let dir: string;
const file = (name: string, json: unknown): string => {
  const p = join(dir, name);
  writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'usbms-rig-'));
  file('good.json', { device: { serialNumber: 'G1' }, luns: [{ blocks: 4096 }] });
  file('fake.json', { personality: 'cached-counterfeit', device: { serialNumber: 'CC', realBytes: 1024 * 1024 } });
});

const lines = (stdout: string): Record<string, unknown>[] =>
  stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('usbms validate', () => {
  it('quick on two software disks: exit 0, one line per event, every event names time, device and step', async () => {
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--mock', join(dir, 'fake.json'), '--plan', 'quick', '--json']);
    expect(r.code).toBe(0);
    const events = lines(r.stdout);
    for (const e of events) {
      expect(typeof e.time).toBe('string');
      expect(Number.isNaN(Date.parse(e.time as string))).toBe(false);
      expect(e.device).toMatchObject({ port: expect.stringMatching(/^0-1\.[12]$/) as unknown, vidPid: expect.stringMatching(/^f055:5b0[0a]$/) as unknown });
      expect('step' in e).toBe(true);
    }
    const steps = events.filter((e) => e.event === 'step');
    expect(steps).toHaveLength(12);
    expect(steps.every((e) => e.status === 'pass' && typeof e.figures === 'object')).toBe(true);
    expect(events.filter((e) => e.event === 'done').map((e) => (e.device as { serial: string }).serial).sort()).toEqual(['CC', 'G1']);
  });

  it('full needs --write (exit 1, nothing written)', async () => {
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--plan', 'full']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plan full writes to the devices .*add --write/);
    expect(r.stdout).toBe('');
  });

  it('full --write --junit: the cached counterfeit fails (exit 14), the JUnit file is valid XML with a testcase per step', async () => {
    const junit = join(dir, 'full.xml');
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--mock', join(dir, 'fake.json'), '--plan', 'full',
      '--write', '--json', '--junit', junit, '--seed', '9']);
    expect(r.code).toBe(14);
    const done = lines(r.stdout).filter((e) => e.event === 'done');
    expect(done.map((e) => [(e.device as { serial: string }).serial, e.status, e.exitCode]).sort())
      .toEqual([['CC', 'fail', 14], ['G1', 'pass', 0]]);
    const root = parseXml(readFileSync(junit, 'utf8'));
    expect(root.children.map((s) => s.attrs.name)).toEqual(['0-1.1 f055:5b00 G1', '0-1.2 f055:5b0a CC']);
    for (const s of root.children) expect(s.children.filter((c) => c.name === 'testcase')).toHaveLength(11);
    const probe = root.children[1]!.children.find((c) => c.attrs.name === 'counterfeit')!;
    expect(probe.children.find((c) => c.name === 'failure')?.attrs.message).toMatch(/usable 2048 of 8192 claimed blocks/);
  });

  it('plain lines without --json (not a terminal): one line per step and a verdict per device', async () => {
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--plan', 'quick']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^0-1\.1 f055:5b00 G1: read-points PASS firstLba=0 middleLba=2048 lastLba=4095$/m);
    expect(r.stdout).toMatch(/^0-1\.1 f055:5b00 G1: PASS \(exit 0\)$/m);
  });

  it('a plan file with a mistake is a clear error naming the key (exit 1)', async () => {
    const bad = file('bad-plan.json', { steps: [{ step: 'sequential-read', thresholds: { minMbps: 10 } }] });
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--plan', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/steps\[0\]\.thresholds\.minMbps: unknown threshold for this step \(known: minMBps\)/);
  });

  it('--max-transfer is read here too: a size that is not whole sectors is refused before anything runs (exit 1)', async () => {
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--plan', 'quick', '--max-transfer', '1000']);
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toMatch(/--max-transfer 1000: 1000 is not a multiple of 512/);
  });

  it('a threshold the device misses fails the step (exit 99) with the figure and the limit', async () => {
    // 20 ms per command: at most 50 IOPS, far below A1's 1500, above 10
    const slow = file('slow.json', { personality: 'slow', device: { serialNumber: 'SLOW' }, luns: [{ blocks: 2048 }] });
    const plan = file('a1.json', { name: 'a1', steps: [
      { step: 'random-read', params: { ios: 8 }, thresholds: { class: 'A1' } },
      { step: 'random-read', name: 'ten', params: { ios: 8 }, thresholds: { minIops: 10 } }] });
    const r = await usbms(['validate', '--mock', slow, '--plan', plan, '--json']);
    expect(r.code).toBe(99);
    const [a1, ten] = lines(r.stdout).filter((e) => e.event === 'step');
    expect(a1).toMatchObject({ status: 'fail', exitCode: 99, figures: { class: 'A1' } });
    expect(a1!.reason).toMatch(/random read \(class A1\) [\d.]+ IOPS is below the minimum 1500 IOPS/);
    expect(ten).toMatchObject({ status: 'pass', exitCode: 0 });
  });

  it('a JUnit file that cannot be written is a file error (exit 15)', async () => {
    const r = await usbms(['validate', '--mock', join(dir, 'good.json'), '--plan', 'quick', '--junit', join(dir, 'no/such/dir/x.xml')]);
    expect(r.code).toBe(15);
  });
});

describe('usbms probe --reset-type', () => {
  const probe = (...extra: string[]) => usbms(['probe', '--mock', join(dir, 'fake.json'), '--write', '--seed', '5', ...extra]);

  it('catches the cached counterfeit with the default port reset (exit 14)', async () => {
    const r = await probe();
    expect(r.code).toBe(14);
    expect(r.stdout).toMatch(/reset between writing and reading: port/);
    expect(r.stdout).toMatch(/COUNTERFEIT or damaged: usable 2048 blocks/);
  });

  it('with bot and power resets too', async () => {
    for (const t of ['bot', 'power']) {
      const r = await probe('--reset-type', t, '--off-ms', '50', '--json');
      expect(r.code).toBe(14);
      expect(JSON.parse(r.stdout)).toMatchObject({ genuine: false, resetType: t, usableBlocks: 2048 });
    }
  });

  it('misses it without a reset (and says why that can happen)', async () => {
    const r = await probe('--reset-type', 'none');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/without a reset a drive that answers from a RAM cache can pass/);
  });

  it('refuses an unknown reset type (exit 1)', async () => {
    const r = await probe('--reset-type', 'kick');
    expect(r.code).toBe(1);
  });

  it('reads --max-transfer like every command (a size that is not whole sectors: exit 1)', async () => {
    const r = await probe('--max-transfer', '1000');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--max-transfer 1000: 1000 is not a multiple of 512/);
  });
});

describe('endurance resumed from its journal after the process is killed', () => {
  it('goes on from the last finished phase with the same seeds, and restores the original data', async () => {
    const image = join(dir, 'soak.img');
    const original = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < original.length; i++) original[i] = (i * 7) & 0xff;
    writeFileSync(image, original);
    const plan = file('soak.json', { name: 'soak', restore: true, steps: [{ step: 'identify' }, { step: 'backup' },
      { step: 'endurance', params: { cycles: 4, coolDownS: 0.2, chunkKiB: 64 } }, { step: 'restore' }] });
    const journal = join(dir, 'journal');
    const args = ['validate', '--mock', image, '--plan', plan, '--write', '--json', '--journal', journal, '--seed', '77'];
    // First run: killed (SIGKILL, no cleanup) as soon as cycle 2's stamps are on the device.
    const killed = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, DEBUG: '' } });
      let out = '';
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('never reached cycle 2')); }, 15_000);
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (/"cycle":2,"phase":"written"/.test(out)) child.kill('SIGKILL');
      });
      child.on('close', (_code, signal) => { clearTimeout(timer); if (signal === 'SIGKILL') resolve(out); else reject(new Error(`ended by itself: ${out}`)); });
    });
    expect(killed).not.toMatch(/"event":"done"/);
    expect(readFileSync(image).equals(original)).toBe(false); // stamps are on it now
    // Second run: same command.
    const r = await usbms(args);
    expect(r.code).toBe(0);
    const events = lines(r.stdout);
    expect(events[0]).toMatchObject({ event: 'start', resumed: true, seed: 77 });
    const progress = events.filter((e) => e.event === 'progress').map((e) => {
      const f = e.figures as { cycle: number; phase: string };
      return `${f.cycle}:${f.phase}`;
    });
    expect(progress).toEqual(['2:verified', '3:written', '3:verified', '4:written', '4:verified']);
    const step = (name: string) => events.find((e) => e.event === 'step' && e.step === name)!;
    expect(step('identify')).toMatchObject({ status: 'pass', resumed: true });
    expect(step('backup')).toMatchObject({ status: 'pass', resumed: true });
    expect(step('endurance')).toMatchObject({ status: 'pass', resumed: false, figures: { cycles: 4, cyclesDone: 4, resumedAtCycle: 2, badBlocks: 0 } });
    expect(step('restore')).toMatchObject({ status: 'pass', figures: { mismatchedBlocks: 0 } });
    // host-side check of the image: what was there before the first run is back
    expect(readFileSync(image).equals(original)).toBe(true);
  });
});

/**
 * Issue 21: a device that hangs is talked about while it is being recovered (each step a line on stderr, an NDJSON
 * event with rescue --json, saying what it waits for and how long), and `usbms rescue` keeps the device's identity
 * in its mapfile: a map of another device is refused unless --force, a finished map says there is nothing to do.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMapfile } from '../../../src/apps/rescue/index.js';
import { buildCliIfStale } from './build.js';
import { usbms, type CliRun } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-recovery-'));
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });
beforeAll(() => { buildCliIfStale(); }, 120_000);

/** A 4 MiB software disk whose READs of LBA 2048..2055 hang until a port reset (src/mock/wedge-spec.ts). */
function hangingDisk(serial: string): string {
  const p = join(tmp, `${serial}.json`);
  writeFileSync(p, JSON.stringify({ device: { serialNumber: serial }, luns: [{ blocks: 8192 }],
    hangs: [{ lba: 2048, blocks: 8, clearedBy: 'port-reset', times: 1 }] }));
  return p;
}

describe('recovery steps as they happen', () => {
  it('read on a hanging block: timeout, Mass Storage Reset, clear halts, retry n of m, each with its wait', async () => {
    const r = await usbms(['read', '2048', `--mock=${hangingDisk('HANG-READ')}`, '--timeout', '1']);
    expect(r.code).toBe(33); // sg3_utils' timeout
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe('usbms: READ(10) at LBA 2048 timed out');
    const first = lines.slice(0, 5);
    expect(first).toEqual([
      'usbms: timeout: the command to LUN 0 (opcode 0x28) had no answer within 1 s: aborting it',
      expect.stringMatching(/^usbms: reset: Reset Recovery \(command aborted in the data phase of tag \d+\): Bulk-Only Mass Storage Reset; waiting up to 5 s for the device to accept it$/),
      'usbms: reset: clear halt of bulk-in; waiting for the device to accept it',
      'usbms: reset: clear halt of bulk-out; waiting for the device to accept it',
      'usbms: retry 1 of 3: READ(10) at LBA 2048 timed out; waiting up to 1 s for the answer',
    ]);
    expect(lines.filter((l) => l.startsWith('usbms: retry ')).map((l) => l.slice(0, 19)))
      .toEqual(['usbms: retry 1 of 3', 'usbms: retry 2 of 3', 'usbms: retry 3 of 3']);
    expect(r.stdout).toBe('');
  });

  it('a healthy command says nothing of recovery', async () => {
    const r = await usbms(['read', '0', '8', `--mock=${hangingDisk('HANG-FINE')}`, '--timeout', '1']);
    expect([r.code, r.stderr]).toEqual([0, '']);
  });

  it('rescue --json: each step an NDJSON recovery event, the port reset of its ladder too', async () => {
    const r = await usbms(['rescue', `--mock=${hangingDisk('HANG-RESCUE')}`, '--out', join(tmp, 'h.img'),
      '--map', join(tmp, 'h.map'), '--json', '--timeout', '1']);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = events.filter((e) => e.type === 'recovery');
    expect(steps.map((e) => e.step)).toEqual(expect.arrayContaining(['timeout', 'mass-storage-reset', 'clear-halt', 'port-reset']));
    for (const e of steps) {
      expect(Object.keys(e).sort()).toEqual(['attempt', 'attempts', 'detail', 'step', 'text', 'timeoutMs', 'type', 'waitingFor']);
    }
    expect(steps.find((e) => e.step === 'port-reset')).toMatchObject({ waitingFor: 'the device to re-enumerate' });
    expect(events.at(-1)).toMatchObject({ type: 'summary', result: 'finished', rescued: 4 * 1024 * 1024 });
  });
});

describe('validate: recovery steps of each device', () => {
  it('--json: a recovery event per step, naming the device and the plan step it happened in', async () => {
    const r = await usbms(['validate', '--plan', 'quick', `--mock=${hangingDisk('HANG-RIG')}`, '--timeout', '1', '--json']);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = events.filter((e) => e.event === 'recovery');
    expect(steps.map((e) => e.recovery)).toEqual(expect.arrayContaining(['timeout', 'mass-storage-reset', 'clear-halt', 'retry']));
    expect(steps[0]).toMatchObject({ device: { port: '0-1.1', vidPid: 'f055:5b00', serial: 'HANG-RIG' }, step: 'sequential-read',
      recovery: 'timeout', timeoutMs: 1000 });
    expect(steps.find((e) => e.recovery === 'retry')).toMatchObject({ attempt: 1, attempts: 3, waitingFor: 'the answer' });
  });
});

describe('rescue mapfiles know their device', () => {
  const rescue = (mock: string, name: string, more: string[] = []): Promise<CliRun> =>
    usbms(['rescue', mock, '--out', join(tmp, `${name}.img`), '--map', join(tmp, 'shared.map'), ...more]);

  it('records VID:PID, serial and size in a comment GNU ddrescuelog skips', async () => {
    const r = await rescue('--mock', 'demo');
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(join(tmp, 'shared.map'), 'utf8');
    expect(text).toMatch(/^# Device: f055:5b00 serial "USBMS-DEMO" 67108864 bytes$/m);
    expect(parseMapfile(text).device).toEqual({ vendorId: 0xf055, productId: 0x5b00, serial: 'USBMS-DEMO', bytes: 67108864n });
    const summary = execFileSync('ddrescuelog', ['-t', join(tmp, 'shared.map')], { encoding: 'utf8' });
    expect(summary).toMatch(/current status: finished/);
    expect(summary).toMatch(/rescued:\s+67108 kB,\s+in\s+1 area/);
  });

  it('a finished map: "nothing left to do", exit 0, the map untouched', async () => {
    const before = readFileSync(join(tmp, 'shared.map'), 'utf8');
    const r = await rescue('--mock', 'demo');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^rescue: nothing left to do: .*shared\.map is finished: all 67108864 bytes are rescued; image /);
    expect(r.stderr).not.toMatch(/resuming/);
    expect(readFileSync(join(tmp, 'shared.map'), 'utf8')).toBe(before);
    const j = await rescue('--mock', 'demo', ['--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ type: 'summary', result: 'nothing-left', rescued: 67108864 });
  });

  it('the map of another device (another serial) is refused unless --force', async () => {
    const other = join(tmp, 'other.img');
    writeFileSync(other, Buffer.alloc(67108864));
    const r = await rescue(`--mock=${other}`, 'other');
    expect(r.code).toBe(15);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(
      /^usbms: .*shared\.map is the mapfile of another device: it was written for f055:5b00 serial "USBMS-DEMO" 67108864 bytes, and this device is f055:5b00 serial "\S+" 67108864 bytes\. .*--force/)]);
    const forced = await rescue(`--mock=${other}`, 'other', ['--force']);
    expect(forced.stderr).toMatch(/shared\.map: it was written for .*; resuming anyway \(--force\)/);
    expect(forced.code).toBe(0);
  });
});

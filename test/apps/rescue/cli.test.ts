/**
 * `usbms rescue` as a user runs it, against `--mock=DEVICE.json` software disks: exit statuses, the mapfile and
 * image it leaves, NDJSON progress, kill -9 in the middle of a run and resuming, SIGINT, a hang area given in the
 * JSON description, and refusals of bad usage.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapFromMapfile, parseMapfile, type RescueMap } from '../../../src/apps/rescue/index.js';
import { CLI, ROOT } from '../cli/build.js';
import { usbms } from '../cli/run.js';

const BAD = [33, 34, 4097, 12000, 16001];

interface Fixture { dir: string; spec: string; data: Buffer }

function fixture(opts: { mib?: number; latencyMs?: number; hangs?: unknown[] } = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'usbms-rescue-'));
  const data = randomBytes((opts.mib ?? 16) * 1024 * 1024);
  writeFileSync(join(dir, 'medium.img'), data);
  const spec = join(dir, 'dev.json');
  writeFileSync(spec, JSON.stringify({
    device: { serialNumber: 'CLI-RESCUE', ...(opts.latencyMs === undefined ? {} : { latencyMs: opts.latencyMs }) },
    luns: [{ image: 'medium.img', writeProtected: true }],
    faults: [{ fault: { kind: 'medium-error', lbas: BAD } }],
    ...(opts.hangs === undefined ? {} : { hangs: opts.hangs }),
  }));
  return { dir, spec, data };
}

function mapOf(file: string, size: number): RescueMap {
  return mapFromMapfile(parseMapfile(readFileSync(file, 'utf8')), BigInt(size));
}

function badBlocks(map: RescueMap): number[] {
  return map.list().filter((a) => a.status === '-')
    .flatMap((a) => Array.from({ length: Number(a.size / 512n) }, (_, i) => Number(a.pos / 512n) + i));
}

/** Blocks the map calls rescued whose image content is not the medium's. */
function wrongRescued(map: RescueMap, image: Buffer, data: Buffer): number[] {
  const wrong: number[] = [];
  for (const a of map.list()) {
    if (a.status !== '+') continue;
    for (let p = Number(a.pos); p < Number(a.pos + a.size); p += 512) {
      if (!image.subarray(p, p + 512).equals(data.subarray(p, p + 512))) wrong.push(p / 512);
    }
  }
  return wrong;
}

const args = (f: Fixture, name: string, more: string[] = []): string[] =>
  ['rescue', `--mock=${f.spec}`, '--out', join(f.dir, `${name}.img`), '--map', join(f.dir, `${name}.map`), ...more];

describe('usbms rescue', () => {
  it('images a disk with bad blocks: exit 3, the bad blocks in the map, everything else identical', async () => {
    const f = fixture();
    const r = await usbms(args(f, 'a'));
    expect(r.stderr).toMatch(/rescue finished: 2560 bytes unreadable in 4 areas/);
    expect(r.code).toBe(3);
    const map = mapOf(join(f.dir, 'a.map'), f.data.length);
    expect(badBlocks(map)).toEqual(BAD);
    const image = readFileSync(join(f.dir, 'a.img'));
    expect(image.length).toBe(f.data.length);
    expect(wrongRescued(map, image, f.data)).toEqual([]);
    for (const b of BAD) expect(image.subarray(b * 512, b * 512 + 512).every((x) => x === 0)).toBe(true); // a hole, never written
  });

  it('--json: NDJSON events, one per line, ending with the summary', async () => {
    const f = fixture({ mib: 4 });
    const r = await usbms(args(f, 'j', ['--json']));
    expect(r.code).toBe(3);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: 'start', size: 4 * 1024 * 1024, blockSize: 512, resumed: false });
    // 33 and 34 are the two edges of one failed area: trim finds both, nothing is left to scrape.
    expect(events.filter((e) => e.type === 'phase').map((e) => e.phase)).toEqual(['copy', 'copy', 'trim']);
    expect(events.filter((e) => e.type === 'read-error').length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ type: 'summary', result: 'finished', badSectors: 1536, badAreas: 2,
      rescued: 4 * 1024 * 1024 - 1536, nonTried: 0, escalations: [] });
  });

  it('kill -9 in the middle, then the same command again: the same map and image as an uninterrupted run', async () => {
    const f = fixture({ mib: 8, latencyMs: 1 });
    const whole = await usbms(args(f, 'ref'));
    expect(whole.code).toBe(3);
    const mapFile = join(f.dir, 'k.map');
    const child = spawn(process.execPath, [CLI, ...args(f, 'k', ['--save-interval', '0.1'])], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, s) => res(s)));
    // Wait until the saved map shows real progress, but the run is not finished.
    const deadline = Date.now() + 15_000;
    let killedAt = '';
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 30));
      if (!existsSync(mapFile)) continue;
      const text = readFileSync(mapFile, 'utf8');
      const p = parseMapfile(text);
      const rescued = p.areas.filter((a) => a.status === '+').reduce((n, a) => n + a.size, 0n);
      if (p.currentStatus !== '+' && rescued >= 1024n * 1024n) { child.kill('SIGKILL'); killedAt = text; break; }
    }
    expect(killedAt).not.toBe('');
    expect(await exited).toBe('SIGKILL');
    // What the killed run left is consistent: every '+' block of its last mapfile is in its image.
    const partMap = mapOf(mapFile, f.data.length);
    expect(partMap.totals()['+']).toBeLessThan(BigInt(f.data.length));
    expect(wrongRescued(partMap, readFileSync(join(f.dir, 'k.img')), f.data)).toEqual([]);
    const resumed = await usbms(args(f, 'k', ['--json']));
    expect(resumed.stderr.split('\n').filter((l) => l.startsWith('usbms:'))).toEqual([]);
    expect(resumed.code).toBe(3);
    const start = JSON.parse(resumed.stdout.split('\n')[0] ?? '{}') as Record<string, unknown>;
    expect(start).toMatchObject({ type: 'start', resumed: true });
    expect(mapOf(mapFile, f.data.length).list()).toEqual(mapOf(join(f.dir, 'ref.map'), f.data.length).list());
    expect(readFileSync(join(f.dir, 'k.img')).equals(readFileSync(join(f.dir, 'ref.img')))).toBe(true);
  }, 60_000);

  it('SIGINT stops after the read in progress: exit 130, mapfile saved, resumable', async () => {
    const f = fixture({ mib: 8, latencyMs: 1 });
    const mapFile = join(f.dir, 'i.map');
    const child = spawn(process.execPath, [CLI, ...args(f, 'i')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const code = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    while (!existsSync(mapFile)) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    expect(await code).toBe(130);
    expect(stderr).toMatch(/interrupted: the mapfile is saved/);
    const p = parseMapfile(readFileSync(mapFile, 'utf8'));
    expect(p.currentStatus).not.toBe('+');
    const again = await usbms(args(f, 'i'));
    expect(again.code).toBe(3);
    expect(badBlocks(mapOf(mapFile, f.data.length))).toEqual(BAD);
  }, 60_000);

  it('a hang area from the JSON description: escalation in the log and the summary, the run completes', async () => {
    const f = fixture({ mib: 2, hangs: [{ lba: 1000, blocks: 2, clearedBy: 'port-reset', times: 1 }] });
    const r = await usbms(args(f, 'h', ['--timeout', '1', '--json']));
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { escalations: { step: string; ok: boolean }[]; result: string };
    expect(summary.result).toBe('finished');
    expect(summary.escalations.map((e) => `${e.step}:${e.ok}`)).toEqual(['bot-reset:false', 'port-reset:true']);
    const map = mapOf(join(f.dir, 'h.map'), f.data.length);
    expect(badBlocks(map)).toEqual([33, 34]);
    expect(wrongRescued(map, readFileSync(join(f.dir, 'h.img')), f.data)).toEqual([]);
    expect(r.code).toBe(3);
  }, 30_000);

  it('never writes the source, and refuses bad usage with exit 1', async () => {
    const f = fixture({ mib: 1 });
    const before = statSync(join(f.dir, 'medium.img')).mtimeMs;
    expect((await usbms(args(f, 'w'))).code).toBe(3);
    expect(statSync(join(f.dir, 'medium.img')).mtimeMs).toBe(before);
    expect(readFileSync(join(f.dir, 'medium.img')).equals(f.data)).toBe(true);
    const same = await usbms(['rescue', `--mock=${f.spec}`, '--out', join(f.dir, 'x'), '--map', join(f.dir, 'x')]);
    expect(same.code).toBe(1);
    expect(same.stderr).toMatch(/different files/);
    const bs = await usbms(args(f, 'b', ['--block-size', '1000']));
    expect(bs.code).toBe(1);
    expect(bs.stderr).toMatch(/not a multiple of the device's 512-byte blocks/);
    writeFileSync(join(f.dir, 'bad.map'), '0 ?\n0 0x200 +\n0x400 0x200 ?\n');
    const badMap = await usbms(['rescue', `--mock=${f.spec}`, '--out', join(f.dir, 'bad.img'), '--map', join(f.dir, 'bad.map')]);
    expect(badMap.stderr).toMatch(/line 3: .*not contiguous/);
    expect(badMap.code).not.toBe(0);
  }, 30_000);
});

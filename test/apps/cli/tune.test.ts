/**
 * Issue 21: `usbms tune` gives the same answer run after run. Each size is measured in rounds (each the median of
 * its commands) until they agree, the figure is their median with its spread, and sizes within noise of the
 * fastest count as equally fast, the smallest kept. The ramp's statistics are checked on a disk with its own clock
 * (noisy, with stalls like a garbage collection), the output through the real CLI.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fastest, tuneDisk, type TunableDisk } from '../../../src/apps/cli/commands/tune.js';
import { seededRandom } from '../../../src/mock/faults.js';
import { buildCliIfStale } from './build.js';
import { usbms } from './run.js';

const KiB = 1024;
const MiB = 1024 * KiB;

beforeAll(() => { buildCliIfStale(); }, 120_000);

/**
 * A stick whose speed climbs to a plateau at 512 KiB per command (MB/s by size), each command +-8 % off, and one
 * command in twenty stalled ten times as long (the host busy elsewhere). Its clock is advanced by its reads only.
 */
function noisyStick(seed: number): { disk: TunableDisk; now: () => bigint } {
  const curve = new Map([[64 * KiB, 20], [128 * KiB, 30], [256 * KiB, 37], [512 * KiB, 40], [MiB, 40.4], [2 * MiB, 40.6],
    [4 * MiB, 40.6], [8 * MiB, 40.7], [16 * MiB, 40.7]]);
  const rnd = seededRandom(seed); // one reproducible noisy device per seed
  let clock = 0n;
  const disk: TunableDisk = {
    blockSize: 512, capacityBytes: BigInt(64 * MiB), maxTransferBytes: 16 * MiB,
    read(lba: bigint, blocks: number, into?: Buffer): Promise<Buffer> {
      const bytes = blocks * 512;
      const out = (into ?? Buffer.alloc(bytes)).subarray(0, bytes).fill(0);
      for (let i = 0; i < bytes; i += 512) out.writeUInt32LE(Number(lba) + i / 512, i); // the same data every time
      const rate = (curve.get(bytes) ?? 20) * (1 + (rnd() - 0.5) * 0.16) / (rnd() < 0.05 ? 10 : 1);
      clock += BigInt(Math.round((bytes / rate) * 1000)); // bytes / (MB/s) = microseconds
      return Promise.resolve(out);
    },
  };
  return { disk, now: () => clock };
}

describe('tune: medians of rounds, sizes within noise equal', () => {
  it('gives one answer on a noisy stick, whatever the noise: the start of the plateau', async () => {
    const answers = new Set<number>();
    for (let seed = 1; seed <= 5; seed++) {
      const { disk, now } = noisyStick(seed);
      const r = await tuneDisk(disk, { now });
      answers.add(r.maxTransferBytes);
      for (const s of r.sizes) {
        expect(s.ok).toBe(true);
        expect(s.rounds).toBeGreaterThanOrEqual(3);
        expect(s.spread).toBeLessThan(0.2);
        // the median command, not the mean the stalls would drag down
        expect(s.mbPerSecond).toBeGreaterThan(0.9 * 20);
      }
      expect(r.equallyFast[0]).toBe(r.maxTransferBytes);
      expect(r.equallyFast).toEqual(expect.arrayContaining([MiB, 16 * MiB]));
      expect(r.equallyFast).not.toContain(256 * KiB);
    }
    expect([...answers]).toEqual([512 * KiB]);
  });

  it('fastest: within the larger spread of the two sizes, or 3 %, counts as equally fast', () => {
    const size = (bytes: number, mbPerSecond: number, spread: number): Parameters<typeof fastest>[0][number] =>
      ({ bytes, ok: true, commands: 4, rounds: 3, mbPerSecond, spread });
    expect(fastest([size(1, 90, 0.01), size(2, 98, 0.01), size(4, 100, 0.01)])).toEqual([2, 4]);
    expect(fastest([size(1, 90, 0.15), size(2, 98, 0.01), size(4, 100, 0.01)])).toEqual([1, 2, 4]);
    expect(fastest([size(1, 90, 0.01), size(8, 200, 0.01), { bytes: 16, ok: false, commands: 4, error: 'x' }])).toEqual([8]);
    expect(fastest([])).toEqual([]);
  });
});

describe('usbms tune through the CLI', () => {
  it('--json: median and spread per size, the rounds, and the sizes within noise of the fastest', async () => {
    const r = await usbms(['tune', '--mock', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { maxTransferBytes: number; equallyFast: number[]; sizes: Record<string, unknown>[] };
    expect(j.equallyFast[0]).toBe(j.maxTransferBytes);
    for (const s of j.sizes) {
      expect(Object.keys(s).sort()).toEqual(['bytes', 'commands', 'mbPerSecond', 'msPerCommand', 'ok', 'rounds', 'spread']);
      expect(s.rounds).toBeGreaterThanOrEqual(3);
    }
  });

  it('text: each size with its median, spread and rounds, then the answer', async () => {
    const r = await usbms(['tune', '--mock']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +64\.0 KiB +[\d.]+ MB\/s ± *[\d.]+% +[\d.]+ ms\/command +median of \d rounds of 128$/);
    expect(lines.at(-1)).toMatch(/^fastest safe size: \d+ bytes per command \(.*\); use --max-transfer \d+$/);
  });
});

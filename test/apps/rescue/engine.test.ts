/**
 * The rescue engine over the whole stack on software disks: medium errors, reverse mode, interruption and
 * resume, --max-errors. Proof as ddrescue's users check it: the image equals the medium wherever the map says
 * '+', and the bad blocks of the map are exactly the injected ones.
 */
import { describe, expect, it } from 'vitest';
import { blocksWith, makeDisk, rescue, wrongRescuedBlocks } from './helpers.js';

const BAD = [100n, 101n, 102n, 700n, 2047n, 3000n];

async function diskWithBadBlocks(blocks = 4096) {
  const disk = await makeDisk(blocks);
  disk.device.faults.inject({ fault: { kind: 'medium-error', lbas: BAD } });
  return disk;
}

describe('rescue engine: medium errors', () => {
  it('rescues every good block and marks exactly the injected blocks bad', async () => {
    const disk = await diskWithBadBlocks();
    const r = await rescue(disk);
    expect(r.outcome.result).toBe('finished');
    expect(blocksWith(r.map, '-')).toEqual(BAD);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
    expect(r.outcome.counts.rescued).toBe(BigInt((4096 - BAD.length) * 512));
    expect(r.outcome.counts.badAreas).toBe(4); // 100-102, 700, 2047, 3000
    // Nothing else left: no non-tried, non-trimmed or non-scraped areas.
    expect(r.outcome.counts.nonTried + r.outcome.counts.nonTrimmed + r.outcome.counts.nonScraped).toBe(0n);
    expect(r.outcome.escalations).toEqual([]); // a medium error is the medium's fault, not the device's
    expect(r.mapfile).toMatch(/^0x[0-9A-F]{8}\s+\+\s+1$/m); // status line: finished
  });

  it('reads each bad block only as often as ddrescue would: once in a large read, once alone', async () => {
    const disk = await diskWithBadBlocks();
    const r = await rescue(disk);
    for (const bad of BAD) {
      const singles = r.reads.filter(([lba, n]) => n === 1 && lba === bad).length;
      expect(singles, `LBA ${bad}`).toBe(1);
    }
    // Copy reads are large and aligned to the 64 KiB copy size.
    const large = r.reads.filter(([, n]) => n > 1);
    expect(large.every(([lba, n]) => lba % 128n === 0n && n <= 128)).toBe(true);
  });

  it('skips ahead after a failed large read in pass 1 and comes back for the skipped part in pass 2', async () => {
    const disk = await diskWithBadBlocks();
    const r = await rescue(disk);
    const phases = r.events.filter((e) => e.type === 'phase').map((e) => `${e.phase}${e.pass}:${e.direction}`);
    expect(phases).toEqual(['copy1:forward', 'copy2:reverse', 'trim1:forward', 'scrape1:forward']);
    // The block range right after the first failure (0..127 failed at LBA 100) was not read next in pass 1.
    const firstFail = r.reads.findIndex(([lba, n]) => lba === 0n && n === 128);
    expect(r.reads[firstFail + 1]?.[0]).toBeGreaterThan(128n);
  });

  it('--reverse reads backwards in every phase, with the same result', async () => {
    const disk = await diskWithBadBlocks();
    const r = await rescue(disk, { reverse: true });
    expect(blocksWith(r.map, '-')).toEqual(BAD);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
    expect(r.reads[0]).toEqual([4096n - 128n, 128]); // starts at the end
    const errors = r.events.filter((e) => e.type === 'read-error');
    expect(errors[0]?.type === 'read-error' && errors[0].pos).toBe(2944n * 512n); // the chunk holding LBA 3000
    const phases = r.events.filter((e) => e.type === 'phase').map((e) => `${e.phase}:${e.direction}`);
    expect(phases[0]).toBe('copy:reverse');
    expect(phases).toContain('trim:reverse');
  });

  it('retry passes read the bad blocks again, alternating direction', async () => {
    const disk = await diskWithBadBlocks(1024);
    const r = await rescue(disk, { retries: 2 });
    const phases = r.events.filter((e) => e.type === 'phase').map((e) => `${e.phase}${e.pass}:${e.direction}`);
    expect(phases.slice(-2)).toEqual(['retry1:forward', 'retry2:reverse']);
    for (const bad of [100n, 101n, 102n, 700n]) {
      expect(r.reads.filter(([lba, n]) => n === 1 && lba === bad).length).toBe(3);
    }
  });

  it('a retry pass rescues a block that reads again (a marginal block)', async () => {
    const disk = await makeDisk(512);
    disk.device.faults.inject({ fault: { kind: 'medium-error', lbas: [300n] } });
    const first = await rescue(disk);
    expect(blocksWith(first.map, '-')).toEqual([300n]);
    disk.device.faults.clear(); // the block became readable
    const again = await rescue(disk, { mapfile: first.mapfile, image: first.image, retries: 1 });
    expect(again.reads).toEqual([[300n, 1]]); // only the bad block is read: the rest is done
    expect(blocksWith(again.map, '-')).toEqual([]);
    expect(again.image.equals(disk.data)).toBe(true);
    expect(again.outcome.counts.rescued).toBe(512n * 512n);
  });

  it('--max-errors stops the run when there are more bad areas', async () => {
    const disk = await diskWithBadBlocks();
    const r = await rescue(disk, { maxBadAreas: 1 });
    expect(r.outcome.result).toBe('too-many-bad-areas');
    expect(r.outcome.counts.badAreas).toBe(2);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
  });
});

describe('rescue engine: interruption and resume', () => {
  for (const stopAfterReads of [3, 40, 75]) {
    it(`an interrupted run (after ${stopAfterReads} reads) resumed from its mapfile ends as an uninterrupted one`, async () => {
      const disk = await diskWithBadBlocks();
      const whole = await rescue(disk);
      const part = await rescue(disk, { stopAfterReads });
      expect(part.outcome.result).toBe('interrupted');
      expect(wrongRescuedBlocks(part.map, part.image, disk.data)).toEqual([]);
      const rest = await rescue(disk, { mapfile: part.mapfile, image: part.image });
      expect(rest.outcome.result).toBe('finished');
      expect(rest.map.list()).toEqual(whole.map.list());
      expect(rest.image.equals(whole.image)).toBe(true);
      // The resumed run never re-reads what the first one rescued.
      for (const [lba, n] of rest.reads) {
        for (let b = lba; b < lba + BigInt(n); b++) expect(part.map.statusAt(b * 512n)).not.toBe('+');
      }
    });
  }
});

describe('rescue engine: resuming in other phases and directions', () => {
  it('an interrupted --reverse run resumes backwards from its status line position', async () => {
    const disk = await diskWithBadBlocks();
    const whole = await rescue(disk, { reverse: true });
    const part = await rescue(disk, { reverse: true, stopAfterReads: 10 });
    expect(parseStatus(part.mapfile)).toMatch(/\?\s+1$/);
    const rest = await rescue(disk, { reverse: true, mapfile: part.mapfile, image: part.image });
    // Read 9 failed (blocks 2944..3071), pass 1 skipped 128 blocks, read 10 took 2688..2815: next is 2560.
    expect(rest.reads[0]).toEqual([2560n, 128]);
    expect(rest.map.list()).toEqual(whole.map.list());
    expect(rest.image.equals(whole.image)).toBe(true);
  });

  it('resumes a ddrescue mapfile in the scraping phase: only the non-scraped blocks are read, one at a time', async () => {
    const disk = await makeDisk(2048); // 1 MiB, as the fixture
    // The fixture's bad sectors (LBA 1024 and 1032) and one more inside its non-scraped area (1026).
    disk.device.faults.inject({ fault: { kind: 'medium-error', lbas: [1024n, 1026n, 1032n] } });
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const text = readFileSync(join(import.meta.dirname, 'fixtures', 'ddrescue-scraping.map'), 'utf8');
    const image = Buffer.from(disk.data);
    for (const lba of [1024, 1025, 1026, 1027, 1028, 1029, 1030, 1031, 1032]) image.fill(0, lba * 512, lba * 512 + 512);
    const r = await rescue(disk, { mapfile: text, image });
    expect(r.reads).toEqual([1025n, 1026n, 1027n, 1028n, 1029n, 1030n, 1031n].map((l) => [l, 1]));
    expect(blocksWith(r.map, '-')).toEqual([1024n, 1026n, 1032n]);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
  });
});

function parseStatus(mapfile: string): string {
  return mapfile.split('\n').find((l) => /^0x[0-9A-F]+\s/.test(l)) ?? '';
}

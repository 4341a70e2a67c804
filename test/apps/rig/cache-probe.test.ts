/**
 * The cache-proof counterfeit probe: a fake that answers the last blocks written from RAM passes a probe without
 * a reset and is caught with a Bulk-Only reset, a port reset or a power cycle between writing and reading back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CachingMedia, createPersonality, MemoryMedia } from '../../../src/mock/index.js';
import { DeviceHandle, probeDisk, type ResetType } from '../../../src/apps/rig/index.js';
import { cachedFake, MIB, stick, testRig, type TestRig } from './helpers.js';
import { closing } from '../../support/session.js';

let rig: TestRig | undefined;
afterEach(() => { rig?.backend.dispose(); rig = undefined; });

async function probeWith(dev: Parameters<typeof testRig>[0][string], resetType: ResetType) {
  rig = await testRig({ '0-1.1': dev });
  await using handle = closing(new DeviceHandle(rig.devices[0]!, { allowWrite: true, readyPollMs: 5, returnTimeoutMs: 5000 }));
  const disk = await handle.open();
  const original = Buffer.alloc(512, 0x5a);
  await disk.write(0n, original);
  const r = await probeDisk(disk, { seed: 7, random: 8, resetType, reset: () => handle.reset(resetType, 20) });
  // whatever the verdict, the user's first block is back (read from the flash: reset first)
  const after = await handle.reset('port');
  expect(Buffer.compare(await after.read(0n, 1), original)).toBe(0);
  return { r, dev };
}

describe('CachingMedia', () => {
  it('answers recently written blocks from RAM until reset, then the flash answers', () => {
    const flash = new MemoryMedia(8 * 512);
    const m = new CachingMedia(flash, { cacheBlocks: 2 });
    m.write(0n, Buffer.alloc(512, 1));
    flash.write(0n, Buffer.alloc(512, 9)); // the flash changes behind the cache
    const b = Buffer.alloc(512);
    m.read(0n, b);
    expect(b[0]).toBe(1);
    m.reset();
    m.read(0n, b);
    expect(b[0]).toBe(9);
  });

  it('keeps only the last cacheBlocks blocks written', () => {
    const m = new CachingMedia(new MemoryMedia(8 * 512), { cacheBlocks: 2 });
    for (let i = 0; i < 4; i++) m.write(BigInt(i * 512), Buffer.alloc(512, i + 1));
    expect(m.cachedBlocks).toBe(2);
  });
});

describe('probe of a counterfeit that hides behind a RAM cache', () => {
  it('is missed without a reset (the cache hands every stamp back)', async () => {
    const { r } = await probeWith(cachedFake('CC1'), 'none');
    expect(r.genuine).toBe(true);
    expect(r.resetType).toBe('none');
  });

  for (const type of ['bot', 'port', 'power'] as const) {
    it(`is called counterfeit with a ${type} reset between writing and reading back`, async () => {
      const { r, dev } = await probeWith(cachedFake('CC2'), type);
      expect(r).toMatchObject({ genuine: false, claimedBlocks: BigInt((4 * MIB) / 512), usableBlocks: BigInt(MIB / 512), resetType: type });
      expect(r.wrapsAt).not.toBeNull();
      expect(r.wrapsTo).toBe(r.wrapsAt! % BigInt(MIB / 512));
      // the reset really happened on the wire
      const kinds = dev.log.map((e) => e.type);
      if (type === 'bot') expect(kinds).toContain('mass-storage-reset');
      if (type === 'port') expect(kinds).toContain('port-reset');
      if (type === 'power') expect(kinds).toEqual(expect.arrayContaining(['disconnect', 'reconnect']));
    });
  }

  it('a genuine stick passes with every reset type', async () => {
    for (const type of ['none', 'bot', 'port', 'power'] as const) {
      const { r } = await probeWith(stick('G1', 4), type);
      expect(r).toMatchObject({ genuine: true, failed: [], usableBlocks: BigInt((4 * MIB) / 512) });
      rig?.backend.dispose();
    }
  });

  it('the plain counterfeit (no cache) is caught even without a reset', async () => {
    const { r } = await probeWith(createPersonality('counterfeit', { serialNumber: 'PC', realBytes: MIB }), 'none');
    expect(r.genuine).toBe(false);
  });
});

import { describe, it, expect } from 'vitest';
import { MemoryMedia, WrappingMedia } from '../../../src/mock/index.js';
import { probeDisk, probeLbas } from '../../../src/apps/cli/commands/probe.js';
import { rig } from '../../disk/helpers.js';
import { closing } from '../../support/session.js';

describe('probe (f3probe-style)', () => {
  it('chooses 0, powers of two, the last block and seeded random ones', () => {
    const l = probeLbas(1000n, 5, 4);
    expect(l[0]).toBe(0n);
    expect(l.at(-1)).toBe(999n);
    expect(l).toContain(512n);
    expect(l).toEqual([...new Set(l)].sort((a, b) => (a < b ? -1 : 1)));
    expect(probeLbas(1000n, 5, 4)).toEqual(l);
  });

  it('finds the wrap-around of a drive that claims 4x its real size, and restores the real blocks', async () => {
    const real = new MemoryMedia(1024n * 512n);
    await using held = closing(await rig({ blocks: 4096, media: new WrappingMedia(real, 4096n * 512n) }, { allowWrite: true }));
    const { disk } = held;
    const original = Buffer.alloc(512, 0x77);
    await disk.write(0n, original);
    const r = await probeDisk(disk, 42, 8);
    expect(r.genuine).toBe(false);
    expect(r.claimedBlocks).toBe(4096n);
    expect(r.usableBlocks).toBe(1024n);
    expect(r.wrapsAt).not.toBeNull();
    expect(r.wrapsTo).toBe(r.wrapsAt! % 1024n);
    expect(Buffer.compare(await disk.read(0n, 1), original)).toBe(0);
  });

  it('passes a genuine disk', async () => {
    await using held = closing(await rig({ blocks: 2048 }, { allowWrite: true }));
    const { disk } = held;
    const r = await probeDisk(disk, 1, 8);
    expect(r).toMatchObject({ genuine: true, usableBlocks: 2048n, wrapsAt: null, failed: [] });
  });
});

describe('probe on a drive that fails reads past its real size', () => {
  it('counts unreadable blocks as missing capacity, without writing or restoring them', async () => {
    await using held = closing(await rig({ blocks: 4096 }, { allowWrite: true, retries: 0 }, { logLimit: 100_000 }));
    const { dev, disk } = held;
    const limbo = Array.from({ length: 2048 }, (_, i) => 2048n + BigInt(i));
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: limbo } });
    const writes = (): number => dev.log.filter((e) => e.type === 'cbw' && e.opcode === 0x2a).length;
    const before = writes();
    const r = await probeDisk(disk, 9, 8);
    expect(r).toMatchObject({ genuine: false, usableBlocks: 2048n, wrapsAt: null });
    expect(r.failed.every((l) => l >= 2048n)).toBe(true);
    expect(r.failed).toContain(4095n);
    // each readable tested block is written twice (stamp, restore); the unreadable ones never
    expect(writes() - before).toBe(2 * (r.testedBlocks - r.failed.length));
  });
});

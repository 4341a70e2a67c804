/**
 * The disk driver's FUA, UNMAP and WRITE SAME on the software disk: what goes on the wire (opcodes, counts,
 * limits honoured) and what the medium holds afterwards.
 */
import { describe, expect, it } from 'vitest';
import { MemoryMedia, type MockLunOptions } from '../../src/mock/index.js';
import { DiskArgumentError, DiskRangeError, DiskReadOnlyError, isDiskError } from '../../src/disk/index.js';
import { opcodesSent, rig } from './helpers.js';

async function thin(lun: Partial<MockLunOptions> = {}, allowWrite = true) {
  const media = new MemoryMedia(8192 * 512);
  const r = await rig({ blocks: 8192, media, ...lun }, { allowWrite });
  return { ...r, media };
}

describe('FUA', () => {
  it('with DPOFUA: the WRITEs carry FUA, each flushed by the device, no SYNCHRONIZE CACHE', async () => {
    const { dev, disk, media, session } = await thin({ dpofua: true, blockSize: 512 });
    let flushes = 0;
    Object.assign(media, { flush: () => { flushes++; } });
    expect(disk.fua).toBe(true);
    dev.log.length = 0;
    await disk.write(10n, Buffer.alloc(4096, 1), { fua: true });
    expect(flushes).toBe(1);
    expect(opcodesSent(dev)).toEqual([0x2a]);
    await disk.write(10n, Buffer.alloc(4096, 2));
    expect(flushes).toBe(1);
    await session.close();
  });

  it('without DPOFUA: WRITE then SYNCHRONIZE CACHE', async () => {
    const { dev, disk, session } = await thin();
    expect(disk.fua).toBe(false);
    dev.log.length = 0;
    await disk.write(10n, Buffer.alloc(1024, 1), { fua: true });
    expect(opcodesSent(dev)).toEqual([0x2a, 0x35]);
    await session.close();
  });
});

describe('provisioning, UNMAP and WRITE SAME', () => {
  it('a fully provisioned device says so; unmap and writeSame with unmap are refused before anything is sent', async () => {
    const { dev, disk, session } = await thin();
    expect(await disk.provisioning()).toMatchObject({ unmap: false, writeSameUnmap: false });
    dev.log.length = 0;
    await expect(disk.unmap(0n, 8)).rejects.toThrow(DiskArgumentError);
    await expect(disk.writeSame(0n, 8, { unmap: true })).rejects.toThrow(DiskArgumentError);
    expect(opcodesSent(dev)).toEqual([]);
    await session.close();
  });

  it('reads the limits once and cuts UNMAP to them (descriptor size, descriptors per list)', async () => {
    const { dev, disk, session } = await thin({ provisioning: { maxUnmapBlocks: 100, maxUnmapDescriptors: 3 } });
    expect(await disk.provisioning()).toEqual({ unmap: true, writeSameUnmap: true, unmappedReadsZero: true,
      maxUnmapBlocks: 100, maxUnmapDescriptors: 3, maxWriteSameBlocks: 0x40000n });
    await disk.write(0n, Buffer.alloc(1000 * 512, 0x5a));
    dev.log.length = 0;
    await disk.unmap(100n, 750); // 8 descriptors of <= 100 blocks: lists of 3, 3, 2
    expect(opcodesSent(dev)).toEqual([0x42, 0x42, 0x42]);
    const back = await disk.read(0n, 1000);
    for (let b = 0; b < 1000; b++) {
      expect(back.subarray(b * 512, b * 512 + 512).every((x) => x === (b >= 100 && b < 850 ? 0 : 0x5a)), `block ${b}`).toBe(true);
    }
    await disk.provisioning();
    expect(opcodesSent(dev).filter((o) => o === 0x12)).toEqual([]); // the pages were read once
    await session.close();
  });

  it('WRITE SAME(16) with UNMAP, cut at MAXIMUM WRITE SAME LENGTH; without UNMAP it writes the block', async () => {
    const { dev, disk, session } = await thin({ provisioning: { maxWriteSameBlocks: 1000 } });
    await disk.write(0n, Buffer.alloc(2500 * 512, 1));
    await disk.provisioning();
    dev.log.length = 0;
    await disk.writeSame(0n, 2500, { unmap: true });
    expect(opcodesSent(dev)).toEqual([0x93, 0x93, 0x93]);
    expect((await disk.read(0n, 2500)).every((x) => x === 0)).toBe(true);
    const block = Buffer.alloc(512, 0x77);
    await disk.writeSame(4000n, 3, { block });
    expect((await disk.read(3999n, 5)).equals(Buffer.concat([Buffer.alloc(512), block, block, block, Buffer.alloc(512)]))).toBe(true);
    await session.close();
  });

  it('the range, the write permission and the protect switch are checked first', async () => {
    const { disk, session } = await thin({ provisioning: true });
    await expect(disk.unmap(8190n, 3)).rejects.toThrow(DiskRangeError);
    await expect(disk.writeSame(0n, 0)).rejects.toThrow(DiskArgumentError);
    await expect(disk.writeSame(0n, 1, { block: Buffer.alloc(100) })).rejects.toThrow(DiskArgumentError);
    await session.close();
    const ro = await thin({ provisioning: true }, false);
    await expect(ro.disk.unmap(0n, 1)).rejects.toThrow(DiskReadOnlyError);
    await ro.session.close();
    const wp = await thin({ provisioning: true, writeProtected: true });
    await expect(wp.disk.unmap(0n, 1)).rejects.toSatisfy((e) => isDiskError(e, 'data-protect'));
    await wp.session.close();
  });
});

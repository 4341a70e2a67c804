import { describe, expect, it } from 'vitest';
import { pick, tuneDisk, TUNE_RAMP } from '../../../src/apps/cli/commands/tune.js';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { openUsbms } from '../../../src/open.js';
import { closing } from '../../support/session.js';

const MiB = 1024 * 1024;

function stick(opts: { blocks: number; chokeAboveBlocks?: number }): MockUsbDevice {
  // An unknown VID:PID, so no quirk table entry caps anything: the ramp has to find the limit itself.
  return new MockUsbDevice({
    vendorId: 0x1234, productId: 0x5678, speed: 'high',
    luns: [{ blocks: opts.blocks }],
    ...(opts.chokeAboveBlocks === undefined ? {} : { quirks: { maxSectors: opts.chokeAboveBlocks } }),
  });
}

async function tuned(dev: MockUsbDevice, ceiling = 16 * MiB): Promise<Awaited<ReturnType<typeof tuneDisk>>> {
  await using session = closing(await openUsbms({ mock: dev, maxTransferBytes: ceiling }));
  const disk = await session.openDisk(0, { retries: 0, allowWrite: true });
  // Recognisable content, so that a READ of the wrong blocks cannot match the small READs by accident.
  const pattern = Buffer.alloc(64 * 1024);
  const blocks = Math.min(Number(disk.blocks), 16 * MiB / 512);
  for (let lba = 0; lba < blocks; lba += 128) {
    for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE((lba * 512 + i) >>> 0, i);
    await disk.write(BigInt(lba), pattern);
  }
  return await tuneDisk(disk);
}

describe('usbms tune (read-only ramp)', () => {
  it('tries every ramp size the device and the ceiling allow, all of them safe on a healthy device', async () => {
    const r = await tuned(stick({ blocks: 65536 }), 4 * MiB);
    expect(r.ceiling).toBe(4 * MiB);
    expect(r.sizes.map((s) => s.bytes)).toEqual(TUNE_RAMP.filter((s) => s <= 4 * MiB));
    expect(r.sizes.every((s) => s.ok && (s.mbPerSecond ?? 0) > 0 && s.error === undefined)).toBe(true);
    expect(r.sizes.map((s) => s.bytes)).toContain(r.maxTransferBytes);
  });

  it('a device that chokes above 1 MiB: the ramp stops at the first failing size, the device still answers, ' +
    'and the answer is a size that worked', async () => {
    const dev = stick({ blocks: 65536, chokeAboveBlocks: 2048 });
    await using session = closing(await openUsbms({ mock: dev, maxTransferBytes: 16 * MiB }));
    const disk = await session.openDisk(0, { retries: 0 });
    const r = await tuneDisk(disk);
    const failed = r.sizes.filter((s) => !s.ok);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.bytes).toBe(2 * MiB);
    expect(failed[0]?.error).toMatch(/phase error|transport|failed/i);
    expect(r.sizes.filter((s) => s.ok).map((s) => s.bytes)).toEqual(TUNE_RAMP.filter((s) => s <= MiB));
    expect(r.maxTransferBytes).toBeLessThanOrEqual(MiB);
    // Recovered: a READ of the largest safe size works afterwards.
    const back = await disk.read(0n, MiB / 512);
    expect(back.length).toBe(MiB);
  });

  it('stops the ramp at the disk: a 1 MiB disk is never asked for more than 1 MiB', async () => {
    const r = await tuned(stick({ blocks: 2048 }));
    expect(Math.max(...r.sizes.map((s) => s.bytes))).toBe(MiB);
    expect(r.referenceBytes).toBeLessThanOrEqual(MiB);
  });

  it('a device that returns wrong data for large READs (no error at all): that size is not safe', async () => {
    const bs = 512;
    const content = Buffer.alloc(32 * MiB);
    for (let i = 0; i < content.length; i += 4) content.writeUInt32LE(i, i);
    // Above 256 KiB per command this bridge silently returns the blocks one 64 KiB page late.
    const liar = {
      blockSize: bs, capacityBytes: BigInt(content.length), maxTransferBytes: 16 * MiB,
      read(lba: bigint, blocks: number, into?: Buffer): Promise<Buffer> {
        const out = into ?? Buffer.alloc(blocks * bs);
        const skew = blocks * bs > 256 * 1024 ? 64 * 1024 : 0;
        content.copy(out, 0, Number(lba) * bs + skew, Number(lba) * bs + skew + blocks * bs);
        return Promise.resolve(out.subarray(0, blocks * bs));
      },
    };
    const r = await tuneDisk(liar);
    expect(r.sizes.filter((s) => s.ok).map((s) => s.bytes)).toEqual([64 * 1024, 128 * 1024, 256 * 1024]);
    expect(r.sizes.at(-1)).toMatchObject({ bytes: 512 * 1024, ok: false });
    expect(r.sizes.at(-1)?.error).toMatch(/data differs from the small READs at LBA 0/);
    expect(r.maxTransferBytes).toBeLessThanOrEqual(256 * 1024);
  });

  it('pick: the smallest safe size within 3% of the fastest, never a failed one', () => {
    expect(pick([
      { bytes: 1, ok: true, commands: 2, mbPerSecond: 10 },
      { bytes: 2, ok: true, commands: 2, mbPerSecond: 19.6 },
      { bytes: 4, ok: true, commands: 2, mbPerSecond: 20 },
      { bytes: 8, ok: false, commands: 2, error: 'x' },
    ])).toBe(2);
    expect(pick([{ bytes: 8, ok: false, commands: 2, error: 'x' }])).toBeUndefined();
  });
});

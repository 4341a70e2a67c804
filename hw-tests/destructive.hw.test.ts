/**
 * Write checks, only on the device whose serial USBMS_DESTRUCTIVE_OK names and only when the kernel has nothing
 * of it mounted (decided before the device is opened). Every block overwritten is read first and written back
 * in a finally, so a failing check still leaves the disk as it was - except the one stamp block the lab asks
 * for (USBMS_TEST_STAMP_LBA), which its host-side check looks for in the image file.
 */
import { afterAll, describe, it, expect } from 'vitest';
import { isDiskError, type Disk } from '../src/disk/index.js';
import type { UsbmsSession } from '../src/open.js';
import { sessionSkipReason, hw, titled } from './support/env.js';
import { destructiveRefusal, openUnderTest } from './support/device.js';
import { fillStamp, labStamp, stampedLba } from './support/patterns.js';

const refusal = sessionSkipReason ?? await destructiveRefusal();
const writeSkip = refusal ?? (hw.expectWriteProtect ? 'the medium is write protected (USBMS_TEST_EXPECT_WRITE_PROTECT)' : undefined);
const protectSkip = refusal ?? (hw.expectWriteProtect ? undefined : 'USBMS_TEST_EXPECT_WRITE_PROTECT is not set');
const session: UsbmsSession | undefined = refusal === undefined ? await openUnderTest() : undefined;
let disk: Disk | undefined;
afterAll(async () => { await session?.close(); });
const seed = (Date.now() ^ process.pid) >>> 0;

async function theDisk(): Promise<Disk> {
  disk ??= await session!.openDisk(0, { allowWrite: true });
  return disk;
}
/** Run `body` on the blocks at `lbas` (count each), then put back what was there and check it is back. */
async function withBlocksRestored(lbas: bigint[], count: number, body: () => Promise<void>): Promise<void> {
  const d = await theDisk();
  const saved = [];
  for (const lba of lbas) saved.push({ lba, data: await d.read(lba, count) });
  try {
    await body();
  } finally {
    for (const s of saved) await d.write(s.lba, s.data);
  }
  for (const s of saved) expect((await d.read(s.lba, count)).equals(s.data), `LBA ${s.lba} restored`).toBe(true);
}
const cdb16 = (op: number, lba: bigint, blocks: number): Buffer => {
  const c = Buffer.alloc(16);
  c[0] = op; c.writeBigUInt64BE(lba, 2); c.writeUInt32BE(blocks, 10);
  return c;
};

describe.skipIf(writeSkip !== undefined)(titled('destructive: write and verify (LUN 0)', writeSkip), () => {
  it('write/read-verify 8 blocks at the first and the last LBA, then restore', async () => {
    const d = await theDisk();
    const ends = [0n, d.blocks - 8n];
    await withBlocksRestored(ends, 8, async () => {
      for (const lba of ends) {
        const pattern = fillStamp(Buffer.alloc(8 * d.blockSize), lba, d.blockSize, seed);
        await d.write(lba, pattern);
        expect((await d.read(lba, 8)).equals(pattern), `LBA ${lba}: read back what was written`).toBe(true);
      }
    });
  });

  it('WRITE(16) and READ(16) at the last LBA, sent as such', async () => {
    const d = await theDisk();
    const last = d.blocks - 1n;
    await withBlocksRestored([last], 1, async () => {
      const pattern = fillStamp(Buffer.alloc(d.blockSize), last, d.blockSize, seed ^ 0x5a5a5a5a);
      const w = await d.raw(cdb16(0x8a, last, 1), { dataOut: pattern });
      expect(w.status).toBe(0);
      const r = await d.raw(cdb16(0x88, last, 1), { dataIn: d.blockSize });
      expect(r.status).toBe(0);
      expect(r.data.equals(pattern)).toBe(true);
    });
  });

  it('SYNCHRONIZE CACHE(10) completes with GOOD status', async () => {
    const d = await theDisk();
    const r = await d.raw(Uint8Array.from([0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(r.status).toBe(0);
    await d.synchronizeCache();
  });

  it('capacity probe: every sampled block up to the last keeps its own LBA stamp (no wrap-around)', async () => {
    const d = await theDisk();
    // A counterfeit stick maps its claimed capacity onto less flash; a stamp of LBA + seed in blocks spread
    // over the whole range (and at every power of two) shows another block's stamp where the flash wraps.
    const set = new Set<bigint>([0n, d.blocks - 1n]);
    for (let p = 1n; p < d.blocks; p *= 2n) { set.add(p); set.add(p - 1n); }
    for (let i = 1n; i < 16n; i++) set.add((d.blocks * i) / 16n);
    const lbas = [...set].filter((l) => l >= 0n && l < d.blocks).sort((a, b) => (a < b ? -1 : 1));
    await withBlocksRestored(lbas, 1, async () => {
      for (const lba of lbas) await d.write(lba, fillStamp(Buffer.alloc(d.blockSize), lba, d.blockSize, seed));
      await d.synchronizeCache();
      for (const lba of lbas) expect(stampedLba(await d.read(lba, 1), seed), `block ${lba}`).toBe(lba);
    });
  });

  it.skipIf(hw.stampLba === undefined)('leaves the lab stamp block for the host-side check', async () => {
    const d = await theDisk();
    const stamp = labStamp(hw.stampLba!, d.blockSize);
    await d.write(BigInt(hw.stampLba!), stamp);
    await d.synchronizeCache();
    expect((await d.read(BigInt(hw.stampLba!), 1)).equals(stamp)).toBe(true);
  });
});

describe.skipIf(protectSkip !== undefined)(titled('write-protected medium (LUN 0)', protectSkip), () => {
  it('reports write protect, and a write fails with DATA PROTECT while the data stays', async () => {
    const d = await theDisk();
    expect(d.writeProtected).toBe(true);
    const before = await d.read(0n, 1);
    const err = await d.write(0n, Buffer.alloc(d.blockSize, 0xa5)).then(() => undefined, (e: unknown) => e);
    expect(isDiskError(err, 'data-protect'), `expected DiskError data-protect, got ${String(err)}`).toBe(true);
    // and the device itself refuses (the driver may have refused before sending): 7/27/00 WRITE PROTECTED
    const raw = await d.raw(Uint8Array.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]), { dataOut: before });
    expect(raw.status).toBe(0x02);
    expect([raw.sense?.key, raw.sense?.asc]).toEqual([7, 0x27]);
    expect((await d.read(0n, 1)).equals(before)).toBe(true);
  });
});

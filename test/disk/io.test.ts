import { describe, it, expect } from 'vitest';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { DiskRangeError, DiskReadOnlyError, DiskWriteProtectedError, isDiskError } from '../../src/disk/index.js';
import { isArgumentError } from '../../src/util/errors.js';
import { failNextCommands, opcodesSent, rig } from './helpers.js';
import { closing } from '../support/session.js';

const BIG = 2n ** 32n + 16n; // > 2 TiB of 512-byte blocks: READ CAPACITY(10) says 0xFFFFFFFF

describe('Disk I/O', () => {
  it('asks READ CAPACITY(16) past 2 TiB and uses READ/WRITE(16) above LBA 2^32', async () => {
    await using held = closing(await rig({ blocks: BIG }, { allowWrite: true }));
    const { disk, dev } = held;
    expect(disk.blocks).toBe(BIG);
    expect(disk.capacity?.source).toBe('READ CAPACITY(16)');
    const lba = BIG - 3n;
    const data = Buffer.alloc(2 * 512, 0xa5);
    data.write('high blocks', 0);
    await disk.write(lba, data);
    expect(Buffer.compare(await disk.read(lba, 2), data)).toBe(0);
    const ops = opcodesSent(dev);
    expect(ops).toContain(0x8a);
    expect(ops).toContain(0x88);
    await disk.read(0n, 1);
    expect(opcodesSent(dev).at(-1)).toBe(0x28);
  });

  it('never sends READ CAPACITY(16) with the NO_READ_CAPACITY_16 quirk', async () => {
    await using held = closing(await rig({ blocks: BIG }, { quirks: { noReadCapacity16: true } }));
    const { disk, dev } = held;
    expect(disk.blocks).toBe(2n ** 32n);
    expect(opcodesSent(dev)).not.toContain(0x9e);
  });

  it('subtracts one with FIX_CAPACITY', async () => {
    // The device answers "last LBA" = 1000 (its block count); the quirk makes that 1000 blocks, not 1001.
    await using plain = closing(await rig({ blocks: 1000 }, {}, { quirks: { capacityOffByOne: true } }));
    await using fixed = closing(await rig({ blocks: 1000 }, { quirks: { fixCapacity: true } },
      { quirks: { capacityOffByOne: true } }));
    expect(plain.disk.blocks).toBe(1001n);
    expect(fixed.disk.blocks).toBe(1000n);
  });

  it('works with 4096-byte blocks', async () => {
    await using held = closing(await rig({ blocks: 256, blockSize: 4096 }, { allowWrite: true }));
    const { disk } = held;
    expect(disk.blockSize).toBe(4096);
    const data = Buffer.alloc(3 * 4096);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await disk.write(10n, data);
    expect(Buffer.compare(await disk.read(10n, 3), data)).toBe(0);
    await expect(disk.write(0n, Buffer.alloc(512))).rejects.toSatisfy((e) => isArgumentError(e));
  });

  it('refuses writes unless opened with allowWrite, and on a write-protected medium', async () => {
    await using ro = closing(await rig({ blocks: 64 }));
    await expect(ro.disk.write(0n, Buffer.alloc(512))).rejects.toBeInstanceOf(DiskReadOnlyError);
    await using wp = closing(await rig({ blocks: 64, writeProtected: true }, { allowWrite: true }));
    expect(wp.disk.writeProtected).toBe(true);
    await expect(wp.disk.write(0n, Buffer.alloc(512))).rejects.toBeInstanceOf(DiskWriteProtectedError);
  });

  it('checks ranges before sending anything', async () => {
    await using held = closing(await rig({ blocks: 100 }));
    const { disk } = held;
    await expect(disk.read(99n, 2)).rejects.toBeInstanceOf(DiskRangeError);
    await expect(disk.read(-1n, 1)).rejects.toSatisfy((e) => isArgumentError(e));
    await expect(disk.read(0n, 0)).rejects.toSatisfy((e) => isArgumentError(e));
    await expect(disk.read(0n, 2, Buffer.alloc(512))).rejects.toSatisfy((e) => isArgumentError(e));
  });

  it('re-reads the capacity after a medium change (UNIT ATTENTION 28/00) and keeps going', async () => {
    await using held = closing(await rig({ blocks: 512, removable: true }));
    const { disk, dev } = held;
    const before = opcodesSent(dev).filter((op) => op === 0x25).length;
    dev.luns[0]!.eject();
    dev.luns[0]!.insert();
    await expect(disk.read(0n, 1)).resolves.toHaveLength(512);
    expect(opcodesSent(dev).filter((op) => op === 0x25).length).toBe(before + 1);
    dev.luns[0]!.eject();
    await expect(disk.read(0n, 1)).rejects.toSatisfy((e) => isDiskError(e, 'no-medium'));
  });

  it('re-reads the capacity after UNIT ATTENTION 2A/09 CAPACITY DATA HAS CHANGED', async () => {
    await using held = closing(await rig({ blocks: 512 }));
    const { disk, dev } = held;
    const before = opcodesSent(dev).filter((op) => op === 0x25).length;
    failNextCommands(dev, [{ key: 6, asc: 0x2a, ascq: 0x09 }]);
    await expect(disk.read(0n, 1)).resolves.toHaveLength(512);
    expect(opcodesSent(dev).filter((op) => op === 0x25).length).toBe(before + 1);
    // Any other unit attention (here: mode parameters changed, 2A/01) is retried without a re-read.
    failNextCommands(dev, [{ key: 6, asc: 0x2a, ascq: 0x01 }]);
    await expect(disk.read(0n, 1)).resolves.toHaveLength(512);
    expect(opcodesSent(dev).filter((op) => op === 0x25).length).toBe(before + 1);
  });

  it('retries a command that failed in transport (reset recovery) and returns the right data', async () => {
    await using held = closing(await rig({ blocks: 512 }, { allowWrite: true }));
    const { disk, dev } = held;
    const data = Buffer.alloc(512, 0x3c);
    await disk.write(7n, data);
    dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'csw-signature' } });
    expect(Buffer.compare(await disk.read(7n, 1), data)).toBe(0);
    expect(dev.stats.resets).toBeGreaterThanOrEqual(1);
  });

  it('gives up after the retries with a typed transport error', async () => {
    await using held = closing(await rig({ blocks: 512 }, { retries: 2 }));
    const { disk, dev } = held;
    dev.faults.inject({ match: { opcode: 0x28 }, times: 10, fault: { kind: 'csw-signature' } });
    const err = await disk.read(0n, 1).catch((e: unknown) => e);
    expect(isDiskError(err, 'transport')).toBe(true);
    expect(opcodesSent(dev).filter((op) => op === 0x28).length).toBe(3);
  });

  it('splits large transfers at dma-max', async () => {
    await using held = closing(await rig({ blocks: 8192 }));
    const { disk, dev } = held;
    const blocks = Math.ceil((disk.maxTransferBytes * 2.5) / 512);
    const before = opcodesSent(dev).length;
    await disk.read(0n, blocks);
    expect(opcodesSent(dev).length - before).toBe(3);
  });
});

describe('Disk streams', () => {
  it('streams an image out and back in with backpressure', async () => {
    await using held = closing(await rig({ blocks: 300 }, { allowWrite: true }));
    const { disk } = held;
    const src = Buffer.alloc(300 * 512);
    for (let i = 0; i < src.length; i += 512) src.writeUInt32BE(i / 512, i);
    // Odd-sized chunks: the write stream must stage partial blocks.
    const chunks: Buffer[] = [];
    for (let off = 0; off < src.length; off += 1000) chunks.push(src.subarray(off, off + 1000));
    await pipeline(Readable.from(chunks), disk.createWriteStream({ chunkBlocks: 7 }));
    const got: Buffer[] = [];
    let maxBuffered = 0;
    const rs = disk.createReadStream({ chunkBlocks: 16 });
    await pipeline(rs, new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _e, cb): void {
        maxBuffered = Math.max(maxBuffered, rs.readableLength);
        got.push(chunk);
        setTimeout(cb, 1);
      },
    }));
    expect(Buffer.compare(Buffer.concat(got), src)).toBe(0);
    expect(maxBuffered).toBeLessThanOrEqual(2 * 16 * 512);
    const part: Buffer[] = [];
    await pipeline(disk.createReadStream({ start: 10n, end: 12n }), new Writable({
      write(c: Buffer, _e, cb): void { part.push(c); cb(); } }));
    expect(Buffer.compare(Buffer.concat(part), src.subarray(10 * 512, 13 * 512))).toBe(0);
  });

  it('fails a write stream that ends inside a block, and one that runs past the end', async () => {
    await using held = closing(await rig({ blocks: 4 }, { allowWrite: true }));
    const { disk } = held;
    await expect(pipeline(Readable.from([Buffer.alloc(700)]), disk.createWriteStream()))
      .rejects.toSatisfy((e) => isArgumentError(e));
    await expect(pipeline(Readable.from([Buffer.alloc(5 * 512)]), disk.createWriteStream()))
      .rejects.toBeInstanceOf(DiskRangeError);
  });
});

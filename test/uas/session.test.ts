/**
 * UAS under the HBA: openUsbms on a UAS software disk runs UAS (or Bulk-Only where asked), the disk driver reads
 * and writes through it, several packets are on the wire at once, and a CHECK CONDITION's sense reaches the disk
 * driver from the SENSE IU (no REQUEST SENSE on the wire).
 */
import { describe, expect, it } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import { DiskError } from '../../src/disk/index.js';
import type { UasTransport } from '../../src/uas/index.js';
import { closing } from '../support/session.js';
import { pattern } from './helpers.js';

describe('UAS sessions on the software disk', () => {
  it('a UAS disk: the session runs UAS; writes and reads through the disk driver are byte-exact', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 16384 }] });
    await using s = closing(await openUsbms({ mock: dev }));
    expect(s.transport.protocol).toBe('uas');
    expect(s.hba.maxLun).toBe(0);
    const disk = await s.openDisk(0, { allowWrite: true });
    expect(disk.blocks).toBe(16384n);
    await disk.write(1000n, pattern(64 * 512, 4));
    expect((await disk.read(1000n, 64)).equals(pattern(64 * 512, 4))).toBe(true);
  });

  it('concurrent reads: the HBA keeps several commands on the wire, each lands in its own buffer', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 16384 }], uas: { order: 'random' }, seed: 3 });
    await using s = closing(await openUsbms({ mock: dev }));
    const disk = await s.openDisk(0, { allowWrite: true });
    for (let i = 0; i < 16; i++) await disk.write(BigInt(i * 8), pattern(4096, 100 + i));
    const reads = await Promise.all(Array.from({ length: 16 }, (_, i) => disk.read(BigInt(i * 8), 8)));
    reads.forEach((b, i) => expect(b.equals(pattern(4096, 100 + i))).toBe(true));
    expect((s.transport as UasTransport).stats.maxInFlight).toBeGreaterThan(1);
    expect(dev.stats.uas.maxTasks).toBeGreaterThan(1);
  });

  it('a medium error: the disk driver gets MEDIUM ERROR and the LBA from the SENSE IU, with no REQUEST SENSE sent', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 4096 }] });
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [123n] } });
    await using s = closing(await openUsbms({ mock: dev }));
    const disk = await s.openDisk(0);
    const e = await disk.read(120n, 8).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DiskError);
    expect((e as DiskError).sense?.key).toBe(0x3);
    expect((e as DiskError).lba).toBe(123n);
    expect(dev.log.some((x) => x.type === 'uas-command' && x.opcode === 0x03)).toBe(false);
  });

  it('--transport bot on a BOT+UAS disk runs Bulk-Only; auto runs UAS', async () => {
    const dev = new MockUsbDevice({ transports: 'bot+uas' });
    {
      await using s = closing(await openUsbms({ mock: dev, transport: 'bot' }));
      expect(s.transport.protocol).toBe('bot');
      expect((await (await s.openDisk(0)).read(0n, 1)).length).toBe(512);
    }
    await using s2 = closing(await openUsbms({ mock: dev }));
    expect(s2.transport.protocol).toBe('uas');
    expect((await (await s2.openDisk(0)).read(0n, 1)).length).toBe(512);
  });
});

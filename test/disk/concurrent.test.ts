/**
 * The disk driver issues commands concurrently: over a transport that keeps eight on the wire (UAS-like), eight
 * Disk.read calls in flight at once are eight commands on the wire at once, and each call gets its own blocks
 * back whatever order the transport completes them in.
 */
import { describe, it, expect } from 'vitest';
import { Disk } from '../../src/disk/index.js';
import { UsbmsHba } from '../../src/scsa/index.js';
import type { TransportResult } from '../../src/transport/index.js';
import { FakeTransport, tick, type Recorded } from '../scsa/helpers.js';

const BLOCKS = 1024;

/** A tiny direct-access unit: what Disk.open asks, and READ(10) answering each block with its LBA. */
function serve(r: Recorded): Partial<TransportResult> {
  const data = r.segments[0];
  switch (r.cdb[0]) {
    case 0x12: { // INQUIRY: standard data, 36 bytes
      const inq = Buffer.alloc(36, 0x20);
      inq.writeUInt32BE(0x00000502, 0); // direct access, not removable, SPC-3
      inq[4] = 31;
      inq.write('USBMS   Queued disk', 8, 'latin1');
      inq.copy(data!);
      return { transferred: 36, residue: r.length - 36 };
    }
    case 0x25: // READ CAPACITY(10)
      data!.writeUInt32BE(BLOCKS - 1, 0);
      data!.writeUInt32BE(512, 4);
      return {};
    case 0x1a: // MODE SENSE(6): the header alone, not write protected
      data!.writeUInt32BE(0x03000000, 0);
      return { transferred: 4, residue: r.length - 4 };
    case 0x28: { // READ(10): every block carries its LBA
      const lba = r.cdb.readUInt32BE(2);
      let at = 0;
      for (const seg of r.segments) {
        for (let o = 0; o < seg.length; o += 512) seg.writeUInt32BE(lba + (at + o) / 512, o);
        at += seg.length;
      }
      return {};
    }
    default:
      return {};
  }
}

describe('a disk over a transport of depth 8', () => {
  it('eight reads at once are eight commands on the wire, each completing into its own buffer, in any order', async () => {
    const bot = new FakeTransport(0, 8, true);
    bot.auto = serve;
    const disk = await Disk.open(UsbmsHba.attach(bot), 0);
    expect(disk.blocks).toBe(BigInt(BLOCKS));
    bot.auto = null;

    const lbas = [5, 100, 7, 900, 64, 3, 512, 77, 1000, 42];
    const reads = lbas.map((lba) => disk.read(BigInt(lba), 2));
    for (let i = 0; i < 5 && bot.pending.length < 8; i++) await tick();
    expect(bot.pending.length).toBe(8);
    // Complete them in a shuffled order; the two that waited go on the wire as places free up.
    const order = [3, 0, 6, 1, 7, 2, 5, 4];
    for (const k of order) {
      const i = Math.min(k, bot.pending.length - 1);
      const p = bot.pending[i]!;
      bot.answer(serve(p.req), i);
      await tick();
    }
    while (bot.pending.length > 0) {
      bot.answer(serve(bot.pending[0]!.req), 0);
      await tick();
    }
    const got = await Promise.all(reads);
    got.forEach((buf, i) => {
      expect([buf.readUInt32BE(0), buf.readUInt32BE(512)]).toEqual([lbas[i], lbas[i]! + 1]);
    });
    expect(bot.peak).toBe(8);
    expect(bot.log.filter((r) => r.cdb[0] === 0x28).length).toBe(lbas.length); // nothing refused, nothing retried
  });
});

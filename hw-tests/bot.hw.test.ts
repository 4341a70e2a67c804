/**
 * Bulk-Only Transport on the wire, through the engine directly (below SCSA): the thirteen-case situations a host
 * can provoke without harm (BOT 1.0 §6.7: cases 4 and 5, host expects more data in than the device has; cases 9
 * and 11, host offers more data out than the device takes), Reset Recovery on a live device, and a data-phase
 * timeout. Each is followed by a command that must succeed: the device was left in a sane state.
 */
import { afterAll, describe, it, expect } from 'vitest';
import { BotTransport, isBotError, type BotResult } from '../src/bot/index.js';
import type { DataDirection, TransportCommand } from '../src/transport/index.js';
import type { Disk } from '../src/disk/index.js';
import type { UsbmsSession } from '../src/open.js';
import { botSkipReason, titled } from './support/env.js';
import { openUnderTest } from './support/device.js';

const session: UsbmsSession | undefined = botSkipReason === undefined ? await openUnderTest() : undefined;
let disk: Disk | undefined;
/** The SCSI status bytes BOT's CSW "passed" and "failed" stand for. */
const GOOD = 0x00;
const CHECK_CONDITION = 0x02;
afterAll(async () => { await session?.close(); });

/** One command straight through the engine, with one data buffer of `hostLength` bytes. */
async function botCommand(cdb: number[], direction: DataDirection, data: Buffer, dataTimeoutMs = 0): Promise<BotResult> {
  const t = bot();
  const slot = t.allocSlot(1);
  const cdbBuf = new Uint8Array(16);
  cdbBuf.set(cdb);
  const req: TransportCommand = {
    lun: 0, cdb: cdbBuf, cdbLength: cdb.length, direction, segments: direction === 'none' ? [] : [data],
    segmentCount: direction === 'none' ? 0 : 1, dataTimeoutMs, sense: Buffer.alloc(0),
  };
  try {
    return await t.execute(slot, req);
  } finally {
    t.freeSlot(slot);
  }
}
/** The session's Bulk-Only engine (this file is about Bulk-Only; the session chose it for a Bulk-Only device). */
function bot(): BotTransport {
  const t = session!.transport;
  if (!(t instanceof BotTransport)) throw new Error(`the session runs ${t.protocol}, not Bulk-Only`);
  return t;
}
async function stillWorks(): Promise<void> {
  disk ??= await session!.openDisk(0);
  await disk.testUnitReady();
  expect((await disk.inquiry()).length).toBeGreaterThanOrEqual(36);
}

describe.skipIf(botSkipReason !== undefined)(titled('Bulk-Only cases the host can provoke (LUN 0)', botSkipReason), () => {
  it('case 5 (Hi > Di): INQUIRY for 36 bytes in a 512-byte data phase -> residue 476', async () => {
    const data = Buffer.alloc(512);
    const r = await botCommand([0x12, 0, 0, 0, 36, 0], 'in', data);
    expect(r.status).toBe(GOOD);
    expect(r.deviceResidue).toBe(512 - 36);
    // the device either sends 36 bytes and ends short (then may stall bulk-in) or pads to 512
    expect([36, 512]).toContain(r.transferred);
    expect(r.residue, 'padding is not data: the residue the host believes is the device\'s 476').toBe(476);
    expect(data[4]! + 5).toBeGreaterThanOrEqual(36); // a real INQUIRY arrived
    disk ??= await session!.openDisk(0);
    expect(data.subarray(8, 36).toString('latin1')).toBe((await disk.inquiry()).subarray(8, 36).toString('latin1'));
    await stillWorks();
  });

  it('case 4 (Hi > Dn): TEST UNIT READY with a 512-byte data-in phase -> nothing (or padding), residue 512', async () => {
    const r = await botCommand([0x00, 0, 0, 0, 0, 0], 'in', Buffer.alloc(512));
    expect(r.status).toBe(GOOD);
    expect(r.deviceResidue).toBe(512);
    expect([0, 512]).toContain(r.transferred);
    await stillWorks();
  });

  it('case 9 (Ho > Dn): TEST UNIT READY with a 512-byte data-out phase -> accepted or stalled, residue 512', async () => {
    const r = await botCommand([0x00, 0, 0, 0, 0, 0], 'out', Buffer.alloc(512));
    expect(r.status).toBe(GOOD);
    expect(r.deviceResidue).toBe(512);
    expect(r.transferred).toBeLessThanOrEqual(512);
    await stillWorks();
  });

  it('case 11 (Ho > Do): MODE SELECT(6) of a 4-byte header in a 512-byte data-out phase -> residue 508', async () => {
    // A header with no block descriptor and no page changes nothing (SPC-4 §6.11), so this is safe on any disk.
    const r = await botCommand([0x15, 0x10, 0, 0, 4, 0], 'out', Buffer.alloc(512));
    if (r.status === GOOD) {
      expect(r.deviceResidue).toBe(508);
    } else {
      // A unit without MODE SELECT refuses it: CHECK CONDITION, ILLEGAL REQUEST, and residue 508 or 512.
      expect(r.status).toBe(CHECK_CONDITION);
      expect([508, 512]).toContain(r.deviceResidue);
      const sense = Buffer.alloc(18);
      const s = await botCommand([0x03, 0, 0, 0, 18, 0], 'in', sense);
      expect(s.status).toBe(GOOD);
      expect(sense[2]! & 0x0f, 'sense key ILLEGAL REQUEST').toBe(5);
    }
    await stillWorks();
  });
});

describe.skipIf(botSkipReason !== undefined)(titled('recovery on a live device (LUN 0)', botSkipReason), () => {
  it('Reset Recovery (Mass Storage Reset, clear halt in, clear halt out), then a command succeeds', async () => {
    await bot().resetRecovery();
    await stillWorks();
    // The transport seam's resets: BOT has no LUN reset, so 'lun' and 'target' are both Reset Recovery.
    await session!.transport.reset('target');
    await session!.transport.reset('lun', 0);
    await stillWorks();
  });

  it('a data phase that times out fails typed, recovers, and the next read returns the right data', async (ctx) => {
    disk ??= await session!.openDisk(0);
    const blocks = Math.min(Math.floor(session!.transport.maxTransferBytes / disk.blockSize), 0xffff, Number(disk.blocks));
    const expected = await disk.read(0n, blocks);
    const data = Buffer.alloc(blocks * disk.blockSize);
    const cdb = [0x28, 0, 0, 0, 0, 0, 0, blocks >> 8, blocks & 0xff, 0];
    // 1 ms cannot hold a full-size read on a real bus; an emulator may still finish first (the timer is checked
    // after the data landed), so try a few times. Every outcome must be either a complete read or a typed,
    // recovered timeout, and after each timeout the next read must return the right data.
    let timeouts = 0;
    for (let attempt = 0; attempt < 20 && timeouts < 2; attempt++) {
      const err = await botCommand(cdb, 'in', data, 1).then(() => undefined, (e: unknown) => e);
      if (err === undefined) { expect(data.equals(expected)).toBe(true); continue; }
      expect(isBotError(err, 'timeout'), `expected a BotError timeout, got ${(err as Error).message}`).toBe(true);
      expect((err as { recovered: boolean }).recovered).toBe(true);
      timeouts++;
      expect((await disk.read(0n, blocks)).equals(expected)).toBe(true);
    }
    // An emulated disk may answer every full-size read within 1 ms: then there was no timeout to check
    // (the lab throttles two of its devices so that it does happen there).
    if (timeouts === 0) ctx.skip('every 1 ms full-size read completed in time: the device is too fast to time out');
    expect((await disk.read(0n, blocks)).equals(expected)).toBe(true);
  });
});

import { describe, it, expect } from 'vitest';
import { rig, request, tur, inquiry, read10, write10 } from './helpers.js';

describe('BotTransport basics against the software disk', () => {
  it('opens, asks Get Max LUN, and runs TEST UNIT READY', async () => {
    const r = await rig();
    expect(r.bot.maxLun).toBe(0);
    expect(r.dev.stats.getMaxLun).toBe(1);
    const res = await r.bot.execute(r.slot, request(tur(), 'none'));
    expect(res).toEqual({ status: 0, transferred: 0, residue: 0, senseLength: -1, deviceResidue: 0, dataStalled: false });
  });

  it('reads INQUIRY data into the caller buffer', async () => {
    const r = await rig({ luns: [{ blocks: 2048, vendor: 'ACME', product: 'Widget' }] });
    const buf = Buffer.alloc(36);
    const res = await r.bot.execute(r.slot, request(inquiry(36), 'in', [buf]));
    expect(res.status).toBe(0);
    expect(res.transferred).toBe(36);
    expect(buf.subarray(8, 12).toString()).toBe('ACME');
  });

  it('writes and reads back 8 blocks through 4 segments in flight together', async () => {
    const r = await rig({ luns: [{ blocks: 2048 }] });
    const data = Buffer.alloc(4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    const outSegs = [0, 1, 2, 3].map((k) => data.subarray(k * 1024, (k + 1) * 1024));
    const w = await r.bot.execute(r.slot, request(write10(10, 8), 'out', outSegs));
    expect(w).toMatchObject({ status: 0, transferred: 4096, residue: 0 });
    const back = Buffer.alloc(4096);
    const inSegs = [0, 1, 2, 3].map((k) => back.subarray(k * 1024, (k + 1) * 1024));
    const rd = await r.bot.execute(r.slot, request(read10(10, 8), 'in', inSegs));
    expect(rd).toMatchObject({ status: 0, transferred: 4096, residue: 0 });
    expect(back.equals(data)).toBe(true);
  });

  it('sends a fresh tag each command, and the CBW carries the exact CDB and length', async () => {
    const r = await rig();
    await r.bot.execute(r.slot, request(tur(), 'none'));
    await r.bot.execute(r.slot, request(inquiry(36), 'in', [Buffer.alloc(36)]));
    const cbws = r.dev.log.filter((e) => e.type === 'cbw');
    expect(cbws).toHaveLength(2);
    const [a, b] = cbws as [Extract<typeof cbws[0], { type: 'cbw' }>, Extract<typeof cbws[0], { type: 'cbw' }>];
    expect(b.tag).toBe((a.tag + 1) >>> 0);
    expect(b).toMatchObject({ opcode: 0x12, length: 36, direction: 'in', lun: 0 });
  });
});

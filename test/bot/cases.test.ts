/**
 * The thirteen cases of BOT 1.0 §6.7 from the host side: the CDB says what the device intends, the CBW what the
 * host expects. Cases 1/4/5/6/9/11/12 end in a result; 2/3/7/8/10/13 in a phase error and Reset Recovery.
 */
import { describe, it, expect } from 'vitest';
import { isBotError } from '../../src/bot/errors.js';
import type { BotError } from '../../src/bot/errors.js';
import { rig, request, tur, inquiry, read10, write10, recoveryTrail, stillWorks } from './helpers.js';
import type { Rig } from './helpers.js';

const BLOCK = 512;

function lastCase(r: Rig): number | undefined {
  const csws = r.dev.log.filter((e) => e.type === 'csw');
  const last = csws[csws.length - 1];
  return last?.type === 'csw' ? last.case : undefined;
}

async function expectPhaseError(r: Rig, p: Promise<unknown>, caseNo: number): Promise<void> {
  const mark = r.dev.log.length;
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(isBotError(err, 'phase-error'), String(err)).toBe(true);
  expect((err as BotError).recovered).toBe(true);
  expect(lastCase(r)).toBe(caseNo);
  // A device may stall the data pipe first (cases 8, 10): the host clears that halt and reads the CSW, which then
  // says phase error. Reset Recovery follows, in the spec's order.
  const trail = recoveryTrail(r.dev, mark);
  expect(trail.slice(-3)).toEqual(['bomsr', 'clear-in', 'clear-out']);
  expect(trail.slice(0, -3).every((t) => t === 'clear-in' || t === 'clear-out')).toBe(true);
  await stillWorks(r);
}

describe.each(['stall', 'pad'] as const)('the thirteen cases (device short-data policy %s)', (policy) => {
  const make = (): Promise<Rig> => rig({ luns: [{ blocks: 2048 }], shortDataPolicy: policy });

  it('case 1 Hn = Dn: TEST UNIT READY', async () => {
    const r = await make();
    expect(await r.bot.execute(r.slot, request(tur(), 'none'))).toMatchObject({ status: 0, residue: 0 });
    expect(lastCase(r)).toBe(1);
  });

  it('case 2 Hn < Di: INQUIRY with no data phase', async () => {
    const r = await make();
    await expectPhaseError(r, r.bot.execute(r.slot, request(inquiry(36), 'none')), 2);
  });

  it('case 3 Hn < Do: WRITE(10) of one block with no data phase', async () => {
    const r = await make();
    await expectPhaseError(r, r.bot.execute(r.slot, request(write10(0, 1), 'none')), 3);
  });

  it('case 4 Hi > Dn: TEST UNIT READY expecting 512 bytes in', async () => {
    const r = await make();
    const res = await r.bot.execute(r.slot, request(tur(), 'in', [Buffer.alloc(BLOCK)]));
    expect(lastCase(r)).toBe(4);
    expect(res.status).toBe(0);
    expect(res.residue).toBe(BLOCK);
    // stall: nothing moved, the pipe stalled; pad: 512 zeros moved, the device says none of it is data
    expect(res.transferred).toBe(policy === 'stall' ? 0 : BLOCK);
    expect(res.dataStalled).toBe(policy === 'stall');
  });

  it('case 5 Hi > Di: INQUIRY allocation 36 with 512 expected', async () => {
    const r = await make();
    const buf = Buffer.alloc(BLOCK);
    const res = await r.bot.execute(r.slot, request(inquiry(36), 'in', [buf]));
    expect(lastCase(r)).toBe(5);
    expect(res.status).toBe(0);
    expect(res.residue).toBe(BLOCK - 36);
  });

  it('case 5 with several segments: the short packet ends the phase, the CSW is still found', async () => {
    const r = await make();
    const buf = Buffer.alloc(4 * BLOCK);
    const segs = [0, 1, 2, 3].map((k) => buf.subarray(k * BLOCK, (k + 1) * BLOCK));
    const res = await r.bot.execute(r.slot, request(inquiry(36), 'in', segs));
    expect(res.status).toBe(0);
    expect(res.residue).toBe(4 * BLOCK - 36);
    await stillWorks(r);
  });

  it('case 6 Hi = Di: READ(10) of one block', async () => {
    const r = await make();
    expect(await r.bot.execute(r.slot, request(read10(0, 1), 'in', [Buffer.alloc(BLOCK)])))
      .toMatchObject({ status: 0, residue: 0, transferred: BLOCK });
    expect(lastCase(r)).toBe(6);
  });

  it('case 7 Hi < Di: READ(10) of two blocks expecting one', async () => {
    const r = await make();
    await expectPhaseError(r, r.bot.execute(r.slot, request(read10(0, 2), 'in', [Buffer.alloc(BLOCK)])), 7);
  });

  it('case 8 Hi <> Do: WRITE(10) with a data-in expectation', async () => {
    const r = await make();
    await expectPhaseError(r, r.bot.execute(r.slot, request(write10(0, 1), 'in', [Buffer.alloc(BLOCK)])), 8);
  });

  it('case 9 Ho > Dn: TEST UNIT READY with 512 bytes out', async () => {
    const r = await make();
    const res = await r.bot.execute(r.slot, request(tur(), 'out', [Buffer.alloc(BLOCK)]));
    expect(lastCase(r)).toBe(9);
    expect(res).toMatchObject({ status: 0, residue: BLOCK });
  });

  it('case 10 Ho <> Di: READ(10) with a data-out expectation', async () => {
    const r = await make();
    await expectPhaseError(r, r.bot.execute(r.slot, request(read10(0, 1), 'out', [Buffer.alloc(BLOCK)])), 10);
  });

  it('case 11 Ho > Do: WRITE(10) of one block with 1024 bytes out', async () => {
    const r = await make();
    const res = await r.bot.execute(r.slot, request(write10(0, 1), 'out', [Buffer.alloc(2 * BLOCK, 0x5a)]));
    expect(lastCase(r)).toBe(11);
    expect(res).toMatchObject({ status: 0, residue: BLOCK });
  });

  it('case 12 Ho = Do: WRITE(10) of one block', async () => {
    const r = await make();
    expect(await r.bot.execute(r.slot, request(write10(0, 1), 'out', [Buffer.alloc(BLOCK, 1)])))
      .toMatchObject({ status: 0, residue: 0, transferred: BLOCK });
    expect(lastCase(r)).toBe(12);
  });

  it('case 13 Ho < Do: WRITE(10) of two blocks with one block out', async () => {
    const r = await make();
    await expectPhaseError(r, r.bot.execute(r.slot, request(write10(0, 2), 'out', [Buffer.alloc(BLOCK)])), 13);
  });
});

/** Every fault the software device can inject, and the engine's answer: result or typed error, then a usable device. */
import { describe, it, expect } from 'vitest';
import { isBotError } from '../../src/bot/errors.js';
import type { BotError } from '../../src/bot/errors.js';
import type { BotErrorKind } from '../../src/bot/errors.js';
import type { Fault } from '../../src/mock/index.js';
import { rig, request, read10, write10, recoveryTrail, stillWorks, tur } from './helpers.js';
import type { Rig } from './helpers.js';

const BLOCK = 512;
const READ10 = 0x28;
const WRITE10 = 0x2a;

async function failure(p: Promise<unknown>): Promise<BotError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!isBotError(e)) throw new Error(`expected a BotError, got ${String(e)}`);
  return e;
}

async function expectRecovered(r: Rig, p: Promise<unknown>, kind: BotErrorKind, phase: string): Promise<BotError> {
  const mark = r.dev.log.length;
  const e = await failure(p);
  expect(e.kind, e.message).toBe(kind);
  expect(e.phase).toBe(phase);
  expect(e.recovered).toBe(true);
  expect(recoveryTrail(r.dev, mark).slice(-3)).toEqual(['bomsr', 'clear-in', 'clear-out']);
  await stillWorks(r);
  return e;
}

const readOne = (r: Rig, buf = Buffer.alloc(BLOCK), timeout = 0): Promise<unknown> =>
  r.bot.execute(r.slot, request(read10(0, 1), 'in', [buf], 0, timeout));

function inject(r: Rig, fault: Fault, opcode = READ10): void {
  r.dev.faults.inject({ match: { opcode }, fault });
}

describe('faults in each phase', () => {
  it('CBW stalled: transport error after Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'stall', phase: 'cbw' });
    const e = await expectRecovered(r, readOne(r), 'transport', 'cbw');
    expect(e.cause).toMatchObject({ code: 'USB_STALL' });
  });

  it('data-in stalled after 0 bytes: clear halt IN, read the CSW, result with the stall noted', async () => {
    const r = await rig();
    inject(r, { kind: 'stall', phase: 'data' });
    const mark = r.dev.log.length;
    const res = await r.bot.execute(r.slot, request(read10(0, 1), 'in', [Buffer.alloc(BLOCK)]));
    expect(res).toMatchObject({ dataStalled: true, transferred: 0, residue: BLOCK });
    expect(recoveryTrail(r.dev, mark)).toEqual(['clear-in']);
  });

  it('data-in stalled mid-way across segments counts only the bytes that moved', async () => {
    const r = await rig();
    inject(r, { kind: 'stall', phase: 'data', afterBytes: 1024 });
    const buf = Buffer.alloc(4 * BLOCK);
    const segs = [0, 1, 2, 3].map((k) => buf.subarray(k * BLOCK, (k + 1) * BLOCK));
    const res = await r.bot.execute(r.slot, request(read10(0, 4), 'in', segs));
    expect(res).toMatchObject({ dataStalled: true, transferred: 1024, residue: 1024 });
    await stillWorks(r);
  });

  it('data-out stalled: clear halt OUT, read the CSW', async () => {
    const r = await rig();
    inject(r, { kind: 'stall', phase: 'data', afterBytes: BLOCK }, WRITE10);
    const mark = r.dev.log.length;
    const segs = [Buffer.alloc(BLOCK), Buffer.alloc(BLOCK)];
    const res = await r.bot.execute(r.slot, request(write10(0, 2), 'out', segs));
    expect(res.dataStalled).toBe(true);
    expect(res.residue).toBeGreaterThanOrEqual(BLOCK);
    expect(recoveryTrail(r.dev, mark)).toEqual(['clear-out']);
  });

  it('CSW read stalled once: clear halt IN and read again', async () => {
    const r = await rig();
    inject(r, { kind: 'stall', phase: 'csw' });
    const mark = r.dev.log.length;
    expect(await readOne(r)).toMatchObject({ status: 0, transferred: BLOCK, residue: 0 });
    expect(recoveryTrail(r.dev, mark)).toEqual(['clear-in']);
  });

  it('no response to the CBW: timeout in the CBW phase, Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'no-response', phase: 'cbw' });
    const e = await expectRecovered(r, readOne(r), 'timeout', 'cbw');
    expect(e.cause).toMatchObject({ code: 'USB_TIMEOUT' });
  });

  it('no response in the data phase: timeout, Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'no-response', phase: 'data' });
    await expectRecovered(r, readOne(r, Buffer.alloc(BLOCK), 30), 'timeout', 'data');
  });

  it('no response in the status phase: timeout, Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'no-response', phase: 'csw' });
    await expectRecovered(r, readOne(r), 'timeout', 'csw');
  });

  it('lost CSW: timeout, Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'lost-csw' });
    await expectRecovered(r, readOne(r), 'timeout', 'csw');
  });

  it('short data with one segment: residue from the host count', async () => {
    const r = await rig();
    inject(r, { kind: 'short-data', bytes: 100 });
    expect(await readOne(r)).toMatchObject({ status: 0, transferred: 100, residue: BLOCK - 100 });
  });

  it('short data in a non-final segment: the CSW that lands in the next queued transfer is used', async () => {
    const r = await rig();
    inject(r, { kind: 'short-data', bytes: 700 });
    const buf = Buffer.alloc(4 * BLOCK);
    const segs = [0, 1, 2, 3].map((k) => buf.subarray(k * BLOCK, (k + 1) * BLOCK));
    const res = await r.bot.execute(r.slot, request(read10(0, 4), 'in', segs));
    expect(res).toMatchObject({ status: 0, transferred: 700, residue: 4 * BLOCK - 700 });
    // The device's CSW went into the caller's third segment: no other read of it happened.
    expect(buf.readUInt32LE(2 * BLOCK)).toBe(0x53425355);
    await stillWorks(r);
  });

  it('short data in a non-final segment with a slow device: the result is the same', async () => {
    const r = await rig({ latencyMs: 2 });
    inject(r, { kind: 'short-data', bytes: 700 });
    const buf = Buffer.alloc(4 * BLOCK);
    const segs = [0, 1, 2, 3].map((k) => buf.subarray(k * BLOCK, (k + 1) * BLOCK));
    const res = await r.bot.execute(r.slot, request(read10(0, 4), 'in', segs));
    expect(res).toMatchObject({ status: 0, transferred: 700, residue: 4 * BLOCK - 700 });
    await stillWorks(r);
  });

  it('babble on a packet boundary (extra packet where the CSW is due): overrun after Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'babble', extraBytes: 64 });
    await expectRecovered(r, readOne(r), 'overrun', 'data');
  });

  it('babble inside a packet (overflow of the data buffer): overrun after Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'babble', extraBytes: 64 }, 0x12);
    const e = await expectRecovered(r, r.bot.execute(r.slot, request([0x12, 0, 0, 0, 36, 0], 'in', [Buffer.alloc(36)])),
      'overrun', 'data');
    expect(e.cause).toMatchObject({ code: 'USB_OVERFLOW' });
  });

  it.each([
    ['csw-signature', { kind: 'csw-signature' }],
    ['csw-tag', { kind: 'csw-tag' }],
    ['csw-length 12', { kind: 'csw-length', length: 12 }],
    ['csw-length 31', { kind: 'csw-length', length: 31 }],
    ['csw-status 3', { kind: 'csw-status', status: 3 }],
    ['csw-residue > expected', { kind: 'csw-residue', residue: 0x7fffffff }],
  ] as [string, Fault][])('%s: invalid-csw after Reset Recovery', async (_name, fault) => {
    const r = await rig();
    inject(r, fault);
    await expectRecovered(r, readOne(r), 'invalid-csw', 'csw');
  });

  it('csw-status 2 on a good command: phase error after Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'csw-status', status: 2 });
    await expectRecovered(r, readOne(r), 'phase-error', 'csw');
  });

  it('delay shorter than the timeout: success; longer: timeout', async () => {
    const r = await rig();
    inject(r, { kind: 'delay', phase: 'csw', ms: 20 });
    expect(await readOne(r)).toMatchObject({ status: 0 });
    inject(r, { kind: 'delay', phase: 'data', ms: 400 });
    await expectRecovered(r, readOne(r, Buffer.alloc(BLOCK), 40), 'timeout', 'data');
  });

  it('medium error: CSW status 1 (CHECK CONDITION) with the data the device did not send counted as residue', async () => {
    const r = await rig();
    r.dev.faults.inject({ fault: { kind: 'medium-error', lbas: [2n] } });
    const buf = Buffer.alloc(4 * BLOCK);
    const res = await r.bot.execute(r.slot, request(read10(0, 4), 'in', [buf]));
    expect(res.status, 'CSW "failed" is CHECK CONDITION').toBe(0x02);
    expect(res.senseLength, 'BOT carries no sense: the HBA asks for it').toBe(-1);
    expect(res.residue).toBeGreaterThanOrEqual(4 * BLOCK - res.transferred);
    expect(res.residue).toBeGreaterThan(0);
  });

  it('capacity-off-by-one is SCSI data, passed through untouched by the transport', async () => {
    const r = await rig({ luns: [{ blocks: 1000 }] });
    r.dev.faults.inject({ fault: { kind: 'capacity-off-by-one' } });
    const buf = Buffer.alloc(8);
    const res = await r.bot.execute(r.slot, request([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'in', [buf]));
    expect(res.status).toBe(0);
    expect(buf.readUInt32BE(0)).toBe(1000); // the block count, not the last LBA 999
  });
});

describe('lying residue', () => {
  it('a device residue of 0 cannot make missing data look present', async () => {
    const r = await rig({ quirks: { residue: 'zero' } });
    r.dev.faults.inject({ match: { opcode: READ10 }, fault: { kind: 'short-data', bytes: 200 } });
    const res = await readOne(r);
    expect(res).toMatchObject({ transferred: 200, residue: BLOCK - 200, deviceResidue: 0 });
  });

  it('a device residue larger than the host count is kept (padding that is not data)', async () => {
    const r = await rig({ luns: [{ blocks: 64 }], shortDataPolicy: 'pad' });
    const res = await r.bot.execute(r.slot, request(tur(), 'in', [Buffer.alloc(BLOCK)]));
    expect(res).toMatchObject({ transferred: BLOCK, residue: BLOCK, deviceResidue: BLOCK });
  });
});

describe('disconnect', () => {
  it('in the data phase: device-gone, no recovery, and every later call fails fast', async () => {
    const r = await rig();
    inject(r, { kind: 'disconnect', phase: 'data', afterBytes: 0 });
    const mark = r.dev.log.length;
    const e = await failure(readOne(r));
    expect(e.kind).toBe('device-gone');
    expect(e.recovered).toBe(false);
    expect(recoveryTrail(r.dev, mark)).toEqual([]);
    const t0 = Date.now();
    const again = await failure(r.bot.execute(r.slot, request(tur(), 'none')));
    expect(again.kind).toBe('device-gone');
    expect(again.phase).toBe('request');
    expect(Date.now() - t0).toBeLessThan(50);
    await expect(r.bot.resetRecovery()).rejects.toMatchObject({ kind: 'device-gone' });
    await r.bot.close();
  });

  it('with a command in flight (device silent): the command rejects device-gone at once', async () => {
    const r = await rig({}, { timeouts: { dataMs: 60_000, cswMs: 60_000 } });
    inject(r, { kind: 'no-response', phase: 'data' });
    const p = readOne(r);
    await new Promise((res) => setTimeout(res, 5));
    r.dev.disconnect();
    const e = await failure(p);
    expect(e).toMatchObject({ kind: 'device-gone', recovered: false });
  });

  it('in the status phase: device-gone', async () => {
    const r = await rig();
    inject(r, { kind: 'disconnect', phase: 'csw' });
    expect(await failure(readOne(r))).toMatchObject({ kind: 'device-gone', recovered: false });
  });
});

describe('phase error and lying residues (fault kinds through the engine)', () => {
  it('phase-error on a READ: the device stalls IN, the host clears it, reads the CSW, then Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'phase-error' });
    const mark = r.dev.log.length;
    await expectRecovered(r, readOne(r), 'phase-error', 'csw');
    expect(recoveryTrail(r.dev, mark)).toEqual(['clear-in', 'bomsr', 'clear-in', 'clear-out']);
  });

  it('phase-error on a command without data: straight to Reset Recovery', async () => {
    const r = await rig();
    inject(r, { kind: 'phase-error' }, 0x00);
    const mark = r.dev.log.length;
    await expectRecovered(r, r.bot.execute(r.slot, request(tur(), 'none')), 'phase-error', 'csw');
    expect(recoveryTrail(r.dev, mark)).toEqual(['bomsr', 'clear-in', 'clear-out']);
  });

  it('csw-residue 0 after short data: the host count wins', async () => {
    const r = await rig();
    inject(r, { kind: 'short-data', bytes: 200 });
    inject(r, { kind: 'csw-residue', residue: 0 });
    expect(await readOne(r)).toMatchObject({ status: 0, transferred: 200, residue: BLOCK - 200, deviceResidue: 0 });
  });

  it('csw-residue 0 after a write the device stalled half-way: the unsent half stays residue', async () => {
    const r = await rig();
    inject(r, { kind: 'stall', phase: 'data', afterBytes: BLOCK }, WRITE10);
    inject(r, { kind: 'csw-residue', residue: 0 }, WRITE10);
    const res = await r.bot.execute(r.slot, request(write10(0, 2), 'out', [Buffer.alloc(BLOCK), Buffer.alloc(BLOCK)]));
    expect(res).toMatchObject({ dataStalled: true, transferred: BLOCK, residue: BLOCK, deviceResidue: 0 });
  });
});

describe('random faults from a seed', () => {
  const FASTER = { timeouts: { cbwMs: 40, cswMs: 40, dataMs: 40, controlMs: 200 } };
  const kinds = ['stall', 'no-response', { kind: 'no-response', phase: 'cbw' } as const, 'short-data', 'babble', 'csw-signature', 'csw-tag', 'csw-length',
    'csw-status', 'csw-residue', 'lost-csw', 'delay', 'phase-error'] as const;

  it('never turn missing or wrong data into a clean result, and the device stays usable', async () => {
    const r = await rig({ luns: [{ blocks: 64 }] }, FASTER);
    const pattern = Buffer.alloc(64 * BLOCK);
    for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
    expect(await r.bot.execute(r.slot, request(write10(0, 64), 'out', [pattern.subarray(0, 64 * BLOCK)])))
      .toMatchObject({ status: 0, residue: 0 });
    r.dev.faults.random({ seed: 7, probability: 0.5, kinds });
    let clean = 0;
    let failed = 0;
    for (let i = 0; i < 60; i++) {
      const lba = (i * 5) % 60;
      const buf = Buffer.alloc(4 * BLOCK, 0xcc);
      const segs = [0, 1, 2, 3].map((k) => buf.subarray(k * BLOCK, (k + 1) * BLOCK));
      const res = await r.bot.execute(r.slot, request(read10(lba, 4), 'in', segs)).catch((e: unknown) => e);
      if (isBotError(res)) {
        expect(res.recovered, res.message).toBe(true);
        failed++;
      } else if ((res as { status: number; residue: number }).residue === 0
        && (res as { status: number }).status === 0) {
        expect(buf.equals(pattern.subarray(lba * BLOCK, (lba + 4) * BLOCK))).toBe(true);
        clean++;
      }
    }
    expect(clean).toBeGreaterThan(10);
    expect(failed).toBeGreaterThan(5);
    r.dev.faults.clear();
    await stillWorks(r);
  });
});

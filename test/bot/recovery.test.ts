/** Reset Recovery and its fallbacks, Get Max LUN fallbacks, abort, busy, close, and quirk effects on the engine. */
import { describe, it, expect } from 'vitest';
import { BotTransport } from '../../src/bot/transport.js';
import { isBotError } from '../../src/bot/errors.js';
import type { BotError } from '../../src/bot/errors.js';
import { parseQuirkOverrides, MAX_SECTORS_64_BYTES } from '../../src/quirks/index.js';
import { MockUsbDevice, createPersonality } from '../../src/mock/index.js';
import { UsbError, UsbStallError, UsbTimeoutError } from '../../src/usb/errors.js';
import type { UsbPort, UsbTransfer } from '../../src/usb/port.js';
import { FAST, personality, request, read10, recoveryTrail, rig, rigOn, stillWorks, tur } from './helpers.js';

const BLOCK = 512;

/** The same port with some members replaced. */
function override(port: UsbPort, o: Partial<UsbPort>): UsbPort {
  return new Proxy(port, {
    get(target, key) {
      if (key in o) return (o as Record<string | symbol, unknown>)[key];
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function failure(p: Promise<unknown>): Promise<BotError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!isBotError(e)) throw new Error(`expected a BotError, got ${String(e)}`);
  return e;
}

const phaseErrorOnce = (dev: MockUsbDevice): void =>
  dev.faults.inject({ match: { opcode: 0x00 }, fault: { kind: 'csw-status', status: 2 } });

describe('Reset Recovery', () => {
  it('runs Mass Storage Reset, clear IN, clear OUT in that order, and on request', async () => {
    const r = await rig();
    const mark = r.dev.log.length;
    await r.bot.resetRecovery();
    expect(recoveryTrail(r.dev, mark)).toEqual(['bomsr', 'clear-in', 'clear-out']);
    await stillWorks(r);
  });

  it('falls back to a port reset when the Mass Storage Reset fails', async () => {
    const dev = new MockUsbDevice();
    const r = await rigOn(dev, FAST, (p) => override(p, {
      controlOut: () => Promise.reject(new UsbError('IO', 'control pipe broken', { pipe: 'control' })),
    }));
    phaseErrorOnce(dev);
    const mark = dev.log.length;
    const e = await failure(r.bot.execute(r.slot, request(tur(), 'none')));
    expect(e).toMatchObject({ kind: 'phase-error', recovered: true });
    expect(recoveryTrail(dev, mark)).toEqual(['port-reset']);
    await stillWorks(r);
  });

  it('says recovered: false when the port reset fails too', async () => {
    const dev = new MockUsbDevice();
    const r = await rigOn(dev, FAST, (p) => override(p, {
      controlOut: () => Promise.reject(new UsbStallError('refused', { pipe: 'control' })),
      resetDevice: () => Promise.reject(new UsbError('IO', 'reset failed')),
    }));
    phaseErrorOnce(dev);
    expect(await failure(r.bot.execute(r.slot, request(tur(), 'none'))))
      .toMatchObject({ kind: 'phase-error', recovered: false });
    await expect(r.bot.portReset()).rejects.toMatchObject({ kind: 'transport', phase: 'recovery' });
  });

  it('remembers a failed recovery: the next command recovers first instead of going to an unrecovered device', async () => {
    const dev = new MockUsbDevice();
    let broken = true;
    const r = await rigOn(dev, FAST, (p) => override(p, {
      controlOut: (setup, data, ms) => broken
        ? Promise.reject(new UsbStallError('refused', { pipe: 'control' })) : p.controlOut(setup, data, ms),
      resetDevice: () => broken ? Promise.reject(new UsbError('IO', 'reset failed')) : p.resetDevice(),
    }));
    phaseErrorOnce(dev);
    expect(await failure(r.bot.execute(r.slot, request(tur(), 'none'))))
      .toMatchObject({ kind: 'phase-error', recovered: false });
    // Still broken: the command is refused after a fresh recovery attempt, without a CBW on the wire.
    const cbwsBefore = dev.log.filter((e) => e.type === 'cbw').length;
    const mark = dev.log.length;
    expect(await failure(r.bot.execute(r.slot, request(tur(), 'none'))))
      .toMatchObject({ kind: 'transport', phase: 'recovery', recovered: false });
    expect(dev.log.filter((e) => e.type === 'cbw').length).toBe(cbwsBefore);
    expect(dev.log.length).toBe(mark); // both recovery steps were refused by the (overridden) port
    // Repaired: the next command runs Reset Recovery first, then goes through.
    broken = false;
    const mark2 = dev.log.length;
    await r.bot.execute(r.slot, request(tur(), 'none'));
    expect(recoveryTrail(dev, mark2)).toEqual(['bomsr', 'clear-in', 'clear-out']);
    await stillWorks(r);
  });

  it('portReset() resets the device and it works after', async () => {
    const r = await rig();
    const mark = r.dev.log.length;
    await r.bot.portReset();
    expect(recoveryTrail(r.dev, mark)).toEqual(['port-reset']);
    await stillWorks(r);
  });

  it('waits RESET_DELAY between the Mass Storage Reset and the clear halts', async () => {
    const r = await rig({}, { ...FAST, quirkOverrides: parseQuirkOverrides('f055:5b00:RESET_DELAY=60') });
    expect(r.bot.quirks.resetDelayMs).toBe(60);
    const t0 = performance.now();
    await r.bot.resetRecovery();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
  });
});

describe('Get Max LUN', () => {
  it('multi-LUN device: its answer', async () => {
    const r = await personality('multi-lun');
    expect(r.bot.maxLun).toBe(1);
  });

  it.each([1, 2, 16])('%i LUN(s): max LUN n - 1, and the highest LUN takes commands', async (n) => {
    const luns = Array.from({ length: n }, (_, i) => ({ blocks: 64 + i }));
    const r = await rig({ luns });
    expect(r.bot.maxLun).toBe(n - 1);
    expect(r.dev.log.some((e) => e.type === 'get-max-lun' && e.answer === n - 1)).toBe(true);
    const cap = Buffer.alloc(8);
    const res = await r.bot.execute(r.slot, request([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'in', [cap], n - 1));
    expect(res.status).toBe(0);
    expect(cap.readUInt32BE(0)).toBe(64 + n - 1 - 1); // that LUN's own last LBA
    expect(await failure(r.bot.execute(r.slot, request(tur(), 'none', [], n))))
      .toMatchObject({ kind: 'transport', phase: 'request' });
  });

  it('get-max-lun-stall fault: 0 for a two-LUN device, the next open asks again and gets 1', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }, { blocks: 64 }] });
    dev.faults.inject({ fault: { kind: 'get-max-lun-stall' } });
    const first = await rigOn(dev);
    expect(first.bot.maxLun).toBe(0);
    await first.bot.close();
    const second = await rigOn(dev);
    expect(second.bot.maxLun).toBe(1);
  });

  it('STALL: 0', async () => {
    const r = await rig({ getMaxLunStalls: true, luns: [{ blocks: 64 }, { blocks: 64 }] });
    expect(r.bot.maxLun).toBe(0);
    expect(r.dev.log.some((e) => e.type === 'get-max-lun' && e.answer === 'stall')).toBe(true);
  });

  it('answer > 15: 0', async () => {
    const r = await rigOn(new MockUsbDevice(), FAST, (p) => override(p, { controlIn: () => Promise.resolve(Buffer.from([0x20])) }));
    expect(r.bot.maxLun).toBe(0);
  });

  it('empty answer or timeout: 0', async () => {
    const a = await rigOn(new MockUsbDevice(), FAST, (p) => override(p, { controlIn: () => Promise.resolve(Buffer.alloc(0)) }));
    expect(a.bot.maxLun).toBe(0);
    const b = await rigOn(new MockUsbDevice(), FAST, (p) => override(p, {
      controlIn: () => Promise.reject(new UsbTimeoutError(undefined, { pipe: 'control' })),
    }));
    expect(b.bot.maxLun).toBe(0);
    await stillWorks(b);
  });

  it('disconnect during Get Max LUN: open rejects device-gone', async () => {
    const dev = new MockUsbDevice();
    const port = dev.open();
    dev.disconnect();
    await expect(BotTransport.open(port, FAST)).rejects.toMatchObject({ kind: 'device-gone' });
  });

  it('NO_GET_MAX_LUN and SINGLE_LUN quirks: not asked, 0, and LUN 1 refused before the wire', async () => {
    for (const name of ['no-get-max-lun', 'single-lun'] as const) {
      const r = await personality(name);
      expect(r.dev.stats.getMaxLun).toBe(0);
      expect(r.bot.maxLun).toBe(0);
      const cbws = r.dev.stats.cbws;
      expect(await failure(r.bot.execute(r.slot, request(tur(), 'none', [], 1))))
        .toMatchObject({ kind: 'transport', phase: 'request' });
      expect(r.dev.stats.cbws).toBe(cbws);
    }
  });
});

describe('one command at a time, abort, close', () => {
  it('a second execute while one is on the wire rejects busy, and the first completes', async () => {
    const r = await rig({ latencyMs: 2 });
    const first = r.bot.execute(r.slot, request(read10(0, 1), 'in', [Buffer.alloc(BLOCK)]));
    const other = r.bot.allocSlot(1);
    expect(await failure(r.bot.execute(other, request(tur(), 'none')))).toMatchObject({ kind: 'busy' });
    expect(await first).toMatchObject({ status: 0 });
  });

  it('abort cancels the command: aborted, after Reset Recovery, and the device works', async () => {
    const r = await rig({}, { timeouts: { dataMs: 60_000, cswMs: 60_000 } });
    r.dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'no-response', phase: 'data' } });
    const p = r.bot.execute(r.slot, request(read10(0, 4), 'in', [Buffer.alloc(BLOCK), Buffer.alloc(3 * BLOCK)]));
    await new Promise((res) => setTimeout(res, 5));
    const mark = r.dev.log.length;
    await r.bot.abort(r.slot);
    const e = await failure(p);
    expect(e).toMatchObject({ kind: 'aborted', recovered: true });
    expect(recoveryTrail(r.dev, mark)).toEqual(['bomsr', 'clear-in', 'clear-out']);
    await stillWorks(r);
  });

  it('abort of a slot with nothing running does nothing', async () => {
    const r = await rig();
    await r.bot.abort(r.slot);
    await stillWorks(r);
  });

  it('close with a command in flight: it rejects aborted, the port is closed, later calls refuse', async () => {
    const r = await rig({}, { timeouts: { dataMs: 60_000, cswMs: 60_000 } });
    r.dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'no-response', phase: 'data' } });
    const p = r.bot.execute(r.slot, request(read10(0, 1), 'in', [Buffer.alloc(BLOCK)]));
    await new Promise((res) => setTimeout(res, 5));
    await r.bot.close();
    expect(await failure(p)).toMatchObject({ kind: 'aborted' });
    expect(r.port.closed).toBe(true);
    expect(await failure(r.bot.execute(r.slot, request(tur(), 'none')))).toMatchObject({ kind: 'aborted' });
  });

  it('refuses malformed requests before anything reaches the wire', async () => {
    const r = await rig();
    const cbws = r.dev.stats.cbws;
    const bad = [
      { ...request(tur(), 'none'), cdbLength: 0 },
      { ...request(tur(), 'none'), cdbLength: 17, cdb: new Uint8Array(17) },
      { ...request(tur(), 'none'), segmentCount: 1 },
      request(tur(), 'in'),
      request(tur(), 'none', [Buffer.alloc(1)]),
      request(read10(0, 1), 'in', Array.from({ length: 9 }, () => Buffer.alloc(BLOCK))),
      request(read10(0, 1), 'in', [Buffer.alloc(r.bot.maxTransferBytes + BLOCK)]),
    ];
    for (const req of bad) {
      expect(await failure(r.bot.execute(r.slot, req))).toMatchObject({ kind: 'transport', phase: 'request' });
    }
    expect(r.dev.stats.cbws).toBe(cbws);
    await stillWorks(r);
  });

  it('refuses a slot from another transport or a freed slot', async () => {
    const a = await rig();
    const b = await rig();
    expect(await failure(a.bot.execute(b.slot, request(tur(), 'none')))).toMatchObject({ phase: 'request' });
    a.bot.freeSlot(a.slot);
    expect(await failure(a.bot.execute(a.slot, request(tur(), 'none')))).toMatchObject({ phase: 'request' });
  });
});

/** Wrap createTransfer to measure how many IN transfers are in flight at once. */
function countingPort(p: UsbPort, peak: { in: number }): UsbPort {
  let live = 0;
  return override(p, {
    createTransfer: (pipe) => {
      const t = p.createTransfer(pipe);
      const wrapped: UsbTransfer = {
        pipe,
        get inFlight() { return t.inFlight; },
        cancel: () => t.cancel(),
        submit: (buf, ms) => {
          if (pipe === 'in') peak.in = Math.max(peak.in, ++live);
          return t.submit(buf, ms).finally(() => { if (pipe === 'in') live -= 1; });
        },
      };
      return wrapped;
    },
  });
}

describe('quirk effects on the engine', () => {
  const fourSegmentRead = async (botOpts = FAST): Promise<{ peak: number; ok: boolean }> => {
    const peak = { in: 0 };
    const r = await rigOn(new MockUsbDevice({ luns: [{ blocks: 64 }] }), botOpts, (p) => countingPort(p, peak));
    const buf = Buffer.alloc(4 * BLOCK);
    const segs = [0, 1, 2, 3].map((k) => buf.subarray(k * BLOCK, (k + 1) * BLOCK));
    const res = await r.bot.execute(r.slot, request(read10(0, 4), 'in', segs));
    return { peak: peak.in, ok: res.status === 0 && res.transferred === 4 * BLOCK };
  };

  it('without NO_CSW_PIPELINING the data segments are in flight together, the CSW read queued behind them', async () => {
    expect(await fourSegmentRead()).toEqual({ peak: 5, ok: true });
  });

  it('NO_CSW_PIPELINING (QEMU 46f4:0001) keeps one IN transfer in flight', async () => {
    const quirkOverrides = parseQuirkOverrides('f055:5b00:NO_CSW_PIPELINING');
    expect(await fourSegmentRead({ ...FAST, quirkOverrides })).toEqual({ peak: 1, ok: true });
    // The table's entry is per speed: behind xHCI (SuperSpeed) QEMU's stick loses a queued CSW read.
    const qemu = await rigOn(new MockUsbDevice({ vendorId: 0x46f4, productId: 0x0001, speed: 'super' }));
    expect(qemu.bot.quirks.noCswPipelining).toBe(true);
  });

  it('IGNORE_RESIDUE: a garbage residue is replaced by the host count', async () => {
    const plain = await rigOn(new MockUsbDevice({ quirks: { residue: 'garbage' } }));
    const a = await plain.bot.execute(plain.slot, request(read10(0, 1), 'in', [Buffer.alloc(BLOCK)]));
    expect(a).toMatchObject({ transferred: BLOCK, deviceResidue: BLOCK, residue: BLOCK }); // distrusted the data
    const quirky = await personality('ignore-residue');
    expect(quirky.bot.quirks.ignoreResidue).toBe(true);
    const b = await quirky.bot.execute(quirky.slot, request(read10(0, 1), 'in', [Buffer.alloc(BLOCK)]));
    expect(b).toMatchObject({ transferred: BLOCK, deviceResidue: BLOCK, residue: 0 });
  });

  it('MAX_SECTORS_64: 32 KiB per command at most', async () => {
    const r = await personality('max-sectors-64');
    expect(r.bot.maxTransferBytes).toBe(MAX_SECTORS_64_BYTES);
    const ok = await r.bot.execute(r.slot, request(read10(0, 64), 'in', [Buffer.alloc(64 * BLOCK)]));
    expect(ok.status).toBe(0);
    expect(await failure(r.bot.execute(r.slot, request(read10(0, 65), 'in', [Buffer.alloc(65 * BLOCK)]))))
      .toMatchObject({ phase: 'request' });
  });

  it('MAX_TRANSFER_BYTES=n and the maxTransferBytes option cap the size; the speed sets the default', async () => {
    const a = await rig({}, { ...FAST, quirkOverrides: parseQuirkOverrides('f055:5b00:MAX_TRANSFER_BYTES=8192') });
    expect(a.bot.maxTransferBytes).toBe(8192);
    const b = await rig({}, { ...FAST, maxTransferBytes: 4096 });
    expect(b.bot.maxTransferBytes).toBe(4096);
    expect((await rig({ speed: 'high' })).bot.maxTransferBytes).toBe(240 * 512);
    expect((await rig({ speed: 'super', maxPacketSize: 1024 })).bot.maxTransferBytes).toBe(1024 * 1024);
    expect((await rig({ speed: 'full', maxPacketSize: 64 })).bot.maxTransferBytes).toBe(64 * 1024);
  });

  it('GO_SLOW: four times longer timeouts', async () => {
    const r = await personality('slow', { timeouts: { cbwMs: 100, cswMs: 100, dataMs: 100, controlMs: 100 } });
    expect(r.bot.timeouts).toEqual({ cbwMs: 400, cswMs: 400, dataMs: 400, controlMs: 400 });
    await stillWorks(r);
  });

  it('SCSI-level quirks are carried for the layers above', async () => {
    expect((await personality('fix-capacity')).bot.quirks.fixCapacity).toBe(true);
    expect((await personality('no-read-capacity-16')).bot.quirks.noReadCapacity16).toBe(true);
    const r = await rigOn(createPersonality('good'), { ...FAST,
      quirkOverrides: parseQuirkOverrides('f055:5b00:NO_SYNCHRONIZE_CACHE') });
    expect(r.bot.quirks.noSynchronizeCache).toBe(true);
  });
});

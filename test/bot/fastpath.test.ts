import { describe, expect, it } from 'vitest';
import { BotError } from '../../src/bot/errors.js';
import { NO_QUIRKS, parseQuirkOverrides, resolveQuirks } from '../../src/quirks/index.js';
import { BotTransport } from '../../src/bot/transport.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import type { UsbPort } from '../../src/usb/port.js';
import { request } from './helpers.js';
import { qemuLike } from './qemu-like-port.js';

const QEMU = { vendorId: 0x46f4, productId: 0x0001 };
const TIMEOUTS = { cbwMs: 300, cswMs: 300, dataMs: 300, controlMs: 300 };

function rw(op: 'read' | 'write', lba: number, blocks: number): number[] {
  return [op === 'read' ? 0x28 : 0x2a, 0, (lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff, 0,
    (blocks >> 8) & 0xff, blocks & 0xff, 0];
}

/** 20 READs, 20 WRITEs and 20 TEST UNIT READYs of assorted sizes, some split into several segments. */
async function workload(bot: BotTransport): Promise<void> {
  const slot = bot.allocSlot(4);
  const data = Buffer.alloc(256 * 1024, 0x3c);
  for (let i = 0; i < 20; i++) {
    const blocks = [8, 240, 512][i % 3] ?? 8;
    const bytes = blocks * 512;
    const segs = i % 2 === 0 ? [data.subarray(0, bytes)] : [data.subarray(0, bytes / 2), data.subarray(bytes / 2, bytes)];
    const w = await bot.execute(slot, request(rw('write', 100 + i, blocks), 'out', segs));
    expect(w).toMatchObject({ status: 0, transferred: bytes, residue: 0 });
    const r = await bot.execute(slot, request(rw('read', 100 + i, blocks), 'in', segs));
    expect(r).toMatchObject({ status: 0, transferred: bytes, residue: 0 });
    const t = await bot.execute(slot, request([0, 0, 0, 0, 0, 0], 'none'));
    expect(t.status).toBe(0);
  }
}

function stick(speed: 'super' | 'high'): MockUsbDevice {
  return new MockUsbDevice({ ...QEMU, speed, maxPacketSize: speed === 'super' ? 1024 : 512, luns: [{ blocks: 8192 }] });
}

describe('round trips saved only where the device model takes it', () => {
  for (const model of ['xhci', 'ehci'] as const) {
    const speed = model === 'xhci' ? 'super' : 'high';
    it(`${model}: with the table's quirks for ${speed} speed, nothing the device cannot take ever reaches it`, async () => {
      const q = qemuLike(stick(speed).open(), model);
      const bot = await BotTransport.open(q.port, { timeouts: TIMEOUTS, maxTransferBytes: 1024 * 1024 });
      expect(bot.quirks).toMatchObject(model === 'xhci' ? { noCswPipelining: true, noEarlyIn: false }
        : { noCswPipelining: true, noEarlyIn: true });
      await workload(bot);
      expect(q.violations).toBe(0);
      await bot.close();
    });

    it(`${model}: without them the engine fails typed, within its timeouts, recovers, and never hangs`, async () => {
      const q = qemuLike(stick(speed).open(), model);
      const bot = await BotTransport.open(q.port, { timeouts: TIMEOUTS, quirks: NO_QUIRKS });
      const slot = bot.allocSlot(1);
      const t0 = Date.now();
      const err = await bot.execute(slot, request(rw('read', 0, 8), 'in', [Buffer.alloc(4096)])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BotError);
      // xHCI: the CSW read queued behind the data is lost, so the CSW phase times out; EHCI: the early data-IN is
      // stalled, the data then arrives where the CSW was due (an invalid CSW). Both end in Reset Recovery.
      expect((err as BotError).kind).toBe(model === 'xhci' ? 'timeout' : 'invalid-csw');
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(q.violations).toBeGreaterThan(0);
      await bot.close();
    });
  }

  it('xhci: a WRITE of at most 120 KiB has its CSW read queued with the CBW and the data, a larger one does not', async () => {
    const q = qemuLike(stick('super').open(), 'xhci');
    const order: string[] = [];
    const port: UsbPort = Object.create(q.port) as UsbPort;
    port.createTransfer = (pipe) => {
      const t = q.port.createTransfer(pipe);
      return { pipe, get inFlight() { return t.inFlight; }, cancel: () => { t.cancel(); },
        submit: (b, ms) => { order.push(`${pipe}:${b.length}`); return t.submit(b, ms).finally(() => order.push(`done ${pipe}:${b.length}`)); } };
    };
    const bot = await BotTransport.open(port, { timeouts: TIMEOUTS, maxTransferBytes: 1024 * 1024 });
    const slot = bot.allocSlot(1);
    const csw = `in:${Math.max(64, port.info.maxPacketSize.in)}`;
    for (const blocks of [8, 240]) {
      order.length = 0;
      const w = await bot.execute(slot, request(rw('write', 0, blocks), 'out', [Buffer.alloc(blocks * 512, 1)]));
      expect(w).toMatchObject({ status: 0, transferred: blocks * 512 });
      expect(order.slice(0, 3)).toEqual(['out:31', `out:${blocks * 512}`, csw]);
    }
    order.length = 0;
    await bot.execute(slot, request(rw('write', 0, 256), 'out', [Buffer.alloc(256 * 512, 1)]));
    expect(order.indexOf(csw)).toBeGreaterThan(order.indexOf(`done out:${256 * 512}`));
    expect(q.violations).toBe(0);
    await bot.close();
  });

  it('xhci: a CSW read queued with a WRITE larger than the device takes at once is stalled, cleared and read again', async () => {
    const q = qemuLike(stick('super').open(), 'xhci');
    const quirkOverrides = parseQuirkOverrides('46f4:0001:NO_CSW_PIPELINING+QUEUED_CSW_OUT_MAX=1048576');
    const bot = await BotTransport.open(q.port, { timeouts: TIMEOUTS, quirkOverrides, maxTransferBytes: 1024 * 1024 });
    const slot = bot.allocSlot(1);
    const data = Buffer.alloc(512 * 1024, 0x7e);
    const w = await bot.execute(slot, request(rw('write', 64, 1024), 'out', [data]));
    expect(w).toMatchObject({ status: 0, transferred: data.length, residue: 0 });
    expect(q.violations).toBe(1);
    const back = Buffer.alloc(data.length);
    const r = await bot.execute(slot, request(rw('read', 64, 1024), 'in', [back]));
    expect(r.status).toBe(0);
    expect(back.equals(data)).toBe(true);
    await bot.close();
  });

  it('the default for a device not in the table: data with the CBW and the CSW queued behind it', async () => {
    const dev = new MockUsbDevice({ vendorId: 0x1234, productId: 0x5678, speed: 'high', luns: [{ blocks: 8192 }] });
    const order: string[] = [];
    const raw = dev.open();
    const port: UsbPort = Object.create(raw) as UsbPort;
    port.createTransfer = (pipe) => {
      const t = raw.createTransfer(pipe);
      return { pipe, get inFlight() { return t.inFlight; }, cancel: () => { t.cancel(); },
        submit: (b, ms) => { order.push(`${pipe}:${b.length}`); return t.submit(b, ms).finally(() => order.push(`done ${pipe}:${b.length}`)); } };
    };
    const bot = await BotTransport.open(port, { timeouts: TIMEOUTS });
    expect(resolveQuirks({ vendorId: 0x1234, productId: 0x5678, speed: 'high' }).flags).toEqual([]);
    const slot = bot.allocSlot(1);
    order.length = 0;
    await bot.execute(slot, request(rw('read', 0, 8), 'in', [Buffer.alloc(4096)]));
    // All three submitted before anything completed: one round trip instead of three.
    expect(order.slice(0, 3)).toEqual(['out:31', 'in:4096', `in:${Math.max(64, port.info.maxPacketSize.in)}`]);
    await bot.close();
  });
});

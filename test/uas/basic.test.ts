/**
 * The UAS transport on the software disk: every IU of a normal command, tags, several commands in flight, and
 * the sense that comes with CHECK CONDITION.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUasTransport } from '../../src/uas/index.js';
import { UsbCancelledError } from '../../src/usb/errors.js';
import type { UsbPort } from '../../src/usb/port.js';
import { command, inquiry, pattern, read10, readCapacity10, run, settle, tur, uasRig, write10, type UasRig } from './helpers.js';

let rig: UasRig | undefined;
afterEach(async () => { await rig?.tr.close(); rig = undefined; });

describe('UAS transport, one command at a time', () => {
  it('opens on the UAS setting: four pipes from the Pipe Usage descriptors, REPORT LUNS for the LUN count', async () => {
    rig = await uasRig({ luns: [{ blocks: 2048 }, { blocks: 2048 }] });
    const { tr, dev } = rig;
    expect(tr.protocol).toBe('uas');
    expect(tr.carriesSense).toBe(true);
    expect(tr.maxLun).toBe(1);
    expect(tr.queueDepth).toBe(30);
    expect(tr.port.info.endpoints).toEqual({ in: 0x81, out: 0x02, status: 0x83, command: 0x04 });
    expect(dev.log.some((e) => e.type === 'uas-command' && e.opcode === 0xa0)).toBe(true);
  });

  it('a device that will not answer REPORT LUNS is scanned with INQUIRY, LUN after LUN, until one is refused', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 2048 }, { blocks: 2048 }] });
    dev.uasFaults.inject({ match: { opcode: 0xa0 }, times: 3, fault: { kind: 'task-set-full' } });
    const tr = await openUasTransport(dev.open());
    expect(tr.maxLun).toBe(1);
    const asked = dev.log.filter((e) => e.type === 'uas-command' && e.opcode === 0x12).map((e) => (e as { lun: number }).lun);
    expect(asked).toEqual([1, 2]);
    expect(dev.log.some((e) => e.type === 'uas-response' && e.code === 0x09)).toBe(true); // INCORRECT LUN for LUN 2
    await tr.close();
  });

  it('INQUIRY: READ READY, 36 bytes on data-in, SENSE IU with GOOD', async () => {
    rig = await uasRig();
    const buf = Buffer.alloc(36);
    const r = await run(rig.tr, command(inquiry(), 'in', buf));
    expect(r).toEqual({ status: 0, transferred: 36, residue: 0, senseLength: 0 });
    expect(buf.subarray(8, 13).toString()).toBe('USBMS');
    const kinds = rig.dev.log.filter((e) => e.type.startsWith('uas-')).slice(-3).map((e) => e.type);
    expect(kinds).toEqual(['uas-command', 'uas-ready', 'uas-sense']);
  });

  it('a short data-in phase is a residue, counted by the host', async () => {
    rig = await uasRig();
    const r = await run(rig.tr, command(inquiry(255), 'in', Buffer.alloc(255)));
    expect(r.status).toBe(0);
    expect(r.transferred).toBeLessThan(255);
    expect(r.residue).toBe(255 - r.transferred);
  });

  it('CHECK CONDITION carries its sense in the SENSE IU (no REQUEST SENSE on the wire)', async () => {
    rig = await uasRig();
    const c = command(read10(1_000_000, 1), 'in', Buffer.alloc(512));
    const r = await run(rig.tr, c);
    expect(r.status).toBe(0x02);
    expect(r.senseLength).toBe(18);
    expect(c.sense[0]).toBe(0x70);
    expect(c.sense[2]! & 0x0f).toBe(0x05);
    expect(c.sense[12]).toBe(0x21); // LBA out of range
    expect(rig.dev.log.some((e) => e.type === 'uas-command' && e.opcode === 0x03)).toBe(false);
  });

  it('WRITE then READ round trip, data byte-exact, no-data commands', async () => {
    rig = await uasRig();
    const data = pattern(8192, 3);
    expect((await run(rig.tr, command(write10(100, 16), 'out', data))).status).toBe(0);
    const back = Buffer.alloc(8192);
    expect(await run(rig.tr, command(read10(100, 16), 'in', back))).toEqual({ status: 0, transferred: 8192, residue: 0, senseLength: 0 });
    expect(back.equals(data)).toBe(true);
    expect((await run(rig.tr, command(tur(), 'none'))).status).toBe(0);
    const cap = Buffer.alloc(8);
    await run(rig.tr, command(readCapacity10(), 'in', cap));
    expect(cap.readUInt32BE(0)).toBe(16383);
  });

  it('segments move one after the other into the caller\'s buffers', async () => {
    rig = await uasRig();
    await run(rig.tr, command(write10(0, 8), 'out', pattern(4096, 9)));
    const a = Buffer.alloc(1024);
    const b = Buffer.alloc(3072);
    const slot = rig.tr.allocSlot(2);
    const c = { ...command(read10(0, 8), 'in'), segments: [a, b], segmentCount: 2 };
    expect((await rig.tr.execute(slot, c)).transferred).toBe(4096);
    expect(Buffer.concat([a, b]).equals(pattern(4096, 9))).toBe(true);
  });
});

describe('UAS transport, several commands in flight', () => {
  it('keeps up to the queue depth in flight, each on its own tag, and completes them all', async () => {
    rig = await uasRig();
    const { tr, dev } = rig;
    for (let i = 0; i < 16; i++) await run(tr, command(write10(i * 8, 8), 'out', pattern(4096, i)));
    const slots = Array.from({ length: 16 }, () => tr.allocSlot(1));
    const bufs = slots.map(() => Buffer.alloc(4096));
    const results = await Promise.all(slots.map((s, i) => tr.execute(s, command(read10(i * 8, 8), 'in', bufs[i]))));
    expect(results.every((r) => r.status === 0 && r.transferred === 4096)).toBe(true);
    bufs.forEach((b, i) => expect(b.equals(pattern(4096, i))).toBe(true));
    expect(tr.stats.maxInFlight).toBe(16);
    expect(dev.stats.uas.maxTasks).toBeGreaterThan(8);
    const tags = dev.log.filter((e) => e.type === 'uas-command' && e.opcode === 0x28).map((e) => (e as { tag: number }).tag);
    expect(new Set(tags).size).toBe(tags.length);
  });

  it('one more than the queue depth is refused busy and changes nothing on the wire', async () => {
    rig = await uasRig({}, { queueDepth: 2 });
    const { tr, dev } = rig;
    const s = [tr.allocSlot(1), tr.allocSlot(1), tr.allocSlot(1)];
    const before = dev.stats.uas.commands;
    const a = tr.execute(s[0]!, command(tur(), 'none'));
    const b = tr.execute(s[1]!, command(tur(), 'none'));
    const c = await settle(tr.execute(s[2]!, command(tur(), 'none')));
    expect((c as { kind?: string }).kind).toBe('busy');
    await Promise.all([a, b]);
    expect(dev.stats.uas.commands - before).toBe(2);
  });

  for (const order of ['lifo', 'random'] as const) {
    it(`data phases announced out of submission order (${order}) land in the right buffers`, async () => {
      rig = await uasRig({ uas: { order }, seed: 7 });
      const { tr } = rig;
      for (let i = 0; i < 12; i++) await run(tr, command(write10(i * 4, 4), 'out', pattern(2048, 40 + i)));
      const slots = Array.from({ length: 12 }, () => tr.allocSlot(1));
      const bufs = slots.map(() => Buffer.alloc(2048));
      const writes = Array.from({ length: 6 }, () => tr.allocSlot(1));
      const all = [
        ...slots.map((s, i) => tr.execute(s, command(read10(i * 4, 4), 'in', bufs[i]))),
        ...writes.map((s, i) => tr.execute(s, command(write10(1000 + i * 4, 4), 'out', pattern(2048, 90 + i)))),
      ];
      const results = await Promise.all(all);
      expect(results.every((r) => r.status === 0)).toBe(true);
      bufs.forEach((b, i) => expect(b.equals(pattern(2048, 40 + i))).toBe(true));
      for (let i = 0; i < 6; i++) {
        const back = Buffer.alloc(2048);
        await run(tr, command(read10(1000 + i * 4, 4), 'in', back));
        expect(back.equals(pattern(2048, 90 + i))).toBe(true);
      }
      const readies = rig.dev.log.filter((e) => e.type === 'uas-ready').map((e) => (e as { tag: number }).tag);
      const commands = rig.dev.log.filter((e) => e.type === 'uas-command' && (e.opcode === 0x28 || e.opcode === 0x2a))
        .map((e) => (e as { tag: number }).tag);
      expect(readies.slice(-18)).not.toEqual(commands.slice(-18));
    });
  }
});

describe('opening UAS', () => {
  it('a BOT+UAS device is switched to its UAS setting (SET_INTERFACE 1)', async () => {
    const dev = new MockUsbDevice({ transports: 'bot+uas' });
    const port = dev.open();
    expect(port.info.alternateSetting).toBe(0);
    const tr = await openUasTransport(port);
    expect(port.info.alternateSetting).toBe(1);
    expect(dev.function).toBe('uas');
    expect(dev.log.some((e) => e.type === 'set-interface' && e.alternateSetting === 1)).toBe(true);
    await tr.close();
  });

  it('refuses a Bulk-Only-only device and SuperSpeed, typed', async () => {
    const bot = new MockUsbDevice();
    const e1 = await settle(openUasTransport(bot.open()));
    expect(e1).toMatchObject({ code: 'UAS_UNSUPPORTED' });
    const ss = new MockUsbDevice({ transports: 'uas', speed: 'super', maxPacketSize: 1024 });
    const e2 = await settle(openUasTransport(ss.open()));
    expect(e2).toMatchObject({ code: 'UAS_UNSUPPORTED' });
    expect((e2 as Error).message).toMatch(/streams/);
  });
});

describe('completions that arrive in another order than the device acted', () => {
  it('a status IU before its COMMAND IU\'s own completion: the command completes, the slot is reused safely', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 4096 }] });
    const port = dev.open();
    // The COMMAND IU transfers report their completion 20 ms late (libusb may hand them over in a later batch).
    const create = port.createTransfer.bind(port);
    port.createTransfer = (pipe) => {
      const t = create(pipe);
      if (pipe !== 'command') return t;
      return { pipe: t.pipe, get inFlight() { return t.inFlight; }, cancel: () => t.cancel(),
        submit: async (b, ms) => { const n = await t.submit(b, ms); await new Promise((r) => setTimeout(r, 20)); return n; } };
    };
    const tr = await openUasTransport(port);
    const slot = tr.allocSlot(1);
    for (let i = 0; i < 5; i++) {
      const buf = Buffer.alloc(36);
      expect(await tr.execute(slot, command(inquiry(), 'in', buf))).toMatchObject({ status: 0, transferred: 36 });
    }
    await tr.close();
  });

  /**
   * The data-in transfers of `port` report their completion `lateMs` after the device sent the data (the status IU
   * comes first), and a cancel takes a late one back at once as libusb does, with what had moved.
   */
  function lateDataIn(port: UsbPort, lateMs: number): void {
    const create = port.createTransfer.bind(port);
    port.createTransfer = (pipe) => {
      const t = create(pipe);
      if (pipe !== 'in') return t;
      let takeBack: (() => void) | undefined;
      return { pipe: t.pipe, get inFlight() { return t.inFlight; },
        cancel: () => { t.cancel(); takeBack?.(); },
        submit: async (b, ms) => {
          const n = await t.submit(b, ms);
          return new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => { takeBack = undefined; resolve(n); }, lateMs);
            takeBack = () => { clearTimeout(timer); takeBack = undefined; reject(new UsbCancelledError(undefined, { actualLength: 0, pipe: 'in' })); };
          });
        } };
    };
  }

  it('a data completion trailing its status IU within the grace: the command completes with all of its data', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 4096 }] });
    const port = dev.open();
    const tr0 = await openUasTransport(port);
    const data = pattern(4096, 3);
    expect(await run(tr0, command(write10(100, 8), 'out', data))).toMatchObject({ status: 0, transferred: 4096 });
    await tr0.close();
    const again = dev.open();
    lateDataIn(again, 2); // under the 5 ms grace
    const tr = await openUasTransport(again);
    const slot = tr.allocSlot(1);
    for (let i = 0; i < 5; i++) {
      const buf = Buffer.alloc(4096);
      expect(await tr.execute(slot, command(read10(100, 8), 'in', buf))).toMatchObject({ status: 0, transferred: 4096 });
      expect(buf.equals(data)).toBe(true);
    }
    await tr.close();
  });

  it('a data completion that never comes after the status IU: taken back after the grace, the residue reported, the slot reused', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 4096 }] });
    const port = dev.open();
    lateDataIn(port, 60_000); // held far past any timeout the test would wait for
    const tr = await openUasTransport(port, { timeouts: { commandMs: 500, dataMs: 20_000, statusMs: 20_000, tmfMs: 300 } });
    const slot = tr.allocSlot(1);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await tr.execute(slot, command(read10(8 * i, 8), 'in', Buffer.alloc(4096)));
      // not good data by mistake: nothing arrived, so nothing counts as transferred
      expect(r).toMatchObject({ status: 0, transferred: 0 });
      expect(Date.now() - t0).toBeLessThan(5_000); // liveness: without the grace it would wait for the 20 s budget
    }
    await tr.close();
  });
});

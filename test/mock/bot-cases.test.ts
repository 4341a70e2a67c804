import { describe, it, expect } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { UsbError } from '../../src/usb/errors.js';
import { CSW_SIG, OP, TestHost, makeCbw, read10, settle, write10 } from './host.js';

function setup(opts: ConstructorParameters<typeof MockUsbDevice>[0] = {}): { dev: MockUsbDevice; host: TestHost } {
  const dev = new MockUsbDevice({ luns: [{ blocks: 2048 }], ...opts });
  return { dev, host: new TestHost(dev.open()) };
}

const lastCase = (dev: MockUsbDevice): number | undefined => {
  const e = [...dev.log].reverse().find((x) => x.type === 'csw');
  return e?.type === 'csw' ? e.case : undefined;
};

describe('BOT thirteen cases (device side)', () => {
  it('1 Hn=Dn: TEST UNIT READY, status 0, residue 0', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    expect(o.csw).toMatchObject({ signature: CSW_SIG, tag: o.tag, status: 0, residue: 0, length: 13 });
    expect(lastCase(dev)).toBe(1);
  });

  it('2 Hn<Di: READ(10) with no data expected -> phase error, nothing sent', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: read10(0, 1), length: 0 });
    expect(o.csw.status).toBe(2);
    expect(lastCase(dev)).toBe(2);
  });

  it('3 Hn<Do: WRITE(10) with no data expected -> phase error', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: write10(0, 1), length: 0 });
    expect(o.csw.status).toBe(2);
    expect(lastCase(dev)).toBe(3);
  });

  it('4 Hi>Dn: failing READ sends nothing, stalls IN, residue = expected', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: read10(5000, 1), length: 512, dir: 'in' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.moved).toBe(0);
    expect(o.csw).toMatchObject({ status: 1, residue: 512 });
    expect(lastCase(dev)).toBe(4);
  });

  it('5 Hi>Di: INQUIRY of 36 into 512: sends 36 (short packet ends the transfer), stalls, residue 476', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: [OP.INQUIRY, 0, 0, 0, 255, 0], length: 512, dir: 'in' });
    // The 36-byte short packet completes the data transfer; the stall then hits the CSW read, which is retried.
    expect(o.moved).toBe(36);
    expect(o.csw).toMatchObject({ status: 0, residue: 512 - 36 });
    expect(dev.stats.stalls.in).toBe(1);
    expect(lastCase(dev)).toBe(5);
  });

  it('5 with a multiple of the packet size: the data transfer itself stalls with actualLength', async () => {
    const { host } = setup();
    const o = await host.run({ cdb: read10(0, 2), length: 4096, dir: 'in' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.moved).toBe(1024);
    expect(o.csw).toMatchObject({ status: 0, residue: 3072 });
  });

  it('5 with the pad policy: zeros up to the expected length, no stall, residue still exact', async () => {
    const { dev, host } = setup({ shortDataPolicy: 'pad' });
    const o = await host.run({ cdb: [OP.INQUIRY, 0, 0, 0, 255, 0], length: 100, dir: 'in' });
    expect(o.dataError).toBeUndefined();
    expect(o.moved).toBe(100);
    expect(o.data.subarray(36).every((b) => b === 0)).toBe(true);
    expect(o.csw).toMatchObject({ status: 0, residue: 64 });
    expect(dev.stats.stalls.in).toBe(0);
  });

  it('6 Hi=Di: READ(10) of one block', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: read10(0, 1), length: 512, dir: 'in' });
    expect(o.moved).toBe(512);
    expect(o.csw).toMatchObject({ status: 0, residue: 0 });
    expect(lastCase(dev)).toBe(6);
  });

  it('7 Hi<Di: sends at most the expected length, then phase error', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: read10(0, 4), length: 1024, dir: 'in' });
    expect(o.moved).toBe(1024);
    expect(o.csw.status).toBe(2);
    expect(lastCase(dev)).toBe(7);
    expect(dev.stats.bytesIn).toBe(1024 + 13);
  });

  it('8 Hi<>Do: WRITE with data-in expected: IN stalled, phase error', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: write10(0, 1), length: 512, dir: 'in' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.csw.status).toBe(2);
    expect(lastCase(dev)).toBe(8);
  });

  it('9 Ho>Dn: failing WRITE stalls OUT, residue = expected', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: write10(4000, 1), length: 512, dir: 'out' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.csw).toMatchObject({ status: 1, residue: 512 });
    expect(lastCase(dev)).toBe(9);
  });

  it('9 with the pad policy: accepts everything without stalling', async () => {
    const { dev, host } = setup({ shortDataPolicy: 'pad' });
    const o = await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0], length: 1024, dir: 'out' });
    expect(o.dataError).toBeUndefined();
    expect(o.moved).toBe(1024);
    expect(o.csw).toMatchObject({ status: 0, residue: 1024 });
    expect(dev.stats.stalls.out).toBe(0);
  });

  it('10 Ho<>Di: READ with data-out: OUT stalled, phase error', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: read10(0, 1), length: 512, dir: 'out' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.csw.status).toBe(2);
    expect(lastCase(dev)).toBe(10);
  });

  it('11 Ho>Do: accepts what it needs, stalls OUT, residue exact, data written', async () => {
    const { dev, host } = setup();
    const data = Buffer.alloc(2048, 0xab);
    const o = await host.run({ cdb: write10(10, 1), length: 2048, dir: 'out' }, data);
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.moved).toBe(512);
    expect(o.csw).toMatchObject({ status: 0, residue: 1536 });
    expect(lastCase(dev)).toBe(11);
    const back = Buffer.alloc(1024);
    dev.luns[0]!.media.read(10n * 512n, back);
    expect(back.subarray(0, 512).every((b) => b === 0xab)).toBe(true);
    expect(back.subarray(512).every((b) => b === 0)).toBe(true);
  });

  it('12 Ho=Do: WRITE then READ back', async () => {
    const { dev, host } = setup();
    const data = Buffer.alloc(1024);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    const w = await host.run({ cdb: write10(7, 2), length: 1024, dir: 'out' }, data);
    expect(w.csw).toMatchObject({ status: 0, residue: 0 });
    expect(lastCase(dev)).toBe(12);
    const r = await host.run({ cdb: read10(7, 2), length: 1024, dir: 'in' });
    expect(r.data.equals(data)).toBe(true);
  });

  it('13 Ho<Do: takes the expected length, phase error', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: write10(0, 4), length: 1024, dir: 'out' });
    expect(o.moved).toBe(1024);
    expect(o.csw.status).toBe(2);
    expect(lastCase(dev)).toBe(13);
  });
});

describe('CBW validity and Reset Recovery', () => {
  for (const [name, cbw] of [
    ['bad signature', (() => { const b = makeCbw({ cdb: [0, 0, 0, 0, 0, 0] }); b[0] = 0x42; return b; })()],
    ['30 bytes', makeCbw({ cdb: [0, 0, 0, 0, 0, 0] }).subarray(0, 30)],
    ['32 bytes', Buffer.concat([makeCbw({ cdb: [0, 0, 0, 0, 0, 0] }), Buffer.alloc(1)])],
  ] as const) {
    it(`an invalid CBW (${name}) stalls both pipes until Reset Recovery; Clear Feature alone does not help`, async () => {
      const { dev, host } = setup();
      await host.bulkOut.submit(cbw, 1000);
      await new Promise((r) => setImmediate(r));
      expect(dev.halted).toEqual({ in: true, out: true });
      expect(dev.stats.invalidCbws).toBe(1);
      const csw = await settle(host.bulkIn.submit(Buffer.alloc(13), 1000));
      expect((csw as UsbError).code).toBe('USB_STALL');
      await host.port.clearHalt('in');
      await host.port.clearHalt('out');
      expect(dev.halted).toEqual({ in: true, out: true });
      const again = await settle(host.bulkOut.submit(makeCbw({ cdb: [0, 0, 0, 0, 0, 0] }), 1000));
      expect((again as UsbError).code).toBe('USB_STALL');
      // The Mass Storage Reset ends the invalid-CBW state but lifts no halt: that is Clear Feature's job.
      await host.port.controlOut({ bmRequestType: 0x21, bRequest: 0xff, wValue: 0, wIndex: 0 }, undefined, 1000);
      expect(dev.halted).toEqual({ in: true, out: true });
      await host.port.clearHalt('in');
      expect(dev.halted).toEqual({ in: false, out: true });
      await host.port.clearHalt('out');
      expect(dev.halted).toEqual({ in: false, out: false });
      const ok = await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] });
      expect(ok.csw.status).toBe(0);
      expect(dev.stats.resets).toBe(1);
    });
  }

  it('Clear Feature HALT also works as a standard control request on the endpoint', async () => {
    const { dev, host } = setup();
    await host.run({ cdb: read10(99999, 1), length: 512, dir: 'in' }); // leaves nothing halted: host cleared it
    dev.faults.inject({ fault: { kind: 'stall', phase: 'csw' } });
    await host.bulkOut.submit(makeCbw({ cdb: [0, 0, 0, 0, 0, 0] }), 1000);
    expect((await settle(host.bulkIn.submit(Buffer.alloc(13), 1000)) as UsbError).code).toBe('USB_STALL');
    await host.port.controlOut({ bmRequestType: 0x02, bRequest: 0x01, wValue: 0, wIndex: 0x81 }, undefined, 1000);
    expect(dev.halted.in).toBe(false);
    expect(dev.stats.clearHalts.in).toBe(2);
    expect((await host.readCsw()).status).toBe(0);
  });

  it('a CBW that is valid but not meaningful (LUN beyond max, reserved flags) gets a phase error', async () => {
    const { dev, host } = setup();
    const o = await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0], lun: 3 });
    expect(o.csw.status).toBe(2);
    const f = await host.run({ cdb: [OP.INQUIRY, 0, 0, 0, 36, 0], length: 36, dir: 'in', flags: 0x81 });
    expect(f.dataError?.code).toBe('USB_STALL');
    expect(f.csw.status).toBe(2);
    expect(dev.log.filter((e) => e.type === 'not-meaningful-cbw')).toHaveLength(2);
  });

  it('INQUIRY with 0xFF/0x55/0xAA in unused CDB bytes still completes', async () => {
    const { host } = setup();
    const b = makeCbw({ cdb: [OP.INQUIRY, 0, 0, 0, 36, 0], length: 36, dir: 'in' });
    b.fill(0xff, 21, 26); b.fill(0x55, 26, 28); b.fill(0xaa, 28, 31);
    await host.bulkOut.submit(b, 1000);
    const data = Buffer.alloc(36);
    expect(await host.bulkIn.submit(data, 1000)).toBe(36);
    expect((await host.readCsw()).status).toBe(0);
  });

  it('Bulk-Only Mass Storage Reset aborts a command in progress and the device takes the next CBW', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    const host = new TestHost(dev.open(), 50);
    dev.faults.inject({ fault: { kind: 'no-response', phase: 'csw' } });
    const hung = await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] }).catch((e: unknown) => e);
    expect((hung as UsbError).code).toBe('USB_TIMEOUT');
    await host.resetRecovery();
    expect((await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });
});

describe('Get Max LUN', () => {
  for (const n of [1, 2, 16]) {
    it(`answers ${n - 1} for ${n} LUNs`, async () => {
      const luns = Array.from({ length: n }, () => ({ blocks: 64 }));
      const { host } = setup({ luns });
      expect(await host.getMaxLun()).toBe(n - 1);
    });
  }

  it('stalls when configured to, and the control pipe works again afterwards', async () => {
    const { host } = setup({ getMaxLunStalls: true });
    expect((await host.getMaxLun() as UsbError).code).toBe('USB_STALL');
    expect((await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });

  it('rejects 17 LUNs at construction', () => {
    expect(() => new MockUsbDevice({ luns: Array.from({ length: 17 }, () => ({ blocks: 8 })) })).toThrow(/1\.\.16/);
  });

  it('Mass Storage Reset with a wrong interface number stalls', async () => {
    const { host } = setup();
    const r = await settle(host.port.controlOut({ bmRequestType: 0x21, bRequest: 0xff, wValue: 0, wIndex: 1 }, undefined, 100));
    expect((r as UsbError).code).toBe('USB_STALL');
  });
});

import { describe, it, expect } from 'vitest';
import { MockUsbDevice, type Fault } from '../../src/mock/index.js';
import { UsbError } from '../../src/usb/errors.js';
import { CSW_SIG, OP, TestHost, makeCbw, parseCsw, read10, runWithSense, settle, write10 } from './host.js';

const TUR = [OP.TUR, 0, 0, 0, 0, 0];

function setup(): { dev: MockUsbDevice; host: TestHost } {
  const dev = new MockUsbDevice({ luns: [{ blocks: 2048 }] });
  return { dev, host: new TestHost(dev.open(), 100) };
}

describe('CSW faults', () => {
  const cases: [Fault, (c: ReturnType<typeof parseCsw>, tag: number) => void][] = [
    [{ kind: 'csw-signature' }, (c) => expect(c.signature).not.toBe(CSW_SIG)],
    [{ kind: 'csw-tag' }, (c, tag) => expect(c.tag).not.toBe(tag)],
    [{ kind: 'csw-status', status: 3 }, (c) => expect(c.status).toBe(3)],
    [{ kind: 'csw-residue', residue: 999 }, (c) => expect(c.residue).toBe(999)],
  ];
  for (const [fault, check] of cases) {
    it(fault.kind, async () => {
      const { dev, host } = setup();
      dev.faults.inject({ fault });
      const o = await host.run({ cdb: TUR });
      check(o.csw, o.tag);
      expect(dev.log.some((e) => e.type === 'fault' && e.kind === fault.kind)).toBe(true);
      const next = await host.run({ cdb: TUR });
      expect(next.csw).toMatchObject({ signature: CSW_SIG, tag: next.tag, status: 0 });
    });
  }

  it('csw-length: a 12-byte and a 20-byte CSW', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'csw-length', length: 12 } });
    expect((await host.run({ cdb: TUR })).csw.length).toBe(12);
    dev.faults.inject({ fault: { kind: 'csw-length', length: 20 } });
    await host.bulkOut.submit(makeCbw({ cdb: TUR }), 100);
    const r = await settle(host.bulkIn.submit(Buffer.alloc(13), 100));
    expect((r as UsbError).code).toBe('USB_OVERFLOW');
  });

  it('lost-csw: no CSW, and the device takes the next CBW', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'lost-csw' } });
    await host.bulkOut.submit(makeCbw({ cdb: TUR }), 100);
    expect(((await settle(host.bulkIn.submit(Buffer.alloc(13), 20))) as UsbError).code).toBe('USB_TIMEOUT');
    expect((await host.run({ cdb: TUR })).csw.status).toBe(0);
  });

  it('stall csw: the CSW comes after the host clears the halt', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'stall', phase: 'csw' } });
    const o = await host.run({ cdb: TUR });
    expect(o.csw.status).toBe(0);
    expect(dev.stats.clearHalts.in).toBe(1);
  });

  it('no-response csw and delay csw', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'delay', phase: 'csw', ms: 30 } });
    const t0 = performance.now();
    expect((await host.run({ cdb: TUR })).csw.status).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    dev.faults.inject({ fault: { kind: 'no-response', phase: 'csw' } });
    expect(((await settle(host.run({ cdb: TUR }))) as UsbError).code).toBe('USB_TIMEOUT');
  });
});

describe('data-phase faults', () => {
  it('stall data after N bytes', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ match: { opcode: OP.READ10 }, fault: { kind: 'stall', phase: 'data', afterBytes: 1024 } });
    const o = await host.run({ cdb: read10(0, 4), length: 2048, dir: 'in' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.moved).toBe(1024);
    expect(o.csw.residue).toBe(1024);
  });

  it('stall data on a write', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'stall', phase: 'data' } });
    const o = await host.run({ cdb: write10(0, 1), length: 512, dir: 'out' }, Buffer.alloc(512));
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.csw.residue).toBe(512);
  });

  it('short-data on a write: the device stops taking data without stalling (host times out)', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'short-data', bytes: 512 } });
    await host.bulkOut.submit(makeCbw({ cdb: write10(0, 2), length: 1024, dir: 'out' }), 100);
    const r = await settle(host.bulkOut.submit(Buffer.alloc(1024), 30));
    expect((r as UsbError).code).toBe('USB_TIMEOUT');
    expect((r as UsbError).actualLength).toBe(512);
    expect((await host.readCsw()).residue).toBe(512);
  });

  it('babble: the device sends more than asked', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'babble', extraBytes: 100 } });
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 1), length: 512, dir: 'in' }), 100);
    expect(await host.bulkIn.submit(Buffer.alloc(512), 100)).toBe(512);
    const r = await settle(host.bulkIn.submit(Buffer.alloc(13), 100));
    expect((r as UsbError).code).toBe('USB_OVERFLOW');
  });

  it('no-response data and delay data', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'delay', phase: 'data', ms: 30 } });
    const t0 = performance.now();
    expect((await host.run({ cdb: read10(0, 1), length: 512, dir: 'in' })).csw.status).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    dev.faults.inject({ fault: { kind: 'no-response', phase: 'data' } });
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 1), length: 512, dir: 'in' }), 100);
    expect(((await settle(host.bulkIn.submit(Buffer.alloc(512), 30))) as UsbError).code).toBe('USB_TIMEOUT');
  });

  it('disconnect in the data phase after N bytes, and in the CSW phase', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'disconnect', phase: 'data', afterBytes: 512 } });
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 4), length: 2048, dir: 'in' }), 100);
    const r = await settle(host.bulkIn.submit(Buffer.alloc(2048), 100));
    expect((r as UsbError).code).toBe('USB_NO_DEVICE');
    expect((r as UsbError).actualLength).toBe(512);
    await host.port.close();
    dev.reconnect();
    const h2 = new TestHost(dev.open(), 100);
    dev.faults.inject({ fault: { kind: 'disconnect', phase: 'csw' } });
    expect(((await settle(h2.run({ cdb: TUR }))) as UsbError).code).toBe('USB_NO_DEVICE');
    expect(dev.isConnected).toBe(false);
  });

  it('no-sense-corrupt on a READ: wrong bytes, CHECK CONDITION, and the sense says NO SENSE 00/00', async () => {
    const { dev, host } = setup();
    const pattern = Buffer.alloc(2048);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 7 + 3) & 0xff;
    dev.luns[0]!.media.write(0n, pattern);
    dev.faults.inject({ match: { opcode: OP.READ10 }, fault: { kind: 'no-sense-corrupt' } });
    const { o, sense } = await runWithSense(host, { cdb: read10(0, 4), length: 2048, dir: 'in' });
    expect(o.csw).toMatchObject({ status: 1, residue: 0 });
    expect(o.moved).toBe(2048);
    expect(o.data.equals(pattern)).toBe(false);
    expect(sense).toEqual([0, 0, 0]);
    expect(dev.log.some((e) => e.type === 'fault' && e.kind === 'no-sense-corrupt')).toBe(true);
    expect((await host.run({ cdb: read10(0, 4), length: 2048, dir: 'in' })).data.equals(pattern)).toBe(true);
  });

  it('no-sense-corrupt on a WRITE: wrong bytes stored, the host\'s buffer untouched, CHECK CONDITION, NO SENSE', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ match: { opcode: OP.WRITE10 }, fault: { kind: 'no-sense-corrupt' } });
    const data = Buffer.alloc(1024, 0x3c);
    const { o, sense } = await runWithSense(host, { cdb: write10(8, 2), length: 1024, dir: 'out' }, data);
    expect(o.csw).toMatchObject({ status: 1, residue: 0 });
    expect(sense).toEqual([0, 0, 0]);
    expect(data.equals(Buffer.alloc(1024, 0x3c))).toBe(true);
    const stored = Buffer.alloc(1024);
    dev.luns[0]!.media.read(8n * 512n, stored);
    expect(stored.equals(data)).toBe(false);
  });

  it('a data-phase fault waits for a command that has a data phase', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'stall', phase: 'data' } });
    expect((await host.run({ cdb: TUR })).csw.status).toBe(0);
    expect(dev.faults.pending).toBe(1);
  });
});

describe('rule matching and other faults', () => {
  it('stall cbw refuses the CBW itself', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'stall', phase: 'cbw' } });
    const r = await settle(host.bulkOut.submit(makeCbw({ cdb: TUR }), 100));
    expect((r as UsbError).code).toBe('USB_STALL');
    expect((r as UsbError).actualLength).toBe(0);
    await host.port.clearHalt('out');
    expect((await host.run({ cdb: TUR })).csw.status).toBe(0);
  });

  it('match by opcode, lun, nth and times', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }, { blocks: 64 }] });
    const host = new TestHost(dev.open(), 100);
    dev.faults.inject({ match: { opcode: OP.TUR, lun: 1, nth: 2 }, times: 2, fault: { kind: 'csw-status', status: 1 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await host.run({ cdb: TUR, lun: 0 })).csw.status);
      statuses.push((await host.run({ cdb: TUR, lun: 1 })).csw.status);
    }
    expect(statuses).toEqual([0, 0, 0, 1, 0, 1, 0, 0]);
    expect(dev.faults.pending).toBe(0);
  });

  it('capacity-off-by-one is persistent until clear()', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'capacity-off-by-one' } });
    const rc = [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 2; i++) expect((await host.run({ cdb: rc, length: 8, dir: 'in' })).data.readUInt32BE(0)).toBe(2048);
    dev.faults.clear();
    expect((await host.run({ cdb: rc, length: 8, dir: 'in' })).data.readUInt32BE(0)).toBe(2047);
  });

  it('get-max-lun-stall applies to the next Get Max LUN only', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'get-max-lun-stall' } });
    expect(((await host.getMaxLun()) as UsbError).code).toBe('USB_STALL');
    expect(await host.getMaxLun()).toBe(0);
  });

  it('random faults are deterministic for a seed', async () => {
    async function run(seed: number): Promise<number[]> {
      const { dev, host } = setup();
      dev.faults.random({ seed, probability: 0.5, kinds: ['csw-status', { kind: 'csw-residue', residue: 7 }] });
      const out: number[] = [];
      for (let i = 0; i < 12; i++) {
        const c = (await host.run({ cdb: TUR })).csw;
        out.push(c.status * 100 + c.residue);
      }
      return out;
    }
    const a = await run(42);
    expect(await run(42)).toEqual(a);
    expect(a.some((x) => x !== 0)).toBe(true);
    expect(a.some((x) => x === 0)).toBe(true);
  });

  it('bad fault configurations are typed errors', () => {
    const { dev } = setup();
    expect(() => dev.faults.inject({ times: 0, fault: { kind: 'lost-csw' } })).toThrow(expect.objectContaining({ code: 'ARG_INVALID', name: 'FaultConfigError' }));
    expect(() => dev.faults.random({ probability: 2, kinds: ['lost-csw'] })).toThrow(expect.objectContaining({ code: 'ARG_INVALID', name: 'FaultConfigError' }));
    expect(() => dev.faults.random({ probability: 0.1, kinds: ['medium-error'] })).toThrow(expect.objectContaining({ code: 'ARG_INVALID', name: 'FaultConfigError' }));
  });
});

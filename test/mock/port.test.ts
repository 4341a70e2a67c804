import { describe, it, expect } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { UsbError } from '../../src/usb/errors.js';
import { CSW_SIG, OP, TestHost, makeCbw, parseCsw, read10, settle } from './host.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

function setup(opts: ConstructorParameters<typeof MockUsbDevice>[0] = {}): { dev: MockUsbDevice; host: TestHost } {
  const dev = new MockUsbDevice({ luns: [{ blocks: 2048 }], ...opts });
  return { dev, host: new TestHost(dev.open(), 1000) };
}

describe('packetisation', () => {
  it('a short-data device puts the CSW into the host data buffer (full packets, no stall)', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'short-data', bytes: 512 } });
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 4), length: 2048, dir: 'in', tag: 77 }), 1000);
    const buf = Buffer.alloc(2048);
    const n = await host.bulkIn.submit(buf, 1000);
    expect(n).toBe(512 + 13);
    const csw = parseCsw(buf.subarray(512, 525));
    expect(csw).toMatchObject({ signature: CSW_SIG, tag: 77, residue: 1536, status: 0 });
  });

  it('IN data larger than one transfer waits for the next transfer; several transfers in flight fill in order', async () => {
    const { host } = setup();
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 4), length: 2048, dir: 'in' }), 1000);
    const a = Buffer.alloc(1024);
    const b = Buffer.alloc(1024);
    const c = Buffer.alloc(13);
    const t2 = host.port.createTransfer('in');
    const t3 = host.port.createTransfer('in');
    const [na, nb, nc] = await Promise.all([host.bulkIn.submit(a, 1000), t2.submit(b, 1000), t3.submit(c, 1000)]);
    expect([na, nb, nc]).toEqual([1024, 1024, 13]);
    expect(parseCsw(c).status).toBe(0);
  });

  it('a packet larger than the room left is an overflow with actualLength', async () => {
    const { host } = setup();
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 1), length: 512, dir: 'in' }), 1000);
    const r = await settle(host.bulkIn.submit(Buffer.alloc(100), 1000));
    expect(r).toBeInstanceOf(UsbError);
    expect((r as UsbError).code).toBe('USB_OVERFLOW');
    expect((r as UsbError).actualLength).toBe(100);
  });

  it('honours a smaller max packet size (full speed, 64)', async () => {
    const { host, dev } = setup({ maxPacketSize: 64, speed: 'full' });
    expect(host.port.info.maxPacketSize).toEqual({ in: 64, out: 64 });
    dev.faults.inject({ fault: { kind: 'short-data', bytes: 64 } });
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 1), length: 512, dir: 'in' }), 1000);
    expect(await host.bulkIn.submit(Buffer.alloc(512), 1000)).toBe(64 + 13);
  });

  it('transfers complete asynchronously, never inside submit', async () => {
    const { host } = setup();
    let done = false;
    const p = host.bulkOut.submit(makeCbw({ cdb: [OP.TUR, 0, 0, 0, 0, 0] }), 1000).then(() => { done = true; });
    expect(done).toBe(false);
    expect(host.bulkOut.inFlight).toBe(true);
    await p;
    expect(host.bulkOut.inFlight).toBe(false);
  });

  it('latencyMs delays completions', async () => {
    const { host } = setup({ latencyMs: 15 });
    const t0 = performance.now();
    await host.bulkOut.submit(makeCbw({ cdb: [OP.TUR, 0, 0, 0, 0, 0] }), 1000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(12);
    expect((await host.readCsw()).status).toBe(0);
  });
});

describe('port contract', () => {
  it('times out an IN transfer the device never answers, with the buffer free again', async () => {
    const { host } = setup();
    const t = host.port.createTransfer('in');
    const r = await settle(t.submit(Buffer.alloc(13), 20));
    expect((r as UsbError).code).toBe('USB_TIMEOUT');
    expect(t.inFlight).toBe(false);
    expect((await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });

  it('cancel rejects with CANCELLED; cancel on an idle transfer does nothing', async () => {
    const { host } = setup();
    host.bulkIn.cancel();
    const p = settle(host.bulkIn.submit(Buffer.alloc(13), 0));
    host.bulkIn.cancel();
    expect((await p as UsbError).code).toBe('USB_CANCELLED');
  });

  it('a transfer already in flight cannot be submitted again', async () => {
    const { host } = setup();
    const p = settle(host.bulkIn.submit(Buffer.alloc(13), 0));
    const again: unknown = await host.bulkIn.submit(Buffer.alloc(13), 0).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(UsbmsArgumentError);
    expect((again as UsbmsArgumentError).code).toBe('ARG_INVALID');
    host.bulkIn.cancel();
    await p;
  });

  it('close cancels transfers in flight, waits for them, and then refuses everything', async () => {
    const { dev, host } = setup();
    const p = settle(host.bulkIn.submit(Buffer.alloc(13), 0));
    let settled = false;
    void p.then(() => { settled = true; });
    await host.port.close();
    expect(settled).toBe(true);
    expect(((await p) as UsbError).code).toBe('USB_CANCELLED');
    expect(host.port.closed).toBe(true);
    expect(((await settle(host.bulkOut.submit(Buffer.alloc(31), 0))) as UsbError).code).toBe('USB_CLOSED');
    expect(((await settle(host.port.clearHalt('in'))) as UsbError).code).toBe('USB_CLOSED');
    await host.port.close();
    const again = new TestHost(dev.open());
    expect((await again.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });

  it('only one open port at a time', () => {
    const { dev } = setup();
    expect(() => dev.open()).toThrow(UsbError);
  });

  it('disconnect fails everything in flight and after with NO_DEVICE and calls listeners once', async () => {
    const { dev, host } = setup();
    const calls: string[] = [];
    host.port.onDisconnect((e) => calls.push(e.code));
    const unsub = host.port.onDisconnect(() => calls.push('removed'));
    unsub();
    const p = settle(host.bulkIn.submit(Buffer.alloc(13), 0));
    dev.disconnect();
    dev.disconnect();
    expect(((await p) as UsbError).code).toBe('USB_NO_DEVICE');
    expect(calls).toEqual(['USB_NO_DEVICE']);
    expect(((await settle(host.bulkOut.submit(Buffer.alloc(31), 0))) as UsbError).code).toBe('USB_NO_DEVICE');
    expect(((await settle(host.port.resetDevice())) as UsbError).code).toBe('USB_NO_DEVICE');
    expect(() => dev.open()).toThrow(UsbError);
    await host.port.close();
    dev.reconnect();
    const fresh = new TestHost(dev.open());
    expect(fresh.port.info.deviceAddress).not.toBe(host.port.info.deviceAddress);
    expect((await fresh.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });

  it('port reset cancels transfers in flight, clears halts and raises UNIT ATTENTION 29/00', async () => {
    const { dev, host } = setup();
    await host.bulkOut.submit(Buffer.alloc(30), 1000); // invalid CBW: both pipes halted
    const p = settle(host.port.createTransfer('in').submit(Buffer.alloc(13), 0));
    await new Promise((r) => setImmediate(r));
    await host.port.resetDevice();
    expect(dev.halted).toEqual({ in: false, out: false });
    expect(dev.stats.portResets).toBe(1);
    expect(((await p) as UsbError).code).toMatch(/STALL|CANCELLED/);
    const tur = await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    expect(tur.csw.status).toBe(1);
    expect(dev.luns[0]!.sense).toMatchObject({ key: 6, asc: 0x29, ascq: 0 });
  });

  it('unsupported control requests stall; GET_STATUS reports the halt bit', async () => {
    const { dev, host } = setup();
    expect(((await settle(host.port.controlIn({ bmRequestType: 0xc0, bRequest: 0x33, wValue: 0, wIndex: 0 }, 4, 100))) as UsbError).code)
      .toBe('USB_STALL');
    dev.faults.inject({ fault: { kind: 'stall', phase: 'cbw' } });
    expect(((await settle(host.bulkOut.submit(makeCbw({ cdb: [0, 0, 0, 0, 0, 0] }), 100))) as UsbError).code).toBe('USB_STALL');
    const st = await host.port.controlIn({ bmRequestType: 0x82, bRequest: 0, wValue: 0, wIndex: 0x02 }, 2, 100);
    expect(st[0]).toBe(1);
  });
});

describe('the wire event ring (device.log)', () => {
  it('keeps exactly the last logLimit events, oldest first', async () => {
    const { dev, host } = setup({ logLimit: 5 });
    const lengths: number[] = [];
    for (let i = 0; i < 6; i++) {
      await host.port.clearHalt(i % 2 === 0 ? 'in' : 'out');
      lengths.push(dev.log.length);
    }
    await host.bulkOut.submit(makeCbw({ cdb: read10(0, 1), length: 512, dir: 'in', tag: 9 }), 1000);
    lengths.push(dev.log.length);
    expect(lengths).toEqual([1, 2, 3, 4, 5, 5, 5]);
    // The first two clear-halts fell out; the CBW came last.
    expect(dev.log.map((e) => e.type)).toEqual(['clear-halt', 'clear-halt', 'clear-halt', 'clear-halt', 'cbw']);
    expect(dev.log.map((e) => (e.type === 'clear-halt' ? e.pipe : 'cbw'))).toEqual(['in', 'out', 'in', 'out', 'cbw']);
  });
});

import { describe, it, expect } from 'vitest';
import { MockUsbDevice, type MockLunOptions } from '../../src/mock/index.js';
import { OP, TestHost, read10, requestSense, runWithSense, rw16, senseOf, write10 } from './host.js';

function setup(lun: Partial<MockLunOptions> = {}, more: ConstructorParameters<typeof MockUsbDevice>[0] = {}): { dev: MockUsbDevice; host: TestHost } {
  const dev = new MockUsbDevice({ luns: [{ blocks: 4096, serial: 'SER123', ...lun }], ...more });
  return { dev, host: new TestHost(dev.open()) };
}
const inq = (evpd: number, page: number, alloc = 255): number[] => [OP.INQUIRY, evpd, page, alloc >> 8, alloc & 0xff, 0];

describe('INQUIRY', () => {
  it('standard data: PDT, RMB, version, identification strings', async () => {
    const { host } = setup({ removable: true, vendor: 'ACME', product: 'Widget', revision: '2.5' });
    const o = await host.run({ cdb: inq(0, 0, 36), length: 36, dir: 'in' });
    expect(o.data[0]).toBe(0);
    expect(o.data[1]).toBe(0x80);
    expect(o.data[4]).toBe(31);
    expect(o.data.toString('latin1', 8, 16)).toBe('ACME    ');
    expect(o.data.toString('latin1', 16, 32)).toBe('Widget          ');
    expect(o.data.toString('latin1', 32, 36)).toBe('2.5 ');
  });

  it('CD-ROM type and allocation length truncation', async () => {
    const { host } = setup({ deviceType: 5, blockSize: 2048 });
    const o = await host.run({ cdb: inq(0, 0, 5), length: 5, dir: 'in' });
    expect(o.moved).toBe(5);
    expect(o.data[0]).toBe(5);
  });

  it('VPD pages 0x00, 0x80, 0x83, 0xB0, 0xB1', async () => {
    const { host } = setup();
    const sup = await host.run({ cdb: inq(1, 0x00), length: 255, dir: 'in' });
    expect([...sup.data.subarray(4, 4 + sup.data[3]!)]).toEqual([0x00, 0x80, 0x83, 0xb0, 0xb1]);
    const sn = await host.run({ cdb: inq(1, 0x80), length: 255, dir: 'in' });
    expect(sn.data.toString('latin1', 4, 4 + sn.data[3]!)).toBe('SER123');
    const id = await host.run({ cdb: inq(1, 0x83), length: 255, dir: 'in' });
    expect(id.data[1]).toBe(0x83);
    expect(id.data[5]! & 0x0f).toBe(1); // T10 vendor id designator first
    const t10len = id.data[7]!;
    const naa = 8 + t10len;
    expect(id.data[naa + 1]! & 0x0f).toBe(3);
    expect(id.data[naa + 4]! >> 4).toBe(5);
    const bl = await host.run({ cdb: inq(1, 0xb0), length: 64, dir: 'in' });
    expect(bl.data.readUInt16BE(2)).toBe(0x3c);
    const bdc = await host.run({ cdb: inq(1, 0xb1), length: 64, dir: 'in' });
    expect(bdc.data.readUInt16BE(4)).toBe(1);
  });

  it('unknown VPD page or page code without EVPD -> 5/24/00', async () => {
    const { host } = setup();
    expect((await runWithSense(host, { cdb: inq(1, 0x99), length: 255, dir: 'in' })).sense).toEqual([5, 0x24, 0]);
    expect((await runWithSense(host, { cdb: inq(0, 0x80), length: 255, dir: 'in' })).sense).toEqual([5, 0x24, 0]);
  });
});

describe('capacity', () => {
  it('READ CAPACITY(10) and (16)', async () => {
    const { host } = setup({ blocks: 4096, blockSize: 4096 });
    const rc = await host.run({ cdb: [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0], length: 8, dir: 'in' });
    expect(rc.data.readUInt32BE(0)).toBe(4095);
    expect(rc.data.readUInt32BE(4)).toBe(4096);
    const cdb16 = [OP.SERVICE_IN16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0];
    const r16 = await host.run({ cdb: cdb16, length: 32, dir: 'in' });
    expect(r16.data.readBigUInt64BE(0)).toBe(4095n);
    expect(r16.data.readUInt32BE(8)).toBe(4096);
  });

  it('READ CAPACITY(10) saturates at 0xFFFFFFFF beyond 2^32 blocks; (16) is exact', async () => {
    const { host } = setup({ blocks: 2n ** 33n });
    const rc = await host.run({ cdb: [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0], length: 8, dir: 'in' });
    expect(rc.data.readUInt32BE(0)).toBe(0xffffffff);
    const r16 = await host.run({ cdb: [OP.SERVICE_IN16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], length: 32, dir: 'in' });
    expect(r16.data.readBigUInt64BE(0)).toBe(2n ** 33n - 1n);
  });
});

describe('sense and unit attention', () => {
  it('unknown opcode -> 5/20/00; LBA out of range -> 5/21/00; sense cleared after REQUEST SENSE', async () => {
    const { host } = setup();
    expect((await runWithSense(host, { cdb: [0xc7, 0, 0, 0, 0, 0] })).sense).toEqual([5, 0x20, 0]);
    const r = await runWithSense(host, { cdb: read10(4096, 1), length: 512, dir: 'in' });
    expect(r.o.csw.status).toBe(1);
    expect(r.sense).toEqual([5, 0x21, 0]);
    const again = await host.run({ cdb: requestSense(), length: 18, dir: 'in' });
    expect(senseOf(again.data)).toEqual([0, 0, 0]);
  });

  it('sense is replaced by the next command', async () => {
    const { host } = setup();
    await host.run({ cdb: [0xc7, 0, 0, 0, 0, 0] });
    await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    expect(senseOf((await host.run({ cdb: requestSense(), length: 18, dir: 'in' })).data)).toEqual([0, 0, 0]);
  });

  it('descriptor format sense carries a 64-bit INFORMATION', async () => {
    const { dev, host } = setup({ blocks: 2n ** 40n });
    const bad = 2n ** 36n + 5n;
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [bad] } });
    const o = await host.run({ cdb: rw16(OP.READ16, bad - 2n, 4), length: 2048, dir: 'in' });
    expect(o.moved).toBe(1024); // the two good blocks before the bad one
    expect(o.csw).toMatchObject({ status: 1, residue: 1024 });
    const s = await host.run({ cdb: requestSense(252, true), length: 252, dir: 'in' });
    expect(s.data[0]).toBe(0x72);
    expect(senseOf(s.data)).toEqual([3, 0x11, 0]);
    expect(s.data[8]).toBe(0);
    expect(s.data.readBigUInt64BE(12)).toBe(bad);
  });

  it('fixed sense has INFORMATION = LBA for a medium error', async () => {
    const { dev, host } = setup();
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [100n] } });
    await host.run({ cdb: read10(99, 4), length: 2048, dir: 'in' });
    const s = await host.run({ cdb: requestSense(), length: 18, dir: 'in' });
    expect(s.data[0]).toBe(0xf0);
    expect(s.data.readUInt32BE(3)).toBe(100);
    dev.faults.clear();
    expect((await host.run({ cdb: read10(99, 4), length: 2048, dir: 'in' })).csw.status).toBe(0);
  });

  it('power-on UNIT ATTENTION: INQUIRY and REPORT LUNS pass, TUR reports it once, REQUEST SENSE returns it', async () => {
    const { host } = setup({}, { powerOnUnitAttention: true });
    expect((await host.run({ cdb: inq(0, 0, 36), length: 36, dir: 'in' })).csw.status).toBe(0);
    expect((await host.run({ cdb: [OP.REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], length: 16, dir: 'in' })).csw.status).toBe(0);
    const s = await host.run({ cdb: requestSense(), length: 18, dir: 'in' });
    expect(senseOf(s.data)).toEqual([6, 0x29, 0]);
    expect((await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });

  it('media change: eject -> 2/3A/00, insert -> 6/28/00 once, then ready', async () => {
    const { dev, host } = setup({ removable: true });
    dev.luns[0]!.eject();
    const a = await runWithSense(host, { cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    expect(a.sense).toEqual([2, 0x3a, 0]);
    dev.luns[0]!.insert();
    const b = await runWithSense(host, { cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    expect(b.o.csw.status).toBe(1);
    expect(b.sense).toEqual([6, 0x28, 0]);
    expect((await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
  });

  it('write protect: WRITE -> 7/27/00, MODE SENSE WP bit in (6) and (10)', async () => {
    const { dev, host } = setup();
    dev.luns[0]!.setWriteProtect(true);
    const w = await runWithSense(host, { cdb: write10(0, 1), length: 512, dir: 'out' }, Buffer.alloc(512));
    expect(w.sense).toEqual([7, 0x27, 0]);
    const m6 = await host.run({ cdb: [OP.MODE_SENSE6, 0, 0x3f, 0, 255, 0], length: 255, dir: 'in' });
    expect(m6.data[2]! & 0x80).toBe(0x80);
    expect(m6.data[0]).toBe(m6.moved - 1);
    expect(m6.data[3]).toBe(8);
    expect(m6.data[4 + 8]).toBe(0x08); // caching page after the block descriptor
    const m10 = await host.run({ cdb: [OP.MODE_SENSE10, 0x08, 0x08, 0, 0, 0, 0, 0, 255, 0], length: 255, dir: 'in' });
    expect(m10.data[3]! & 0x80).toBe(0x80);
    expect(m10.data.readUInt16BE(6)).toBe(0);
    expect(m10.data[8]).toBe(0x08);
    dev.luns[0]!.setWriteProtect(false);
    const m = await host.run({ cdb: [OP.MODE_SENSE6, 0, 0x08, 0, 255, 0], length: 255, dir: 'in' });
    expect(m.data[2]! & 0x80).toBe(0);
  });

  it('MODE SENSE: unsupported page -> 5/24/00, saved values -> 5/39/00', async () => {
    const { host } = setup();
    expect((await runWithSense(host, { cdb: [OP.MODE_SENSE6, 0, 0x1c, 0, 255, 0], length: 255, dir: 'in' })).sense).toEqual([5, 0x24, 0]);
    expect((await runWithSense(host, { cdb: [OP.MODE_SENSE6, 0, 0xc8, 0, 255, 0], length: 255, dir: 'in' })).sense).toEqual([5, 0x39, 0]);
  });
});

describe('other commands', () => {
  it('PREVENT blocks eject with 5/53/02; ALLOW lets START STOP UNIT eject; load brings it back', async () => {
    const { dev, host } = setup({ removable: true });
    await host.run({ cdb: [OP.PREVENT, 0, 0, 0, 1, 0] });
    const refused = await runWithSense(host, { cdb: [OP.START_STOP, 0, 0, 0, 0x02, 0] });
    expect(refused.sense).toEqual([5, 0x53, 0x02]);
    expect(dev.luns[0]!.present).toBe(true);
    await host.run({ cdb: [OP.PREVENT, 0, 0, 0, 0, 0] });
    expect((await host.run({ cdb: [OP.START_STOP, 0, 0, 0, 0x02, 0] })).csw.status).toBe(0);
    expect(dev.luns[0]!.present).toBe(false);
    expect((await runWithSense(host, { cdb: read10(0, 1), length: 512, dir: 'in' })).sense).toEqual([2, 0x3a, 0]);
    await host.run({ cdb: [OP.START_STOP, 0, 0, 0, 0x03, 0] });
    expect(dev.luns[0]!.present).toBe(true);
  });

  it('eject on a fixed disk is an invalid field', async () => {
    const { host } = setup();
    expect((await runWithSense(host, { cdb: [OP.START_STOP, 0, 0, 0, 0x02, 0] })).sense).toEqual([5, 0x24, 0]);
  });

  it('SYNCHRONIZE CACHE and VERIFY (with and without byte check, miscompare 0E/1D/00)', async () => {
    const { dev, host } = setup();
    expect((await host.run({ cdb: [OP.SYNC10, 0, 0, 0, 0, 0, 0, 0, 0, 0] })).csw.status).toBe(0);
    expect((await runWithSense(host, { cdb: [OP.SYNC10, 0, 0, 0, 0x20, 0, 0, 0, 0, 0] })).sense).toEqual([5, 0x21, 0]);
    const data = Buffer.alloc(512, 0x5a);
    await host.run({ cdb: write10(3, 1), length: 512, dir: 'out' }, data);
    const v = [OP.VERIFY10, 0, 0, 0, 0, 3, 0, 0, 1, 0];
    expect((await host.run({ cdb: v, length: 0 })).csw.status).toBe(0);
    const vb = [...v]; vb[1] = 0x02;
    expect((await host.run({ cdb: vb, length: 512, dir: 'out' }, data)).csw.status).toBe(0);
    const other = Buffer.from(data); other[17] = 0;
    expect((await runWithSense(host, { cdb: vb, length: 512, dir: 'out' }, other)).sense).toEqual([0xe, 0x1d, 0]);
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [3n] } });
    expect((await runWithSense(host, { cdb: v })).sense).toEqual([3, 0x11, 0]);
  });

  it('REPORT LUNS lists every LUN; allocation < 16 is invalid', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 8 }, { blocks: 8 }, { blocks: 8 }] });
    const host = new TestHost(dev.open());
    const o = await host.run({ cdb: [OP.REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], length: 256, dir: 'in', lun: 2 });
    expect(o.data.readUInt32BE(0)).toBe(24);
    expect([o.data[9], o.data[17], o.data[25]]).toEqual([0, 1, 2]);
    expect((await runWithSense(host, { cdb: [OP.REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], length: 8, dir: 'in' })).sense)
      .toEqual([5, 0x24, 0]);
  });

  it('each LUN keeps its own data and sense', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }, { blocks: 64 }] });
    const host = new TestHost(dev.open());
    await host.run({ cdb: write10(0, 1), length: 512, dir: 'out', lun: 1 }, Buffer.alloc(512, 1));
    expect((await host.run({ cdb: read10(0, 1), length: 512, dir: 'in', lun: 0 })).data[0]).toBe(0);
    expect((await host.run({ cdb: read10(0, 1), length: 512, dir: 'in', lun: 1 })).data[0]).toBe(1);
    await host.run({ cdb: [0xc7, 0, 0, 0, 0, 0], lun: 1 });
    expect(senseOf((await host.run({ cdb: requestSense(), length: 18, dir: 'in', lun: 0 })).data)).toEqual([0, 0, 0]);
    expect(senseOf((await host.run({ cdb: requestSense(), length: 18, dir: 'in', lun: 1 })).data)).toEqual([5, 0x20, 0]);
  });

  it('READ(10) of zero blocks moves nothing and passes', async () => {
    const { host } = setup();
    expect((await host.run({ cdb: read10(0, 0) })).csw).toMatchObject({ status: 0, residue: 0 });
  });
});

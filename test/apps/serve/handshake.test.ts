/**
 * The fixed newstyle handshake as proto.md writes it: options, their replies, the exports, and what a client that
 * breaks the rules gets (an error reply where the protocol has one, the connection closed where it has none).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infoRequest, OPT, REP, TestClient } from './client.js';
import { serve, type Served } from './helpers.js';

let s: Served;
beforeAll(async () => { s = await serve([{ blocks: 8192 }, { blocks: 4096, blockSize: 4096 }], { luns: [0, 1] }); });
afterAll(async () => { await s.close(); });

describe('option haggling', () => {
  it('greets with NBDMAGIC IHAVEOPT and FIXED_NEWSTYLE|NO_ZEROES; LIST names one export per LUN', async () => {
    const c = await TestClient.open(s.port);
    const replies = await c.option(OPT.LIST);
    expect(replies.map((r) => r.type)).toEqual([REP.SERVER, REP.SERVER, REP.ACK]);
    const names = replies.slice(0, 2).map((r) => r.data.toString('utf8', 4, 4 + r.data.readUInt32BE(0)));
    expect(names).toEqual(['d-lun0', 'd-lun1']);
    expect(replies[0]!.data.toString('utf8', 4 + names[0]!.length)).toBe('USBMS Mock Disk USBMS0001');
    c.raw.end();
  });

  it('INFO gives EXPORT, NAME, DESCRIPTION and BLOCK_SIZE and stays in haggling; GO then enters transmission', async () => {
    const c = await TestClient.open(s.port);
    const info = await c.option(OPT.INFO, infoRequest('d-lun1', [1, 2, 3]));
    const byType = new Map(info.filter((r) => r.type === REP.INFO).map((r) => [r.data.readUInt16BE(0), r.data]));
    expect(byType.get(0)!.readBigUInt64BE(2)).toBe(4096n * 4096n);
    expect(byType.get(0)!.readUInt16BE(10) & 0x3).toBe(0x3); // HAS_FLAGS, READ_ONLY (no --write)
    expect(byType.get(1)!.toString('utf8', 2)).toBe('d-lun1');
    expect(byType.get(2)!.toString('utf8', 2)).toBe('USBMS Mock Disk USBMS0001');
    const bs = byType.get(3)!;
    expect([bs.readUInt32BE(2), bs.readUInt32BE(6), bs.readUInt32BE(10)]).toEqual([4096, 65536, 122880]);
    expect(info[info.length - 1]!.type).toBe(REP.ACK);
    // still negotiating: another option is answered
    expect((await c.option(OPT.LIST)).pop()!.type).toBe(REP.ACK);
    const go = await c.option(OPT.GO, infoRequest('d-lun0'));
    expect(go.pop()!.type).toBe(REP.ACK);
    const r = await c.request(0, 0, 512);
    expect(r.error).toBe(0);
    c.disconnect();
  });

  it('the empty name is the first export; EXPORT_NAME answers size, flags and no zeroes', async () => {
    const c = await TestClient.open(s.port);
    c.sendOption(OPT.EXPORT_NAME, Buffer.from('d-lun1'));
    const reply = await c.raw.read(10);
    expect(reply.readBigUInt64BE(0)).toBe(4096n * 4096n);
    expect(await c.raw.closedWithin(200)).toBe(false);
    c.raw.end();
    const d = await TestClient.go(s.port, '');
    expect(d.size).toBe(8192n * 512n);
    d.disconnect();
  });

  it('without NO_ZEROES, EXPORT_NAME is followed by 124 zero bytes', async () => {
    const c = await TestClient.open(s.port, 1);
    c.sendOption(OPT.EXPORT_NAME, Buffer.from('d-lun0'));
    const reply = await c.raw.read(134);
    expect(reply.subarray(10).every((b) => b === 0)).toBe(true);
    c.raw.end();
  });

  it('errors: unknown option UNSUP, unknown export UNKNOWN, malformed data INVALID, STARTTLS without TLS POLICY', async () => {
    const c = await TestClient.open(s.port);
    expect((await c.option(99)).pop()!.type).toBe(REP.ERR_UNSUP);
    expect((await c.option(OPT.GO, infoRequest('nope'))).pop()!.type).toBe(REP.ERR_UNKNOWN);
    expect((await c.option(OPT.INFO, Buffer.from([0, 0, 0, 9, 1]))).pop()!.type).toBe(REP.ERR_INVALID);
    const badCount = infoRequest('d-lun0', [1]);
    expect((await c.option(OPT.INFO, badCount.subarray(0, badCount.length - 1))).pop()!.type).toBe(REP.ERR_INVALID);
    expect((await c.option(OPT.LIST, Buffer.from('x'))).pop()!.type).toBe(REP.ERR_INVALID);
    expect((await c.option(OPT.STARTTLS)).pop()!.type).toBe(REP.ERR_POLICY);
    // metadata contexts: invalid before structured replies, none selected (a plain ACK) after
    expect((await c.option(OPT.SET_META, Buffer.alloc(8))).pop()!.type).toBe(REP.ERR_INVALID);
    expect((await c.option(OPT.STRUCTURED_REPLY)).pop()!.type).toBe(REP.ACK);
    const q = Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.from('d-lun0'), Buffer.from([0, 0, 0, 1, 0, 0, 0, 15]),
      Buffer.from('base:allocation')]);
    expect((await c.option(OPT.SET_META, q)).map((r) => r.type)).toEqual([REP.ACK]);
    expect((await c.option(OPT.LIST_META, q.subarray(0, q.length - 3))).pop()!.type).toBe(REP.ERR_INVALID);
    // after all that the connection still works
    expect((await c.option(OPT.GO, infoRequest('d-lun0'))).pop()!.type).toBe(REP.ACK);
    expect((await c.read(512, 512)).error).toBe(0);
    c.disconnect();
  });

  it('ABORT is acknowledged and the connection ends', async () => {
    const c = await TestClient.open(s.port);
    expect((await c.option(OPT.ABORT)).map((r) => r.type)).toEqual([REP.ACK]);
    expect(await c.raw.closedWithin(2000)).toBe(true);
  });

  it('violations close the connection: unknown client flags, a bad option magic, huge option data, EXPORT_NAME of nothing',
    async () => {
      const flags = await TestClient.open(s.port, 0x10);
      expect(await flags.raw.closedWithin(2000)).toBe(true);
      const magic = await TestClient.open(s.port);
      magic.sendOption(OPT.LIST, Buffer.alloc(0), 0x1234n);
      expect(await magic.raw.closedWithin(2000)).toBe(true);
      const huge = await TestClient.open(s.port);
      const h = Buffer.alloc(16);
      h.writeBigUInt64BE(0x49484156454f5054n, 0);
      h.writeUInt32BE(OPT.INFO, 8);
      h.writeUInt32BE(0x7fff_ffff, 12);
      huge.raw.write(h);
      expect(await huge.raw.closedWithin(2000)).toBe(true);
      const unknown = await TestClient.open(s.port);
      unknown.sendOption(OPT.EXPORT_NAME, Buffer.from('nope'));
      expect(await unknown.raw.closedWithin(2000)).toBe(true);
      // a client without fixed newstyle may only send EXPORT_NAME (it cannot read an error reply)
      const old = await TestClient.open(s.port, 0);
      old.sendOption(OPT.LIST);
      expect(await old.raw.closedWithin(2000)).toBe(true);
      expect(s.events.filter((e) => e.type === 'protocol-error').length).toBeGreaterThanOrEqual(5);
      // the server goes on
      const c = await TestClient.go(s.port, 'd-lun0');
      expect((await c.read(0, 512)).error).toBe(0);
      c.disconnect();
    });
});

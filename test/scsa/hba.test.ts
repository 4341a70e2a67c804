import { describe, it, expect } from 'vitest';
import {
  UsbmsHba, scsi_init_pkt, scsi_destroy_pkt, scsi_transport, scsi_abort, scsi_reset, scsi_dmafree, scsi_poll,
  scsi_ifgetcap, scsi_ifsetcap, ScsaError, NULL_FUNC, SLEEP_FUNC, TRAN_ACCEPT, TRAN_BUSY, TRAN_BADPKT,
  TRAN_FATAL_ERROR, FLAG_HEAD, CMD_CMPLT, CMD_ABORTED, CMD_RESET, CMD_TIMEOUT, CMD_TRAN_ERR, CMD_DEV_GONE,
  CMD_DATA_OVR, STAT_ABORTED, STAT_DEV_RESET, STAT_BUS_RESET, STAT_TIMEOUT, STATE_GOT_BUS, STATE_GOT_TARGET,
  STATE_SENT_CMD, STATE_XFERRED_DATA, STATE_GOT_STATUS, STATUS_GOOD, STATUS_CHECK, RESET_LUN, RESET_TARGET, RESET_ALL,
  INTERCONNECT_USB, pkt_transport_error, type scsi_pkt, type UsbmsHbaOptions,
} from '../../src/scsa/index.js';
import { FakeTransport, failure, makeBuf, cdb10, cdb16, tick } from './helpers.js';

const TUR = (p: scsi_pkt) => { p.pkt_cdbp.fill(0); return p; };
function setup(opts: UsbmsHbaOptions = {}, maxLun = 0) {
  const bot = new FakeTransport(maxLun);
  const hba = UsbmsHba.attach(bot, opts);
  const done: scsi_pkt[] = [];
  const pkt = (lun = 0, bp: ReturnType<typeof makeBuf> | null = null, cdblen = 6) => {
    const p = scsi_init_pkt(hba.address(lun), null, bp, cdblen, 32, 0, 0, NULL_FUNC)!;
    p.pkt_comp = (x) => done.push(x);
    return TUR(p);
  };
  return { bot, hba, done, pkt };
}
const GOOD_STATE = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD | STATE_GOT_STATUS;

describe.each(['setup', 'init'] as const)('%s-style HBA', (style) => {
  it('exposes the matching tran vector and runs a command to CMD_CMPLT', async () => {
    const { bot, hba, done, pkt } = setup({ style });
    expect(typeof (style === 'setup' ? hba.tran.tran_setup_pkt : hba.tran.tran_init_pkt)).toBe('function');
    expect(style === 'setup' ? hba.tran.tran_init_pkt : hba.tran.tran_setup_pkt).toBeUndefined();
    const p = pkt(0, makeBuf(4096, true), 10);
    cdb10(0x28, 0, 8).copy(p.pkt_cdbp);
    expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
    expect(bot.log[0]).toMatchObject({ direction: 'in', length: 4096 });
    bot.answer({ transferred: 4000, residue: 96 });
    await tick();
    expect(done).toEqual([p]);
    expect(p).toMatchObject({ pkt_reason: CMD_CMPLT, pkt_state: GOOD_STATE | STATE_XFERRED_DATA, pkt_resid: 96 });
    expect(p.pkt_scbp[0]).toBe(STATUS_GOOD);
  });
  it('constructor runs once per cached packet; destructor only when the cache shrinks', async () => {
    const { bot, hba, pkt } = setup({ style });
    const a = pkt(); const b = pkt();
    expect(bot.slots).toBe(2); // one per packet: auto request sense runs on the packet's own slot
    scsi_destroy_pkt(a); scsi_destroy_pkt(b);
    const c = pkt();
    expect(bot.slots).toBe(2);
    expect(hba.tran.tran_pkt_cache_ptr.stats).toMatchObject({ constructed: 2, destructed: 0, inUse: 1 });
    expect(hba.tran.tran_pkt_cache_ptr.shrink(0)).toBe(1);
    expect(bot.slots).toBe(1);
    scsi_destroy_pkt(c);
    await hba.detach();
    expect(bot.slots).toBe(0);
  });
  it('long CDBs and XARQ status areas are allocated per packet and given back', () => {
    const { hba } = setup({ style });
    const p = scsi_init_pkt(hba.address(0), null, null, 32, 32, 0, 0x80000 /* PKT_XARQ */, NULL_FUNC)!;
    expect(p.pkt_cdbp.length).toBe(32);
    expect(p.pkt_scblen).toBe(264);
    expect(scsi_transport(p)).toBe(TRAN_BADPKT); // a CBW carries at most 16 bytes
    scsi_destroy_pkt(p);
    const q = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    expect(q).toBe(p);
    expect(q.pkt_cdbp.length).toBe(16);
    expect(q.pkt_scbp.length).toBe(32);
  });
});

describe('tran_start', () => {
  it('TRAN_BADPKT: lun > maxLun, bad cdb length; TRAN_BUSY when the LUN queue is full; already in transport is refused', () => {
    const { hba, pkt } = setup({ queueDepth: 1 }, 1);
    const bad = scsi_init_pkt(hba.address(2), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    expect(scsi_transport(bad)).toBe(TRAN_BADPKT);
    const zero = scsi_init_pkt(hba.address(0), null, null, 0, 32, 0, 0, NULL_FUNC)!;
    expect(scsi_transport(zero)).toBe(TRAN_BADPKT);
    const a = pkt(); const b = pkt(); const c = pkt();
    expect(scsi_transport(a)).toBe(TRAN_ACCEPT); // on the wire
    expect(() => scsi_transport(a)).toThrow(expect.objectContaining({ code: 'SCSA_PKT_IN_TRANSPORT' }));
    expect(scsi_transport(b)).toBe(TRAN_ACCEPT); // queued
    expect(scsi_transport(c)).toBe(TRAN_BUSY);
    expect(() => scsi_destroy_pkt(a)).toThrow(ScsaError);
  });
  it('serves LUNs round-robin, one command at a time, FLAG_HEAD first', async () => {
    const { bot, done, pkt } = setup({}, 2);
    const first = pkt(0);
    const l0 = [pkt(0), pkt(0)]; const l1 = [pkt(1), pkt(1)]; const head = pkt(0);
    head.pkt_flags |= FLAG_HEAD;
    for (const p of [first, ...l0, ...l1, head]) expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
    for (let i = 0; i < 6; i++) {
      expect(bot.pending.length).toBe(1);
      bot.answer();
      await tick();
    }
    expect(done).toEqual([first, l1[0], head, l1[1], l0[0], l0[1]]);
  });
  it('TRAN_FATAL_ERROR after detach; queued packets complete CMD_TRAN_ERR with state 0', async () => {
    const { bot, hba, done, pkt } = setup();
    const a = pkt(); const b = pkt();
    scsi_transport(a); scsi_transport(b);
    const detached = hba.detach();
    await detached;
    expect(b).toMatchObject({ pkt_reason: CMD_TRAN_ERR, pkt_state: 0 });
    expect(done).toContain(a);
    expect(bot.pending.length).toBe(0);
    expect(scsi_transport(pkt())).toBe(TRAN_FATAL_ERROR);
  });
});

describe('outcomes', () => {
  const cases: [string, () => Error, number, number][] = [
    ['timeout', () => failure('timeout'), CMD_TIMEOUT, STAT_TIMEOUT],
    ['overrun', () => failure('overrun'), CMD_DATA_OVR, 0],
    ['aborted', () => failure('aborted'), CMD_ABORTED, STAT_ABORTED],
    // BOT's own kinds are not the seam's: the HBA counts them as 'transport'.
    ['phase error', () => failure('phase-error'), CMD_TRAN_ERR, 0],
    ['invalid CSW', () => failure('invalid-csw'), CMD_TRAN_ERR, 0],
  ];
  it.each(cases)('%s', async (_n, err, reason, stat) => {
    const { bot, pkt } = setup();
    bot.auto = () => err();
    const p = pkt(0, makeBuf(512, true), 10);
    cdb10(0x28, 0, 1).copy(p.pkt_cdbp);
    expect(await scsi_poll(p)).toBe(-1);
    expect(p).toMatchObject({ pkt_reason: reason, pkt_statistics: stat, pkt_resid: 512 });
    expect(p.pkt_state).toBe(STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD);
  });
  it('an unrecovered transport error: the HBA never resets again (the engine owns recovery) and keeps the cause', async () => {
    const { bot, pkt } = setup();
    const err = Object.assign(failure('invalid-csw'), { recovered: false });
    bot.auto = () => err;
    const p = pkt();
    expect(await scsi_poll(p)).toBe(-1);
    expect(bot.resets).toEqual([]);
    expect(bot.aborts).toBe(0);
    expect(p.pkt_reason).toBe(CMD_TRAN_ERR);
    expect(pkt_transport_error(p)).toBe(err);
    bot.auto = null;
    const again = scsi_poll(p);
    await tick();
    bot.answer({});
    expect(await again).toBe(0);
    expect(pkt_transport_error(p)).toBeUndefined();
  });
  it('device gone: the packet and every queued one complete CMD_DEV_GONE; later starts are fatal', async () => {
    const { bot, done, pkt } = setup({}, 1);
    const a = pkt(0); const b = pkt(1);
    scsi_transport(a); scsi_transport(b);
    bot.fail('device-gone');
    await tick();
    expect(done.map((p) => p.pkt_reason)).toEqual([CMD_DEV_GONE, CMD_DEV_GONE]);
    expect(scsi_transport(pkt())).toBe(TRAN_FATAL_ERROR);
  });
  it('pkt_time: CMD_TIMEOUT + STAT_TIMEOUT after the transport aborted the command', async () => {
    const { bot, done, pkt } = setup();
    const p = pkt();
    p.pkt_time = 0.02;
    scsi_transport(p);
    await new Promise((r) => setTimeout(r, 60));
    expect(done).toEqual([p]);
    expect(p).toMatchObject({ pkt_reason: CMD_TIMEOUT, pkt_statistics: STAT_TIMEOUT });
    expect(bot.aborts).toBe(1);
    expect(bot.resets).toEqual([]);
  });
  it('CHECK CONDITION without ARQ leaves status CHECK for the target driver', async () => {
    const { bot, hba } = setup();
    expect(scsi_ifsetcap(hba.address(0), 'auto-rqsense', 0, 1)).toBe(1);
    bot.auto = () => ({ status: STATUS_CHECK });
    const p = scsi_init_pkt(hba.address(0), null, null, 6, 1, 0, 0, NULL_FUNC)!;
    expect(await scsi_poll(p)).toBe(-1);
    expect(p.pkt_scbp[0]).toBe(STATUS_CHECK);
    expect(bot.log.length).toBe(1); // no REQUEST SENSE
  });
});

describe('tran_abort / tran_reset', () => {
  it('abort: queued packet removed, running packet aborted through the engine, null = whole LUN', async () => {
    const { bot, hba, done, pkt } = setup();
    const a = pkt(); const b = pkt(); const c = pkt();
    scsi_transport(a); scsi_transport(b); scsi_transport(c);
    expect(await scsi_abort(hba.address(0), b)).toBe(1);
    expect(b).toMatchObject({ pkt_reason: CMD_ABORTED, pkt_statistics: STAT_ABORTED, pkt_state: 0 });
    expect(await scsi_abort(hba.address(0), a)).toBe(1);
    expect(a).toMatchObject({ pkt_reason: CMD_ABORTED, pkt_statistics: STAT_ABORTED });
    expect(bot.aborts).toBe(1);
    await tick();
    expect(await scsi_abort(hba.address(0), null)).toBe(1);
    expect(c.pkt_reason).toBe(CMD_ABORTED);
    expect(done).toEqual([b, a, c]);
    expect(await scsi_abort(hba.address(0), a)).toBe(0); // not in transport
  });
  it('RESET_LUN / RESET_TARGET / RESET_ALL are the transport\'s lun / target / bus resets; packets end CMD_RESET', async () => {
    const { bot, hba, pkt } = setup({}, 1);
    const a = pkt(); const b = pkt();
    scsi_transport(a); scsi_transport(b);
    expect(await scsi_reset(hba.address(0), RESET_LUN)).toBe(1);
    expect(a).toMatchObject({ pkt_reason: CMD_RESET, pkt_statistics: STAT_DEV_RESET });
    expect(b).toMatchObject({ pkt_reason: CMD_RESET, pkt_statistics: STAT_DEV_RESET });
    const c = pkt();
    scsi_transport(c);
    expect(await scsi_reset(hba.address(0), RESET_ALL)).toBe(1);
    expect(c).toMatchObject({ pkt_reason: CMD_RESET, pkt_statistics: STAT_BUS_RESET });
    expect(await scsi_reset(hba.address(0), 99)).toBe(0);
    expect(await scsi_reset(hba.address(0), RESET_TARGET)).toBe(1); // idle: the reset alone
    expect(bot.resets).toEqual(['lun', 'bus', 'target']);
    expect(bot.aborts).toBe(0); // a reset fails what it covers itself; the HBA does not abort first
  });
  it('a reset of one LUN that the transport can only do for the whole target (BOT) stops the other LUN\'s packet as a reset', async () => {
    const { bot, hba, pkt } = setup({}, 1);
    const other = pkt(1);
    scsi_transport(other);
    expect(await scsi_reset(hba.address(0), RESET_LUN)).toBe(1);
    expect(other).toMatchObject({ pkt_reason: CMD_RESET, pkt_statistics: STAT_DEV_RESET });
    expect(bot.resets).toEqual(['lun']);
  });
});

describe('capabilities', () => {
  it('getcap values, -1 for unknown; setcap 1/0/-1', () => {
    const { hba } = setup();
    const ap = hba.address(0);
    expect(scsi_ifgetcap(ap, 'interconnect-type', 0)).toBe(INTERCONNECT_USB);
    expect(scsi_ifgetcap(ap, 'dma-max', 0)).toBe(65536);
    expect(scsi_ifgetcap(ap, 'auto-rqsense', 1)).toBe(1);
    expect(scsi_ifgetcap(ap, 'untagged-qing', 1)).toBe(1);
    expect(scsi_ifgetcap(ap, 'tagged-qing', 1)).toBe(0);
    expect(scsi_ifgetcap(ap, 'max-cdb-length', 1)).toBe(16);
    expect(scsi_ifgetcap(ap, 'lun-reset', 1)).toBe(1);
    expect(scsi_ifgetcap(ap, 'initiator-id', 1)).toBe(-1);
    expect(scsi_ifgetcap(ap, 'no-such-cap', 1)).toBe(-1);
    expect(scsi_ifgetcap(ap, 'sector-size', 1)).toBe(-1);
    expect(scsi_ifgetcap(ap, 'geometry', 1)).toBe(-1);
    expect(scsi_ifsetcap(ap, 'sector-size', 512, 1)).toBe(1);
    expect(scsi_ifsetcap(ap, 'total-sectors', 8 * 1024 * 1024, 1)).toBe(1);
    expect(scsi_ifgetcap(ap, 'sector-size', 1)).toBe(512);
    expect(scsi_ifgetcap(ap, 'geometry', 1)).toBe((255 << 16) | 63);
    expect(scsi_ifsetcap(ap, 'dma-max', 1, 1)).toBe(0);
    expect(scsi_ifsetcap(ap, 'interconnect-type', 1, 1)).toBe(0);
    expect(scsi_ifsetcap(ap, 'sector-size', 100, 1)).toBe(0);
    expect(scsi_ifsetcap(ap, 'qfull-retries', 3, 1)).toBe(1);
    expect(scsi_ifgetcap(ap, 'qfull-retries', 1)).toBe(3);
    expect(scsi_ifsetcap(ap, 'bogus', 1, 1)).toBe(-1);
  });
});

describe('splitting large READ/WRITE into several BOT commands', () => {
  it.each([
    ['READ(10) across 2^32', 10, 0x28, 0xffff_ff80n],
    ['WRITE(16) near 2^32', 16, 0x8a, 0xffff_ff80n],
    ['WRITE(16) near 2^40', 16, 0x8a, (1n << 40n) - 64n],
  ])('%s', async (_name, len, op, lba) => {
    const { bot, hba } = setup();
    bot.auto = (r) => ({ status: STATUS_GOOD, transferred: r.length, residue: 0 });
    const total = 300 * 512; // 2.3 x dma-max
    const bp = makeBuf(total, op === 0x28);
    const p = scsi_init_pkt(hba.address(0), null, bp, len, 32, 0, 0, NULL_FUNC)!;
    (len === 10 ? cdb10(op, Number(lba), 300) : cdb16(op, lba, 300)).copy(p.pkt_cdbp);
    if (len === 10 && lba + 300n > 0xffff_ffffn) {
      // READ(10) cannot address past 2^32 at all: the LBA field stays what the target driver asked for.
      p.pkt_cdbp.writeUInt32BE(0xffff_fe00, 2);
      lba = 0xffff_fe00n;
    }
    expect(await scsi_poll(p)).toBe(0);
    const pieces = bot.log.map((r) => [len === 10 ? BigInt(r.cdb.readUInt32BE(2)) : r.cdb.readBigUInt64BE(2),
      len === 10 ? r.cdb.readUInt16BE(7) : r.cdb.readUInt32BE(10), r.length]);
    expect(pieces).toEqual([[lba, 128, 65536], [lba + 128n, 128, 65536], [lba + 256n, 44, 44 * 512]]);
    expect(bot.log.flatMap((r) => r.segments).every((s) => s.buffer === bp.b_un.b_addr.buffer)).toBe(true);
    expect(p.pkt_resid).toBe(0);
  });
  it('a short piece stops the command and reports the exact residue', async () => {
    const { bot, hba } = setup();
    let n = 0;
    bot.auto = (r) => ({ status: STATUS_GOOD, transferred: n++ === 1 ? 1024 : r.length, residue: n === 2 ? r.length - 1024 : 0 });
    const p = scsi_init_pkt(hba.address(0), null, makeBuf(300 * 512, true), 10, 32, 0, 0, NULL_FUNC)!;
    cdb10(0x28, 0, 300).copy(p.pkt_cdbp);
    await scsi_poll(p);
    expect(bot.log.length).toBe(2);
    expect(p.pkt_resid).toBe(300 * 512 - 65536 - 1024);
  });
  it('a large non-READ/WRITE is refused with TRAN_BADPKT', () => {
    const { hba } = setup();
    const p = scsi_init_pkt(hba.address(0), null, makeBuf(128 * 1024, true), 6, 32, 0, 0, NULL_FUNC)!;
    p.pkt_cdbp[0] = 0x12;
    expect(scsi_transport(p)).toBe(TRAN_BADPKT);
  });
});

describe('resources', () => {
  it('NULL_FUNC returns null at once when packets run out', () => {
    const { hba } = setup({ maxPackets: 1 });
    const a = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC);
    expect(a).not.toBeNull();
    expect(scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)).toBeNull();
  });
  it('SLEEP_FUNC resolves once a packet is destroyed', async () => {
    const { hba } = setup({ maxPackets: 1 });
    const a = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, NULL_FUNC)!;
    let got: scsi_pkt | null = null;
    const waiting = scsi_init_pkt(hba.address(0), null, null, 6, 32, 0, 0, SLEEP_FUNC).then((p) => (got = p));
    await tick();
    expect(got).toBeNull();
    scsi_destroy_pkt(a);
    await waiting;
    expect(got).toBe(a); // the same cached packet
  });
  it('a callback is called after dmafree, re-queued on 0, dropped on 1, and a throwing one is dropped', async () => {
    const { hba } = setup({ maxDmaBytesInFlight: 8192 });
    const ap = hba.address(0);
    const held = scsi_init_pkt(ap, null, makeBuf(8192, true), 10, 32, 0, 0, NULL_FUNC)!;
    const calls: string[] = [];
    let answer: 0 | 1 = 0;
    const cb = (arg: unknown): 0 | 1 => { calls.push(String(arg)); return answer; };
    expect(scsi_init_pkt(ap, null, makeBuf(4096, true), 10, 32, 0, 0, cb, 'a')).toBeNull();
    expect(scsi_init_pkt(ap, null, makeBuf(4096, true), 10, 32, 0, 0, () => { throw new Error('bad'); })).toBeNull();
    scsi_dmafree(held); // the packet survives; its DMA bytes are free
    expect(held.pkt_numcookies).toBe(0);
    await tick();
    expect(calls).toEqual(['a']);
    expect(hba.tran.tran_resources.waiting).toBe(1);
    answer = 1;
    scsi_destroy_pkt(held);
    await tick();
    expect(calls).toEqual(['a', 'a']);
    expect(hba.tran.tran_resources.waiting).toBe(0);
  });
  it('a request larger than the whole DMA budget fails instead of waiting forever', async () => {
    const { hba } = setup({ maxDmaBytesInFlight: 4096 });
    const bp = makeBuf(8192, true);
    await expect(scsi_init_pkt(hba.address(0), null, bp, 10, 32, 0, 0, SLEEP_FUNC)).rejects.toThrow(/budget/);
    expect(() => scsi_init_pkt(hba.address(0), null, bp, 10, 32, 0, 0, NULL_FUNC)).toThrow(ScsaError);
    expect(bp.b_error).not.toBe(0);
  });
});

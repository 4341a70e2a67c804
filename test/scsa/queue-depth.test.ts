/**
 * The HBA over a transport that keeps several commands on the wire (UAS-like): as many packets in flight as the
 * transport's queueDepth and never more, completions in any order each landing in its own packet, sense that the
 * transport carries going straight into scsi_arq_status (no REQUEST SENSE on the wire), and REQUEST SENSE
 * holding the wire when the transport carries none.
 */
import { describe, it, expect } from 'vitest';
import {
  UsbmsHba, scsi_init_pkt, scsi_transport, scsi_abort, scsi_ifgetcap, decodeArqStatus, NULL_FUNC, PKT_XARQ,
  TRAN_ACCEPT, CMD_CMPLT, CMD_ABORTED, CMD_TIMEOUT, CMD_TRAN_ERR, STATE_ARQ_DONE, STATE_XARQ_DONE, STATUS_CHECK,
  STATUS_GOOD, STATUS_BUSY, type scsi_pkt, type UsbmsHbaOptions,
} from '../../src/scsa/index.js';
import { FakeTransport, makeBuf, cdb10, tick } from './helpers.js';

/** Fixed-format sense, MEDIUM ERROR 11/00 (UNRECOVERED READ ERROR), 18 bytes. */
const MEDIUM_ERROR = Buffer.from([0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00, 0, 0, 0, 0]);

function setup(depth: number, carriesSense: boolean, opts: UsbmsHbaOptions = {}, maxLun = 0) {
  const bot = new FakeTransport(maxLun, depth, carriesSense);
  const hba = UsbmsHba.attach(bot, opts);
  const done: scsi_pkt[] = [];
  /** A READ(10) of `blocks` blocks at `lba` with a 32-byte status area (or XARQ's). */
  const read = (lba: number, blocks = 1, lun = 0, xarq = false): scsi_pkt => {
    const p = scsi_init_pkt(hba.address(lun), null, makeBuf(blocks * 512, true), 10, 32, 0, xarq ? PKT_XARQ : 0,
      NULL_FUNC)!;
    cdb10(0x28, lba, blocks).copy(p.pkt_cdbp);
    p.pkt_comp = (x) => done.push(x);
    return p;
  };
  return { bot, hba, done, read };
}

const lbaOf = (cdb: Buffer): number => cdb.readUInt32BE(2);

describe('queueDepth 8', () => {
  it('keeps eight packets on the wire, queues the rest, and completes them in the order the transport answers', async () => {
    const { bot, done, read } = setup(8, true);
    const pkts = Array.from({ length: 10 }, (_, i) => read(i, i + 1));
    for (const p of pkts) expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
    expect(bot.pending.length).toBe(8);
    expect(bot.log.length).toBe(8); // nothing was refused busy: the HBA never offers more than the depth
    // Answer the last one on the wire first, with a residue only it has.
    bot.answer({ transferred: 8 * 512 - 100, residue: 100 }, 7);
    await tick();
    expect(done).toEqual([pkts[7]]);
    expect(pkts[7]).toMatchObject({ pkt_reason: CMD_CMPLT, pkt_resid: 100 });
    expect(bot.pending.length).toBe(8); // packet 8 took the freed place
    expect(lbaOf(bot.pending[7]!.req.cdb)).toBe(8);
    while (bot.pending.length > 0) {
      bot.answer({}, bot.pending.length - 1);
      await tick();
    }
    expect(done.length).toBe(10);
    expect(done.map((p) => lbaOf(p.pkt_cdbp))).toEqual([7, 8, 9, 6, 5, 4, 3, 2, 1, 0]);
    for (const p of pkts.filter((x) => x !== pkts[7])) expect(p).toMatchObject({ pkt_reason: CMD_CMPLT, pkt_resid: 0 });
    expect(bot.peak).toBe(8);
    expect(bot.log.length).toBe(10);
  });

  it('CHECK CONDITION with sense the transport carried: scsi_arq_status from it, no REQUEST SENSE on the wire', async () => {
    const { bot, done, read } = setup(4, true);
    const a = read(1); const b = read(2); const c = read(3);
    c.pkt_scbp.fill(0xaa); // left over from an earlier command: must not survive
    for (const p of [a, b, c]) scsi_transport(p);
    bot.answer({ transferred: 0, residue: 512 }, 2, MEDIUM_ERROR);
    bot.answer({}, 0);
    await tick();
    expect(done).toEqual([c, a]);
    expect(c).toMatchObject({ pkt_reason: CMD_CMPLT, pkt_resid: 512 });
    expect(c.pkt_state & STATE_ARQ_DONE).toBe(STATE_ARQ_DONE);
    const arq = decodeArqStatus(c.pkt_scbp);
    expect(arq).toMatchObject({ sts_status: STATUS_CHECK, sts_rqpkt_status: STATUS_GOOD, sts_rqpkt_reason: CMD_CMPLT,
      sts_rqpkt_resid: 20 - MEDIUM_ERROR.length });
    expect(arq.sts_sensedata.subarray(0, MEDIUM_ERROR.length)).toEqual(MEDIUM_ERROR);
    expect([...arq.sts_sensedata.subarray(MEDIUM_ERROR.length)]).toEqual([0, 0]);
    expect(bot.log.map((r) => r.cdb[0])).not.toContain(0x03);
    expect(b.pkt_reason).toBe(0); // still on the wire, untouched
    bot.answer({}, 0);
    await tick();
    expect(b).toMatchObject({ pkt_reason: CMD_CMPLT, pkt_resid: 0 });
    expect(b.pkt_scbp[0]).toBe(STATUS_GOOD);
  });

  it('extended ARQ: carried sense up to the 252-byte area, STATE_XARQ_DONE', async () => {
    const { bot, read } = setup(2, true);
    const p = read(0, 1, 0, true);
    scsi_transport(p);
    const long = Buffer.alloc(96, 0x11);
    long[0] = 0x70; long[2] = 0x03; long[7] = 88;
    expect(bot.pending[0]!.req.sense.length).toBe(252);
    bot.answer({ transferred: 0, residue: 512 }, 0, long);
    await tick();
    expect(p.pkt_state & (STATE_ARQ_DONE | STATE_XARQ_DONE)).toBe(STATE_ARQ_DONE | STATE_XARQ_DONE);
    const arq = decodeArqStatus(p.pkt_scbp);
    expect(arq.sts_rqpkt_resid).toBe(252 - 96);
    expect(arq.sts_sensedata.subarray(0, 96)).toEqual(long);
  });

  it('CHECK CONDITION with no sense bytes at all: ARQ done with nothing valid (the disk driver will not trust it)', async () => {
    const { bot, read } = setup(2, true);
    const p = read(0);
    scsi_transport(p);
    bot.answer({ status: STATUS_CHECK, transferred: 0, residue: 512, senseLength: 0 }, 0);
    await tick();
    const arq = decodeArqStatus(p.pkt_scbp);
    expect(arq).toMatchObject({ sts_status: STATUS_CHECK, sts_rqpkt_status: STATUS_GOOD, sts_rqpkt_resid: 20 });
    expect(bot.log.length).toBe(1);
  });

  it('SENSE_LUN0_ONLY applies to carried sense too: LOGICAL UNIT NOT SUPPORTED on LUN 1 is "sense unavailable"', async () => {
    const { bot, read } = setup(2, true, { quirks: { senseLun0Only: true } }, 1);
    const p = read(0, 1, 1);
    scsi_transport(p);
    const lunNotSupported = Buffer.from([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x25, 0x00, 0, 0, 0, 0]);
    bot.answer({ transferred: 0, residue: 512 }, 0, lunNotSupported);
    await tick();
    const arq = decodeArqStatus(p.pkt_scbp);
    expect(arq).toMatchObject({ sts_status: STATUS_CHECK, sts_rqpkt_reason: CMD_TRAN_ERR, sts_rqpkt_resid: 20 });
    expect([...arq.sts_sensedata].every((x) => x === 0)).toBe(true);
  });

  it('a status other than GOOD or CHECK (BUSY) reaches the target driver as it is, without ARQ', async () => {
    const { bot, read } = setup(2, true);
    const p = read(0);
    scsi_transport(p);
    bot.answer({ status: STATUS_BUSY, transferred: 0, residue: 512 }, 0);
    await tick();
    expect(p.pkt_scbp[0]).toBe(STATUS_BUSY);
    expect(p.pkt_state & STATE_ARQ_DONE).toBe(0);
  });

  it('no sense carried for this command (senseLength -1): REQUEST SENSE, and nothing new starts until it is done', async () => {
    const { bot, done, read } = setup(2, true);
    const a = read(1); const b = read(2); const c = read(3);
    for (const p of [a, b, c]) scsi_transport(p);
    bot.answer({ status: STATUS_CHECK, transferred: 0, residue: 512, senseLength: -1 }, 0);
    await tick();
    expect(bot.pending.map((p) => p.req.cdb[0])).toEqual([0x28, 0x03]); // b, then a's REQUEST SENSE; c waits
    bot.answer({ transferred: 18 }, 1);
    await tick();
    expect(done).toEqual([a]);
    expect(decodeArqStatus(a.pkt_scbp)).toMatchObject({ sts_status: STATUS_CHECK, sts_rqpkt_status: STATUS_GOOD });
    expect(bot.pending.map((p) => lbaOf(p.req.cdb))).toEqual([2, 3]);
  });

  it('tran_abort of one packet aborts only it; the others complete as answered', async () => {
    const { bot, hba, done, read } = setup(4, true);
    const pkts = [read(0), read(1), read(2)];
    for (const p of pkts) scsi_transport(p);
    expect(await scsi_abort(hba.address(0), pkts[1]!)).toBe(1);
    expect(pkts[1]).toMatchObject({ pkt_reason: CMD_ABORTED });
    expect(bot.aborts).toBe(1);
    expect(bot.pending.length).toBe(2);
    bot.answer({}, 1);
    bot.answer({}, 0);
    await tick();
    expect(done).toEqual([pkts[1], pkts[2], pkts[0]]);
    expect([pkts[0]!.pkt_reason, pkts[2]!.pkt_reason]).toEqual([CMD_CMPLT, CMD_CMPLT]);
  });

  it('pkt_time of one packet times out only it', async () => {
    const { bot, done, read } = setup(4, true);
    const slow = read(0); const fast = read(1);
    slow.pkt_time = 0.02;
    scsi_transport(slow); scsi_transport(fast);
    await new Promise((r) => setTimeout(r, 60));
    expect(done).toEqual([slow]);
    expect(slow.pkt_reason).toBe(CMD_TIMEOUT);
    bot.answer({}, 0);
    await tick();
    expect(fast.pkt_reason).toBe(CMD_CMPLT);
  });

  it('tagged-qing and untagged-qing follow the transport\'s depth', () => {
    const deep = setup(8, true).hba.address(0);
    expect([scsi_ifgetcap(deep, 'tagged-qing', 1), scsi_ifgetcap(deep, 'untagged-qing', 1)]).toEqual([1, 0]);
    const bot = setup(1, false).hba.address(0);
    expect([scsi_ifgetcap(bot, 'tagged-qing', 1), scsi_ifgetcap(bot, 'untagged-qing', 1)]).toEqual([0, 1]);
  });
});

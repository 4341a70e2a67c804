/**
 * A packet's life (allocated, DMA resources bound, in transport, freed) and the entry points that take a packet:
 * each refuses one in the wrong state with a typed error and changes nothing — not the packet, not the caller's
 * buf, not the resource budget, the packet cache, the resource waiters or the wire. Issue 26: a packet used after
 * scsi_destroy_pkt used to bind DMA onto the cached object, and the next caller's data phase vanished.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  NULL_FUNC, SLEEP_FUNC, TRAN_ACCEPT, TRAN_BUSY, UsbmsHba, scsi_abort, scsi_destroy_pkt, scsi_dmafree, scsi_dmaget,
  scsi_hba_pkt_alloc, scsi_hba_pkt_comp, scsi_hba_pkt_free, scsi_init_pkt, scsi_pktfree, scsi_poll, scsi_resfree,
  scsi_sync_pkt, scsi_transport, type buf, type scsi_pkt,
} from '../../src/scsa/index.js';
import { attachManPageHba, transportAndWait } from './man-page-hba.js';
import { FakeTransport, cdb10, makeBuf, tick } from './helpers.js';

beforeEach(() => { vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined); }); // the obsolete ones
afterEach(() => { vi.restoreAllMocks(); });

/** The error a call ends in, thrown at once or as a rejection; undefined if it did not fail. */
async function refusal(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Everything an entry point could change, as one string. */
function everything(hba: UsbmsHba, bot: FakeTransport, pkt: scsi_pkt, bp: buf): string {
  const r = hba.tran.tran_resources;
  return JSON.stringify({
    pool: [r.packets, r.dmaBytes, r.waiting], cache: hba.tran.tran_pkt_cache_ptr.stats, wire: bot.log.length,
    pkt: [pkt.pkt_flags, pkt.pkt_time, pkt.pkt_numcookies, pkt.pkt_dma_len, pkt.pkt_dma_offset, pkt.pkt_dma_flags,
      pkt.pkt_resid, pkt.pkt_state, pkt.pkt_reason, pkt.pkt_statistics, pkt.pkt_handle === null, pkt.pkt_comp !== null,
      pkt.pkt_cdbp.toString('hex'), pkt.pkt_scbp.toString('hex')],
    bp: [bp.b_flags, bp.b_bcount, bp.b_error, bp.b_resid],
  });
}

/** The target-driver entry points that take a packet, each called as a target driver would (bp: a new buffer). */
const ENTRY_POINTS: [string, (pkt: scsi_pkt, bp: buf) => unknown][] = [
  ['scsi_init_pkt(NULL_FUNC)', (p, bp) => scsi_init_pkt(p.pkt_address, p, bp, 0, 0, 0, 0, NULL_FUNC)],
  ['scsi_init_pkt(SLEEP_FUNC)', (p, bp) => scsi_init_pkt(p.pkt_address, p, bp, 0, 0, 0, 0, SLEEP_FUNC)],
  ['scsi_init_pkt(callback)', (p, bp) => scsi_init_pkt(p.pkt_address, p, bp, 0, 0, 0, 0, (): 0 | 1 => 1)],
  ['scsi_dmaget', (p, bp) => scsi_dmaget(p, bp, NULL_FUNC)],
  ['scsi_dmafree', (p) => scsi_dmafree(p)],
  ['scsi_sync_pkt', (p) => scsi_sync_pkt(p)],
  ['scsi_transport', (p) => scsi_transport(p)],
  ['scsi_poll', (p) => scsi_poll(p)],
  ['scsi_destroy_pkt', (p) => scsi_destroy_pkt(p)],
  ['scsi_pktfree', (p) => scsi_pktfree(p)],
  ['scsi_resfree', (p) => scsi_resfree(p)],
];

describe.each(['setup', 'init'] as const)('%s-style HBA', (style) => {
  const attach = () => {
    const bot = new FakeTransport();
    const hba = UsbmsHba.attach(bot, { style });
    return { bot, hba, ap: hba.address(0) };
  };

  describe('a packet freed by scsi_destroy_pkt', () => {
    it.each([...ENTRY_POINTS, ['scsi_abort', (p: scsi_pkt) => scsi_abort(p.pkt_address, p)] as const])(
      '%s refuses it (SCSA_PKT_FREED) and changes nothing', async (_name, call) => {
        const { bot, hba, ap } = attach();
        const p = scsi_init_pkt(ap, null, makeBuf(1024, true), 10, 32, 0, 0, NULL_FUNC)!;
        scsi_destroy_pkt(p);
        const bp = makeBuf(2048, true);
        const before = everything(hba, bot, p, bp);
        expect(await refusal(() => call(p, bp))).toMatchObject({ code: 'SCSA_PKT_FREED' });
        expect(everything(hba, bot, p, bp)).toBe(before);
      });

    it('the next command that gets the cached object keeps its data phase (the issue\'s sequence)', async () => {
      const { bot, hba, ap } = attach();
      const p = scsi_init_pkt(ap, null, null, 10, 32, 0, 0, NULL_FUNC)!;
      scsi_destroy_pkt(p);
      expect(() => scsi_dmaget(p, makeBuf(2048, true), NULL_FUNC)).toThrow(expect.objectContaining({ code: 'SCSA_PKT_FREED' }));
      expect(hba.tran.tran_resources.dmaBytes).toBe(0);
      const q = scsi_init_pkt(ap, null, makeBuf(4096, true), 10, 32, 0, 0, NULL_FUNC)!;
      expect(q).toBe(p);
      expect([q.pkt_numcookies > 0, q.pkt_dma_len]).toEqual([true, 4096]);
      cdb10(0x28, 0, 8).copy(q.pkt_cdbp);
      bot.auto = (r) => ({ status: 0, transferred: r.length, residue: 0 });
      expect(await scsi_poll(q)).toBe(0);
      expect(bot.log[0]).toMatchObject({ direction: 'in', length: 4096 });
    });

    it('scsi_hba_pkt_comp refuses it too (an HBA completing a packet nobody holds)', () => {
      const { bot, hba, ap } = attach();
      const p = scsi_init_pkt(ap, null, null, 10, 32, 0, 0, NULL_FUNC)!;
      const comp = vi.fn();
      p.pkt_comp = comp;
      scsi_destroy_pkt(p);
      const before = everything(hba, bot, p, makeBuf(0, true));
      expect(() => scsi_hba_pkt_comp(p)).toThrow(expect.objectContaining({ code: 'SCSA_PKT_FREED' }));
      expect(everything(hba, bot, p, makeBuf(0, true))).toBe(before);
      expect(comp).not.toHaveBeenCalled();
    });
  });

  describe('a packet in transport', () => {
    it.each(ENTRY_POINTS)('%s refuses it (SCSA_PKT_IN_TRANSPORT) and changes nothing', async (_name, call) => {
      const { bot, hba, ap } = attach();
      const p = scsi_init_pkt(ap, null, makeBuf(1024, true), 10, 32, 0, 0, NULL_FUNC)!;
      cdb10(0x28, 0, 2).copy(p.pkt_cdbp);
      const done = vi.fn();
      p.pkt_comp = done;
      expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
      await tick();
      const bp = makeBuf(2048, true);
      const before = everything(hba, bot, p, bp);
      expect(await refusal(() => call(p, bp))).toMatchObject({ code: 'SCSA_PKT_IN_TRANSPORT' });
      expect(everything(hba, bot, p, bp)).toBe(before);
      bot.answer();
      await tick();
      expect(done).toHaveBeenCalledTimes(1); // the command itself completes as if nothing had happened
      scsi_destroy_pkt(p);
    });
  });

  it('an allocated packet that is not in transport cannot be completed (SCSA_PKT_NOT_IN_TRANSPORT)', () => {
    const { bot, hba, ap } = attach();
    const p = scsi_init_pkt(ap, null, null, 10, 32, 0, 0, NULL_FUNC)!;
    const comp = vi.fn();
    p.pkt_comp = comp;
    const before = everything(hba, bot, p, makeBuf(0, true));
    expect(() => scsi_hba_pkt_comp(p)).toThrow(expect.objectContaining({ code: 'SCSA_PKT_NOT_IN_TRANSPORT' }));
    expect(everything(hba, bot, p, makeBuf(0, true))).toBe(before);
    expect(comp).not.toHaveBeenCalled();
  });

  it('TRAN_BUSY gives the packet back to the target driver: it may be destroyed or sent again', async () => {
    const bot = new FakeTransport();
    const hba = UsbmsHba.attach(bot, { style, queueDepth: 1 });
    const ap = hba.address(0);
    const [a, b, c] = [0, 1, 2].map(() => scsi_init_pkt(ap, null, null, 6, 32, 0, 0, NULL_FUNC)!) as [scsi_pkt, scsi_pkt, scsi_pkt];
    expect([scsi_transport(a), scsi_transport(b), scsi_transport(c)]).toEqual([TRAN_ACCEPT, TRAN_ACCEPT, TRAN_BUSY]);
    scsi_destroy_pkt(c);
    bot.answer();
    await tick();
    expect(scsi_transport(a)).toBe(TRAN_ACCEPT);
  });

  it('a SLEEP_FUNC caller whose packet is destroyed while it waits gets SCSA_PKT_FREED, and nothing is bound', async () => {
    const { hba, ap } = (() => {
      const hba = UsbmsHba.attach(new FakeTransport(), { style, maxDmaBytesInFlight: 4096 });
      return { hba, ap: hba.address(0) };
    })();
    const holder = scsi_init_pkt(ap, null, makeBuf(4096, true), 10, 32, 0, 0, NULL_FUNC)!;
    const p = scsi_init_pkt(ap, null, null, 10, 32, 0, 0, NULL_FUNC)!;
    const waiting = scsi_init_pkt(ap, p, makeBuf(2048, true), 0, 0, 0, 0, SLEEP_FUNC);
    scsi_destroy_pkt(p);
    scsi_destroy_pkt(holder);
    await expect(waiting).rejects.toMatchObject({ code: 'SCSA_PKT_FREED' });
    expect([hba.tran.tran_resources.dmaBytes, hba.tran.tran_resources.packets]).toEqual([0, 0]);
  });
});

describe('scsi_hba_pkt_alloc packets (init-style HBAs managing their own)', () => {
  it('scsi_hba_pkt_free of a packet already freed is refused (SCSA_PKT_FREED)', () => {
    const hba = UsbmsHba.attach(new FakeTransport());
    const ap = hba.address(0);
    const p = scsi_hba_pkt_alloc(ap, 10, 32, 0, 16, NULL_FUNC);
    scsi_hba_pkt_free(ap, p);
    expect(() => scsi_hba_pkt_free(ap, p)).toThrow(expect.objectContaining({ code: 'SCSA_PKT_FREED' }));
  });
});

describe('an HBA that completes inside tran_start', () => {
  it('the packet is the HBA\'s from just before tran_start, so completing it before TRAN_ACCEPT is returned works', async () => {
    const { ap, hba } = attachManPageHba();
    hba.completeInStart = true;
    const p = scsi_init_pkt(ap, null, null, 6, 32, 0, 0, NULL_FUNC)!;
    const done = await transportAndWait(p);
    expect(done).toBe(p);
    scsi_destroy_pkt(p); // the target driver's again
    expect(() => scsi_destroy_pkt(p)).toThrow(expect.objectContaining({ code: 'SCSA_PKT_FREED' }));
  });
});

import { describe, it, expect, vi } from 'vitest';
import {
  scsi_init_pkt, scsi_destroy_pkt, scsi_poll, scsi_transport, decodeArqStatus, scsi_alloc_consistent_buf,
  scsi_free_consistent_buf, scsi_dmaget, scsi_pktalloc, scsi_resalloc, scsi_pktfree, scsi_resfree, scsi_dmafree,
  scsi_sync_pkt, scsi_hba_pkt_alloc, scsi_hba_pkt_free, getrbuf, freerbuf, NULL_FUNC, SLEEP_FUNC, PKT_DMA_PARTIAL,
  PKT_XARQ, PKT_CONSISTENT, B_READ, CMD_CMPLT, STATE_ARQ_DONE, STATE_XARQ_DONE, STATUS_CHECK, STATUS_GOOD,
  TRAN_ACCEPT, UsbmsHba, type scsi_pkt,
} from '../../src/scsa/index.js';
import { mockHba, makeBuf, cdb10, cdb16 } from './helpers.js';
import { commands } from '../../src/scsi/index.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

const MiB = 1024 * 1024;

describe('against BotTransport + the software disk', () => {
  it('PKT_DMA_PARTIAL walks a 1 MiB read window by window, bytes identical to what was written', async () => {
    const { hba: writer, bot } = await mockHba();
    const pattern = Buffer.alloc(MiB);
    for (let i = 0; i < MiB; i += 4) pattern.writeUInt32BE((i ^ 0x9e3779b9) >>> 0, i);
    // Write it with the HBA splitting one big WRITE(16) into dma-max pieces.
    const w = await scsi_init_pkt(writer.address(0), null, makeBuf(pattern, false), 16, 32, 0, 0, SLEEP_FUNC);
    cdb16(0x8a, 64n, MiB / 512).copy(w.pkt_cdbp);
    expect(await scsi_poll(w)).toBe(0);
    scsi_destroy_pkt(w);
    await writer.detach();

    // A second HBA instance on the same engine, whose DMA windows are smaller than the transfer.
    const hba = UsbmsHba.attach(bot, { dmaAttr: { dma_attr_maxxfer: 192 * 1024 } });
    const ap = hba.address(0);
    expect(() => scsi_init_pkt(ap, null, makeBuf(MiB, true), 10, 32, 0, 0, NULL_FUNC)).toThrow(/PKT_DMA_PARTIAL/);

    const out = Buffer.alloc(MiB);
    const bp = makeBuf(out, true);
    let pkt = await scsi_init_pkt(ap, null, bp, 10, 32, 0, PKT_DMA_PARTIAL, SLEEP_FUNC);
    const windows: number[] = [];
    for (;;) {
      windows.push(pkt.pkt_dma_offset);
      expect(pkt.pkt_resid).toBe(MiB - pkt.pkt_dma_offset - pkt.pkt_dma_len);
      const resid = pkt.pkt_resid;
      cdb10(0x28, 64 + pkt.pkt_dma_offset / 512, pkt.pkt_dma_len / 512).copy(pkt.pkt_cdbp);
      expect(await scsi_poll(pkt)).toBe(0);
      expect(pkt.pkt_resid).toBe(0);
      if (resid === 0) break;
      pkt = scsi_init_pkt(ap, pkt, bp, 0, 0, 0, PKT_DMA_PARTIAL, NULL_FUNC)!;
    }
    expect(windows.length).toBe(Math.ceil(MiB / (192 * 1024)));
    expect(out.equals(pattern)).toBe(true);
    expect(() => scsi_init_pkt(ap, pkt, bp, 0, 0, 0, PKT_DMA_PARTIAL, NULL_FUNC)).toThrow(/no DMA window/);
    scsi_destroy_pkt(pkt);
  });

  const mediumError = async (statuslen: number, flags: number) => {
    const { hba, dev } = await mockHba();
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [10n] } });
    const p = await scsi_init_pkt(hba.address(0), null, makeBuf(8 * 512, true), 10, statuslen, 0, flags, SLEEP_FUNC);
    cdb10(0x28, 8, 8).copy(p.pkt_cdbp);
    expect(await scsi_poll(p)).toBe(-1);
    return p;
  };
  it('ARQ: CHECK CONDITION gets a binary-exact scsi_arq_status with 20 bytes of sense', async () => {
    const p = await mediumError(32, 0);
    expect(p.pkt_reason).toBe(CMD_CMPLT);
    expect(p.pkt_state & STATE_ARQ_DONE).toBe(STATE_ARQ_DONE);
    expect(p.pkt_state & STATE_XARQ_DONE).toBe(0);
    const arq = decodeArqStatus(p.pkt_scbp);
    expect(arq.sts_status).toBe(STATUS_CHECK);
    expect(arq.sts_rqpkt_status).toBe(STATUS_GOOD);
    expect(arq.sts_rqpkt_reason).toBe(CMD_CMPLT);
    expect(arq.sts_sensedata.length).toBe(20);
    expect(arq.sts_sensedata[0]! & 0x7f).toBe(0x70);
    expect(arq.sts_sensedata[2]! & 0x0f).toBe(0x03); // MEDIUM ERROR
    expect(arq.sts_rqpkt_resid).toBe(20 - (8 + arq.sts_sensedata[7]!) > 0 ? 20 - (8 + arq.sts_sensedata[7]!) : 0);
  });
  it('XARQ: PKT_XARQ asks for up to 252 bytes and sets STATE_XARQ_DONE', async () => {
    const p = await mediumError(32, PKT_XARQ);
    expect(p.pkt_scblen).toBe(264);
    expect(p.pkt_state & (STATE_ARQ_DONE | STATE_XARQ_DONE)).toBe(STATE_ARQ_DONE | STATE_XARQ_DONE);
    const arq = decodeArqStatus(p.pkt_scbp);
    expect(arq.sts_sensedata.length).toBe(252);
    expect(arq.sts_sensedata[2]! & 0x0f).toBe(0x03);
    expect(arq.sts_rqpkt_resid).toBe(Math.min(255, 252 - (8 + arq.sts_sensedata[7]!)));
  });

  it('scsi_alloc_consistent_buf: zeroed memory of datalen bytes charged to the DMA budget until it is freed', async () => {
    const { hba } = await mockHba();
    const ap = hba.address(0);
    const bp = await scsi_alloc_consistent_buf(ap, null, 36, B_READ, SLEEP_FUNC);
    expect(bp).toMatchObject({ b_bcount: 36, b_flags: B_READ, b_resid: 0, b_error: 0 });
    expect([...bp.b_un.b_addr]).toEqual(new Array(36).fill(0));
    expect(hba.tran.tran_resources.dmaBytes).toBe(36);
    scsi_free_consistent_buf(bp);
    expect(hba.tran.tran_resources.dmaBytes).toBe(0);
    expect(bp.b_bcount).toBe(0);
    expect(() => { scsi_free_consistent_buf(bp); }).toThrow(UsbmsArgumentError); // not twice
  });

  it('PKT_CONSISTENT: INQUIRY into a consistent buf; after scsi_sync_pkt it holds the unit\'s identification', async () => {
    const { hba } = await mockHba({ luns: [{ blocks: 8192, vendor: 'ACME', product: 'Widget Disk', revision: '4.2' }] });
    const ap = hba.address(0);
    const bp = await scsi_alloc_consistent_buf(ap, null, 36, B_READ, SLEEP_FUNC);
    const p = scsi_init_pkt(ap, null, bp, 6, 32, 0, PKT_CONSISTENT, NULL_FUNC)!;
    Buffer.from([0x12, 0, 0, 0, 36, 0]).copy(p.pkt_cdbp);
    expect(await scsi_poll(p)).toBe(0);
    scsi_sync_pkt(p);
    expect(commands.inquiry.decodeData(bp.b_un.b_addr)).toMatchObject({
      peripheralDeviceType: 0, vendor: 'ACME', product: 'Widget Disk', revision: '4.2' });
    expect(p.pkt_resid).toBe(0);
    scsi_destroy_pkt(p);
    scsi_free_consistent_buf(bp);
  });

  it('scsi_hba_pkt_alloc: a packet with cmdlen/statuslen/tgtlen/hbalen zeroed bytes, outside cache and budget', async () => {
    const { hba } = await mockHba();
    const ap = hba.address(0);
    const before = hba.tran.tran_pkt_cache_ptr.stats.inUse;
    const raw = scsi_hba_pkt_alloc(ap, 12, 1, 4, 64, NULL_FUNC);
    expect([raw.pkt_cdbp.length, raw.pkt_scbp.length, raw.pkt_private?.length]).toEqual([12, 1, 4]);
    expect([...raw.pkt_cdbp, ...raw.pkt_scbp, ...raw.pkt_private!].every((b) => b === 0)).toBe(true);
    expect((raw.pkt_ha_private as Buffer).equals(Buffer.alloc(64))).toBe(true);
    expect(raw.pkt_address).toMatchObject({ a_target: 0, a_lun: 0 });
    expect(hba.tran.tran_pkt_cache_ptr.stats.inUse).toBe(before);
    expect(hba.tran.tran_resources.dmaBytes).toBe(0);
    scsi_hba_pkt_free(ap, raw);
    // A packet of scsi_init_pkt belongs to its cache: scsi_hba_pkt_free refuses it.
    const cached = scsi_init_pkt(ap, null, null, 6, 32, 0, 0, NULL_FUNC)!;
    expect(() => { scsi_hba_pkt_free(ap, cached); }).toThrow(UsbmsArgumentError);
  });

  it('getrbuf: an empty buf header (no memory, no flags); freerbuf clears it', () => {
    const rb = getrbuf();
    expect(rb).toMatchObject({ b_flags: 0, b_bcount: 0, b_resid: 0, b_error: 0 });
    expect(rb.b_un.b_addr.length).toBe(0);
    rb.b_un.b_addr = Buffer.alloc(512);
    rb.b_bcount = 512;
    freerbuf(rb);
    expect([rb.b_bcount, rb.b_un.b_addr.length]).toEqual([0, 0]);
  });

  it('obsolete entry points work and each warns once with a DeprecationWarning', async () => {
    const { hba } = await mockHba();
    const ap = hba.address(0);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const p1 = scsi_pktalloc(ap, 6, 32, NULL_FUNC) as scsi_pkt;
    const p2 = scsi_pktalloc(ap, 6, 32, NULL_FUNC) as scsi_pkt;
    const data = makeBuf(512, true);
    expect(scsi_dmaget(p1, data, NULL_FUNC)).toBe(p1);
    expect(p1.pkt_dma_len).toBe(512);
    cdb10(0x28, 0, 1).copy(p1.pkt_cdbp);
    expect(await scsi_poll(p1)).toBe(0);
    scsi_dmafree(p1);
    const p3 = scsi_resalloc(ap, 10, 32, makeBuf(1024, true), NULL_FUNC) as scsi_pkt;
    expect(p3.pkt_numcookies).toBeGreaterThan(0);
    scsi_pktfree(p1); scsi_pktfree(p2); scsi_resfree(p3);
    const names = warn.mock.calls.map((c) => String(c[0]).split(' ')[0]);
    expect(names).toEqual(['scsi_pktalloc', 'scsi_dmaget', 'scsi_dmafree', 'scsi_resalloc', 'scsi_pktfree', 'scsi_resfree']);
    expect(warn.mock.calls.every((c) => (c[1] as { type: string }).type === 'DeprecationWarning')).toBe(true);
    warn.mockRestore();
  });

  it('multi-LUN device: commands to each LUN reach that LUN', async () => {
    const { hba, dev } = await mockHba({ luns: [{ blocks: 64 }, { blocks: 128 }] });
    expect(hba.maxLun).toBe(1);
    const caps = await Promise.all([0, 1].map(async (lun) => {
      const p = await scsi_init_pkt(hba.address(lun), null, makeBuf(8, true), 10, 32, 0, 0, SLEEP_FUNC);
      p.pkt_cdbp[0] = 0x25; // READ CAPACITY(10)
      const done = new Promise<void>((r) => { p.pkt_comp = () => r(); });
      expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
      await done;
      return (p.pkt_handle as { cookies: { buffer: Buffer }[] }).cookies[0]!.buffer.readUInt32BE(0);
    }));
    expect(caps).toEqual([63, 127]);
    expect(dev.log.filter((e) => e.type === 'cbw').map((e) => (e as { lun: number }).lun)).toEqual([0, 1]);
  });
});

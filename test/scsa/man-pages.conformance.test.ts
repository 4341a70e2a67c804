/**
 * The two man pages usbms's SCSA layer was made from, statement by statement: scsi_dmaget(9F) / scsi_dmafree(9F)
 * and tran_setup_pkt(9E) with tran_teardown_pkt, tran_pkt_constructor and tran_pkt_destructor (illumos-gate
 * usr/src/man/man9f/scsi_dmaget.9f, usr/src/man/man9e/tran_setup_pkt.9e). Each test quotes the statement it
 * checks; where userspace differs on purpose (no interrupt context, Promises instead of sleeping), the test says
 * so and docs/scsa.md lists the difference.
 *
 * The callers are the man pages' two: a target driver (these tests, through the public API) and an HBA written
 * to the man page (man-page-hba.ts: it captures no tran and records what each entry point is given); statements
 * about how an HBA must behave are checked on usbms's own HBA.
 *
 * Order matters in one place: the obsolete interfaces warn once per process, so the scsi_dmaget(9F) section,
 * whose first test checks the warnings, runs before anything else in this file calls them.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  B_READ, B_WRITE, DDI_DMA_CONSISTENT, DDI_DMA_PARTIAL, DDI_DMA_READ, DDI_DMA_WRITE, KM_NOSLEEP, KM_SLEEP, NULL_FUNC,
  PKT_CONSISTENT, PKT_DMA_PARTIAL, PKT_XARQ, SLEEP_FUNC, STATE_ARQ_DONE, STATUS_CHECK, STATUS_GOOD, TRAN_ACCEPT,
  UsbmsHba, defaultDmaAttr, scsi_alloc_consistent_buf, scsi_destroy_pkt, scsi_dmafree, scsi_dmaget, scsi_hba_attach_setup,
  scsi_hba_pkt_comp, scsi_ifsetcap, scsi_init_pkt, scsi_pkt, scsi_pktalloc, scsi_poll, scsi_transport, type buf,
  type scsi_hba_tran_setup,
} from '../../src/scsa/index.js';
import { ARQ_STATUS_SIZE, BLOCK, HBA_LEN, attachManPageHba, transportAndWait } from './man-page-hba.js';
import { FakeTransport, cdb10, makeBuf, tick } from './helpers.js';

const code = (c: string): unknown => expect.objectContaining({ code: c });
const read10 = (lba: number, blocks: number): Buffer => cdb10(0x28, lba, blocks);
/** Every byte of block n on the man-page HBA's disk is n & 0xff. */
const blocksFrom = (lba: number, blocks: number): Buffer =>
  Buffer.concat(Array.from({ length: blocks }, (_, i) => Buffer.alloc(BLOCK, (lba + i) & 0xff)));
const okResult = (length: number) => ({ status: 0, transferred: length, residue: 0 });

describe('scsi_dmaget(9F), scsi_dmafree(9F)', () => {
  it('INTERFACE LEVEL "These interfaces are obsolete. Use scsi_init_pkt(9F) instead of scsi_dmaget(). Use ' +
    'scsi_destroy_pkt(9F) instead of scsi_dmafree()." — each warns once per process, naming its replacement', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const { ap } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      for (let i = 0; i < 2; i++) {
        expect(scsi_dmaget(p, makeBuf(BLOCK, true), NULL_FUNC)).toBe(p);
        scsi_dmafree(p);
      }
      expect(warn.mock.calls.map((c) => [String(c[0]), (c[1] as { type: string; code: string })]))
        .toEqual([
          ['scsi_dmaget is obsolete; use scsi_init_pkt', { type: 'DeprecationWarning', code: 'USBMS_SCSA_OBSOLETE' }],
          ['scsi_dmafree is obsolete; use scsi_destroy_pkt', { type: 'DeprecationWarning', code: 'USBMS_SCSA_OBSOLETE' }],
        ]);
    } finally {
      warn.mockRestore();
    }
  });

  it('SYNOPSIS "struct scsi_pkt *scsi_dmaget(struct scsi_pkt *pkt, opaque_t dmatoken, int(*callback)(void));" and ' +
    '"void scsi_dmafree(struct scsi_pkt *pkt);" — scsi_dmaget returns the packet it was given', () => {
    const { ap } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    expect(scsi_dmaget(p, makeBuf(BLOCK, true), NULL_FUNC)).toBe(p);
    expect(scsi_dmafree(p)).toBeUndefined();
  });

  it('PARAMETERS pkt "A pointer to a scsi_pkt(9S) structure." — one the framework did not make is refused (ARG_INVALID)', () => {
    const { ap, tran } = attachManPageHba();
    const stranger = new scsi_pkt(ap, Buffer.alloc(16), Buffer.alloc(32));
    expect(() => scsi_dmaget(stranger, makeBuf(BLOCK, true), NULL_FUNC)).toThrow(code('ARG_INVALID'));
    expect(() => scsi_dmafree(stranger)).toThrow(code('ARG_INVALID'));
    expect(tran.tran_resources.dmaBytes).toBe(0);
  });

  it('PARAMETERS dmatoken "Pointer to an implementation dependent object." and DESCRIPTION "The dmatoken must be a ' +
    'pointer to a buf(9S) structure." — anything else is refused (ARG_INVALID) before a field of it is written', () => {
    const { ap, tran } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const notBufs: Record<string, unknown>[] = [
      { b_flags: B_READ, b_bcount: BLOCK, b_addr: Buffer.alloc(BLOCK) }, // no b_un
      { b_flags: B_READ, b_bcount: BLOCK, b_un: { b_addr: new Array<number>(BLOCK).fill(0) } }, // not memory
      { b_bcount: BLOCK, b_un: { b_addr: Buffer.alloc(BLOCK) } }, // no b_flags
    ];
    for (const token of notBufs) {
      const before = JSON.stringify(token);
      expect(() => scsi_dmaget(p, token as unknown as buf, NULL_FUNC)).toThrow(code('ARG_INVALID'));
      expect(JSON.stringify(token)).toBe(before);
    }
    expect([p.pkt_numcookies, tran.tran_resources.dmaBytes]).toEqual([0, 0]);
  });

  it('PARAMETERS callback "Pointer to a callback function, or NULL_FUNC or SLEEP_FUNC." — all three are taken', async () => {
    const { ap } = attachManPageHba();
    const cb = vi.fn((): 0 | 1 => 1);
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    expect(scsi_dmaget(p, makeBuf(BLOCK, true), NULL_FUNC)).toBe(p);
    scsi_dmafree(p);
    expect(await scsi_dmaget(p, makeBuf(BLOCK, true), SLEEP_FUNC)).toBe(p);
    scsi_dmafree(p);
    expect(scsi_dmaget(p, makeBuf(BLOCK, true), cb)).toBe(p);
    expect(cb).not.toHaveBeenCalled(); // resources were there: nothing to call back about
  });

  it('DESCRIPTION "The scsi_dmaget() function allocates DMA resources for an already allocated SCSI packet. pkt is a ' +
    'pointer to the previously allocated SCSI packet (see scsi_pktalloc(9F))." — the buf\'s memory is bound and the ' +
    'data lands in it', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const { ap, hba } = attachManPageHba();
      const p = scsi_pktalloc(ap, 10, ARQ_STATUS_SIZE, NULL_FUNC) as scsi_pkt;
      const bp = makeBuf(3 * BLOCK, true);
      expect(scsi_dmaget(p, bp, NULL_FUNC)).toBe(p);
      read10(7, 3).copy(p.pkt_cdbp);
      await transportAndWait(p);
      expect(hba.starts[0]!.numcookies).toBeGreaterThan(0);
      expect(bp.b_un.b_addr.equals(blocksFrom(7, 3))).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it('... "already allocated": a packet freed by scsi_destroy_pkt is refused (SCSA_PKT_FREED) and nothing is bound, ' +
    'so whoever gets the cached object next keeps its data phase', async () => {
    const { ap, tran, hba } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    scsi_destroy_pkt(p);
    expect(() => scsi_dmaget(p, makeBuf(2048, true), NULL_FUNC)).toThrow(code('SCSA_PKT_FREED'));
    expect([tran.tran_resources.dmaBytes, tran.tran_resources.packets, tran.tran_pkt_cache_ptr.stats.inUse]).toEqual([0, 0, 0]);
    // An unrelated command gets the same cached object, with its own buffer bound and its data phase whole.
    const bp = makeBuf(4 * BLOCK, true);
    const q = scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    expect(q).toBe(p);
    expect([q.pkt_numcookies, q.pkt_dma_len]).toEqual([2, 4 * BLOCK]);
    read10(0, 4).copy(q.pkt_cdbp);
    await transportAndWait(q);
    expect(hba.starts.at(-1)!.numcookies).toBe(2);
    expect(bp.b_un.b_addr.equals(blocksFrom(0, 4))).toBe(true);
  });

  it('... a packet in transport is the HBA\'s: refused (SCSA_PKT_IN_TRANSPORT) with its binding untouched', async () => {
    const { ap, tran } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, makeBuf(BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    read10(0, 1).copy(p.pkt_cdbp);
    const done = transportAndWait(p);
    expect(() => scsi_dmaget(p, makeBuf(2 * BLOCK, true), NULL_FUNC)).toThrow(code('SCSA_PKT_IN_TRANSPORT'));
    expect(() => scsi_dmafree(p)).toThrow(code('SCSA_PKT_IN_TRANSPORT'));
    expect([p.pkt_dma_len, tran.tran_resources.dmaBytes]).toEqual([BLOCK, BLOCK]);
    await done;
  });

  it('"The dmatoken parameter is a pointer to an implementation dependent object which defines the length, direction, ' +
    'and address of the data transfer associated with this SCSI packet (command)."', () => {
    const { ap } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const rd = makeBuf(Buffer.alloc(2 * BLOCK), true);
    expect(scsi_dmaget(p, rd, NULL_FUNC)).toBe(p);
    expect(p.pkt_dma_len).toBe(2 * BLOCK); // length: b_bcount
    expect(p.pkt_dma_flags & (DDI_DMA_READ | DDI_DMA_WRITE)).toBe(DDI_DMA_READ); // direction: B_READ
    expect(p.pkt_cookies.slice(0, p.pkt_numcookies).every((c) => c.buffer.buffer === rd.b_un.b_addr.buffer)).toBe(true);
    scsi_dmafree(p);
    const wr = makeBuf(BLOCK, false);
    wr.b_flags = B_WRITE;
    expect(scsi_dmaget(p, wr, NULL_FUNC)).toBe(p);
    expect(p.pkt_dma_flags & (DDI_DMA_READ | DDI_DMA_WRITE)).toBe(DDI_DMA_WRITE);
  });

  it('"If dmatoken is NULL, no resources are allocated."', () => {
    const { ap, tran } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    expect(scsi_dmaget(p, null, NULL_FUNC)).toBe(p);
    expect([p.pkt_numcookies, p.pkt_dma_len, tran.tran_resources.dmaBytes]).toEqual([0, 0, 0]);
  });

  it('"NULL_FUNC Do not wait for resources. Return a NULL pointer." and RETURN VALUES "The scsi_dmaget() function ' +
    'returns a pointer to a scsi_pkt on success. It returns NULL if resources are not available."', () => {
    const { ap, tran } = attachManPageHba({ limits: { maxDmaBytes: 4 * BLOCK } });
    const holder = scsi_init_pkt(ap, null, makeBuf(3 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    expect(scsi_dmaget(p, makeBuf(2 * BLOCK, true), NULL_FUNC)).toBeNull();
    expect([p.pkt_numcookies, tran.tran_resources.dmaBytes, tran.tran_resources.waiting]).toEqual([0, 3 * BLOCK, 0]);
    expect(scsi_dmaget(p, makeBuf(BLOCK, true), NULL_FUNC)).toBe(p);
    scsi_destroy_pkt(holder);
  });

  it('"SLEEP_FUNC Wait indefinitely for resources." — deliberate difference: JavaScript cannot sleep, so scsi_dmaget ' +
    'returns a Promise that resolves with the packet once enough DMA budget has been released', async () => {
    const { ap } = attachManPageHba({ limits: { maxDmaBytes: 4 * BLOCK } });
    const holder = scsi_init_pkt(ap, null, makeBuf(3 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    let got: scsi_pkt | null = null;
    const waiting = (scsi_dmaget(p, makeBuf(2 * BLOCK, true), SLEEP_FUNC) as Promise<scsi_pkt>).then((x) => (got = x));
    await tick();
    expect(got).toBeNull();
    scsi_destroy_pkt(holder);
    await waiting;
    expect(got).toBe(p);
    expect(p.pkt_dma_len).toBe(2 * BLOCK);
  });

  it('"Other Values: callback points to a function which is called when resources may have become available. callback ' +
    'must return either 0 (indicating that it attempted to allocate resources but failed to do so again), in which ' +
    'case it is put back on a list to be called again later, or 1 indicating either success in allocating resources ' +
    'or indicating that it no longer cares for a retry."', async () => {
    const { ap, tran } = attachManPageHba({ limits: { maxDmaBytes: 4 * BLOCK } });
    const a = scsi_init_pkt(ap, null, makeBuf(2 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const b = scsi_init_pkt(ap, null, makeBuf(2 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const bp = makeBuf(3 * BLOCK, true);
    const args: unknown[] = [];
    const retry = (arg: unknown): 0 | 1 => {
      args.push(arg);
      return scsi_dmaget(p, bp, retry) === null ? 0 : 1;
    };
    expect(scsi_dmaget(p, bp, retry)).toBeNull();
    scsi_destroy_pkt(a); // 2 blocks free: not enough
    await tick();
    expect([args.length, tran.tran_resources.waiting]).toEqual([1, 1]); // 0: back on the list
    scsi_destroy_pkt(b);
    await tick();
    expect([args.length, tran.tran_resources.waiting, p.pkt_dma_len]).toEqual([2, 0, 3 * BLOCK]); // 1: off the list
    expect(args).toEqual([null, null]); // scsi_dmaget has no callback argument: NULL
  });

  it('"The scsi_dmafree() function frees the DMA resources associated with the SCSI packet. The packet itself remains ' +
    'allocated."', async () => {
    const { ap, tran } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, makeBuf(2 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    scsi_dmafree(p);
    expect([p.pkt_numcookies, tran.tran_resources.dmaBytes, tran.tran_resources.packets]).toEqual([0, 0, 1]);
    p.pkt_cdbp.fill(0); // TEST UNIT READY: the packet still runs
    await transportAndWait(p);
    expect(p.pkt_scbp[0]).toBe(STATUS_GOOD);
    expect(scsi_dmaget(p, makeBuf(BLOCK, true), NULL_FUNC)).toBe(p);
    scsi_destroy_pkt(p);
    // Once destroyed there is nothing left to free: refused, as everything else is for a freed packet.
    expect(() => scsi_dmafree(p)).toThrow(code('SCSA_PKT_FREED'));
  });

  it('CONTEXT "If callback is SLEEP_FUNC, then this routine may only be called from user or kernel context. Otherwise, ' +
    'it may be called from user, kernel, or interrupt context." — deliberate difference: userspace has no interrupt ' +
    'context; the nearest is a completion routine, where NULL_FUNC answers at once and SLEEP_FUNC blocks nothing', async () => {
    const { ap } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const other = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const inCompletion: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      p.pkt_comp = () => {
        inCompletion.push(scsi_dmaget(other, makeBuf(BLOCK, true), NULL_FUNC));
        inCompletion.push(scsi_dmaget(p, makeBuf(BLOCK, true), SLEEP_FUNC));
        resolve();
      };
    });
    p.pkt_cdbp.fill(0);
    expect(scsi_transport(p)).toBe(TRAN_ACCEPT);
    await done;
    expect(inCompletion[0]).toBe(other);
    expect(await inCompletion[1]).toBe(p);
  });

  it('CONTEXT "The callback function may not block or call routines that block." — it is called after the call that ' +
    'released resources has returned (from setImmediate), and one that throws is dropped without harming anyone', async () => {
    const { ap, tran } = attachManPageHba({ limits: { maxDmaBytes: 2 * BLOCK } });
    const holder = scsi_init_pkt(ap, null, makeBuf(2 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    let releasing = false;
    const seen: boolean[] = [];
    expect(scsi_dmaget(p, makeBuf(BLOCK, true), () => { seen.push(releasing); throw new Error('a buggy callback'); })).toBeNull();
    releasing = true;
    scsi_dmafree(holder);
    releasing = false;
    await tick();
    expect(seen).toEqual([false]);
    expect(tran.tran_resources.waiting).toBe(0);
  });

  it('CONTEXT "The scsi_dmafree() function can be called from user, interrupt, or kernel context." — from a ' +
    'completion routine too', async () => {
    const { ap, tran } = attachManPageHba();
    const p = scsi_init_pkt(ap, null, makeBuf(BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    read10(0, 1).copy(p.pkt_cdbp);
    const freed = new Promise<number>((resolve) => {
      p.pkt_comp = (x) => { scsi_dmafree(x); resolve(tran.tran_resources.dmaBytes); };
    });
    scsi_transport(p);
    expect(await freed).toBe(0);
  });

  it('ATTRIBUTES "Stability Level Obsolete" and NOTES "These functions have been replaced by, respectively, ' +
    'scsi_init_pkt(9F) and scsi_destroy_pkt(9F)." — scsi_dmaget(pkt, bp, cb) does what scsi_init_pkt(&pkt->pkt_address, ' +
    'pkt, bp, 0, 0, 0, 0, cb, NULL) does', () => {
    const { ap } = attachManPageHba();
    const viaDmaget = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    const viaInit = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
    expect(scsi_dmaget(viaDmaget, makeBuf(3 * BLOCK, true), NULL_FUNC)).toBe(viaDmaget);
    scsi_init_pkt(viaInit.pkt_address, viaInit, makeBuf(3 * BLOCK, true), 0, 0, 0, 0, NULL_FUNC, null);
    const dma = (p: scsi_pkt) => [p.pkt_numcookies, p.pkt_dma_len, p.pkt_dma_offset, p.pkt_dma_flags, p.pkt_resid,
      p.pkt_cdblen, p.pkt_scblen];
    expect(dma(viaDmaget)).toEqual(dma(viaInit));
  });
});

describe('tran_setup_pkt(9E), tran_teardown_pkt, tran_pkt_constructor, tran_pkt_destructor', () => {
  describe('SYNOPSIS', () => {
    it('"int prefix_tran_setup_pkt(struct scsi_pkt *pkt, int (*callback) (caddr_t), caddr_t arg);" — called with the ' +
      'packet the target driver gets, a callback and an arg', () => {
      const { ap, hba } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(hba.setups.map((s) => [s.pkt, s.callback, s.arg])).toEqual([[p, NULL_FUNC, null]]);
    });

    it('"void prefix_tran_teardown_pkt(struct scsi_pkt *pkt);" — called with the packet scsi_destroy_pkt frees', () => {
      const { ap, hba } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      scsi_destroy_pkt(p);
      expect(hba.teardowns).toEqual([p]);
    });

    it('"int prefix_tran_pkt_constructor(struct scsi_pkt *pkt, scsi_hba_tran_t *tranp, int kmflags);" — tranp is the ' +
      'HBA\'s own tran', () => {
      const { ap, hba, tran } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(hba.ctors).toHaveLength(1);
      expect(hba.ctors[0]!.pkt).toBe(p);
      expect(hba.ctors[0]!.tranp).toBe(tran);
    });

    it('"void prefix_tran_pkt_destructor(struct scsi_pkt *pkt, struct scsi_hba_tran_t *tranp);" — tranp is the HBA\'s ' +
      'own tran', () => {
      const { ap, hba, tran } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      scsi_destroy_pkt(p);
      expect(tran.tran_pkt_cache_ptr.shrink(0)).toBe(1);
      expect(hba.dtors).toEqual([{ pkt: p, tranp: tran }]);
    });
  });

  describe('PARAMETERS', () => {
    it('pkt "Pointer to the scsi_pkt(9S) structure." — the very object scsi_init_pkt hands the target driver', () => {
      const { ap, hba } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(hba.setups[0]!.pkt).toBeInstanceOf(scsi_pkt);
      expect(hba.setups[0]!.pkt).toBe(p);
    });

    it('flags "Flags for associating DMA resources with the packet." — deliberate difference (the man page\'s own): no ' +
      'synopsis has a flags parameter; scsi_init_pkt\'s PKT_DMA_PARTIAL and PKT_CONSISTENT reach the binding the ' +
      'framework makes (pkt_dma_flags)', async () => {
      const { ap } = attachManPageHba();
      const partial = scsi_init_pkt(ap, null, makeBuf(BLOCK, true), 10, ARQ_STATUS_SIZE, 0, PKT_DMA_PARTIAL, NULL_FUNC)!;
      expect(partial.pkt_dma_flags & DDI_DMA_PARTIAL).toBe(DDI_DMA_PARTIAL);
      const cbuf = await scsi_alloc_consistent_buf(ap, null, BLOCK, B_READ, SLEEP_FUNC);
      const consistent = scsi_init_pkt(ap, null, cbuf, 10, ARQ_STATUS_SIZE, 0, PKT_CONSISTENT, NULL_FUNC)!;
      expect(consistent.pkt_dma_flags & DDI_DMA_CONSISTENT).toBe(DDI_DMA_CONSISTENT);
    });

    it('callback "Pointer to either NULL_FUNC or SLEEP_FUNC." — SLEEP_FUNC for a SLEEP_FUNC caller, NULL_FUNC for a ' +
      'NULL_FUNC caller and for one with a retry function (that function stays with the framework)', async () => {
      const { ap, hba } = attachManPageHba();
      await scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, SLEEP_FUNC);
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC);
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, (): 0 | 1 => 1, 'mine');
      expect(hba.setups.map((s) => s.callback)).toEqual([SLEEP_FUNC, NULL_FUNC, NULL_FUNC]);
    });

    it('arg "Always NULL." — even when the target driver gives scsi_init_pkt an argument for its callback', async () => {
      const { ap, hba } = attachManPageHba();
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, (): 0 | 1 => 1, { mine: true });
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC, 'ignored');
      await scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, SLEEP_FUNC, 42);
      expect(hba.setups.map((s) => s.arg)).toEqual([null, null, null]);
    });

    it('kmflags "Either KM_SLEEP or KM_NOSLEEP." — KM_SLEEP (0x0000) for a SLEEP_FUNC caller, KM_NOSLEEP (0x0001) for ' +
      'the others, as illumos\' scsi_init_cache_pkt chooses', async () => {
      expect([KM_SLEEP, KM_NOSLEEP]).toEqual([0x0000, 0x0001]);
      const { ap, hba } = attachManPageHba();
      // Each packet is held, so that each scsi_init_pkt constructs a new one.
      await scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, SLEEP_FUNC);
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC);
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, (): 0 | 1 => 1);
      expect(hba.ctors.map((c) => c.kmflags)).toEqual([KM_SLEEP, KM_NOSLEEP, KM_NOSLEEP]);
    });
  });

  describe('DESCRIPTION', () => {
    it('"The tran_setup_pkt() and tran_destroy_pkt() vectors in the scsi_hba_tran(9S) structure are alternatives to the ' +
      'tran_init_pkt() and tran_destroy_pkt() entry points." — an HBA with tran_setup_pkt and tran_teardown_pkt needs ' +
      'no tran_init_pkt; one with neither pair is refused at attach', () => {
      const { ap, tran } = attachManPageHba();
      expect(tran.tran_init_pkt).toBeUndefined();
      expect(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)).toBeInstanceOf(scsi_pkt);
      const incomplete: scsi_hba_tran_setup = {
        tran_hba_private: null, tran_hba_len: 0, tran_interconnect_type: 0, tran_setup_pkt: () => 0,
        tran_start: () => TRAN_ACCEPT, tran_abort: async () => 0, tran_reset: async () => 0,
        tran_getcap: () => -1, tran_setcap: () => -1,
      };
      expect(() => scsi_hba_attach_setup(defaultDmaAttr(BLOCK, 65536), incomplete, { maxPackets: 1, maxDmaBytes: 1 }))
        .toThrow(code('ARG_INVALID'));
    });

    it('"They are initialized during the HBA driver\'s attach(9E) and they are used when a target driver calls ' +
      'scsi_init_pkt(9F) and scsi_destroy_pkt(9F)." — and only then: not for a packet that is bound again or ' +
      'transported', async () => {
      const { ap, hba } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      scsi_init_pkt(ap, p, makeBuf(BLOCK, true), 0, 0, 0, 0, NULL_FUNC);
      read10(0, 1).copy(p.pkt_cdbp);
      await transportAndWait(p);
      expect([hba.setups.length, hba.teardowns.length]).toEqual([1, 0]);
      scsi_destroy_pkt(p);
      expect([hba.setups.length, hba.teardowns.length]).toEqual([1, 1]);
    });
  });

  describe('tran_setup_pkt()', () => {
    it('"...used to initialize HBA specific information in a scsi_pkt structure on behalf of a SCSI target driver. All ' +
      'fields documented in scsi_pkt(9S) are initialized." — a reused packet reaches tran_setup_pkt initialized for its ' +
      'new caller', async () => {
      const { ap, hba, tran } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, makeBuf(2 * BLOCK, true), 10, ARQ_STATUS_SIZE, 4, PKT_DMA_PARTIAL, NULL_FUNC)!;
      read10(0, 2).copy(p.pkt_cdbp);
      p.pkt_flags = 0x8000;
      p.pkt_time = 30;
      await transportAndWait(p);
      p.pkt_statistics = 0x40;
      scsi_destroy_pkt(p);
      const ap1 = { a_hba_tran: tran, a_target: 0, a_lun: 1 };
      expect(scsi_init_pkt(ap1, null, null, 6, 20, 2, 0, NULL_FUNC)).toBe(p);
      expect(hba.setups[1]!.seen).toMatchObject({
        pkt_address: ap1, pkt_cdblen: 6, pkt_scblen: 20, pkt_tgtlen: 2, pkt_comp: null, pkt_flags: 0, pkt_time: 0,
        pkt_resid: 0, pkt_state: 0, pkt_statistics: 0, pkt_reason: 0, pkt_numcookies: 0, pkt_dma_len: 0,
        pkt_dma_offset: 0, pkt_dma_flags: 0,
      });
    });

    it('"If the HBA driver chose not to preallocate memory for pkt_cdbp and/or pkt_scbp, it must allocate the requested ' +
      'memory at this time and point pkt_cdbp and pkt_scbp to the allocated memory." — the target driver gets the ' +
      'man-page HBA\'s 32-byte CDB and 64-byte status area, zeroed', () => {
      const { ap, hba } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 32, 64, 0, 0, NULL_FUNC)!;
      expect(hba.live.has(p.pkt_cdbp) && hba.live.has(p.pkt_scbp)).toBe(true);
      expect([p.pkt_cdbp.length, p.pkt_scbp.length]).toEqual([32, 64]);
      expect(p.pkt_cdbp.every((b) => b === 0) && p.pkt_scbp.every((b) => b === 0)).toBe(true);
    });

    it('... usbms\'s HBA chose to preallocate: its constructor owns CDB and status areas up to 260 and 264 bytes, so its ' +
      'tran_setup_pkt allocates nothing and the same memory serves every command', () => {
      const hba = UsbmsHba.attach(new FakeTransport());
      const ap = hba.address(0);
      const first = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, PKT_XARQ, NULL_FUNC)!;
      const area = first.pkt_scbp;
      expect(area.length).toBe(264);
      scsi_destroy_pkt(first);
      const alloc = vi.spyOn(Buffer, 'alloc');
      const view = vi.spyOn(Buffer.prototype, 'subarray');
      try {
        const again = scsi_init_pkt(ap, null, null, 10, ARQ_STATUS_SIZE, 0, PKT_XARQ, NULL_FUNC)!;
        expect(again).toBe(first);
        expect(again.pkt_scbp).toBe(area);
        scsi_destroy_pkt(again);
        expect([alloc.mock.calls.length, view.mock.calls.length]).toEqual([0, 0]);
      } finally {
        alloc.mockRestore();
        view.mockRestore();
      }
    });

    it('"An HBA driver which provides a tran_setup_pkt entry point inspects the pkt_numcookies and pkt_cookies fields at ' +
      'tran_start time to set up the transfer." — the cookies are the target driver\'s memory, and the data lands ' +
      'there', async () => {
      const { ap, hba } = attachManPageHba();
      const bp = makeBuf(3 * 1024, true);
      const p = scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      read10(4, 6).copy(p.pkt_cdbp);
      await transportAndWait(p);
      const seen = hba.starts[0]!;
      expect(seen.numcookies).toBe(3); // 1 KiB cookies (dma_attr_count_max 1023)
      expect(seen.cookies.every((c) => c.buffer === bp.b_un.b_addr.buffer)).toBe(true);
      expect(bp.b_un.b_addr.equals(blocksFrom(4, 6))).toBe(true);
    });

    it('"If pkt_numcookies is zero, there are no DMA resources associated with this packet."', async () => {
      const { ap, hba, tran } = attachManPageHba();
      const none = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      const empty = scsi_init_pkt(ap, null, makeBuf(0, true), 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      await transportAndWait(none);
      await transportAndWait(empty);
      expect(hba.starts.map((s) => s.numcookies)).toEqual([0, 0]);
      expect(tran.tran_resources.dmaBytes).toBe(0);
    });

    it('"If pkt_numcookies is not zero, it indicates the number of DMA cookies that pkt_cookies points to." — cookies ' +
      'past pkt_numcookies (left from an earlier binding) are not the transfer', async () => {
      const { ap, hba } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, makeBuf(3 * 1024, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      scsi_destroy_pkt(p);
      const bp = makeBuf(1024, true);
      const q = scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(q).toBe(p);
      read10(9, 2).copy(q.pkt_cdbp);
      await transportAndWait(q);
      const seen = hba.starts[0]!;
      expect(seen.numcookies).toBe(1);
      expect(seen.cookies.reduce((n, c) => n + c.length, 0)).toBe(q.pkt_dma_len);
      expect(bp.b_un.b_addr.equals(blocksFrom(9, 2))).toBe(true);
    });

    it('"The pkt_tgtlen field contains the length of the packet private area pointed to by pkt_private, allocated on ' +
      'behalf of the SCSI target driver."', () => {
      const { ap } = attachManPageHba();
      for (const len of [4, 100]) {
        const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, len, 0, NULL_FUNC)!;
        expect(p.pkt_tgtlen).toBe(len);
        expect(p.pkt_private!.length).toBeGreaterThanOrEqual(len);
        expect(p.pkt_private!.every((b) => b === 0)).toBe(true);
      }
    });

    it('"The pkt_scblen field contains the length of the SCSI status completion block pointed to by pkt_scbp."', () => {
      const { ap } = attachManPageHba();
      for (const [statuslen, flags, want] of [[1, 0, 1], [64, 0, 64], [ARQ_STATUS_SIZE, PKT_XARQ, 264]] as const) {
        const p = scsi_init_pkt(ap, null, null, 6, statuslen, 0, flags, NULL_FUNC)!;
        expect(p.pkt_scblen).toBe(want);
        expect(p.pkt_scbp.length).toBeGreaterThanOrEqual(want);
      }
    });

    /** usbms's HBA on a fake engine whose commands fail (CHECK CONDITION) and whose REQUEST SENSE succeeds. */
    const failingUsbms = () => {
      const bot = new FakeTransport();
      bot.auto = (r) => (r.cdb[0] === 0x03 ? okResult(r.length) : { ...okResult(0), status: 0x02 });
      return { bot, hba: UsbmsHba.attach(bot) };
    };

    it('"If the status length is greater than or equal to sizeof (struct scsi_arq_status) and the auto-rqsense ' +
      'capability has been set, automatic request sense (ARS) is enabled for this packet." (usbms\'s HBA)', async () => {
      const { bot, hba } = failingUsbms();
      expect(scsi_ifsetcap(hba.address(0), 'auto-rqsense', 1, 1)).toBe(1);
      const p = scsi_init_pkt(hba.address(0), null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(await scsi_poll(p)).toBe(-1);
      expect(bot.log.map((r) => r.cdb[0])).toEqual([0x00, 0x03]);
      expect(p.pkt_state & STATE_ARQ_DONE).toBe(STATE_ARQ_DONE);
    });

    it('"If the status length is less than sizeof (struct scsi_arq_status), automatic request sense should be disabled ' +
      'for this pkt if the HBA driver is capable of disabling ARQ on a per-packet basis." (usbms\'s HBA is)', async () => {
      const { bot, hba } = failingUsbms();
      const p = scsi_init_pkt(hba.address(0), null, null, 6, ARQ_STATUS_SIZE - 1, 0, 0, NULL_FUNC)!;
      expect(await scsi_poll(p)).toBe(-1);
      expect(bot.log.map((r) => r.cdb[0])).toEqual([0x00]);
      expect([p.pkt_scbp[0], p.pkt_state & STATE_ARQ_DONE]).toEqual([STATUS_CHECK, 0]);
    });

    it('"The pkt_cdblen field contains the length of the SCSI command descriptor block." — usbms\'s HBA sends exactly ' +
      'that many CDB bytes', async () => {
      const bot = new FakeTransport();
      bot.auto = () => okResult(0);
      const hba = UsbmsHba.attach(bot);
      for (const len of [6, 10, 12]) {
        const p = scsi_init_pkt(hba.address(0), null, null, len, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
        expect(p.pkt_cdblen).toBe(len);
        expect(await scsi_poll(p)).toBe(0);
      }
      expect(bot.log.map((r) => r.cdb.length)).toEqual([6, 10, 12]);
    });

    it('"The callback argument indicates what the allocator routines should do when resources are not available: ' +
      'NULL_FUNC Do not wait for resources. Return -1 when resources are not available." — scsi_init_pkt returns ' +
      'NULL at once, with nothing kept', () => {
      const { ap, hba, tran } = attachManPageHba();
      hba.failSetups = 1;
      expect(scsi_init_pkt(ap, null, null, 32, 64, 0, 0, NULL_FUNC)).toBeNull();
      expect([tran.tran_resources.packets, tran.tran_pkt_cache_ptr.stats.inUse, hba.teardowns.length]).toEqual([0, 0, 0]);
    });

    it('"SLEEP_FUNC Wait indefinitely for resources." — deliberate difference: tran_setup_pkt cannot block in ' +
      'JavaScript; its -1 under SLEEP_FUNC makes scsi_init_pkt\'s Promise wait for a release and call it again, and ' +
      'with nothing in use that could be released the Promise rejects (SCSA_NO_RESOURCES) instead of waiting ' +
      'forever', async () => {
      const { ap, hba } = attachManPageHba();
      const held = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      hba.failSetups = 1;
      let got: scsi_pkt | null = null;
      const waiting = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, SLEEP_FUNC).then((p) => (got = p));
      await tick();
      expect(got).toBeNull();
      scsi_destroy_pkt(held);
      await waiting;
      expect(got).toBeInstanceOf(scsi_pkt);
      expect(hba.setups.slice(1).map((s) => s.callback)).toEqual([SLEEP_FUNC, SLEEP_FUNC]);
      scsi_destroy_pkt(got!);
      hba.failSetups = 1;
      await expect(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, SLEEP_FUNC)).rejects
        .toMatchObject({ code: 'SCSA_NO_RESOURCES' });
    });
  });

  describe('tran_teardown_pkt()', () => {
    it('"The tran_teardown_pkt() is the entry point into the HBA that must free all of the resources that were ' +
      'allocated to the scsi_pkt(9S) structure during tran_setup_pkt()." — the framework calls it whenever a packet ' +
      'that setup prepared goes back (scsi_destroy_pkt, a failed DMA binding), never after a failed setup, so all ' +
      'the man-page HBA allocated comes back', () => {
      const { ap, hba } = attachManPageHba({ limits: { maxDmaBytes: 4 * BLOCK } });
      const p = scsi_init_pkt(ap, null, null, 32, 64, 0, 0, NULL_FUNC)!;
      expect(hba.live.size).toBe(2);
      scsi_destroy_pkt(p);
      expect(hba.live.size).toBe(0);
      const holder = scsi_init_pkt(ap, null, makeBuf(4 * BLOCK, true), 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(scsi_init_pkt(ap, null, makeBuf(BLOCK, true), 32, 64, 0, 0, NULL_FUNC)).toBeNull(); // DMA budget short
      expect(() => scsi_init_pkt(ap, null, makeBuf(8 * BLOCK, true), 32, 64, 0, 0, NULL_FUNC)).toThrow(code('SCSA_NO_RESOURCES'));
      expect(hba.live.size).toBe(0);
      hba.failSetups = 1;
      const teardowns = hba.teardowns.length;
      expect(scsi_init_pkt(ap, null, null, 32, 64, 0, 0, NULL_FUNC)).toBeNull();
      expect(hba.teardowns.length).toBe(teardowns);
      scsi_destroy_pkt(holder);
      expect(hba.live.size).toBe(0);
    });

    it('... usbms\'s tran_setup_pkt allocates nothing, and its tran_teardown_pkt points the packet back at the ' +
      'preallocated areas', () => {
      const hba = UsbmsHba.attach(new FakeTransport());
      const ap = hba.address(0);
      const p = scsi_init_pkt(ap, null, null, 32, ARQ_STATUS_SIZE, 0, PKT_XARQ, NULL_FUNC)!;
      expect([p.pkt_cdbp.length, p.pkt_scbp.length]).toEqual([32, 264]);
      scsi_destroy_pkt(p);
      const q = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      expect(q).toBe(p);
      expect([q.pkt_cdbp.length, q.pkt_scbp.length]).toEqual([16, 32]);
    });
  });

  describe('tran_pkt_constructor() tran_pkt_destructor()', () => {
    it('"When using tran_pkt_setup() and tran_pkt_teardown(), tran_pkt_constructor() and tran_pkt_destructor() are ' +
      'additional optional entry points that perform the actions of a constructor and destructor." — without them ' +
      'every packet is ready', async () => {
      const { ap, hba, tran } = attachManPageHba({ withConstructor: false });
      expect(tran.tran_pkt_constructor).toBeUndefined();
      const bp = makeBuf(BLOCK, true);
      const p = scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      read10(3, 1).copy(p.pkt_cdbp);
      await transportAndWait(p);
      expect(bp.b_un.b_addr.equals(blocksFrom(3, 1))).toBe(true);
      scsi_destroy_pkt(p);
      expect(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)).toBe(p);
      expect([hba.ctors.length, tran.tran_pkt_cache_ptr.stats.constructed]).toEqual([0, 1]);
    });

    it('... with them, the constructor runs once per cached packet and the destructor once, when the cache frees it', () => {
      const { ap, hba, tran } = attachManPageHba();
      const a = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      const b = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      scsi_destroy_pkt(a);
      scsi_destroy_pkt(b);
      scsi_destroy_pkt(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!);
      expect([hba.ctors.length, hba.dtors.length]).toEqual([2, 0]);
      tran.tran_pkt_cache_ptr.shrink(0);
      expect(hba.dtors.map((d) => d.pkt).sort((x, y) => (x === a ? -1 : y === a ? 1 : 0))).toEqual([a, b]);
    });

    it('"The constructor is called after the following fields in the scsi_pkt structure have been initialized: ' +
      'pkt_address, pkt_ha_private, pkt_cdbp, pkt_private, pkt_scbp, pkt_cdblen, pkt_tgtlen, pkt_scblen" — ' +
      'pkt_ha_private holds tran_hba_len zeroed bytes', () => {
      const { ap, hba, tran } = attachManPageHba();
      scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC);
      const seen = hba.ctors[0]!.seen;
      expect((seen.pkt_address as { a_hba_tran: unknown }).a_hba_tran).toBe(tran);
      expect(seen.ha_private_bytes).toEqual(Buffer.alloc(HBA_LEN));
      const lens = [seen.pkt_cdblen, seen.pkt_tgtlen, seen.pkt_scblen];
      const areas = [seen.pkt_cdbp, seen.pkt_private, seen.pkt_scbp].map((b) => (b as Buffer).length);
      expect(areas).toEqual(lens);
      expect(lens.every((n) => typeof n === 'number' && n > 0)).toBe(true);
    });

    it('tran_hba_len (scsi_hba_tran(9S)): the framework preallocates that many bytes at pkt_ha_private, once per ' +
      'cached packet; what the HBA keeps there stays with the packet', () => {
      const { ap } = attachManPageHba();
      const a = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      const b = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      const handle = (p: scsi_pkt): number => (p.pkt_ha_private as Buffer).readUInt32LE(0);
      expect([(a.pkt_ha_private as Buffer).length, handle(a), handle(b)]).toEqual([HBA_LEN, 1, 2]);
      scsi_destroy_pkt(a);
      expect(handle(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!)).toBe(1);
    });

    it('"Allocating and freeing a DMA handle are examples of something that could be done in the constructor and ' +
      'destructor."', () => {
      const { ap, hba, tran } = attachManPageHba();
      const pkts = [0, 1, 2].map(() => scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!);
      expect(hba.handles).toBe(3);
      for (const p of pkts) scsi_destroy_pkt(p);
      expect(hba.handles).toBe(3); // still constructed, in the cache
      tran.tran_pkt_cache_ptr.shrink(0);
      expect(hba.handles).toBe(0);
    });

    it('"See kmem_cache_create(9F) for additional restrictions on what actions can be performed in a constructor and ' +
      'destructor." — as with kmem, a constructor that fails fails the allocation, and its object is never ' +
      'destructed', () => {
      const { ap, hba, tran } = attachManPageHba();
      hba.failCtors = 1;
      expect(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)).toBeNull();
      expect([tran.tran_resources.packets, hba.setups.length]).toEqual([0, 0]);
      tran.tran_pkt_cache_ptr.shrink(0);
      expect(hba.dtors).toEqual([]);
    });

    it('"HBA drivers that implement tran_setup_pkt() must signal scsi_pkt(9S) completion by calling ' +
      'scsi_hba_pkt_comp(9F)." — the target driver\'s pkt_comp runs once; completing it again is refused ' +
      '(SCSA_PKT_NOT_IN_TRANSPORT)', async () => {
      const { ap } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      const comp = vi.fn();
      const done = new Promise<void>((resolve) => { p.pkt_comp = (x) => { comp(x); resolve(); }; });
      scsi_transport(p);
      await done;
      expect(() => scsi_hba_pkt_comp(p)).toThrow(code('SCSA_PKT_NOT_IN_TRANSPORT'));
      expect(comp).toHaveBeenCalledTimes(1);
    });

    it('"Direct use of the scsi_pkt pkt_comp field is not permitted and results in undefined behavior." — deliberate ' +
      'difference: defined here; a packet completed that way is still the HBA\'s, so the target driver cannot ' +
      'destroy or reuse it (SCSA_PKT_IN_TRANSPORT)', async () => {
      const { ap, hba } = attachManPageHba();
      hba.directPktComp = true;
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)!;
      await transportAndWait(p);
      expect(() => scsi_destroy_pkt(p)).toThrow(code('SCSA_PKT_IN_TRANSPORT'));
      expect(() => scsi_transport(p)).toThrow(code('SCSA_PKT_IN_TRANSPORT'));
    });
  });

  describe('RETURN VALUES', () => {
    it('"tran_setup_pkt() must return zero on success, and -1 on failure." — 0 gives the target driver its packet, -1 ' +
      'gives it NULL with nothing left allocated', () => {
      const { ap, hba, tran } = attachManPageHba();
      const p = scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC);
      expect(p).toBeInstanceOf(scsi_pkt);
      hba.failSetups = 1;
      expect(scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_SIZE, 0, 0, NULL_FUNC)).toBeNull();
      expect(tran.tran_resources.packets).toBe(1);
    });
  });
});

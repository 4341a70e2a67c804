/**
 * The packet and DMA machinery both HBA styles share: packets come from the tran's kmem-style cache and count
 * against the packet budget, bound bytes count against the DMA budget, and every release lets the resource
 * waiters try again. A shortage returns null/'noresources' (the caller may wait); a request that no amount of
 * waiting can satisfy throws a ScsaError.
 */
import {
  B_ERROR, B_READ, DDI_DMA_NOMAPPING, DDI_DMA_TOOBIG, KM_NOSLEEP, KM_SLEEP, PKT_CONSISTENT, PKT_DMA_PARTIAL, SLEEP_FUNC,
  type buf, type TranWait,
} from './types.js';
import { DEFAULT_PRIVLEN, pktWrapper, resetPktForInit, zeroPktAreas, type scsi_address, type scsi_pkt } from './pkt.js';
import {
  DDI_DMA_CONSISTENT, DDI_DMA_PARTIAL, DDI_DMA_READ, DDI_DMA_STREAMING, DDI_DMA_SYNC_FORCPU, DDI_DMA_SYNC_FORDEV,
  DDI_DMA_WRITE, DmaHandle,
} from './dma.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { ScsaError } from './errors.js';
import type { scsi_hba_tran } from './tran.js';

const EINVAL = 22;
const ENOMEM = 12;

/** Memory from scsi_alloc_consistent_buf, kept in buf.b_private: already charged to the DMA budget. */
export class ConsistentMemory {
  constructor(readonly bytes: number, readonly ownsBuf: boolean, readonly tran: scsi_hba_tran) {}
}

export function isConsistent(bp: buf): boolean {
  return bp.b_private instanceof ConsistentMemory;
}

/**
 * A dmatoken must be a buf(9S) (scsi_dmaget(9F): "The dmatoken must be a pointer to a buf(9S) structure"):
 * anything else is refused before a field of it is written (bioerror would otherwise set b_flags on it).
 */
export function assertBuf(bp: unknown, argument: string): asserts bp is buf {
  const b = bp as Partial<buf> | null;
  const ok = typeof b === 'object' && b !== null && typeof b.b_flags === 'number' && typeof b.b_bcount === 'number' &&
    typeof b.b_un === 'object' && b.b_un !== null && Buffer.isBuffer(b.b_un.b_addr);
  if (!ok) {
    throw new UsbmsArgumentError(`${argument} is not a buf(9S) (b_flags, b_bcount and a Buffer at b_un.b_addr)`,
      { argument });
  }
}

/** KM_SLEEP when the caller may wait (SLEEP_FUNC), KM_NOSLEEP otherwise: what illumos hands the constructor. */
export function kmflagsFor(wait: TranWait): number {
  return wait === SLEEP_FUNC ? KM_SLEEP : KM_NOSLEEP;
}

/**
 * A packet from the cache (constructed with `kmflags` if it is new), reset for a new user; null when the
 * packet budget or the constructor says no.
 */
export function cacheAllocPkt(tran: scsi_hba_tran, ap: scsi_address, cmdlen: number, statuslen: number,
  privlen: number, kmflags: number): scsi_pkt | null {
  if (!tran.tran_resources.takePacket()) return null;
  const pkt = tran.tran_pkt_cache_ptr.alloc(kmflags);
  if (pkt === null) {
    tran.tran_resources.releasePacket();
    return null;
  }
  const w = pktWrapper(pkt);
  w.cache = tran.tran_pkt_cache_ptr;
  w.life = 'allocated';
  // The framework owns the target-private area (illumos allocates it when it exceeds the preallocated one).
  if (privlen > DEFAULT_PRIVLEN) pkt.pkt_private = Buffer.alloc(privlen);
  resetPktForInit(pkt, ap);
  pkt.pkt_cdblen = cmdlen;
  pkt.pkt_scblen = statuslen;
  pkt.pkt_tgtlen = privlen;
  return pkt;
}

/**
 * Back to the cache (still constructed). The framework's own private area goes; the CDB and status pointers are
 * put back on the preallocated areas in case an HBA's teardown left them elsewhere (the cached object must look
 * as the constructor left it).
 */
export function cacheFreePkt(tran: scsi_hba_tran, pkt: scsi_pkt): void {
  const w = pktWrapper(pkt);
  pkt.pkt_private = w.defaultPriv;
  pkt.pkt_cdbp = w.defaultCdb;
  pkt.pkt_scbp = w.defaultScb;
  w.life = 'free';
  tran.tran_pkt_cache_ptr.release(pkt);
  tran.tran_resources.releasePacket();
}

function failBuf(bp: buf, errno: number): void {
  bp.b_flags |= B_ERROR;
  bp.b_error = errno;
}

/**
 * Bind bp to the packet, or, for a packet already bound with PKT_DMA_PARTIAL, move to the next window.
 * Fills pkt_cookies/pkt_numcookies/pkt_dma_offset/pkt_dma_len and pkt_resid (bytes not yet mapped).
 */
export function bindPktDma(tran: scsi_hba_tran, pkt: scsi_pkt, bp: buf, flags: number): 'ok' | 'noresources' {
  const w = pktWrapper(pkt);
  const dma = (w.dma ??= new DmaHandle(tran.tran_dma_attr));
  if (dma.bound) {
    if ((pkt.pkt_dma_flags & DDI_DMA_PARTIAL) === 0) return 'ok'; // already fully mapped: nothing to do
    if (!dma.nextWindow()) throw new ScsaError('DMA_NO_WINDOW', 'PKT_DMA_PARTIAL: no DMA window left to map');
    publishWindow(pkt, dma);
    return 'ok';
  }
  if (!Number.isInteger(bp.b_bcount) || bp.b_bcount < 0 || bp.b_bcount > bp.b_un.b_addr.length) {
    failBuf(bp, EINVAL);
    throw new UsbmsArgumentError(`b_bcount ${bp.b_bcount} does not fit the ${bp.b_un.b_addr.length}-byte buffer`);
  }
  let dflags = (bp.b_flags & B_READ) !== 0 ? DDI_DMA_READ : DDI_DMA_WRITE;
  dflags |= (flags & PKT_CONSISTENT) !== 0 ? DDI_DMA_CONSISTENT : DDI_DMA_STREAMING;
  if ((flags & PKT_DMA_PARTIAL) !== 0) dflags |= DDI_DMA_PARTIAL;
  const r = dma.bind(bp.b_un.b_addr, bp.b_bcount, dflags);
  if (r === DDI_DMA_TOOBIG || r === DDI_DMA_NOMAPPING) {
    failBuf(bp, EINVAL);
    throw new ScsaError(r === DDI_DMA_TOOBIG ? 'DMA_TOOBIG' : 'DMA_NOMAPPING',
      r === DDI_DMA_TOOBIG
        ? `${bp.b_bcount} bytes need several DMA windows; pass PKT_DMA_PARTIAL`
        : `the HBA's DMA attributes cannot map ${bp.b_bcount} bytes`);
  }
  // A partial binding holds at most one window's worth of memory at a time.
  const charge = isConsistent(bp) ? 0 : Math.min(bp.b_bcount, (dflags & DDI_DMA_PARTIAL) !== 0
    ? tran.tran_dma_attr.dma_attr_maxxfer : bp.b_bcount);
  if (!tran.tran_resources.takeDma(charge)) {
    dma.unbind();
    if (charge > tran.tran_resources.limits.maxDmaBytes) {
      failBuf(bp, ENOMEM);
      throw new ScsaError('NO_RESOURCES', `${charge} bytes exceed the HBA's whole DMA budget`);
    }
    return 'noresources';
  }
  w.dmaCharge = charge;
  pkt.pkt_handle = dma;
  pkt.pkt_dma_flags = dflags;
  pkt.pkt_cookies = dma.cookies;
  publishWindow(pkt, dma);
  return 'ok';
}

function publishWindow(pkt: scsi_pkt, dma: DmaHandle): void {
  pkt.pkt_numcookies = dma.ncookies;
  pkt.pkt_dma_offset = dma.winOffset;
  pkt.pkt_dma_len = dma.winLength;
  pkt.pkt_resid = dma.unmapped;
}

/** tran_sync_pkt of the framework's binding: the CPU's view after a read, the device's before a write. */
export function syncPktDma(_ap: scsi_address, pkt: scsi_pkt): void {
  const dma = pktWrapper(pkt).dma;
  dma?.sync((dma.flags & DDI_DMA_READ) !== 0 ? DDI_DMA_SYNC_FORCPU : DDI_DMA_SYNC_FORDEV);
}

/** tran_dmafree of the framework's binding (what scsi_dmafree reaches). */
export function dmafreePkt(ap: scsi_address, pkt: scsi_pkt): void {
  unbindPktDma(ap.a_hba_tran, pkt);
}

/** Release the binding; the packet itself lives on. */
export function unbindPktDma(tran: scsi_hba_tran, pkt: scsi_pkt): void {
  const w = pktWrapper(pkt);
  if (w.dma === null || !w.dma.bound) return;
  w.dma.unbind();
  pkt.pkt_numcookies = 0;
  pkt.pkt_dma_len = 0;
  pkt.pkt_dma_offset = 0;
  pkt.pkt_dma_flags = 0;
  pkt.pkt_handle = null;
  const charge = w.dmaCharge;
  w.dmaCharge = 0;
  tran.tran_resources.releaseDma(charge);
}

/** What a style's packet preparation is: tran_setup_pkt bound to its wait and NULL arg, and tran_teardown_pkt. */
export interface PktPrep {
  setup: (pkt: scsi_pkt) => number;
  teardown: (pkt: scsi_pkt) => void;
}

/**
 * The body of scsi_init_pkt for both styles, never waiting: a fresh packet from the cache (constructed with
 * KM_SLEEP or KM_NOSLEEP after `wait`, prepared by `prep.setup`, its areas then zeroed) when pkt is null, then bp
 * bound (or its next window mapped). null = short of resources, and nothing is left half-allocated.
 */
export function initPktNoWait(tran: scsi_hba_tran, ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null,
  cmdlen: number, statuslen: number, privlen: number, flags: number, wait: TranWait, prep: PktPrep): scsi_pkt | null {
  if (bp !== null) assertBuf(bp, 'bp');
  let fresh: scsi_pkt | null = null;
  if (pkt === null) {
    fresh = cacheAllocPkt(tran, ap, cmdlen, statuslen, privlen, kmflagsFor(wait));
    if (fresh === null) return null;
    if (prep.setup(fresh) !== 0) {
      cacheFreePkt(tran, fresh); // setup failed: it has nothing to tear down
      return null;
    }
    zeroPktAreas(fresh);
    pkt = fresh;
  }
  if (bp === null || bp.b_bcount === 0) return pkt;
  let r: 'ok' | 'noresources';
  try {
    r = bindPktDma(tran, pkt, bp, flags);
  } catch (err) {
    if (fresh !== null) destroyPktCommon(tran, fresh, prep.teardown);
    throw err;
  }
  if (r === 'ok') return pkt;
  if (fresh !== null) destroyPktCommon(tran, fresh, prep.teardown);
  return null;
}

/** Free a packet as illumos' scsi_free_cache_pkt does: tran_teardown_pkt, then the DMA binding, then the cache. */
export function destroyPktCommon(tran: scsi_hba_tran, pkt: scsi_pkt, teardown: (pkt: scsi_pkt) => void): void {
  teardown(pkt);
  unbindPktDma(tran, pkt);
  cacheFreePkt(tran, pkt);
}

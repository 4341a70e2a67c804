/**
 * buf(9S) helpers and packet/buffer allocators that do not go through scsi_init_pkt:
 * getrbuf(9F)/freerbuf(9F), scsi_alloc_consistent_buf(9F)/scsi_free_consistent_buf(9F),
 * scsi_hba_pkt_alloc(9F)/scsi_hba_pkt_free(9F).
 */
import { NULL_FUNC, SLEEP_FUNC, type buf, type ResourceCallback, type ResourceWait } from './types.js';
import { idlePkt, newPkt, pktWrapper, type scsi_address, type scsi_pkt } from './pkt.js';
import { ConsistentMemory } from './pkt-alloc.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { ScsaError } from './errors.js';

const EMPTY = Buffer.alloc(0);

/** getrbuf(9F): an empty buf header (no memory), as bioinit leaves it. */
export function getrbuf(): buf {
  return { b_flags: 0, b_bcount: 0, b_un: { b_addr: EMPTY }, b_resid: 0, b_error: 0 };
}

/** freerbuf(9F): the header is garbage-collected; clearing it catches use after free. */
export function freerbuf(bp: buf): void {
  bp.b_un.b_addr = EMPTY;
  bp.b_bcount = 0;
  delete bp.b_private;
}

function tryAllocConsistent(ap: scsi_address, bp: buf | null, datalen: number, bflags: number): buf | null {
  const pool = ap.a_hba_tran.tran_resources;
  if (!pool.takeDma(datalen)) return null;
  const out = bp ?? getrbuf();
  // Consistent memory is bound by the HBA as it is: start aligned, zeroed like kmem_zalloc'd DMA memory.
  out.b_un.b_addr = Buffer.alloc(datalen);
  out.b_bcount = datalen;
  out.b_flags = bflags;
  out.b_resid = 0;
  out.b_error = 0;
  out.b_private = new ConsistentMemory(datalen, bp === null, ap.a_hba_tran);
  return out;
}

/**
 * scsi_alloc_consistent_buf(9F): `datalen` bytes of DMA-able memory (charged to the HBA's DMA budget) in bp, or
 * in a new buf when bp is null. Shortage: NULL_FUNC -> null, SLEEP_FUNC -> waits, function -> queued.
 */
export function scsi_alloc_consistent_buf(ap: scsi_address, bp: buf | null, datalen: number, bflags: number,
  callback: typeof SLEEP_FUNC, arg?: unknown): Promise<buf>;
export function scsi_alloc_consistent_buf(ap: scsi_address, bp: buf | null, datalen: number, bflags: number,
  callback: typeof NULL_FUNC | ResourceCallback, arg?: unknown): buf | null;
export function scsi_alloc_consistent_buf(ap: scsi_address, bp: buf | null, datalen: number, bflags: number,
  callback: ResourceWait, arg?: unknown): buf | null | Promise<buf> {
  const pool = ap.a_hba_tran.tran_resources;
  if (!Number.isInteger(datalen) || datalen < 0) throw new UsbmsArgumentError(`datalen ${datalen} is not a size`);
  if (datalen > pool.limits.maxDmaBytes) {
    throw new ScsaError('NO_RESOURCES', `${datalen} bytes exceed the HBA's whole DMA budget`);
  }
  if (callback === SLEEP_FUNC) {
    return (async () => {
      for (;;) {
        const got = tryAllocConsistent(ap, bp, datalen, bflags);
        if (got !== null) return got;
        await pool.waitForRelease();
      }
    })();
  }
  const got = tryAllocConsistent(ap, bp, datalen, bflags);
  if (got === null && callback !== NULL_FUNC) pool.enqueueCallback(callback, arg);
  return got;
}

/** scsi_free_consistent_buf(9F): give the memory back (and the buf, if scsi_alloc_consistent_buf made it). */
export function scsi_free_consistent_buf(bp: buf): void {
  const mem = bp.b_private;
  if (!(mem instanceof ConsistentMemory)) {
    throw new UsbmsArgumentError('scsi_free_consistent_buf: not a buf from scsi_alloc_consistent_buf');
  }
  delete bp.b_private;
  bp.b_un.b_addr = EMPTY;
  bp.b_bcount = 0;
  if (mem.ownsBuf) freerbuf(bp);
  mem.tran.tran_resources.releaseDma(mem.bytes);
}

/**
 * scsi_hba_pkt_alloc(9F): for init-style HBAs that manage their own packets: a packet with cmdlen/statuslen/
 * tgtlen bytes of cdb/status/private and hbalen bytes of pkt_ha_private, outside the cache and the budget.
 * Memory is always available to a JavaScript process, so the callback never has to wait.
 */
export function scsi_hba_pkt_alloc(ap: scsi_address, cmdlen: number, statuslen: number, tgtlen: number,
  hbalen: number, _callback: ResourceWait, _arg?: unknown): scsi_pkt {
  for (const v of [cmdlen, statuslen, tgtlen, hbalen]) {
    if (!Number.isInteger(v) || v < 0) throw new UsbmsArgumentError(`scsi_hba_pkt_alloc: bad length ${v}`);
  }
  const pkt = newPkt(ap, cmdlen, statuslen, tgtlen, hbalen);
  pktWrapper(pkt).life = 'allocated';
  return pkt;
}

/** scsi_hba_pkt_free(9F): refused for a packet already freed or in transport, as every entry point does. */
export function scsi_hba_pkt_free(_ap: scsi_address, pkt: scsi_pkt): void {
  const w = idlePkt(pkt, 'scsi_hba_pkt_free');
  if (w.cache !== null) throw new UsbmsArgumentError('scsi_hba_pkt_free: packet came from scsi_init_pkt');
  w.life = 'free';
}

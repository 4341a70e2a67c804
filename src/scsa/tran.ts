/**
 * scsi_hba_tran(9S): the HBA's entry-point vector. The framework calls tran_* on behalf of target drivers;
 * an HBA is either "setup style" (tran_setup_pkt / tran_teardown_pkt, the framework owns the packet cache and
 * the DMA binding and runs tran_pkt_constructor / tran_pkt_destructor once per cached packet) or "init style"
 * (tran_init_pkt / tran_destroy_pkt, the HBA does it all itself).
 *
 * JavaScript adaptation: tran_init_pkt and tran_setup_pkt are always called as if with NULL_FUNC (they never
 * wait); scsi_init_pkt implements SLEEP_FUNC and callback functions around them. tran_abort and tran_reset
 * return Promises because a BOT reset is asynchronous I/O.
 */
import type { buf, ddi_dma_attr_t, ResourceWait } from './types.js';
import type { scsi_address, scsi_pkt } from './pkt.js';
import type { PktCache } from './cache.js';
import type { ResourcePool } from './resources.js';

export interface scsi_hba_tran {
  /** The HBA instance (UsbmsHba). */
  tran_hba_private: unknown;
  /** Bytes of pkt_ha_private the framework preallocates per cached packet (0: the constructor sets it). */
  tran_hba_len: number;
  tran_interconnect_type: number;
  /** Attributes the framework binds data buffers with (setup style). */
  tran_dma_attr: ddi_dma_attr_t;
  /** The kmem-style packet cache (illumos tran_pkt_cache_ptr). */
  tran_pkt_cache_ptr: PktCache<scsi_pkt>;
  /** Finite packets and DMA bytes, shared by both styles. */
  tran_resources: ResourcePool;

  /** 0 = ready, -1 = could not allocate what the packet needs beyond the preallocated areas. */
  tran_setup_pkt?: (pkt: scsi_pkt, callback: ResourceWait, arg: unknown) => number;
  tran_teardown_pkt?: (pkt: scsi_pkt) => void;
  /** kmem constructor: 0 or -1. Runs after pkt_address, pkt_ha_private, pkt_cdbp, pkt_private, pkt_scbp and
   * the three lengths are set. */
  tran_pkt_constructor?: (pkt: scsi_pkt, arg: unknown, kmflags: number) => number;
  tran_pkt_destructor?: (pkt: scsi_pkt, arg: unknown) => void;
  tran_init_pkt?: (ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number, statuslen: number,
    tgtlen: number, flags: number, callback: ResourceWait, arg: unknown) => scsi_pkt | null;
  tran_destroy_pkt?: (ap: scsi_address, pkt: scsi_pkt) => void;

  tran_start: (ap: scsi_address, pkt: scsi_pkt) => number;
  tran_abort: (ap: scsi_address, pkt: scsi_pkt | null) => Promise<number>;
  tran_reset: (ap: scsi_address, level: number) => Promise<number>;
  tran_getcap: (ap: scsi_address, cap: string, whom: number) => number;
  tran_setcap: (ap: scsi_address, cap: string, value: number, whom: number) => number;
  tran_sync_pkt: (ap: scsi_address, pkt: scsi_pkt) => void;
  tran_dmafree: (ap: scsi_address, pkt: scsi_pkt) => void;
}

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

/** scsi_hba_tran(9S): the entry points an HBA driver registers with SCSA. */
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
  /** tran_teardown_pkt(9E): undo tran_setup_pkt before the packet is freed or reused. */
  tran_teardown_pkt?: (pkt: scsi_pkt) => void;
  /** kmem constructor: 0 or -1. Runs after pkt_address, pkt_ha_private, pkt_cdbp, pkt_private, pkt_scbp and
   * the three lengths are set. */
  tran_pkt_constructor?: (pkt: scsi_pkt, arg: unknown, kmflags: number) => number;
  /** Destructor of a cached packet: runs once when the packet cache frees it. */
  tran_pkt_destructor?: (pkt: scsi_pkt, arg: unknown) => void;
  /** tran_init_pkt(9E): allocate and/or DMA-map a packet (HBAs without tran_setup_pkt). */
  tran_init_pkt?: (ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number, statuslen: number,
    tgtlen: number, flags: number, callback: ResourceWait, arg: unknown) => scsi_pkt | null;
  /** tran_destroy_pkt(9E): free a packet made by tran_init_pkt. */
  tran_destroy_pkt?: (ap: scsi_address, pkt: scsi_pkt) => void;

  /** tran_start(9E): take a packet for transport; returns TRAN_ACCEPT, TRAN_BUSY, TRAN_BADPKT or TRAN_FATAL_ERROR. */
  tran_start: (ap: scsi_address, pkt: scsi_pkt) => number;
  /** tran_abort(9E): abort one packet, or all of the address when `pkt` is null; resolves 1 on success, 0 otherwise. */
  tran_abort: (ap: scsi_address, pkt: scsi_pkt | null) => Promise<number>;
  /** tran_reset(9E): reset at RESET_ALL, RESET_TARGET or RESET_LUN level; resolves 1 on success, 0 otherwise. */
  tran_reset: (ap: scsi_address, level: number) => Promise<number>;
  /** tran_getcap(9E): the value of a capability, or -1 when undefined. */
  tran_getcap: (ap: scsi_address, cap: string, whom: number) => number;
  /** tran_setcap(9E): set a capability; 1 set, 0 not settable, -1 undefined. */
  tran_setcap: (ap: scsi_address, cap: string, value: number, whom: number) => number;
  /** tran_sync_pkt(9E): sync the DMA memory of a packet for the CPU or the device. */
  tran_sync_pkt: (ap: scsi_address, pkt: scsi_pkt) => void;
  /** tran_dmafree(9E): release the DMA resources of a packet, keeping the packet. */
  tran_dmafree: (ap: scsi_address, pkt: scsi_pkt) => void;
}

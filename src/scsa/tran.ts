/**
 * The three SCSA structures that name each other: scsi_hba_tran(9S), the HBA's entry-point vector;
 * scsi_address(9S), which points at it; and scsi_pkt(9S), which carries an address and is what most entry points
 * take. They live in one module so that no module of the layer imports another in a circle; the framework's
 * private state of a packet and its helpers are in pkt.ts.
 *
 * An HBA is either "setup style" (tran_setup_pkt / tran_teardown_pkt: the framework owns the packet cache and the
 * DMA binding and runs the optional tran_pkt_constructor / tran_pkt_destructor once per cached packet) or "init
 * style" (tran_init_pkt / tran_destroy_pkt: the HBA does it all itself). The synchronous entry points never wait:
 * when the target driver asked for SLEEP_FUNC they are told so (SLEEP_FUNC, KM_SLEEP), and a -1 or null from them
 * makes scsi_init_pkt's Promise wait for a release and call them again. tran_abort and tran_reset return Promises
 * because a USB reset is asynchronous I/O.
 */
import type { buf, ddi_dma_attr_t, ddi_dma_cookie_t, TranWait } from './types.js';
import type { PktCache } from './cache.js';
import type { ResourcePool } from './resources.js';

/** scsi_address(9S): the HBA instance, target and LUN a packet goes to. */
export interface scsi_address {
  a_hba_tran: scsi_hba_tran;
  a_target: number;
  a_lun: number;
}

/** scsi_pkt(9S): one SCSI command with its CDB, status block, data and completion state, owned by the HBA while in transport. */
export class scsi_pkt {
  /** The HBA's per-packet data: tran_hba_len bytes the framework preallocates, or what the constructor puts here. */
  pkt_ha_private: unknown = null;
  pkt_address: scsi_address;
  pkt_private: Buffer | null = null;
  /** Completion callback, called once when the HBA is done with the packet (null with FLAG_NOINTR). */
  pkt_comp: ((pkt: scsi_pkt) => void) | null = null;
  pkt_flags = 0;
  /** Seconds the command may take once started; 0 = no limit. */
  pkt_time = 0;
  pkt_scbp: Buffer;
  pkt_cdbp: Buffer;
  pkt_resid = 0;
  pkt_state = 0;
  pkt_statistics = 0;
  pkt_reason = 0;
  pkt_cdblen = 0;
  pkt_tgtlen = 0;
  pkt_scblen = 0;
  pkt_handle: unknown = null;
  pkt_numcookies = 0;
  pkt_dma_offset = 0;
  pkt_dma_len = 0;
  pkt_dma_flags = 0;
  pkt_cookies: ddi_dma_cookie_t[] = [];

  constructor(ap: scsi_address, cdb: Buffer, scb: Buffer) {
    this.pkt_address = { a_hba_tran: ap.a_hba_tran, a_target: ap.a_target, a_lun: ap.a_lun };
    this.pkt_cdbp = cdb;
    this.pkt_scbp = scb;
  }
}

/** scsi_hba_tran(9S): the entry points an HBA driver registers with SCSA. */
export interface scsi_hba_tran {
  /** The HBA instance (its soft state: what an entry point reaches through pkt_address.a_hba_tran). */
  tran_hba_private: unknown;
  /** Bytes the framework preallocates (zeroed, once per cached packet) at pkt_ha_private before the constructor runs. */
  tran_hba_len: number;
  tran_interconnect_type: number;
  /** Attributes the framework binds data buffers with (setup style). Set by scsi_hba_attach_setup. */
  tran_dma_attr: ddi_dma_attr_t;
  /** The kmem-style packet cache (illumos tran_pkt_cache_ptr). Set by scsi_hba_attach_setup. */
  tran_pkt_cache_ptr: PktCache<scsi_pkt>;
  /** Finite packets and DMA bytes, shared by both styles. Set by scsi_hba_attach_setup. */
  tran_resources: ResourcePool;

  /**
   * tran_setup_pkt(9E): prepare a packet from the cache for a target driver; 0 ready, -1 failed (scsi_init_pkt
   * then returns null, or under SLEEP_FUNC waits and calls again). `arg` is always null.
   */
  tran_setup_pkt?: (pkt: scsi_pkt, callback: TranWait, arg: null) => number;
  /** tran_teardown_pkt(9E): free everything tran_setup_pkt allocated, before the packet goes back to the cache. */
  tran_teardown_pkt?: (pkt: scsi_pkt) => void;
  /**
   * tran_pkt_constructor(9E), optional: 0 or -1, once per cached packet, with the HBA's tran and KM_SLEEP or
   * KM_NOSLEEP. Runs after pkt_address, pkt_ha_private, pkt_cdbp, pkt_private, pkt_scbp and the three lengths are set.
   */
  tran_pkt_constructor?: (pkt: scsi_pkt, tranp: scsi_hba_tran, kmflags: number) => number;
  /** tran_pkt_destructor(9E), optional: runs once, with the HBA's tran, when the packet cache frees the packet. */
  tran_pkt_destructor?: (pkt: scsi_pkt, tranp: scsi_hba_tran) => void;
  /** tran_init_pkt(9E): allocate and/or DMA-map a packet (HBAs without tran_setup_pkt); `arg` is always null. */
  tran_init_pkt?: (ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number, statuslen: number,
    tgtlen: number, flags: number, callback: TranWait, arg: null) => scsi_pkt | null;
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

/**
 * The framework's private wrapper around each scsi_pkt (what illumos keeps in struct scsi_pkt_cache_wrapper): the
 * target driver sees only scsi_pkt; the wrapper records which cache the packet came from, its DMA handle and where
 * the packet is in its life:
 *
 *   free --scsi_init_pkt--> allocated --scsi_transport--> transport --scsi_hba_pkt_comp--> allocated
 *   allocated --scsi_destroy_pkt--> free
 *
 * (DMA resources bound or not is the handle's business, orthogonal to this.) Every entry point that takes a
 * packet asks {@link idlePkt} first, so a packet used after scsi_destroy_pkt or while the HBA holds it is refused
 * with a ScsaError before anything is changed, instead of harming whoever gets the cached object next.
 */
import { FLAG_NOINTR, MAX_SENSE_LENGTH, SCSI_ARQ_STATUS_SIZE, SENSE_LENGTH } from './types.js';
import { scsi_pkt, type scsi_address } from './tran.js';
import type { DmaHandle } from './dma.js';
import type { PktCache } from './cache.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { ScsaError } from './errors.js';

export { scsi_pkt, type scsi_address } from './tran.js';

/** Preallocated sizes of a cached packet (illumos DEFAULT_CDBLEN / DEFAULT_SCBLEN / DEFAULT_PRIVLEN). */
export const DEFAULT_CDBLEN = 16;
/** Default pkt_scblen: room for a struct scsi_arq_status. */
export const DEFAULT_SCBLEN = 32; // sizeof (struct scsi_arq_status)
/** Default pkt_tgtlen: bytes of target-driver private data per packet. */
export const DEFAULT_PRIVLEN = 8;
/** The largest CDB scsi_init_pkt accepts (SCSI's 260-byte variable-length CDB). */
export const MAX_CMDLEN = 260;
/** The largest status area scsi_init_pkt accepts: a struct scsi_arq_status with XARQ's full sense. */
export const MAX_STATUSLEN = SCSI_ARQ_STATUS_SIZE + MAX_SENSE_LENGTH - SENSE_LENGTH;

/** Where a packet is in its life: in the cache (or freed), the target driver's, or the HBA's. */
export type PktLife = 'free' | 'allocated' | 'transport';

/** Framework-private state of one packet (never seen by target drivers). */
export class PktWrapper {
  /** The cache the packet returns to on destroy; null for scsi_hba_pkt_alloc packets. */
  cache: PktCache<scsi_pkt> | null = null;
  life: PktLife = 'free';
  dma: DmaHandle | null = null;
  /** Bytes of the DMA budget this binding holds (0 for consistent memory, already counted when allocated). */
  dmaCharge = 0;
  /** The preallocated areas, restored when the framework grew the private area or an HBA left its own in place. */
  defaultCdb: Buffer;
  defaultScb: Buffer;
  defaultPriv: Buffer | null;
  /** Resolves scsi_poll's wait; set only while a polled packet is in transport. */
  pollDone: (() => void) | null = null;
  /** Why the last run failed in transport (the engine's error), for pkt_transport_error. */
  transportError: unknown = undefined;
  constructor(readonly pkt: scsi_pkt) {
    this.defaultCdb = pkt.pkt_cdbp;
    this.defaultScb = pkt.pkt_scbp;
    this.defaultPriv = pkt.pkt_private;
  }
  /** Between scsi_init_pkt and scsi_destroy_pkt. */
  get allocated(): boolean {
    return this.life !== 'free';
  }
  /** Between scsi_transport and scsi_hba_pkt_comp. */
  get inTransport(): boolean {
    return this.life === 'transport';
  }
}

const wrappers = new WeakMap<scsi_pkt, PktWrapper>();

export function wrapPkt(pkt: scsi_pkt): PktWrapper {
  const w = new PktWrapper(pkt);
  wrappers.set(pkt, w);
  return w;
}

/** The wrapper of a packet made by this framework; anything else is a caller's mistake. */
export function pktWrapper(pkt: scsi_pkt): PktWrapper {
  const w = wrappers.get(pkt);
  if (w === undefined) throw new UsbmsArgumentError('not a scsi_pkt allocated by scsi_init_pkt or scsi_hba_pkt_alloc');
  return w;
}

/**
 * The wrapper of a packet the target driver may hand to `who` now: allocated and not in transport. A freed
 * packet (SCSA_PKT_FREED) or one the HBA holds (SCSA_PKT_IN_TRANSPORT) is refused before anything is changed.
 */
export function idlePkt(pkt: scsi_pkt, who: string): PktWrapper {
  const w = pktWrapper(pkt);
  if (w.life === 'free') throw new ScsaError('PKT_FREED', `${who}: the packet was freed (scsi_destroy_pkt)`);
  if (w.life === 'transport') throw new ScsaError('PKT_IN_TRANSPORT', `${who}: the packet is in transport`);
  return w;
}

/** scsi_transport hands the packet to the HBA: it is the HBA's from just before tran_start. */
export function enterTransport(w: PktWrapper): void {
  w.life = 'transport';
}

/** tran_start did not take the packet (or threw): the target driver's again, unless the HBA already completed it. */
export function transportRefused(w: PktWrapper): void {
  if (w.life === 'transport') w.life = 'allocated';
}

/**
 * usbms extension (not in the DDI): the transport error behind the packet's last pkt_reason other than CMD_CMPLT
 * (a BotError from the engine), so a target driver can report the cause; undefined after a completed command.
 */
export function pkt_transport_error(pkt: scsi_pkt): unknown {
  return wrappers.get(pkt)?.transportError;
}

/** HBA side of pkt_transport_error. */
export function setPktTransportError(pkt: scsi_pkt, err: unknown): void {
  const w = wrappers.get(pkt);
  if (w !== undefined) w.transportError = err;
}

/**
 * Make a packet whose cdb/scb/private areas have the given sizes (zeroed), with `hbalen` zeroed bytes at
 * pkt_ha_private (none: null).
 */
export function newPkt(ap: scsi_address, cdblen: number, scblen: number, privlen: number, hbalen = 0): scsi_pkt {
  const pkt = new scsi_pkt(ap, Buffer.alloc(cdblen), Buffer.alloc(scblen));
  pkt.pkt_private = privlen > 0 ? Buffer.alloc(privlen) : null;
  pkt.pkt_ha_private = hbalen > 0 ? Buffer.alloc(hbalen) : null;
  pkt.pkt_cdblen = cdblen;
  pkt.pkt_scblen = scblen;
  pkt.pkt_tgtlen = privlen;
  wrapPkt(pkt);
  return pkt;
}

/** The state scsi_init_pkt hands back for a fresh packet: no completion routine, nothing transported. */
export function resetPktForInit(pkt: scsi_pkt, ap: scsi_address): void {
  pkt.pkt_address.a_hba_tran = ap.a_hba_tran;
  pkt.pkt_address.a_target = ap.a_target;
  pkt.pkt_address.a_lun = ap.a_lun;
  pkt.pkt_comp = null;
  pkt.pkt_flags = 0;
  pkt.pkt_time = 0;
  pkt.pkt_resid = 0;
  pkt.pkt_state = 0;
  pkt.pkt_statistics = 0;
  pkt.pkt_reason = 0;
  pkt.pkt_numcookies = 0;
  pkt.pkt_dma_offset = 0;
  pkt.pkt_dma_len = 0;
  pkt.pkt_dma_flags = 0;
}

/** What the target driver finds in a fresh packet's areas once tran_setup_pkt has pointed them: zeros. */
export function zeroPktAreas(pkt: scsi_pkt): void {
  pkt.pkt_cdbp.fill(0);
  pkt.pkt_scbp.fill(0);
  pkt.pkt_private?.fill(0);
}

/**
 * scsi_hba_pkt_comp(9F): how an HBA hands a finished packet back. The completion routine runs unless the
 * packet was polled (FLAG_NOINTR: scsi_poll's caller is waiting instead). A packet the HBA does not hold (not
 * in transport: completed already, or never started) is refused: its pkt_comp would run for a command that is
 * not outstanding, possibly in a packet that belongs to someone else by now.
 */
export function scsi_hba_pkt_comp(pkt: scsi_pkt): void {
  const w = pktWrapper(pkt);
  if (w.life !== 'transport') {
    throw new ScsaError(w.life === 'free' ? 'PKT_FREED' : 'PKT_NOT_IN_TRANSPORT',
      `scsi_hba_pkt_comp: the packet is not in transport (${w.life === 'free' ? 'freed' : 'already completed or never started'})`);
  }
  w.life = 'allocated';
  const pollDone = w.pollDone;
  w.pollDone = null;
  if ((pkt.pkt_flags & FLAG_NOINTR) === 0 && pkt.pkt_comp !== null) {
    try {
      pkt.pkt_comp(pkt);
    } catch (err) {
      // A target driver's bug must not take the HBA's queue down with it.
      process.emitWarning(`pkt_comp threw: ${String(err)}`, { code: 'USBMS_PKT_COMP_THREW' });
    }
  }
  pollDone?.();
}

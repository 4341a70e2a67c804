/**
 * scsi_pkt(9S), scsi_address(9S) and the framework's private wrapper around each packet (what illumos keeps in
 * struct scsi_pkt_cache_wrapper): the target driver sees only scsi_pkt; the wrapper records which cache the
 * packet came from, its DMA handle and whether it is in transport.
 */
import type { ddi_dma_cookie_t } from './types.js';
import type { scsi_hba_tran } from './tran.js';
import type { DmaHandle } from './dma.js';
import type { PktCache } from './cache.js';
import { UsbmsArgumentError } from '../util/errors.js';

/** scsi_address(9S): the HBA instance, target and LUN a packet goes to. */
export interface scsi_address {
  a_hba_tran: scsi_hba_tran;
  a_target: number;
  a_lun: number;
}

/** Preallocated sizes of a cached packet (illumos DEFAULT_CDBLEN / DEFAULT_SCBLEN / DEFAULT_PRIVLEN). */
export const DEFAULT_CDBLEN = 16;
/** Default pkt_scblen: room for a struct scsi_arq_status. */
export const DEFAULT_SCBLEN = 32; // sizeof (struct scsi_arq_status)
/** Default pkt_tgtlen: bytes of target-driver private data per packet. */
export const DEFAULT_PRIVLEN = 8;

/** scsi_pkt(9S): one SCSI command with its CDB, status block, data and completion state, owned by the HBA while in transport. */
export class scsi_pkt {
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

/** Framework-private state of one packet (never seen by target drivers). */
export class PktWrapper {
  /** The cache the packet returns to on destroy; null for scsi_hba_pkt_alloc packets. */
  cache: PktCache<scsi_pkt> | null = null;
  /** Between scsi_init_pkt and scsi_destroy_pkt. */
  allocated = false;
  /** Between TRAN_ACCEPT and completion. */
  inTransport = false;
  dma: DmaHandle | null = null;
  /** Bytes of the DMA budget this binding holds (0 for consistent memory, already counted when allocated). */
  dmaCharge = 0;
  /** The preallocated buffers, restored when a setup/init grew the cdb/scb/private area. */
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

/** Make a packet whose cdb/scb/private areas have the given sizes (zeroed). */
export function newPkt(ap: scsi_address, cdblen: number, scblen: number, privlen: number): scsi_pkt {
  const pkt = new scsi_pkt(ap, Buffer.alloc(cdblen), Buffer.alloc(scblen));
  pkt.pkt_private = privlen > 0 ? Buffer.alloc(privlen) : null;
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
  pkt.pkt_cdbp.fill(0);
  pkt.pkt_scbp.fill(0);
  pkt.pkt_private?.fill(0);
}

/**
 * scsi_hba_pkt_comp(9F): how an HBA hands a finished packet back. The completion routine runs unless the
 * packet was polled (FLAG_NOINTR: scsi_poll's caller is waiting instead).
 */
export function scsi_hba_pkt_comp(pkt: scsi_pkt): void {
  const w = pktWrapper(pkt);
  w.inTransport = false;
  const pollDone = w.pollDone;
  w.pollDone = null;
  if ((pkt.pkt_flags & 0x1 /* FLAG_NOINTR */) === 0 && pkt.pkt_comp !== null) {
    try {
      pkt.pkt_comp(pkt);
    } catch (err) {
      // A target driver's bug must not take the HBA's queue down with it.
      process.emitWarning(`pkt_comp threw: ${String(err)}`, { code: 'USBMS_PKT_COMP_THREW' });
    }
  }
  pollDone?.();
}

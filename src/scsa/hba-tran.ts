/**
 * The tran vector of a UsbmsHba, in either style, written to tran_setup_pkt(9E) and tran_init_pkt(9E): the
 * entry points find their tran in their arguments (pkt_address.a_hba_tran, tranp) and capture none. Both styles
 * share the packet cache, the resource budget and the DMA binding that scsi_hba_attach_setup gives the tran; they
 * differ only in who drives them (the framework for setup style, the HBA's tran_init_pkt for init style).
 */
import { INTERCONNECT_USB, type ddi_dma_attr_t } from './types.js';
import { MAX_CMDLEN, MAX_STATUSLEN, type scsi_address, type scsi_pkt } from './pkt.js';
import type { scsi_hba_tran } from './tran.js';
import { scsi_hba_attach_setup, type scsi_hba_tran_setup } from './attach.js';
import { defaultDmaAttr, MAX_COOKIES } from './dma.js';
import { destroyPktCommon, dmafreePkt, initPktNoWait, syncPktDma, type PktPrep } from './pkt-alloc.js';
import { getcap, setcap, type CapsContext } from './caps.js';
import { HbaCmd } from './hba-cmd.js';
import type { Transport, TransportSlot } from '../transport/index.js';
import { logger } from '../util/log.js';

const log = logger('hba', 'tran');

/** What the tran vector needs of its HBA instance (a UsbmsHba; named here so the two modules do not import each other). */
export interface TranHba extends CapsContext {
  readonly transport: Transport;
  start(pkt: scsi_pkt): number;
  abort(ap: scsi_address, pkt: scsi_pkt | null): Promise<number>;
  reset(ap: scsi_address, level: number): Promise<number>;
}

/** The options of UsbmsHba.attach that shape its tran. */
export interface TranOptions {
  style?: 'setup' | 'init';
  dmaAttr?: Partial<ddi_dma_attr_t>;
  maxDmaBytesInFlight?: number;
  maxPackets?: number;
}

/**
 * pkt_ha_private of a usbms packet: the transport command state, and CDB and status areas for what the framework's
 * preallocated ones cannot hold, all allocated once by tran_pkt_constructor. The areas belong to the constructor:
 * tran_setup_pkt only points the packet at them (a target driver asks for the same extended-ARQ status area on
 * every command, so nothing is allocated per command) and tran_teardown_pkt only points it back: there is nothing
 * to free. The destructor lets them go with the slot.
 */
export class UsbmsPkt extends HbaCmd {
  private readonly cdbArea = Buffer.alloc(MAX_CMDLEN);
  private readonly scbArea = Buffer.alloc(MAX_STATUSLEN);
  /** The part of each area the last packet asked for, kept so that the same length costs no new view. */
  private cdbView: Buffer = this.cdbArea;
  private scbView: Buffer = this.scbArea;
  /** The framework's preallocated areas, as the constructor found them at pkt_cdbp and pkt_scbp. */
  readonly defaultCdb: Buffer;
  readonly defaultScb: Buffer;

  constructor(slot: TransportSlot, pkt: scsi_pkt) {
    super(slot);
    this.defaultCdb = pkt.pkt_cdbp;
    this.defaultScb = pkt.pkt_scbp;
  }

  /** `length` bytes of the constructor's CDB area. */
  cdb(length: number): Buffer {
    if (this.cdbView.length !== length) this.cdbView = this.cdbArea.subarray(0, length);
    return this.cdbView;
  }

  /** `length` bytes of the constructor's status area. */
  scb(length: number): Buffer {
    if (this.scbView.length !== length) this.scbView = this.scbArea.subarray(0, length);
    return this.scbView;
  }
}

/** tran_setup_pkt: point the packet at the constructor's areas where the preallocated ones are too small. */
function setupPkt(pkt: scsi_pkt): number {
  if (pkt.pkt_cdblen > MAX_CMDLEN || pkt.pkt_scblen > MAX_STATUSLEN) return -1;
  const own = pkt.pkt_ha_private as UsbmsPkt;
  if (pkt.pkt_cdblen > own.defaultCdb.length) pkt.pkt_cdbp = own.cdb(pkt.pkt_cdblen);
  if (pkt.pkt_scblen > own.defaultScb.length) pkt.pkt_scbp = own.scb(pkt.pkt_scblen);
  return 0;
}

/** tran_teardown_pkt: setup allocated nothing; the packet goes back to the cache pointing where it came from. */
function teardownPkt(pkt: scsi_pkt): void {
  const own = pkt.pkt_ha_private as UsbmsPkt;
  pkt.pkt_cdbp = own.defaultCdb;
  pkt.pkt_scbp = own.defaultScb;
}

const prep: PktPrep = { setup: setupPkt, teardown: teardownPkt };

export function buildTran(hba: TranHba, opts: TranOptions): scsi_hba_tran {
  const t = hba.transport;
  const dmaAttr = { ...defaultDmaAttr(t.maxPacketSize, hba.dmaMax), ...opts.dmaAttr };
  const maxSegments = Math.min(dmaAttr.dma_attr_sgllen, MAX_COOKIES) + 1; // +1: a split can cut a cookie

  const vector: scsi_hba_tran_setup = {
    tran_hba_private: hba,
    // pkt_ha_private is an object (UsbmsPkt), not bytes: the constructor puts it there.
    tran_hba_len: 0,
    tran_interconnect_type: INTERCONNECT_USB,
    /** The transport's slot (its reusable transfers and state) and the large areas live as long as the cached packet. */
    tran_pkt_constructor: (pkt) => {
      try {
        pkt.pkt_ha_private = new UsbmsPkt(t.allocSlot(maxSegments), pkt);
        return 0;
      } catch (err) {
        log('cannot allocate a transport slot: %O', err);
        return -1;
      }
    },
    tran_pkt_destructor: (pkt) => {
      t.freeSlot((pkt.pkt_ha_private as UsbmsPkt).slot);
      pkt.pkt_ha_private = null;
    },
    tran_start: (_ap, pkt) => hba.start(pkt),
    tran_abort: (ap, pkt) => hba.abort(ap, pkt),
    tran_reset: (ap, level) => hba.reset(ap, level),
    tran_getcap: (ap, cap) => getcap(hba, ap.a_lun, cap),
    tran_setcap: (ap, cap, value, whom) => setcap(hba, ap.a_lun, cap, value, whom),
    // The DMA binding is the framework's in both styles: so are syncing and freeing it.
    tran_sync_pkt: syncPktDma,
    tran_dmafree: dmafreePkt,
  };
  if ((opts.style ?? 'setup') === 'setup') {
    vector.tran_setup_pkt = setupPkt;
    vector.tran_teardown_pkt = teardownPkt;
  } else {
    // Init style: the HBA drives the same cache itself (its constructor and destructor above serve it).
    vector.tran_init_pkt = (ap, pkt, bp, cmdlen, statuslen, tgtlen, flags, wait) =>
      initPktNoWait(ap.a_hba_tran, ap, pkt, bp, cmdlen, statuslen, tgtlen, flags, wait, prep);
    vector.tran_destroy_pkt = (ap, pkt) => destroyPktCommon(ap.a_hba_tran, pkt, teardownPkt);
  }
  return scsi_hba_attach_setup(dmaAttr, vector, {
    maxPackets: opts.maxPackets ?? 256,
    maxDmaBytes: opts.maxDmaBytesInFlight ?? 64 * 1024 * 1024,
  });
}

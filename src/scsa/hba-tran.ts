/**
 * The tran vector of a UsbmsHba, in either style. Both share the packet cache, the resource budget and the DMA
 * binding; they differ only in who drives them (the framework for setup style, the HBA's tran_init_pkt for init
 * style), as tran_setup_pkt(9E) and tran_init_pkt(9E) describe.
 */
import { MAX_SENSE_LENGTH, SCSI_ARQ_STATUS_SIZE, SENSE_LENGTH, INTERCONNECT_USB } from './types.js';
import { DEFAULT_CDBLEN, DEFAULT_PRIVLEN, DEFAULT_SCBLEN, newPkt, pktWrapper, type scsi_address, type scsi_pkt } from './pkt.js';
import type { scsi_hba_tran } from './tran.js';
import { PktCache } from './cache.js';
import { ResourcePool } from './resources.js';
import { DDI_DMA_SYNC_FORCPU, DDI_DMA_SYNC_FORDEV, DDI_DMA_READ, defaultDmaAttr, MAX_COOKIES, validateDmaAttr } from './dma.js';
import { destroyPktCommon, initPktNoWait, unbindPktDma } from './pkt-alloc.js';
import { getcap, setcap } from './caps.js';
import { HbaCmd } from './hba-cmd.js';
import type { UsbmsHba, UsbmsHbaOptions } from './hba.js';
import { logger } from '../util/log.js';

const log = logger('hba', 'tran');

/** The largest CDB and status area a packet may ask for (SCSI's 260-byte CDB; XARQ's full sense). */
export const MAX_CMDLEN = 260;
export const MAX_STATUSLEN = SCSI_ARQ_STATUS_SIZE + MAX_SENSE_LENGTH - SENSE_LENGTH;

export function buildTran(hba: UsbmsHba, opts: UsbmsHbaOptions): scsi_hba_tran {
  const t = hba.transport;
  const dmaAttr = { ...defaultDmaAttr(t.maxPacketSize, hba.dmaMax), ...opts.dmaAttr };
  validateDmaAttr(dmaAttr);
  const maxSegments = Math.min(dmaAttr.dma_attr_sgllen, MAX_COOKIES) + 1; // +1: a split can cut a cookie

  /** tran_pkt_constructor: the transport's slot (its reusable transfers and state) lives as long as the cached packet. */
  const constructor = (pkt: scsi_pkt): number => {
    try {
      pkt.pkt_ha_private = new HbaCmd(t.allocSlot(maxSegments));
      return 0;
    } catch (err) {
      log('cannot allocate a transport slot: %O', err);
      return -1;
    }
  };
  const destructor = (pkt: scsi_pkt): void => {
    t.freeSlot((pkt.pkt_ha_private as HbaCmd).slot);
    pkt.pkt_ha_private = null;
  };
  /** The area kept from an earlier command when it has this length, cleared as new memory would be; else new. */
  const zeroed = (kept: Buffer | null, length: number): Buffer =>
    kept !== null && kept.length === length ? kept.fill(0) : Buffer.alloc(length);
  /** tran_setup_pkt: only what the preallocated areas cannot hold is allocated (once per cached packet and size). */
  const setup = (pkt: scsi_pkt): number => {
    if (pkt.pkt_cdblen > MAX_CMDLEN || pkt.pkt_scblen > MAX_STATUSLEN) return -1;
    const cmd = pkt.pkt_ha_private as HbaCmd;
    cmd.grewCdb = pkt.pkt_cdblen > DEFAULT_CDBLEN;
    cmd.grewScb = pkt.pkt_scblen > DEFAULT_SCBLEN;
    if (cmd.grewCdb) pkt.pkt_cdbp = cmd.grownCdb = zeroed(cmd.grownCdb, pkt.pkt_cdblen);
    if (cmd.grewScb) pkt.pkt_scbp = cmd.grownScb = zeroed(cmd.grownScb, pkt.pkt_scblen);
    return 0;
  };
  const teardown = (pkt: scsi_pkt): void => {
    const cmd = pkt.pkt_ha_private as HbaCmd;
    const w = pktWrapper(pkt);
    if (cmd.grewCdb) pkt.pkt_cdbp = w.defaultCdb;
    if (cmd.grewScb) pkt.pkt_scbp = w.defaultScb;
    cmd.grewCdb = cmd.grewScb = false;
  };

  const setupStyle = (opts.style ?? 'setup') === 'setup';
  const placeholder: scsi_address = { a_hba_tran: undefined as unknown as scsi_hba_tran, a_target: 0, a_lun: 0 };
  const cache = new PktCache<scsi_pkt>(`usbms_hba_pkt_cache`, {
    create: () => newPkt(placeholder, DEFAULT_CDBLEN, DEFAULT_SCBLEN, DEFAULT_PRIVLEN),
    construct: (pkt) => (setupStyle ? tran.tran_pkt_constructor?.(pkt, null, 0) ?? -1 : constructor(pkt)),
    destruct: (pkt) => (setupStyle ? tran.tran_pkt_destructor?.(pkt, null) : destructor(pkt)),
  });

  const tran: scsi_hba_tran = {
    tran_hba_private: hba,
    tran_hba_len: 0,
    tran_interconnect_type: INTERCONNECT_USB,
    tran_dma_attr: dmaAttr,
    tran_pkt_cache_ptr: cache,
    tran_resources: new ResourcePool({
      maxPackets: opts.maxPackets ?? 256,
      maxDmaBytes: opts.maxDmaBytesInFlight ?? 64 * 1024 * 1024,
    }),
    tran_start: (_ap, pkt) => hba.start(pkt),
    tran_abort: (ap, pkt) => hba.abort(ap, pkt),
    tran_reset: (ap, level) => hba.reset(ap, level),
    tran_getcap: (ap, cap) => getcap(hba, ap.a_lun, cap),
    tran_setcap: (ap, cap, value, whom) => setcap(hba, ap.a_lun, cap, value, whom),
    tran_sync_pkt: (_ap, pkt) => {
      const dma = pktWrapper(pkt).dma;
      dma?.sync((dma.flags & DDI_DMA_READ) !== 0 ? DDI_DMA_SYNC_FORCPU : DDI_DMA_SYNC_FORDEV);
    },
    tran_dmafree: (_ap, pkt) => unbindPktDma(tran, pkt),
  };
  placeholder.a_hba_tran = tran;
  if (setupStyle) {
    tran.tran_pkt_constructor = constructor;
    tran.tran_pkt_destructor = destructor;
    tran.tran_setup_pkt = setup;
    tran.tran_teardown_pkt = teardown;
  } else {
    tran.tran_init_pkt = (ap, pkt, bp, cmdlen, statuslen, tgtlen, flags) =>
      initPktNoWait(tran, ap, pkt, bp, cmdlen, statuslen, tgtlen, flags, setup, teardown);
    tran.tran_destroy_pkt = (_ap, pkt) => destroyPktCommon(tran, pkt, teardown);
  }
  return tran;
}

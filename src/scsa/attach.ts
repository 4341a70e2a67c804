/**
 * scsi_hba_attach_setup(9F): the framework's part of an HBA's attach. The HBA fills in its entry points (and
 * tran_hba_len, tran_hba_private); the framework adds the DMA attributes it binds with, the resource budget and
 * the packet cache, whose constructor does what illumos' scsi_hba_pkt_constructor does: it preallocates the
 * default CDB, status and private areas and tran_hba_len zeroed bytes at pkt_ha_private, then calls the HBA's
 * optional tran_pkt_constructor(pkt, tran, kmflags) (no constructor: the packet is ready); the cache's destructor
 * calls the optional tran_pkt_destructor(pkt, tran). So an HBA's entry points find their tran in their arguments
 * and never need to capture it. For a setup-style HBA the framework also supplies tran_sync_pkt and tran_dmafree
 * over its own DMA binding, unless the HBA brings them.
 */
import type { ddi_dma_attr_t } from './types.js';
import type { scsi_address, scsi_hba_tran, scsi_pkt } from './tran.js';
import { DEFAULT_CDBLEN, DEFAULT_PRIVLEN, DEFAULT_SCBLEN, newPkt } from './pkt.js';
import { dmafreePkt, syncPktDma } from './pkt-alloc.js';
import { PktCache } from './cache.js';
import { ResourcePool, type ResourceLimits } from './resources.js';
import { validateDmaAttr } from './dma.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

/**
 * What an HBA fills in before scsi_hba_attach_setup; the framework adds the rest of scsi_hba_tran(9S). A
 * setup-style HBA may leave tran_sync_pkt and tran_dmafree to the framework, which owns the DMA binding (illumos
 * fills them with its cache functions too); an init-style HBA brings its own.
 */
export type scsi_hba_tran_setup = Omit<scsi_hba_tran,
  'tran_dma_attr' | 'tran_pkt_cache_ptr' | 'tran_resources' | 'tran_sync_pkt' | 'tran_dmafree'> &
  Partial<Pick<scsi_hba_tran, 'tran_sync_pkt' | 'tran_dmafree'>>;

const RESOURCE_LIMIT_KEYS = { maxPackets: true, maxDmaBytes: true } as const satisfies KnownKeys<ResourceLimits>;

/** The HBA's vector must be complete in one style, and tran_hba_len a size. */
function validateVector(tran: scsi_hba_tran_setup): void {
  if (!Number.isInteger(tran.tran_hba_len) || tran.tran_hba_len < 0) {
    throw new UsbmsArgumentError(`tran_hba_len ${tran.tran_hba_len} is not a size`, { argument: 'tran_hba_len' });
  }
  const setup = tran.tran_setup_pkt !== undefined && tran.tran_teardown_pkt !== undefined;
  const init = tran.tran_init_pkt !== undefined && tran.tran_destroy_pkt !== undefined;
  if (!setup && !init) {
    throw new UsbmsArgumentError('an HBA needs tran_setup_pkt and tran_teardown_pkt, or tran_init_pkt and tran_destroy_pkt');
  }
  if (!setup && (tran.tran_sync_pkt === undefined || tran.tran_dmafree === undefined)) {
    throw new UsbmsArgumentError('an init-style HBA needs tran_sync_pkt and tran_dmafree');
  }
}

/**
 * scsi_hba_attach_setup(9F): complete `tran` (the same object, as the C function fills the HBA's structure) with
 * the DMA attributes, a packet budget and DMA byte budget of `limits`, and the packet cache.
 */
export function scsi_hba_attach_setup(hba_dma_attr: ddi_dma_attr_t, tran: scsi_hba_tran_setup,
  limits: ResourceLimits): scsi_hba_tran {
  rejectUnknownKeys(limits, RESOURCE_LIMIT_KEYS, 'scsi_hba_attach_setup limits');
  validateDmaAttr(hba_dma_attr);
  validateVector(tran);
  const full = tran as scsi_hba_tran;
  full.tran_sync_pkt ??= syncPktDma;
  full.tran_dmafree ??= dmafreePkt;
  full.tran_dma_attr = { ...hba_dma_attr };
  full.tran_resources = new ResourcePool(limits);
  const home: scsi_address = { a_hba_tran: full, a_target: 0, a_lun: 0 };
  full.tran_pkt_cache_ptr = new PktCache<scsi_pkt>('scsi_pkt_cache', {
    create: () => newPkt(home, DEFAULT_CDBLEN, DEFAULT_SCBLEN, DEFAULT_PRIVLEN, full.tran_hba_len),
    // The entry points are read at each call: an HBA may set them after attach, as a C HBA may.
    construct: (pkt, kmflags) => full.tran_pkt_constructor?.(pkt, full, kmflags) ?? 0,
    destruct: (pkt) => full.tran_pkt_destructor?.(pkt, full),
  });
  return full;
}

/** The SCSA layer: the usbms HBA and the target-driver entry points (9F), with illumos DDI names. */
export * from './types.js';
export { scsi_pkt, scsi_hba_pkt_comp, pkt_transport_error, DEFAULT_CDBLEN, DEFAULT_SCBLEN, DEFAULT_PRIVLEN } from './pkt.js';
export type { scsi_address } from './pkt.js';
export type { scsi_hba_tran } from './tran.js';
export { UsbmsHba } from './hba.js';
export type { UsbmsHbaOptions, UsbmsHbaQuirks } from './hba.js';
export { ScsaError } from './errors.js';
export type { ScsaErrorCode, ScsaErrorKind } from './errors.js';
export { scsi_init_pkt, scsi_destroy_pkt, scsi_sync_pkt } from './init-pkt.js';
export { scsi_hba_attach_setup } from './attach.js';
export type { scsi_hba_tran_setup } from './attach.js';
export { scsi_transport, scsi_poll, scsi_abort, scsi_reset, scsi_ifgetcap, scsi_ifsetcap, SCSI_POLL_TIMEOUT } from './entry.js';
export {
  getrbuf, freerbuf, scsi_alloc_consistent_buf, scsi_free_consistent_buf, scsi_hba_pkt_alloc, scsi_hba_pkt_free,
} from './bufs.js';
export { scsi_dmaget, scsi_dmafree, scsi_pktalloc, scsi_resalloc, scsi_pktfree, scsi_resfree } from './obsolete.js';
export { decodeArqStatus, arqSenseLength, ARQ_SENSE_OFFSET } from './arq.js';
export type { ArqStatus } from './arq.js';
export {
  DmaHandle, defaultDmaAttr, DDI_DMA_READ, DDI_DMA_WRITE, DDI_DMA_PARTIAL, DDI_DMA_CONSISTENT, DDI_DMA_STREAMING,
  DDI_DMA_SYNC_FORCPU, DDI_DMA_SYNC_FORDEV,
} from './dma.js';
export { PktCache } from './cache.js';
export { ResourcePool } from './resources.js';
export type { ResourceLimits } from './resources.js';
export { SCSI_VERSION_2 } from './caps.js';

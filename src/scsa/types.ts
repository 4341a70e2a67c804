/**
 * SCSA data structures and constants, with the illumos DDI names and values (scsi_pkt(9S), buf(9S),
 * scsi_address(9S), scsi_arq_status(9S), ddi_dma_cookie(9S), ddi_dma_attr(9S), scsi_hba_tran(9S)).
 * Values: ../shared/reference/facts.md §3, from the illumos headers.
 */

// pkt_reason (scsi_pkt(9S))
export const CMD_CMPLT = 0;
export const CMD_INCOMPLETE = 1;
export const CMD_DMA_DERR = 2;
export const CMD_TRAN_ERR = 3;
export const CMD_RESET = 4;
export const CMD_ABORTED = 5;
export const CMD_TIMEOUT = 6;
export const CMD_DATA_OVR = 7;
export const CMD_CMD_OVR = 8;
export const CMD_STS_OVR = 9;
export const CMD_TERMINATED = 22;
export const CMD_DEV_GONE = 24;

// pkt_state bits
export const STATE_GOT_BUS = 0x01;
export const STATE_GOT_TARGET = 0x02;
export const STATE_SENT_CMD = 0x04;
export const STATE_XFERRED_DATA = 0x08;
export const STATE_GOT_STATUS = 0x10;
export const STATE_ARQ_DONE = 0x20;
export const STATE_XARQ_DONE = 0x40;

// pkt_statistics bits
export const STAT_DISCON = 0x1;
export const STAT_SYNC = 0x2;
export const STAT_PERR = 0x4;
export const STAT_BUS_RESET = 0x8;
export const STAT_DEV_RESET = 0x10;
export const STAT_ABORTED = 0x20;
export const STAT_TIMEOUT = 0x40;
export const STAT_TERMINATED = 0x80;

// pkt_flags
export const FLAG_NOINTR = 0x1;
export const FLAG_NODISCON = 0x2;
export const FLAG_SENSING = 0x400;
export const FLAG_HEAD = 0x8000;
export const FLAG_SILENT = 0x10000;

// tran_start return values
export const TRAN_ACCEPT = 1;
export const TRAN_BUSY = 0;
export const TRAN_BADPKT = -1;
export const TRAN_FATAL_ERROR = -2;

// scsi_init_pkt flags
export const PKT_CONSISTENT = 0x1;
export const PKT_DMA_PARTIAL = 0x40000;
export const PKT_XARQ = 0x80000;

// tran_reset / scsi_reset levels
export const RESET_ALL = 0;
export const RESET_TARGET = 1;
export const RESET_LUN = 3;

// SCSI status byte
export const STATUS_GOOD = 0x00;
export const STATUS_CHECK = 0x02;
export const STATUS_MET = 0x04;
export const STATUS_BUSY = 0x08;
export const STATUS_RESERVATION_CONFLICT = 0x18;
export const STATUS_QFULL = 0x28;

// buf(9S) b_flags
export const B_WRITE = 0x0000;
export const B_READ = 0x0040;
export const B_ERROR = 0x0004;

// DMA bind results
export const DDI_DMA_MAPPED = 0;
export const DDI_DMA_PARTIAL_MAP = 1;
export const DDI_DMA_NORESOURCES = -1;
export const DDI_DMA_NOMAPPING = -2;
export const DDI_DMA_TOOBIG = -3;

// interconnect-type capability values (services.h): INTERCONNECT_USB
export const INTERCONNECT_USB = 6;

/** sizeof (struct scsi_arq_status): 4 status/reason/resid bytes, 2 x uint_t, 20 bytes of sense. */
export const SCSI_ARQ_STATUS_SIZE = 32;
/** Sense bytes in a plain scsi_arq_status (struct scsi_extended_sense). */
export const SENSE_LENGTH = 20;
/** MAX_SENSE_LENGTH for extended ARQ (PKT_XARQ / pkt_scblen > 32). */
export const MAX_SENSE_LENGTH = 252;

/** Resource callback: do not wait; return null at once when resources are short. */
export const NULL_FUNC = 'NULL_FUNC' as const;
/** Resource callback: wait until resources are free (the call returns a Promise). */
export const SLEEP_FUNC = 'SLEEP_FUNC' as const;
/** A retry callback: called when resources may be free; returns 0 to stay queued, 1 when done. */
export type ResourceCallback = (arg: unknown) => 0 | 1;
export type ResourceWait = typeof NULL_FUNC | typeof SLEEP_FUNC | ResourceCallback;

/** ddi_dma_cookie_t: one contiguous piece of the bound buffer. In userspace the "address" is an offset. */
export interface ddi_dma_cookie_t {
  /** Offset of this piece in the bound buffer (the userspace stand-in for a 64-bit bus address). */
  dmac_laddress: number;
  dmac_size: number;
  dmac_type: number;
  /** The piece itself: a view into the caller's memory, handed to libusb as the transfer buffer. */
  buffer: Buffer;
}

/** ddi_dma_attr_t, the fields that mean something for a USB bulk pipe. */
export interface ddi_dma_attr_t {
  dma_attr_version: number;
  dma_attr_addr_lo: number;
  dma_attr_addr_hi: number;
  /** largest single cookie, minus one (DDI convention) */
  dma_attr_count_max: number;
  dma_attr_align: number;
  dma_attr_burstsizes: number;
  dma_attr_minxfer: number;
  /** largest single DMA window (bytes per command) */
  dma_attr_maxxfer: number;
  /** segment boundary, minus one: a cookie never crosses it */
  dma_attr_seg: number;
  /** max cookies per window (1 = no scatter/gather) */
  dma_attr_sgllen: number;
  /** every window but the last is a multiple of this */
  dma_attr_granular: number;
  dma_attr_flags: number;
}

/** buf(9S): the dmatoken of scsi_init_pkt. */
export interface buf {
  b_flags: number;
  b_bcount: number;
  b_un: { b_addr: Buffer };
  b_resid: number;
  b_error: number;
  /** Private to scsi_alloc_consistent_buf: the HBA's consistent memory backing this buf. */
  b_private?: unknown;
}

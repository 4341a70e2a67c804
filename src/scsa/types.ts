/**
 * SCSA data structures and constants, with the illumos DDI names and values (scsi_pkt(9S), buf(9S),
 * scsi_address(9S), scsi_arq_status(9S), ddi_dma_cookie(9S), ddi_dma_attr(9S), scsi_hba_tran(9S)).
 * Values: ../shared/reference/facts.md §3, from the illumos headers.
 */

// pkt_reason (scsi_pkt(9S))
export const CMD_CMPLT = 0;
/** pkt_reason: the command did not complete (transport failed before the status phase). */
export const CMD_INCOMPLETE = 1;
/** pkt_reason: a DMA direction or data error. */
export const CMD_DMA_DERR = 2;
/** pkt_reason: an unspecified transport error (here: the Bulk-Only transport failed). */
export const CMD_TRAN_ERR = 3;
/** pkt_reason: the command was terminated by a reset (Reset Recovery or a port reset). */
export const CMD_RESET = 4;
/** pkt_reason: the command was aborted by scsi_abort(9F). */
export const CMD_ABORTED = 5;
/** pkt_reason: the command timed out (pkt_time elapsed). */
export const CMD_TIMEOUT = 6;
/** pkt_reason: data overrun: the device sent more than was asked for. */
export const CMD_DATA_OVR = 7;
/** pkt_reason: command overrun. */
export const CMD_CMD_OVR = 8;
/** pkt_reason: status overrun. */
export const CMD_STS_OVR = 9;
/** pkt_reason: the command was terminated (the HBA is detaching). */
export const CMD_TERMINATED = 22;
/** pkt_reason: the device is gone (unplugged). */
export const CMD_DEV_GONE = 24;

// pkt_state bits
/** pkt_state bit: the bus was arbitrated. */
export const STATE_GOT_BUS = 0x01;
/** pkt_state bit: the target was selected. */
export const STATE_GOT_TARGET = 0x02;
/** pkt_state bit: the command (the CBW) was sent. */
export const STATE_SENT_CMD = 0x04;
/** pkt_state bit: data was moved. */
export const STATE_XFERRED_DATA = 0x08;
/** pkt_state bit: a status (the CSW) was received. */
export const STATE_GOT_STATUS = 0x10;
/** pkt_state bit: auto request sense ran; the sense is in the scsi_arq_status at pkt_scbp. */
export const STATE_ARQ_DONE = 0x20;
/** pkt_state bit: extended auto request sense ran (more than 20 bytes of sense). */
export const STATE_XARQ_DONE = 0x40;

// pkt_statistics bits
/** pkt_statistics bit: the command disconnected. */
export const STAT_DISCON = 0x1;
/** pkt_statistics bit: synchronous data transfer. */
export const STAT_SYNC = 0x2;
/** pkt_statistics bit: a parity error. */
export const STAT_PERR = 0x4;
/** pkt_statistics bit: a bus reset (USB port reset) happened during the command. */
export const STAT_BUS_RESET = 0x8;
/** pkt_statistics bit: a device reset (BOT Reset Recovery) happened during the command. */
export const STAT_DEV_RESET = 0x10;
/** pkt_statistics bit: the command was aborted. */
export const STAT_ABORTED = 0x20;
/** pkt_statistics bit: the command timed out. */
export const STAT_TIMEOUT = 0x40;
/** pkt_statistics bit: the command was terminated. */
export const STAT_TERMINATED = 0x80;

// pkt_flags
/** pkt_flags: run polled, without a completion callback. */
export const FLAG_NOINTR = 0x1;
/** pkt_flags: no disconnects. */
export const FLAG_NODISCON = 0x2;
/** pkt_flags: this packet is a REQUEST SENSE issued by the target driver. */
export const FLAG_SENSING = 0x400;
/** pkt_flags: put the packet at the head of the queue. */
export const FLAG_HEAD = 0x8000;
/** pkt_flags: do not log errors of this packet. */
export const FLAG_SILENT = 0x10000;

// tran_start return values
/** tran_start / scsi_transport: the packet was accepted. */
export const TRAN_ACCEPT = 1;
/** tran_start / scsi_transport: the HBA is busy; retry later. */
export const TRAN_BUSY = 0;
/** tran_start / scsi_transport: the packet is malformed. */
export const TRAN_BADPKT = -1;
/** tran_start / scsi_transport: the HBA cannot take commands (detached, device gone). */
export const TRAN_FATAL_ERROR = -2;

// scsi_init_pkt flags
/** scsi_init_pkt flag: the buffer is consistent (DDI_DMA_CONSISTENT) memory. */
export const PKT_CONSISTENT = 0x1;
/** scsi_init_pkt flag: accept a partial DMA mapping; call again for the next window. */
export const PKT_DMA_PARTIAL = 0x40000;
/** scsi_init_pkt flag: extended auto request sense (up to 252 bytes of sense). */
export const PKT_XARQ = 0x80000;

// tran_reset / scsi_reset levels
/** scsi_reset level: reset the bus (here: a USB port reset of the device). */
export const RESET_ALL = 0;
/** scsi_reset level: reset the target (here: BOT Reset Recovery). */
export const RESET_TARGET = 1;
/** scsi_reset level: reset one logical unit. */
export const RESET_LUN = 3;

// SCSI status byte
/** SCSI status byte: GOOD. */
export const STATUS_GOOD = 0x00;
/** SCSI status byte: CHECK CONDITION (sense data is available). */
export const STATUS_CHECK = 0x02;
/** SCSI status byte: CONDITION MET. */
export const STATUS_MET = 0x04;
/** SCSI status byte: BUSY. */
export const STATUS_BUSY = 0x08;
/** SCSI status byte: RESERVATION CONFLICT. */
export const STATUS_RESERVATION_CONFLICT = 0x18;
/** SCSI status byte: TASK SET FULL. */
export const STATUS_QFULL = 0x28;

// buf(9S) b_flags
/** buf(9S) b_flags: the transfer writes to the device (no B_READ). */
export const B_WRITE = 0x0000;
/** buf(9S) b_flags: the transfer reads from the device. */
export const B_READ = 0x0040;
/** buf(9S) b_flags: the transfer failed; b_error holds the errno. */
export const B_ERROR = 0x0004;

// DMA bind results
/** DMA bind result: the whole buffer is mapped. */
export const DDI_DMA_MAPPED = 0;
/** DMA bind result: only the first window is mapped (DDI_DMA_PARTIAL). */
export const DDI_DMA_PARTIAL_MAP = 1;
/** DMA bind result: no resources now; retry later. */
export const DDI_DMA_NORESOURCES = -1;
/** DMA bind result: the attributes cannot describe this buffer. */
export const DDI_DMA_NOMAPPING = -2;
/** DMA bind result: the buffer is too big for one window and partial mapping was not allowed. */
export const DDI_DMA_TOOBIG = -3;

// interconnect-type capability values (services.h): INTERCONNECT_USB
/** The "interconnect-type" capability value of a USB HBA (services.h). */
export const INTERCONNECT_USB = 6;

/** sizeof (struct scsi_arq_status): 4 status/reason/resid bytes, 2 x uint_t, 20 bytes of sense. */
export const SCSI_ARQ_STATUS_SIZE = 32;
/** Sense bytes in a plain scsi_arq_status (struct scsi_extended_sense). */
export const SENSE_LENGTH = 20;
/** MAX_SENSE_LENGTH for extended ARQ (PKT_XARQ / pkt_scblen > 32). */
export const MAX_SENSE_LENGTH = 252;

// kmem allocation flags (sys/kmem.h): what tran_pkt_constructor(9E) is told about its caller
/** kmflags: the caller may wait (scsi_init_pkt with SLEEP_FUNC). */
export const KM_SLEEP = 0x0000;
/** kmflags: the caller must not wait (scsi_init_pkt with NULL_FUNC or a callback function). */
export const KM_NOSLEEP = 0x0001;

/** Resource callback: do not wait; return null at once when resources are short. */
export const NULL_FUNC = 'NULL_FUNC' as const;
/** Resource callback: wait until resources are free (the call returns a Promise). */
export const SLEEP_FUNC = 'SLEEP_FUNC' as const;
/** A retry callback: called when resources may be free; returns 0 to stay queued, 1 when done. */
export type ResourceCallback = (arg: unknown) => 0 | 1;
/** What scsi_init_pkt and friends do when resources are short: NULL_FUNC, SLEEP_FUNC or a retry callback. */
export type ResourceWait = typeof NULL_FUNC | typeof SLEEP_FUNC | ResourceCallback;
/**
 * What the framework hands tran_setup_pkt(9E) and tran_init_pkt(9E): SLEEP_FUNC when the target driver asked for
 * SLEEP_FUNC, NULL_FUNC otherwise (a retry callback stays with the framework, as illumos' scsi_init_pkt keeps it).
 */
export type TranWait = typeof NULL_FUNC | typeof SLEEP_FUNC;

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

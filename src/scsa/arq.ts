/**
 * struct scsi_arq_status (scsi_arq_status(9S)), binary-exact, in the host's byte order (x86 and arm64 are
 * little-endian, as the C struct would be):
 *   0 sts_status, 1 sts_rqpkt_status, 2 sts_rqpkt_reason, 3 sts_rqpkt_resid (uchar_t),
 *   4 sts_rqpkt_state (uint_t), 8 sts_rqpkt_statistics (uint_t), 12 sts_sensedata (20 bytes, or up to 252
 *   with extended ARQ).
 */
import { Struct, u8, u32 } from '../util/layout.js';
import { MAX_SENSE_LENGTH, SCSI_ARQ_STATUS_SIZE, SENSE_LENGTH } from './types.js';

/** Offset of sts_sensedata in struct scsi_arq_status. */
export const ARQ_SENSE_OFFSET = 12;

/** The fixed head of the struct; sts_sensedata follows at ARQ_SENSE_OFFSET. */
export const arqStatusHead = new Struct({
  sts_status: u8, sts_rqpkt_status: u8, sts_rqpkt_reason: u8, sts_rqpkt_resid: u8,
  sts_rqpkt_state: u32, sts_rqpkt_statistics: u32,
});

/** A decoded struct scsi_arq_status: the status of the command and of its automatic REQUEST SENSE, and the sense bytes. */
export interface ArqStatus {
  sts_status: number;
  sts_rqpkt_status: number;
  sts_rqpkt_reason: number;
  sts_rqpkt_resid: number;
  sts_rqpkt_state: number;
  sts_rqpkt_statistics: number;
  /** A view of pkt_scbp (not a copy): 20 bytes, or more with extended ARQ. */
  sts_sensedata: Buffer;
}

/** Sense bytes an ARQ packet with this status area and flags receives: 20, or up to 252 with XARQ. */
export function arqSenseLength(scblen: number, xarq: boolean): number {
  if (!xarq && scblen <= SCSI_ARQ_STATUS_SIZE) return SENSE_LENGTH;
  return Math.max(SENSE_LENGTH, Math.min(MAX_SENSE_LENGTH, scblen - ARQ_SENSE_OFFSET));
}

/** Decode the scsi_arq_status at pkt_scbp (32 bytes, more with extended ARQ). */
export function decodeArqStatus(scb: Buffer): ArqStatus {
  const head = arqStatusHead.decode(scb, 0);
  return { ...head, sts_sensedata: scb.subarray(ARQ_SENSE_OFFSET) };
}

/** Write the head in place (no allocation: this runs on every CHECK CONDITION). */
export function encodeArqHead(scb: Buffer, status: number, rqStatus: number, rqReason: number, rqResid: number,
  rqState: number, rqStatistics: number): void {
  scb[0] = status;
  scb[1] = rqStatus;
  scb[2] = rqReason;
  scb[3] = Math.min(rqResid, 0xff);
  scb.writeUInt32LE(rqState >>> 0, 4);
  scb.writeUInt32LE(rqStatistics >>> 0, 8);
}

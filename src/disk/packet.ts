/**
 * One SCSI command through SCSA, the way a target driver sends it (sd(4D) over scsa2usb): scsi_init_pkt with
 * SLEEP_FUNC binds the caller's buffer (no copy), the CDB is written into the packet's own pkt_cdbp, pkt_comp
 * turns the completion callback into a Promise, and auto request sense (extended, as PKT_XARQ) brings the
 * sense back with the status. No retries here: the policy lives in command.ts.
 */
import {
  freerbuf, getrbuf, scsi_destroy_pkt, scsi_init_pkt, scsi_transport,
  type scsi_address, type scsi_pkt,
} from '../scsa/index.js';
import { decodeArqStatus } from '../scsa/arq.js';
import {
  B_READ, B_WRITE, CMD_CMPLT, MAX_SENSE_LENGTH, PKT_XARQ, SCSI_ARQ_STATUS_SIZE, SENSE_LENGTH, SLEEP_FUNC,
  STATE_ARQ_DONE, STATE_XARQ_DONE, TRAN_ACCEPT, TRAN_BUSY, TRAN_FATAL_ERROR, CMD_DEV_GONE,
} from '../scsa/types.js';
import { logger } from '../util/log.js';
import { DiskGoneError, DiskTransportError } from './errors.js';

const log = logger('disk', 'pkt');

/** Extended ARQ: room for the full 252 bytes of sense (pkt_scblen > 32 asks the HBA for XARQ). */
export const ARQ_STATUS_LENGTH = SCSI_ARQ_STATUS_SIZE + (MAX_SENSE_LENGTH - SENSE_LENGTH);
/** tran_start may say TRAN_BUSY when the HBA queue is full: back off this long, this many times. */
const BUSY_BACKOFF_MS = 5;
const BUSY_TRIES = 200;

export interface PacketRequest {
  /** CDB length (6, 10, 12 or 16). */
  readonly cdbLength: number;
  /** Writes the CDB straight into pkt_cdbp, the HBA's own buffer (e.g. `commands.read10.encodeCdb(p, into)`). */
  readonly writeCdb: (into: Buffer) => void;
  /** Data-in: the device writes into this memory. */
  readonly dataIn?: Buffer | undefined;
  /** Data-out: the device reads this memory. */
  readonly dataOut?: Buffer | undefined;
  /** pkt_time in seconds (0 = no timeout). */
  readonly timeoutS: number;
}

/** What came back, exactly as the packet says (no interpretation). */
export interface PacketOutcome {
  readonly reason: number;
  readonly state: number;
  readonly statistics: number;
  /** SCSI status byte (meaningful when reason is CMD_CMPLT). */
  readonly status: number;
  /** Bytes of the data phase not transferred. */
  readonly resid: number;
  /** Sense bytes from auto request sense (a copy, trimmed to what the device sent); undefined when no ARQ ran. */
  readonly sense: Buffer | undefined;
}

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** Run one packet to completion. Throws only when the HBA refuses the packet outright. */
export async function runPacket(ap: scsi_address, req: PacketRequest): Promise<PacketOutcome> {
  const data = req.dataIn ?? req.dataOut;
  const bp = data !== undefined && data.length > 0 ? getrbuf() : null;
  if (bp !== null && data !== undefined) {
    bp.b_flags = req.dataIn !== undefined ? B_READ : B_WRITE;
    bp.b_bcount = data.length;
    bp.b_un.b_addr = data;
    bp.b_resid = 0;
    bp.b_error = 0;
  }
  let pkt: scsi_pkt | undefined;
  try {
    pkt = await scsi_init_pkt(ap, null, bp, req.cdbLength, ARQ_STATUS_LENGTH, 0, PKT_XARQ, SLEEP_FUNC);
    req.writeCdb(pkt.pkt_cdbp);
    pkt.pkt_time = req.timeoutS;
    pkt.pkt_flags = 0;
    const done = new Promise<void>((resolve) => { pkt!.pkt_comp = () => resolve(); });
    let rc = scsi_transport(pkt);
    for (let i = 0; rc === TRAN_BUSY && i < BUSY_TRIES; i++) {
      await sleep(BUSY_BACKOFF_MS);
      rc = scsi_transport(pkt);
    }
    if (rc === TRAN_FATAL_ERROR && pkt.pkt_reason === CMD_DEV_GONE) throw new DiskGoneError();
    if (rc !== TRAN_ACCEPT) {
      throw new DiskTransportError(`the HBA refused the command (scsi_transport returned ${rc})`);
    }
    await done;
    return outcomeOf(pkt);
  } finally {
    if (pkt !== undefined) scsi_destroy_pkt(pkt);
    if (bp !== null) freerbuf(bp);
  }
}

function outcomeOf(pkt: scsi_pkt): PacketOutcome {
  let status = pkt.pkt_scbp[0] ?? 0;
  let sense: Buffer | undefined;
  if (pkt.pkt_reason === CMD_CMPLT && (pkt.pkt_state & (STATE_ARQ_DONE | STATE_XARQ_DONE)) !== 0) {
    const arq = decodeArqStatus(pkt.pkt_scbp);
    status = arq.sts_status;
    if (arq.sts_rqpkt_reason === CMD_CMPLT) {
      const valid = Math.max(0, arq.sts_sensedata.length - arq.sts_rqpkt_resid);
      // A copy: the packet (and its status buffer) goes back to the HBA's cache right after this.
      sense = Buffer.from(arq.sts_sensedata.subarray(0, valid));
    } else {
      log('auto request sense failed: reason %d', arq.sts_rqpkt_reason);
    }
  }
  return {
    reason: pkt.pkt_reason, state: pkt.pkt_state, statistics: pkt.pkt_statistics, status,
    resid: pkt.pkt_resid, sense,
  };
}

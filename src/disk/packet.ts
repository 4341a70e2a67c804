/**
 * One SCSI command sent as a scsi_pkt, the way a target driver sends it (sd(4D) over scsa2usb): scsi_init_pkt with
 * SLEEP_FUNC binds the caller's buffer (no copy), the CDB is encoded from the command's declaration (src/scsi)
 * straight into the packet's own pkt_cdbp, pkt_comp turns the completion callback into a Promise, and auto request
 * sense (extended, as PKT_XARQ) brings the sense back with the status. No retries here: the policy lives in
 * retry.ts.
 */
import {
  freerbuf, getrbuf, pkt_transport_error, scsi_destroy_pkt, scsi_init_pkt, scsi_transport,
  type buf, type scsi_address, type scsi_pkt,
} from '../scsa/index.js';
import { arqSenseLength, decodeArqStatus } from '../scsa/arq.js';
import type { BlockCommandSpec, CommandSpec } from '../scsi/index.js';
import {
  B_READ, B_WRITE, CMD_CMPLT, MAX_SENSE_LENGTH, NULL_FUNC, PKT_DMA_PARTIAL, PKT_XARQ, SCSI_ARQ_STATUS_SIZE, SENSE_LENGTH, SLEEP_FUNC,
  STATE_ARQ_DONE, STATE_XARQ_DONE, STATUS_GOOD, TRAN_ACCEPT, TRAN_BUSY, TRAN_FATAL_ERROR, CMD_DEV_GONE,
} from '../scsa/types.js';
import { logger } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import { DiskGoneError, DiskTransportError } from './errors.js';

const log = logger('disk', 'pkt');

/** Extended ARQ: room for the full 252 bytes of sense (pkt_scblen > 32 asks the HBA for XARQ). */
export const ARQ_STATUS_LENGTH = SCSI_ARQ_STATUS_SIZE + (MAX_SENSE_LENGTH - SENSE_LENGTH);
/** tran_start may say TRAN_BUSY when the HBA queue is full: back off this long, this many times. */
const BUSY_BACKOFF_MS = 5;
const BUSY_TRIES = 200;

/** What sending needs of a command's declaration (src/scsi): its name, CDB length and CDB encoder. */
export type CdbSpec<P> = Pick<CommandSpec<P, unknown>, 'name' | 'cdbLength' | 'encodeCdb'>;

/** A command's data phase, timeout and CDB length: everything of a packet beside its declaration and parameters. */
export interface PacketData {
  /** CDB bytes to send, when not the declaration's own length (a raw CDB of any length). */
  readonly cdbLength?: number | undefined;
  /** Data-in: the device writes into this memory. */
  readonly dataIn?: Buffer | undefined;
  /** Data-out: the device reads this memory. */
  readonly dataOut?: Buffer | undefined;
  /**
   * A block READ/WRITE that may be moved in several DMA windows (PKT_DMA_PARTIAL, as sd does): when the HBA's DMA
   * attributes cannot map the whole buffer at once, each window is sent as its own command, the CDB built from the
   * declaration with its `lba` and `blocks` fields rewritten for the window.
   */
  readonly windows?: { readonly spec: BlockCommandSpec; readonly blockSize: number } | undefined;
  /** Command timeout in ms (0 = none). pkt_time is in seconds, as the DDI has it; usbms keeps the fraction. */
  readonly timeoutMs: number;
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
  /**
   * Sense bytes from auto request sense (a copy, trimmed to what the residue says is real); undefined when no ARQ
   * ran, or when the REQUEST SENSE itself did not complete GOOD (then `senseProblem` says why).
   */
  readonly sense: Buffer | undefined;
  /** Why a CHECK CONDITION came back without usable sense (the REQUEST SENSE failed, or returned no data). */
  readonly senseProblem: string | undefined;
  /** The transport error behind a pkt_reason other than CMD_CMPLT (the BOT engine's BotError). */
  readonly cause: unknown;
}

/**
 * What a command needs beside its packet, kept for the next command (the packet itself comes from the HBA's
 * tran_pkt_constructor cache, so scsi_init_pkt/scsi_destroy_pkt allocate nothing once it is warm): a buf(9S)
 * header for the caller's memory and a pkt_comp made once that settles the command being waited for.
 */
class PacketWaiter {
  readonly bp: buf = getrbuf();
  private settle: (() => void) | undefined;
  readonly comp = (): void => { const s = this.settle; this.settle = undefined; s?.(); };
  completion(): Promise<void> { return new Promise<void>((resolve) => { this.settle = resolve; }); }
}
/** Waiters not in use; as many as commands were ever in flight at once, up to this many kept. */
const idleWaiters: PacketWaiter[] = [];
const MAX_IDLE_WAITERS = 64;

/**
 * Send the command `spec` declares, with `params`, as one packet (or one per DMA window) and wait for its outcome.
 * Throws only when the HBA refuses the packet outright.
 */
export async function sendPacket<P>(ap: scsi_address, spec: CdbSpec<P>, params: P, req: PacketData)
  : Promise<PacketOutcome> {
  const data = req.dataIn ?? req.dataOut;
  const waiter = idleWaiters.pop() ?? new PacketWaiter();
  const bp = data !== undefined && data.length > 0 ? waiter.bp : null;
  const cdbLength = req.cdbLength ?? spec.cdbLength;
  if (bp !== null && data !== undefined) {
    bp.b_flags = req.dataIn !== undefined ? B_READ : B_WRITE;
    bp.b_bcount = data.length;
    bp.b_un.b_addr = data;
    bp.b_resid = 0;
    bp.b_error = 0;
  }
  let pkt: scsi_pkt | undefined;
  const partial = req.windows !== undefined && bp !== null;
  try {
    // NULL_FUNC first: a packet from the cache needs no wait (and no Promise); SLEEP_FUNC only when short.
    const flags = PKT_XARQ | (partial ? PKT_DMA_PARTIAL : 0);
    pkt = scsi_init_pkt(ap, null, bp, cdbLength, ARQ_STATUS_LENGTH, 0, flags, NULL_FUNC)
      ?? await scsi_init_pkt(ap, null, bp, cdbLength, ARQ_STATUS_LENGTH, 0, flags, SLEEP_FUNC);
    spec.encodeCdb(params, pkt.pkt_cdbp);
    if (!partial || req.windows === undefined || data === undefined) return await transportOnce(pkt, req.timeoutMs, waiter);
    return await runWindows(ap, pkt, bp, req, req.windows, data.length, waiter);
  } finally {
    if (pkt !== undefined) scsi_destroy_pkt(pkt);
    if (bp !== null) freerbuf(bp);
    if (idleWaiters.length < MAX_IDLE_WAITERS) idleWaiters.push(waiter);
  }
}

/**
 * One command per DMA window: scsi_init_pkt with PKT_DMA_PARTIAL mapped the first window (pkt_resid = bytes not
 * yet mapped); after each good window, scsi_init_pkt on the same packet moves to the next. Each window's CDB is
 * the request's, its LBA and length fields rewritten through the declaration. The first window that does not
 * complete GOOD ends the request, its outcome reported with the residue of the whole request.
 */
async function runWindows(ap: scsi_address, pkt: scsi_pkt, bp: buf, req: PacketData,
  w: NonNullable<PacketData['windows']>, total: number, waiter: PacketWaiter): Promise<PacketOutcome> {
  /** The request's first LBA, read back from its CDB when a window smaller than the request needs its own. */
  let lba0: bigint | undefined;
  const cdbLength = req.cdbLength ?? w.spec.cdbLength;
  for (;;) {
    const offset = pkt.pkt_dma_offset;
    const length = pkt.pkt_dma_len;
    const unmapped = pkt.pkt_resid;
    if (offset % w.blockSize !== 0 || length % w.blockSize !== 0 || length === 0) {
      throw new DiskTransportError(`the HBA mapped a DMA window of ${length} bytes at ${offset}, not whole ` +
        `${w.blockSize}-byte blocks (its dma_attr_granular should be the block size)`);
    }
    const last = unmapped === 0;
    // One window for the whole request (the usual case) is the CDB as encoded; a smaller one gets its own.
    if (offset !== 0 || !last) {
      lba0 ??= w.spec.readField(pkt.pkt_cdbp, 'lba') as bigint;
      w.spec.writeField(pkt.pkt_cdbp, 'lba', lba0 + BigInt(offset / w.blockSize));
      w.spec.writeField(pkt.pkt_cdbp, 'blocks', length / w.blockSize);
    }
    const o = await transportOnce(pkt, req.timeoutMs, waiter);
    if (o.reason !== CMD_CMPLT || o.status !== STATUS_GOOD || o.resid > 0 || last) {
      return { ...o, resid: total - offset - (length - o.resid) };
    }
    await scsi_init_pkt(ap, pkt, bp, cdbLength, ARQ_STATUS_LENGTH, 0, PKT_XARQ | PKT_DMA_PARTIAL, SLEEP_FUNC);
  }
}

async function transportOnce(pkt: scsi_pkt, timeoutMs: number, waiter: PacketWaiter): Promise<PacketOutcome> {
  pkt.pkt_time = timeoutMs / 1000;
  pkt.pkt_flags = 0;
  const done = waiter.completion();
  pkt.pkt_comp = waiter.comp;
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
}

function outcomeOf(pkt: scsi_pkt): PacketOutcome {
  let status = pkt.pkt_scbp[0] ?? 0;
  let sense: Buffer | undefined;
  let senseProblem: string | undefined;
  if (pkt.pkt_reason === CMD_CMPLT && (pkt.pkt_state & (STATE_ARQ_DONE | STATE_XARQ_DONE)) !== 0) {
    const arq = decodeArqStatus(pkt.pkt_scbp);
    status = arq.sts_status;
    const senseArea = arq.sts_sensedata.subarray(0, arqSenseLength(pkt.pkt_scblen, pkt.pkt_scblen > SCSI_ARQ_STATUS_SIZE));
    if (arq.sts_rqpkt_reason !== CMD_CMPLT) {
      senseProblem = `auto request sense failed in transport (reason ${arq.sts_rqpkt_reason})`;
    } else if (arq.sts_rqpkt_status !== STATUS_GOOD) {
      senseProblem = `the REQUEST SENSE itself ended with status 0x${arq.sts_rqpkt_status.toString(16)}`;
    } else {
      const valid = Math.max(0, senseArea.length - arq.sts_rqpkt_resid);
      // A copy: the packet (and its status buffer) goes back to the HBA's cache right after this.
      if (valid > 0) sense = Buffer.from(senseArea.subarray(0, valid));
      else senseProblem = 'the REQUEST SENSE returned no valid bytes (its residue covers all it sent)';
    }
    if (senseProblem !== undefined) log('%s', senseProblem);
  }
  return {
    reason: pkt.pkt_reason, state: pkt.pkt_state, statistics: pkt.pkt_statistics, status,
    resid: pkt.pkt_resid, sense, senseProblem,
    cause: pkt.pkt_reason === CMD_CMPLT ? undefined : pkt_transport_error(pkt),
  };
}

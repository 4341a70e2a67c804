/**
 * One packet on the transport: its cookies become the segments of one transport command (or of several, when a
 * READ/WRITE is larger than dma-max), a CHECK CONDITION gets its sense by auto request sense (auto-sense.ts), and
 * the outcome is written into the packet the way a target driver reads it (pkt_reason, pkt_state,
 * pkt_statistics, pkt_resid, the status byte or struct scsi_arq_status).
 */
import type { TransportResult } from '../transport/index.js';
import { logger } from '../util/log.js';
import { carriedSense, requestSense, wantsArq, type SenseContext } from './auto-sense.js';
import type { LunCaps } from './caps.js';
import { DDI_DMA_READ } from './dma.js';
import { NO_SENSE_AREA, type HbaCmd } from './hba-cmd.js';
import { errorOutcome, transportErrorKind, type StopReason } from './outcome.js';
import { setPktTransportError, type scsi_pkt } from './pkt.js';
import { pieceBytes, rwBlocks, rwLba, splittableSpec, writeRwPiece } from './split.js';
import {
  CMD_CMPLT, CMD_DEV_GONE, STATE_GOT_BUS, STATE_GOT_STATUS, STATE_GOT_TARGET, STATE_SENT_CMD, STATE_XFERRED_DATA,
  STATUS_CHECK, STATUS_GOOD,
} from './types.js';

const log = logger('hba', 'exec');

const SENT = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD;

export interface ExecContext extends SenseContext {
  readonly lunCaps: readonly LunCaps[];
  readonly dmaMax: number;
  /**
   * The reset in progress (tran_reset), if any: a packet the transport aborts meanwhile was stopped by it, even
   * outside the reset's own scope (BOT has no LUN reset: its RESET_LUN resets the whole target).
   */
  readonly resetting: StopReason | null;
}

export function dataLength(pkt: scsi_pkt): number {
  return pkt.pkt_numcookies > 0 ? pkt.pkt_dma_len : 0;
}

/** Block size for splitting: the sector-size capability, else what the CDB itself implies; 0 if neither. */
export function splitBlockSize(pkt: scsi_pkt, caps: LunCaps | undefined): number {
  const spec = splittableSpec(pkt.pkt_cdbp, pkt.pkt_cdblen);
  if (spec === undefined) return 0;
  const len = dataLength(pkt);
  const blocks = rwBlocks(spec, pkt.pkt_cdbp);
  if (blocks === 0) return 0;
  const bs = caps !== undefined && caps.sectorSize > 0 ? caps.sectorSize : len / blocks;
  return Number.isInteger(bs) && bs * blocks === len ? bs : 0;
}

/** Point the command's segments at the cookies covering [from, to) of the current window (views, no copies). */
function fillSegments(pkt: scsi_pkt, cmd: HbaCmd, from: number, to: number): void {
  let n = 0;
  for (let i = 0; i < pkt.pkt_numcookies; i++) {
    const c = pkt.pkt_cookies[i];
    if (c === undefined) break;
    const cs = c.dmac_laddress - pkt.pkt_dma_offset;
    const ce = cs + c.dmac_size;
    if (ce <= from || cs >= to) continue;
    cmd.segments[n++] = cs >= from && ce <= to ? c.buffer : c.buffer.subarray(Math.max(from, cs) - cs, Math.min(to, ce) - cs);
  }
  cmd.req.segmentCount = n;
}

/** Run the packet on the transport; never throws: every outcome ends up in the packet. */
export async function runPacketOnTransport(ctx: ExecContext, pkt: scsi_pkt, cmd: HbaCmd): Promise<void> {
  const len = dataLength(pkt);
  const req = cmd.req;
  req.lun = pkt.pkt_address.a_lun;
  req.direction = len === 0 ? 'none' : (pkt.pkt_dma_flags & DDI_DMA_READ) !== 0 ? 'in' : 'out';
  req.dataTimeoutMs = Math.ceil(pkt.pkt_time * 1000);
  // A transport that carries sense writes it straight into sts_sensedata (only where ARQ could report it).
  req.sense = ctx.transport.carriesSense && wantsArq(ctx, pkt, cmd) ? cmd.senseArea(pkt) : NO_SENSE_AREA;
  let moved = 0;
  /** Bytes that really count as data: the transport's residue (host count, or more when the device says so). */
  let valid = 0;
  let last: TransportResult | null = null;
  try {
    if (len <= ctx.dmaMax) {
      req.cdb = pkt.pkt_cdbp;
      req.cdbLength = pkt.pkt_cdblen;
      fillSegments(pkt, cmd, 0, len);
      last = await ctx.transport.execute(cmd.slot, req);
      moved = last.transferred;
      valid = len - last.residue;
    } else {
      // tran_start took only splittable packets of a known block size this large.
      const spec = splittableSpec(pkt.pkt_cdbp, pkt.pkt_cdblen);
      const bs = splitBlockSize(pkt, ctx.lunCaps[req.lun]);
      if (spec === undefined || bs === 0) return failPacket(ctx, pkt, cmd, undefined, len);
      const piece = pieceBytes(bs, ctx.transport.maxPacketSize, ctx.dmaMax);
      const lba0 = rwLba(spec, pkt.pkt_cdbp);
      req.cdb = cmd.pieceCdb;
      req.cdbLength = pkt.pkt_cdblen;
      for (let done = 0; done < len; done += piece) {
        // Stopped between two pieces (abort, timeout, reset): nothing more goes on the wire.
        if (cmd.stopReason !== null) return failPacket(ctx, pkt, cmd, undefined, len);
        const n = Math.min(piece, len - done);
        writeRwPiece(spec, pkt.pkt_cdbp, pkt.pkt_cdblen, cmd.pieceCdb, lba0 + BigInt(done / bs), n / bs);
        fillSegments(pkt, cmd, done, done + n);
        last = await ctx.transport.execute(cmd.slot, req);
        moved += last.transferred;
        valid += n - last.residue;
        // A failed or short piece ends the command: what follows it was never asked for.
        if (last.status !== STATUS_GOOD || last.residue > 0) break;
      }
    }
  } catch (err) {
    failPacket(ctx, pkt, cmd, err, len);
    return;
  }
  if (last === null) return;
  pkt.pkt_reason = CMD_CMPLT;
  pkt.pkt_state = SENT | STATE_GOT_STATUS | (moved > 0 ? STATE_XFERRED_DATA : 0);
  // Not len - moved: a device that padded an IN phase or accepted OUT data it did not process says so in its
  // residue, and the transport has already kept whichever of the two counts leaves less data valid.
  pkt.pkt_resid = len - valid;
  pkt.pkt_scbp[0] = last.status;
  if (last.status !== STATUS_CHECK || !wantsArq(ctx, pkt, cmd)) return;
  if (last.senseLength >= 0) carriedSense(ctx, pkt, cmd, last.senseLength);
  else await requestSense(ctx, pkt, cmd);
}

/**
 * Map the transport's failure to pkt_reason. Recovery is not the HBA's business: the transport alone recovers
 * (BOT: Reset Recovery, and when that fails it remembers that the device is unrecovered and recovers before the
 * next command), so the HBA never resets here. The transport's error is kept as the packet's cause
 * (pkt_transport_error).
 */
function failPacket(ctx: ExecContext, pkt: scsi_pkt, cmd: HbaCmd, err: unknown, len: number): void {
  const stop = cmd.stopReason ?? (err !== undefined && transportErrorKind(err) === 'aborted' ? ctx.resetting : null);
  const o = errorOutcome(err, stop);
  log('lun %d cmd 0x%s failed: %O', pkt.pkt_address.a_lun, pkt.pkt_cdbp[0]?.toString(16),
    err ?? `stopped between pieces (${stop ?? 'no reason'})`);
  setPktTransportError(pkt, err);
  pkt.pkt_reason = o.reason;
  pkt.pkt_statistics |= o.statistics;
  pkt.pkt_state = o.gone ? 0 : SENT;
  pkt.pkt_resid = len;
}

export function isGoneOutcome(pkt: scsi_pkt): boolean {
  return pkt.pkt_reason === CMD_DEV_GONE;
}

/**
 * One packet on the wire: its cookies become the segments of one BOT command (or of several, when a READ/WRITE
 * is larger than dma-max), CHECK CONDITION triggers auto request sense before anything else may use the wire,
 * and the outcome is written into the packet the way a target driver reads it (pkt_reason, pkt_state,
 * pkt_statistics, pkt_resid, the status byte or struct scsi_arq_status).
 */
import { CSW_STATUS_PASSED, type BotRequest, type BotResult, type BotSlot, type BotTransportApi } from '../bot/api.js';
import { logger } from '../util/log.js';
import {
  CMD_ABORTED, CMD_CMPLT, CMD_DATA_OVR, CMD_DEV_GONE, CMD_RESET, CMD_TIMEOUT, CMD_TRAN_ERR, SCSI_ARQ_STATUS_SIZE,
  STAT_ABORTED, STAT_BUS_RESET, STAT_DEV_RESET, STAT_TIMEOUT, STATE_ARQ_DONE, STATE_GOT_BUS, STATE_GOT_STATUS,
  STATE_GOT_TARGET, STATE_SENT_CMD, STATE_XARQ_DONE, STATE_XFERRED_DATA, STATUS_CHECK, STATUS_GOOD,
} from './types.js';
import { setPktTransportError, type scsi_pkt } from './pkt.js';
import { DDI_DMA_READ } from './dma.js';
import { ARQ_SENSE_OFFSET, arqSenseLength, encodeArqHead } from './arq.js';
import { isSplittable, pieceBytes, rwBlocks, rwLba, writeRwPiece } from './split.js';
import type { LunCaps } from './caps.js';

const log = logger('hba', 'exec');

/** Why the HBA itself stopped a packet; decides pkt_reason over whatever error the engine reports. */
export type StopReason = 'abort' | 'timeout' | 'reset-dev' | 'reset-bus' | 'detach' | 'gone';

const SENT = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD;
const SCMD_REQUEST_SENSE = 0x03;

/** pkt_ha_private of every packet: what tran_pkt_constructor allocates once and each command reuses. */
export class HbaCmd {
  readonly segments: Buffer[] = [];
  readonly req: BotRequest;
  readonly pieceCdb = Buffer.alloc(16);
  stopReason: StopReason | null = null;
  constructor(readonly slot: BotSlot) {
    this.req = { lun: 0, cdb: this.pieceCdb, cdbLength: 0, direction: 'none', segments: this.segments,
      segmentCount: 0, dataTimeoutMs: 0 };
  }
}

export interface ExecContext {
  readonly transport: BotTransportApi;
  readonly lunCaps: readonly LunCaps[];
  readonly dmaMax: number;
  /** The HBA's own REQUEST SENSE command (FLAG_SENSING in illumos terms). */
  readonly senseCmd: HbaCmd;
  /** Quirk: sense on LUN >= 1 may be the target's LOGICAL UNIT NOT SUPPORTED rather than the LUN's. */
  readonly senseLun0Only: boolean;
}

const ASC_LOGICAL_UNIT_NOT_SUPPORTED = 0x25;

/** Fixed (0x70/0x71) or descriptor (0x72/0x73) sense saying LOGICAL UNIT NOT SUPPORTED. */
function saysLunNotSupported(sense: Buffer, got: number): boolean {
  const code = (sense[0] ?? 0) & 0x7f;
  if ((code === 0x70 || code === 0x71) && got >= 13) return sense[12] === ASC_LOGICAL_UNIT_NOT_SUPPORTED;
  if ((code === 0x72 || code === 0x73) && got >= 3) return sense[2] === ASC_LOGICAL_UNIT_NOT_SUPPORTED;
  return false;
}

export function dataLength(pkt: scsi_pkt): number {
  return pkt.pkt_numcookies > 0 ? pkt.pkt_dma_len : 0;
}

/** Block size for splitting: the sector-size capability, else what the CDB itself implies; 0 if neither. */
export function splitBlockSize(pkt: scsi_pkt, caps: LunCaps | undefined): number {
  if (!isSplittable(pkt.pkt_cdbp, pkt.pkt_cdblen)) return 0;
  const len = dataLength(pkt);
  const blocks = rwBlocks(pkt.pkt_cdbp);
  if (blocks === 0) return 0;
  const bs = caps !== undefined && caps.sectorSize > 0 ? caps.sectorSize : len / blocks;
  return Number.isInteger(bs) && bs * blocks === len ? bs : 0;
}

/** Point the request's segments at the cookies covering [from, to) of the current window (views, no copies). */
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

/** Run the packet; never throws: every outcome ends up in the packet. */
export async function runPacket(ctx: ExecContext, pkt: scsi_pkt, cmd: HbaCmd): Promise<void> {
  const len = dataLength(pkt);
  const req = cmd.req;
  req.lun = pkt.pkt_address.a_lun;
  req.direction = len === 0 ? 'none' : (pkt.pkt_dma_flags & DDI_DMA_READ) !== 0 ? 'in' : 'out';
  req.dataTimeoutMs = Math.ceil(pkt.pkt_time * 1000);
  let moved = 0;
  /** Bytes that really count as data: the engine's residue (host count, or more when the device says so). */
  let valid = 0;
  let last: BotResult | null = null;
  try {
    if (len <= ctx.dmaMax) {
      req.cdb = pkt.pkt_cdbp;
      req.cdbLength = pkt.pkt_cdblen;
      fillSegments(pkt, cmd, 0, len);
      last = await ctx.transport.execute(cmd.slot, req);
      moved = last.transferred;
      valid = len - last.residue;
    } else {
      const bs = splitBlockSize(pkt, ctx.lunCaps[req.lun]);
      const piece = pieceBytes(bs, ctx.transport.maxPacketSize, ctx.dmaMax);
      const lba0 = rwLba(pkt.pkt_cdbp);
      req.cdb = cmd.pieceCdb;
      req.cdbLength = pkt.pkt_cdblen;
      for (let done = 0; done < len; done += piece) {
        if (cmd.stopReason !== null) throw new Error(`stopped: ${cmd.stopReason}`);
        const n = Math.min(piece, len - done);
        writeRwPiece(pkt.pkt_cdbp, pkt.pkt_cdblen, cmd.pieceCdb, lba0 + BigInt(done / bs), n / bs);
        fillSegments(pkt, cmd, done, done + n);
        last = await ctx.transport.execute(cmd.slot, req);
        moved += last.transferred;
        valid += n - last.residue;
        // A failed or short piece ends the command: what follows it was never asked for.
        if (last.status !== CSW_STATUS_PASSED || last.residue > 0) break;
      }
    }
  } catch (err) {
    failPacket(pkt, cmd, err, len);
    return;
  }
  if (last === null) return;
  pkt.pkt_reason = CMD_CMPLT;
  pkt.pkt_state = SENT | STATE_GOT_STATUS | (moved > 0 ? STATE_XFERRED_DATA : 0);
  // Not len - moved: a device that padded an IN phase or accepted OUT data it did not process says so in its
  // residue, and the engine has already kept whichever of the two counts leaves less data valid.
  pkt.pkt_resid = len - valid;
  if (last.status === CSW_STATUS_PASSED) {
    pkt.pkt_scbp[0] = STATUS_GOOD;
    return;
  }
  // BOT says only "failed": that is CHECK CONDITION, and the sense data says why.
  pkt.pkt_scbp[0] = STATUS_CHECK;
  const caps = ctx.lunCaps[req.lun];
  if (caps?.autoRqsense === true && pkt.pkt_scblen >= SCSI_ARQ_STATUS_SIZE && cmd.stopReason === null) {
    await autoRequestSense(ctx, pkt);
  }
}

/**
 * Auto request sense: the REQUEST SENSE that follows a CHECK CONDITION before anything else may use the wire.
 *
 * The rule the disk driver builds on (and why this code is strict): a CHECK CONDITION is success only when VALID
 * sense says RECOVERED ERROR, or NO SENSE with nothing else wrong. Sense is valid only when
 *  - the REQUEST SENSE itself completed GOOD (sts_rqpkt_status; a REQUEST SENSE that failed returns no verdict,
 *    whatever its bytes look like: Linux treats a failed auto-sense as an error too),
 *  - it lies within the bytes the residue says are real (BOT lets a device pad the data phase and say so in
 *    dCSWDataResidue; padding that happens to look like RECOVERED ERROR sense is not sense), and
 *  - its own response code and ADDITIONAL SENSE LENGTH hold together (checked by the disk driver, src/disk/sense.ts).
 * So sts_rqpkt_resid comes from the engine's residue (the same count the data path uses for pkt_resid), never from
 * the bytes moved alone; anything less than valid sense is a failure the target driver may retry, never data
 * returned as good.
 */
async function autoRequestSense(ctx: ExecContext, pkt: scsi_pkt): Promise<void> {
  const xarq = pkt.pkt_scblen > SCSI_ARQ_STATUS_SIZE;
  const senseLen = arqSenseLength(pkt.pkt_scblen, xarq);
  const sc = ctx.senseCmd;
  const cdb = sc.pieceCdb;
  cdb.fill(0);
  cdb[0] = SCMD_REQUEST_SENSE;
  cdb[4] = senseLen;
  const req = sc.req;
  req.lun = pkt.pkt_address.a_lun;
  req.cdbLength = 6;
  req.direction = 'in';
  req.dataTimeoutMs = 0;
  // The sense bytes land straight in sts_sensedata; clear it first so nothing of an earlier command survives.
  const senseArea = pkt.pkt_scbp.subarray(ARQ_SENSE_OFFSET, ARQ_SENSE_OFFSET + senseLen);
  senseArea.fill(0);
  sc.segments[0] = senseArea;
  req.segmentCount = 1;
  let rqStatus = STATUS_GOOD;
  let rqReason = CMD_CMPLT;
  let rqState = SENT;
  let rqStatistics = 0;
  let rqResid = senseLen;
  try {
    const r = await ctx.transport.execute(sc.slot, req);
    rqStatus = r.status === CSW_STATUS_PASSED ? STATUS_GOOD : STATUS_CHECK;
    rqState = SENT | STATE_GOT_STATUS | (r.transferred > 0 ? STATE_XFERRED_DATA : 0);
    // The residue, not the bytes moved: a padded data phase moved bytes that are not sense.
    rqResid = Math.min(senseLen, Math.max(r.residue, senseLen - r.transferred));
    if (rqStatus !== STATUS_GOOD) log('lun %d: REQUEST SENSE itself failed: its sense is no verdict', req.lun);
    const valid = senseLen - rqResid;
    if (ctx.senseLun0Only && req.lun > 0 && saysLunNotSupported(senseArea, valid)) {
      // The LUN exists (it is <= max LUN and just ran a command): this answer is the target's, not the LUN's.
      // Passing it on would make a medium error look like a missing LUN; say "sense unavailable" instead.
      log('lun %d: REQUEST SENSE answered LOGICAL UNIT NOT SUPPORTED (SENSE_LUN0_ONLY): sense unavailable', req.lun);
      senseArea.fill(0);
      rqReason = CMD_TRAN_ERR;
      rqResid = senseLen;
      rqState = SENT | STATE_GOT_STATUS;
    }
  } catch (err) {
    const o = errorOutcome(err, null);
    rqReason = o.reason;
    rqStatistics = o.statistics;
    senseArea.fill(0);
    log('auto request sense failed: %O', err);
  }
  encodeArqHead(pkt.pkt_scbp, STATUS_CHECK, rqStatus, rqReason, rqResid, rqState, rqStatistics);
  pkt.pkt_state |= STATE_ARQ_DONE | (xarq ? STATE_XARQ_DONE : 0);
}

interface ErrorOutcome { reason: number; statistics: number; gone: boolean }

function errorOutcome(err: unknown, stop: StopReason | null): ErrorOutcome {
  const kind = typeof err === 'object' && err !== null && 'kind' in err ? String(err.kind) : 'transport';
  const o = (reason: number, statistics: number, gone = false): ErrorOutcome => ({ reason, statistics, gone });
  // A vanished device outranks why the HBA stopped the packet: a timeout or abort that meets a removal is a
  // removal, so the target driver (and the HBA's own state) learn at once that nothing more will work.
  if (kind === 'device-gone' && stop !== 'detach') return o(CMD_DEV_GONE, 0, true);
  switch (stop) {
    case 'abort': return o(CMD_ABORTED, STAT_ABORTED);
    case 'timeout': return o(CMD_TIMEOUT, STAT_TIMEOUT);
    case 'reset-dev': return o(CMD_RESET, STAT_DEV_RESET);
    case 'reset-bus': return o(CMD_RESET, STAT_BUS_RESET);
    case 'detach': return o(CMD_TRAN_ERR, 0);
    case 'gone': return o(CMD_DEV_GONE, 0, true);
    case null: break;
  }
  switch (kind) {
    case 'device-gone': return o(CMD_DEV_GONE, 0, true);
    case 'timeout': return o(CMD_TIMEOUT, STAT_TIMEOUT);
    case 'overrun': return o(CMD_DATA_OVR, 0);
    case 'aborted': return o(CMD_ABORTED, STAT_ABORTED);
    default: return o(CMD_TRAN_ERR, 0);
  }
}

/**
 * Map the engine's failure to pkt_reason. Recovery is not the HBA's business: the BOT engine alone runs Reset
 * Recovery (and, when that fails, remembers that the device is unrecovered and recovers before the next command),
 * so the HBA never resets again here. The engine's error is kept as the packet's cause (pkt_transport_error).
 */
function failPacket(pkt: scsi_pkt, cmd: HbaCmd, err: unknown, len: number): void {
  const o = errorOutcome(err, cmd.stopReason);
  log('lun %d cmd 0x%s failed: %s', pkt.pkt_address.a_lun, pkt.pkt_cdbp[0]?.toString(16), String(err));
  setPktTransportError(pkt, err);
  pkt.pkt_reason = o.reason;
  pkt.pkt_statistics |= o.statistics;
  pkt.pkt_state = o.gone ? 0 : SENT;
  pkt.pkt_resid = len;
}

export function isGoneOutcome(pkt: scsi_pkt): boolean {
  return pkt.pkt_reason === CMD_DEV_GONE;
}

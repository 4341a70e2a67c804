/**
 * Auto request sense: how the sense of a CHECK CONDITION reaches the packet's struct scsi_arq_status.
 *
 * Which source is decided per result, by the transport's `senseLength`:
 *  - >= 0: the transport carried the sense with the status (UAS's Sense IU) and has already written it into
 *    sts_sensedata through `command.sense` (a view of the packet's status area: no copy). No wire is needed.
 *  - -1: it carries none (BOT), and the HBA sends REQUEST SENSE itself, on the packet's own slot, before anything
 *    else may use the wire (nothing new is started meanwhile; at depth 1 the packet still holds the wire), with
 *    the bytes landing straight in sts_sensedata.
 *
 * The rule the disk driver builds on (and why this code is strict): a CHECK CONDITION is success only when VALID
 * sense says RECOVERED ERROR about that command with nothing of its data missing; NO SENSE after a CHECK CONDITION
 * means an unknown amount of data moved, a failure to retry (Linux sd_done, illumos sd_sense_key_no_sense).
 * Sense is valid only when
 *  - the REQUEST SENSE itself completed GOOD (sts_rqpkt_status; a REQUEST SENSE that failed returns no verdict,
 *    whatever its bytes look like: Linux treats a failed auto-sense as an error too),
 *  - it lies within the bytes the residue says are real (BOT lets a device pad the data phase and say so in
 *    dCSWDataResidue; padding that happens to look like RECOVERED ERROR sense is not sense), and
 *  - its own response code and ADDITIONAL SENSE LENGTH hold together (checked by the disk driver, src/disk/sense.ts).
 * So sts_rqpkt_resid comes from the transport's residue (or, for carried sense, from `senseLength`), never from the
 * bytes moved alone; everything past the valid bytes is zeroed, so nothing of an earlier command survives; anything
 * less than valid sense is a failure the target driver may retry, never data returned as good.
 */
import type { Transport } from '../transport/index.js';
import { logger } from '../util/log.js';
import { encodeArqHead } from './arq.js';
import type { LunCaps } from './caps.js';
import { NO_SENSE_AREA, type HbaCmd } from './hba-cmd.js';
import { errorOutcome } from './outcome.js';
import type { scsi_pkt } from './pkt.js';
import {
  CMD_CMPLT, CMD_TRAN_ERR, SCSI_ARQ_STATUS_SIZE, STATE_ARQ_DONE, STATE_GOT_BUS, STATE_GOT_STATUS, STATE_GOT_TARGET,
  STATE_SENT_CMD, STATE_XARQ_DONE, STATE_XFERRED_DATA, STATUS_CHECK, STATUS_GOOD,
} from './types.js';

const log = logger('hba', 'arq');

const SENT = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD;
const SCMD_REQUEST_SENSE = 0x03;
const ASC_LOGICAL_UNIT_NOT_SUPPORTED = 0x25;

/** What auto request sense needs from the HBA. */
export interface SenseContext {
  readonly transport: Transport;
  readonly lunCaps: readonly LunCaps[];
  /** Start nothing new on the wire until releaseWire (REQUEST SENSE must follow the CHECK CONDITION). */
  holdWire(): void;
  releaseWire(): void;
  /** Quirk: sense on LUN >= 1 may be the target's LOGICAL UNIT NOT SUPPORTED rather than the LUN's. */
  readonly senseLun0Only: boolean;
}

/** Whether a CHECK CONDITION of this packet gets its sense into scsi_arq_status (auto-rqsense on, room for it). */
export function wantsArq(ctx: SenseContext, pkt: scsi_pkt, cmd: HbaCmd): boolean {
  return ctx.lunCaps[pkt.pkt_address.a_lun]?.autoRqsense === true && pkt.pkt_scblen >= SCSI_ARQ_STATUS_SIZE
    && cmd.stopReason === null;
}

/** Sense the transport carried with the status: `got` bytes already in the packet's sense area. */
export function carriedSense(ctx: SenseContext, pkt: scsi_pkt, cmd: HbaCmd, got: number): void {
  const area = cmd.senseArea(pkt);
  const valid = Math.min(got, area.length);
  area.fill(0, valid);
  const state = SENT | STATE_GOT_STATUS | (valid > 0 ? STATE_XFERRED_DATA : 0);
  settle(ctx, pkt, area, STATUS_GOOD, CMD_CMPLT, area.length - valid, state, 0);
}

/**
 * The HBA's REQUEST SENSE (FLAG_SENSING in illumos terms) for a transport that carries no sense, on the packet's
 * own slot and command object (its command is over); never throws (a failure is in the ARQ status).
 */
export async function requestSense(ctx: SenseContext, pkt: scsi_pkt, cmd: HbaCmd): Promise<void> {
  const area = cmd.senseArea(pkt);
  const cdb = cmd.pieceCdb;
  cdb.fill(0);
  cdb[0] = SCMD_REQUEST_SENSE;
  cdb[4] = area.length;
  const req = cmd.req;
  req.cdb = cdb;
  req.cdbLength = 6;
  req.direction = 'in';
  req.dataTimeoutMs = 0;
  req.sense = NO_SENSE_AREA;
  // The sense bytes land straight in sts_sensedata; cleared first so nothing of an earlier command survives.
  area.fill(0);
  cmd.segments[0] = area;
  req.segmentCount = 1;
  ctx.holdWire();
  try {
    const r = await ctx.transport.execute(cmd.slot, req);
    if (r.status !== STATUS_GOOD) log('lun %d: REQUEST SENSE itself failed: its sense is no verdict', req.lun);
    // The residue, not the bytes moved: a padded data phase moved bytes that are not sense.
    const resid = Math.min(area.length, Math.max(r.residue, area.length - r.transferred));
    const state = SENT | STATE_GOT_STATUS | (r.transferred > 0 ? STATE_XFERRED_DATA : 0);
    settle(ctx, pkt, area, r.status, CMD_CMPLT, resid, state, 0);
  } catch (err) {
    const o = errorOutcome(err, null);
    area.fill(0);
    log('auto request sense failed: %O', err);
    settle(ctx, pkt, area, STATUS_GOOD, o.reason, area.length, SENT, o.statistics);
  } finally {
    ctx.releaseWire();
  }
}

/** Write struct scsi_arq_status, after the trust rules that apply to sense from either source. */
function settle(ctx: SenseContext, pkt: scsi_pkt, area: Buffer, rqStatus: number, rqReason: number, rqResid: number,
  rqState: number, rqStatistics: number): void {
  const lun = pkt.pkt_address.a_lun;
  if (ctx.senseLun0Only && lun > 0 && rqReason === CMD_CMPLT && saysLunNotSupported(area, area.length - rqResid)) {
    // The LUN exists (it is <= max LUN and just ran a command): this answer is the target's, not the LUN's.
    // Passing it on would make a medium error look like a missing LUN; say "sense unavailable" instead.
    log('lun %d: sense says LOGICAL UNIT NOT SUPPORTED (SENSE_LUN0_ONLY): sense unavailable', lun);
    area.fill(0);
    rqReason = CMD_TRAN_ERR;
    rqResid = area.length;
    rqState = SENT | STATE_GOT_STATUS;
  }
  encodeArqHead(pkt.pkt_scbp, STATUS_CHECK, rqStatus, rqReason, rqResid, rqState, rqStatistics);
  pkt.pkt_state |= STATE_ARQ_DONE | (pkt.pkt_scblen > SCSI_ARQ_STATUS_SIZE ? STATE_XARQ_DONE : 0);
}

/** Fixed (0x70/0x71) or descriptor (0x72/0x73) sense saying LOGICAL UNIT NOT SUPPORTED. */
function saysLunNotSupported(sense: Buffer, got: number): boolean {
  const code = (sense[0] ?? 0) & 0x7f;
  if ((code === 0x70 || code === 0x71) && got >= 13) return sense[12] === ASC_LOGICAL_UNIT_NOT_SUPPORTED;
  if ((code === 0x72 || code === 0x73) && got >= 3) return sense[2] === ASC_LOGICAL_UNIT_NOT_SUPPORTED;
  return false;
}

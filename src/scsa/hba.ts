/**
 * UsbmsHba: one SCSA HBA instance per USB mass-storage interface. BOT carries one command at a time, so the HBA
 * keeps a wait queue per LUN, serves the LUNs round-robin (FLAG_HEAD jumps its LUN's queue), owns the wire
 * until a command and its auto request sense are done, and completes packets through scsi_hba_pkt_comp.
 */
import type { BotTransportApi } from '../bot/api.js';
import { logger } from '../util/log.js';
import {
  CMD_ABORTED, CMD_DEV_GONE, CMD_RESET, CMD_TRAN_ERR, FLAG_HEAD, FLAG_NOINTR, RESET_ALL, RESET_LUN, RESET_TARGET,
  STAT_ABORTED, STAT_BUS_RESET, STAT_DEV_RESET, TRAN_ACCEPT, TRAN_BADPKT, TRAN_BUSY, TRAN_FATAL_ERROR,
  type ddi_dma_attr_t,
} from './types.js';
import { pktWrapper, scsi_hba_pkt_comp, type scsi_address, type scsi_pkt } from './pkt.js';
import type { scsi_hba_tran } from './tran.js';
import { LunCaps, MAX_CDB_LENGTH, type CapsContext } from './caps.js';
import { PktQueue } from './queue.js';
import { DDI_DMA_SYNC_FORCPU, DDI_DMA_SYNC_FORDEV } from './dma.js';
import { dataLength, HbaCmd, isGoneOutcome, runPacket, splitBlockSize, type ExecContext, type StopReason } from './exec.js';
import { pieceBytes } from './split.js';
import { buildTran } from './hba-tran.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { KeptTimer } from '../util/kept-timer.js';

const log = logger('hba');

/** Device quirks the HBA itself applies (from the BOT quirks table). */
export interface UsbmsHbaQuirks {
  /** Never issue auto request sense (devices that hang on REQUEST SENSE after some commands). */
  noAutoRqsense?: boolean;
  /** Lower the bytes per BOT command below what the engine allows. */
  maxTransferBytes?: number;
  /**
   * REQUEST SENSE on LUN >= 1 is answered for the target, not the LUN (LOGICAL UNIT NOT SUPPORTED for a LUN
   * that exists): auto request sense there reports the sense as unavailable instead of passing on a wrong one.
   */
  senseLun0Only?: boolean;
}

/** Options of UsbmsHba.attach. */
export interface UsbmsHbaOptions {
  style?: 'setup' | 'init';
  dmaAttr?: Partial<ddi_dma_attr_t>;
  maxDmaBytesInFlight?: number;
  maxPackets?: number;
  /** Waiting packets per LUN before tran_start answers TRAN_BUSY. */
  queueDepth?: number;
  quirks?: UsbmsHbaQuirks;
}

/** The SCSA HBA over one Bulk-Only transport: registers the tran_* entry points, queues packets per LUN, does auto request sense and command fix-ups. */
export class UsbmsHba implements CapsContext, ExecContext {
  readonly tran: scsi_hba_tran;
  readonly maxLun: number;
  readonly lunCaps: LunCaps[] = [];
  readonly dmaMax: number;
  readonly dmaMaxArch: number;
  qfullRetries = 10;
  qfullRetryInterval = 100;
  readonly senseCmd: HbaCmd;
  readonly senseLun0Only: boolean;
  private readonly queues: PktQueue<scsi_pkt>[] = [];
  private running: scsi_pkt | null = null;
  private runningDone: Promise<void> = Promise.resolve();
  private nextLun = 0;
  private state: 'attached' | 'gone' | 'detached' = 'attached';
  /** Resets in progress: nothing new goes on the wire meanwhile. */
  private holds = 0;

  private constructor(readonly transport: BotTransportApi, opts: UsbmsHbaOptions) {
    this.maxLun = transport.maxLun;
    this.dmaMaxArch = transport.maxTransferBytes;
    this.dmaMax = Math.min(transport.maxTransferBytes, opts.quirks?.maxTransferBytes ?? Infinity);
    const depth = opts.queueDepth ?? 16;
    for (let lun = 0; lun <= this.maxLun; lun++) {
      const caps = new LunCaps();
      caps.autoRqsense = opts.quirks?.noAutoRqsense !== true;
      this.lunCaps.push(caps);
      this.queues.push(new PktQueue(depth));
    }
    this.senseCmd = new HbaCmd(transport.allocSlot(1));
    this.senseLun0Only = opts.quirks?.senseLun0Only === true;
    this.tran = buildTran(this, opts);
  }

  /** Attach an HBA instance to an open BOT engine (the engine stays the caller's: detach closes nothing). */
  static attach(transport: BotTransportApi, opts: UsbmsHbaOptions = {}): UsbmsHba {
    if (opts.queueDepth !== undefined && (!Number.isInteger(opts.queueDepth) || opts.queueDepth < 1)) {
      throw new UsbmsArgumentError('queueDepth must be a positive integer');
    }
    return new UsbmsHba(transport, opts);
  }

  /** The scsi_address of a LUN of this HBA (target 0: USB mass storage has one target). */
  address(lun: number, target = 0): scsi_address {
    return { a_hba_tran: this.tran, a_target: target, a_lun: lun };
  }

  /** Queued packets complete with CMD_TRAN_ERR (state 0), the running one is stopped; the engine stays open. */
  async detach(): Promise<void> {
    if (this.state === 'detached') return;
    this.state = 'detached';
    this.flush(null, CMD_TRAN_ERR, 0);
    if (this.running !== null) await this.stopRunning('detach');
    await this.runningDone;
    this.pktTimer.dispose();
    this.tran.tran_pkt_cache_ptr.shrink(0);
    this.transport.freeSlot(this.senseCmd.slot);
    log('detached');
  }

  /**
   * tran_start(9E): TRAN_ACCEPT (queued; completes through scsi_hba_pkt_comp), TRAN_BUSY (this LUN's queue is
   * full: try again later), TRAN_BADPKT (a packet this HBA can never run), TRAN_FATAL_ERROR (detached or gone).
   */
  start(pkt: scsi_pkt): number {
    if (this.state !== 'attached') {
      // As scsa2usb does for a disconnected device: refuse, and say why in pkt_reason.
      if (this.state === 'gone') pkt.pkt_reason = CMD_DEV_GONE;
      return TRAN_FATAL_ERROR;
    }
    const w = pktWrapper(pkt);
    const lun = pkt.pkt_address.a_lun;
    const queue = this.queues[lun];
    // scsi_transport has already refused a freed packet and one in transport, and marked this one as the HBA's.
    if (!w.allocated || queue === undefined || pkt.pkt_address.a_target !== 0) return TRAN_BADPKT;
    if (pkt.pkt_cdblen < 1 || pkt.pkt_cdblen > MAX_CDB_LENGTH) return TRAN_BADPKT;
    // FLAG_NOINTR means "complete when scsi_transport returns", which JavaScript cannot do: only scsi_poll, which
    // waits for the completion instead, may send it. Accepting it otherwise would complete it to nobody.
    if ((pkt.pkt_flags & FLAG_NOINTR) !== 0 && w.pollDone === null) return TRAN_BADPKT;
    if (dataLength(pkt) > this.dmaMax) {
      const bs = splitBlockSize(pkt, this.lunCaps[lun]);
      if (bs === 0 || pieceBytes(bs, this.transport.maxPacketSize, this.dmaMax) === 0) return TRAN_BADPKT;
    }
    if (queue.full) return TRAN_BUSY;
    pkt.pkt_reason = 0;
    w.transportError = undefined;
    pkt.pkt_state = 0;
    pkt.pkt_statistics = 0;
    pkt.pkt_scbp[0] = 0;
    (pkt.pkt_ha_private as HbaCmd).stopReason = null;
    w.dma?.sync(DDI_DMA_SYNC_FORDEV);
    if ((pkt.pkt_flags & FLAG_HEAD) !== 0) queue.pushFront(pkt);
    else queue.pushBack(pkt);
    this.pump();
    return TRAN_ACCEPT;
  }

  /** tran_abort(9E): 1 when the packet (or, for null, every packet of the LUN) was aborted. */
  async abort(ap: scsi_address, pkt: scsi_pkt | null): Promise<number> {
    if (pkt === null) {
      this.flush(ap.a_lun, CMD_ABORTED, STAT_ABORTED);
      if (this.running?.pkt_address.a_lun === ap.a_lun) await this.stopRunning('abort');
      return 1;
    }
    if (!pktWrapper(pkt).inTransport) return 0;
    if (this.queues[pkt.pkt_address.a_lun]?.remove(pkt) === true) {
      this.finish(pkt, CMD_ABORTED, STAT_ABORTED);
      return 1;
    }
    if (this.running !== pkt) return 0;
    await this.stopRunning('abort');
    return 1;
  }

  /** tran_reset(9E): RESET_LUN / RESET_TARGET = BOT Reset Recovery, RESET_ALL = USB port reset. */
  async reset(ap: scsi_address, level: number): Promise<number> {
    if (level !== RESET_LUN && level !== RESET_TARGET && level !== RESET_ALL) return 0;
    if (this.state !== 'attached') return 0;
    const bus = level === RESET_ALL;
    this.holds++;
    try {
      this.flush(level === RESET_LUN ? ap.a_lun : null, CMD_RESET, bus ? STAT_BUS_RESET : STAT_DEV_RESET);
      // The engine's abort of a running command is itself a Reset Recovery.
      if (this.running !== null) await this.stopRunning(bus ? 'reset-bus' : 'reset-dev');
      else if (!bus) await this.transport.resetRecovery();
      if (bus) await this.transport.portReset();
      return 1;
    } catch (err) {
      log('reset level %d failed: %O', level, err);
      return 0;
    } finally {
      this.holds--;
      this.pump();
    }
  }

  /** Stop the command on the wire for `reason` and wait until it has completed. */
  private async stopRunning(reason: StopReason): Promise<void> {
    const pkt = this.running;
    if (pkt === null) return;
    const cmd = pkt.pkt_ha_private as HbaCmd;
    const done = this.runningDone; // this packet's run, not whatever starts after it
    cmd.stopReason ??= reason;
    await Promise.all([this.transport.abort(cmd.slot), this.transport.abort(this.senseCmd.slot)])
      .catch((err: unknown) => log('abort failed: %O', err));
    await done;
  }

  private flush(lun: number | null, reason: number, statistics: number): void {
    this.queues.forEach((q, i) => {
      if (lun === null || lun === i) q.drain((pkt) => this.finish(pkt, reason, statistics));
    });
  }

  /** Complete a packet that never reached the wire. */
  private finish(pkt: scsi_pkt, reason: number, statistics: number): void {
    pkt.pkt_reason = reason;
    pkt.pkt_statistics |= statistics;
    pkt.pkt_state = 0;
    pkt.pkt_resid = dataLength(pkt);
    scsi_hba_pkt_comp(pkt);
  }

  /** Put the next packet on the wire: LUNs in turn, one command at a time. */
  private pump(): void {
    if (this.running !== null || this.holds > 0 || this.state !== 'attached') return;
    const n = this.queues.length;
    for (let i = 0; i < n; i++) {
      const lun = (this.nextLun + i) % n;
      const pkt = this.queues[lun]?.shift();
      if (pkt === undefined) continue;
      this.nextLun = (lun + 1) % n;
      this.running = pkt;
      this.runningDone = this.run(pkt);
      return;
    }
  }

  /**
   * pkt_time of the running packet: one KeptTimer per HBA (no timer object or closure per command); `timed` is the
   * packet it was armed for, cleared when that packet completes, so a firing after it is ignored.
   */
  private timed: scsi_pkt | null = null;
  private readonly pktTimer = new KeptTimer(() => {
    if (this.timed !== null && this.timed === this.running) void this.stopRunning('timeout');
  });

  private async run(pkt: scsi_pkt): Promise<void> {
    const cmd = pkt.pkt_ha_private as HbaCmd;
    if (pkt.pkt_time > 0) {
      this.timed = pkt;
      this.pktTimer.arm(pkt.pkt_time * 1000);
    }
    await runPacket(this, pkt, cmd);
    this.timed = null;
    this.pktTimer.disarm(); // an idle HBA must not keep the process alive
    this.running = null;
    pktWrapper(pkt).dma?.sync(DDI_DMA_SYNC_FORCPU);
    if (isGoneOutcome(pkt) && this.state === 'attached') {
      this.state = 'gone';
      log('device gone: failing every queued packet');
      this.flush(null, CMD_DEV_GONE, 0);
    }
    scsi_hba_pkt_comp(pkt);
    this.pump();
  }
}

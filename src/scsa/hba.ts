/**
 * UsbmsHba: one SCSA HBA instance per USB mass-storage interface, running packets on a {@link Transport}
 * (src/transport/: BOT today) without knowing which protocol it holds. The HBA keeps a wait queue per LUN and
 * puts up to the transport's queueDepth packets on the wire at once (BOT: one), taking the LUNs round-robin
 * (FLAG_HEAD jumps its LUN's queue). A packet holds its place on the wire until its command and its auto request
 * sense are done; packets complete in whatever order the transport finishes them, through scsi_hba_pkt_comp.
 */
import type { Transport } from '../transport/index.js';
import { logger } from '../util/log.js';
import {
  CMD_ABORTED, CMD_DEV_GONE, CMD_RESET, CMD_TRAN_ERR, FLAG_HEAD, FLAG_NOINTR, RESET_ALL, RESET_LUN, RESET_TARGET,
  STAT_ABORTED, STAT_BUS_RESET, STAT_DEV_RESET, TRAN_ACCEPT, TRAN_BADPKT, TRAN_BUSY, TRAN_FATAL_ERROR,
  type ddi_dma_attr_t,
} from './types.js';
import { pktWrapper, scsi_hba_pkt_comp, type scsi_address, type scsi_pkt } from './pkt.js';
import type { scsi_hba_tran } from './tran.js';
import { LunCaps, MAX_CDB_LENGTH, type CapsContext } from './caps.js';
import { OnWire, PktQueue } from './queue.js';
import { DDI_DMA_SYNC_FORCPU, DDI_DMA_SYNC_FORDEV, DMA_ATTR_KEYS } from './dma.js';
import { dataLength, isGoneOutcome, runPacketOnTransport, splitBlockSize, type ExecContext } from './exec.js';
import { HbaCmd } from './hba-cmd.js';
import type { StopReason } from './outcome.js';
import { pieceBytes } from './split.js';
import { buildTran } from './hba-tran.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { KeptTimer } from '../util/kept-timer.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';
import { formatWait, type RecoverySink } from '../util/recovery.js';

const log = logger('hba');

/** Device quirks the HBA itself applies (from the quirks table). */
export interface UsbmsHbaQuirks {
  /** Never issue auto request sense (devices that hang on REQUEST SENSE after some commands). */
  noAutoRqsense?: boolean;
  /** Lower the bytes per command below what the transport allows. */
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
  /** Told when a packet's pkt_time runs out and the HBA aborts it (src/util/recovery.ts). */
  onRecovery?: RecoverySink | undefined;
}

const HBA_OPTION_KEYS = {
  style: true, dmaAttr: true, maxDmaBytesInFlight: true, maxPackets: true, queueDepth: true, quirks: true, onRecovery: true,
} as const satisfies KnownKeys<UsbmsHbaOptions>;
const HBA_QUIRK_KEYS = { noAutoRqsense: true, maxTransferBytes: true, senseLun0Only: true } as const satisfies KnownKeys<UsbmsHbaQuirks>;

/** The SCSA HBA over one transport: registers the tran_* entry points, queues packets per LUN, does auto request sense and command fix-ups. */
export class UsbmsHba implements CapsContext, ExecContext {
  readonly tran: scsi_hba_tran;
  readonly maxLun: number;
  readonly lunCaps: LunCaps[] = [];
  readonly dmaMax: number;
  readonly dmaMaxArch: number;
  readonly wireDepth: number;
  qfullRetries = 10;
  qfullRetryInterval = 100;
  readonly senseLun0Only: boolean;
  resetting: StopReason | null = null;
  private readonly queues: PktQueue<scsi_pkt>[] = [];
  private readonly onWire: OnWire<scsi_pkt>;
  private nextLun = 0;
  private state: 'attached' | 'gone' | 'detached' = 'attached';
  /** Resets and REQUEST SENSEs in progress: nothing new goes on the wire meanwhile. */
  private holds = 0;

  private readonly report: RecoverySink | undefined;

  private constructor(readonly transport: Transport, opts: UsbmsHbaOptions) {
    this.report = opts.onRecovery;
    this.maxLun = transport.maxLun;
    this.dmaMaxArch = transport.maxTransferBytes;
    this.dmaMax = Math.min(transport.maxTransferBytes, opts.quirks?.maxTransferBytes ?? Infinity);
    this.wireDepth = transport.queueDepth;
    if (!Number.isInteger(this.wireDepth) || this.wireDepth < 1) {
      throw new UsbmsArgumentError(`the transport's queueDepth ${this.wireDepth} is not a positive integer`);
    }
    this.onWire = new OnWire(this.wireDepth);
    const depth = opts.queueDepth ?? 16;
    for (let lun = 0; lun <= this.maxLun; lun++) {
      const caps = new LunCaps();
      caps.autoRqsense = opts.quirks?.noAutoRqsense !== true;
      this.lunCaps.push(caps);
      this.queues.push(new PktQueue(depth));
    }
    this.senseLun0Only = opts.quirks?.senseLun0Only === true;
    this.tran = buildTran(this, opts);
  }

  /** Attach an HBA instance to an open transport (it stays the caller's: detach closes nothing). */
  static attach(transport: Transport, opts: UsbmsHbaOptions = {}): UsbmsHba {
    rejectUnknownKeys(opts, HBA_OPTION_KEYS, 'UsbmsHba.attach options');
    rejectUnknownKeys(opts.dmaAttr, DMA_ATTR_KEYS, 'UsbmsHba.attach options.dmaAttr');
    rejectUnknownKeys(opts.quirks, HBA_QUIRK_KEYS, 'UsbmsHba.attach options.quirks');
    if (opts.queueDepth !== undefined && (!Number.isInteger(opts.queueDepth) || opts.queueDepth < 1)) {
      throw new UsbmsArgumentError('queueDepth must be a positive integer');
    }
    return new UsbmsHba(transport, opts);
  }

  /** The scsi_address of a LUN of this HBA (target 0: USB mass storage has one target). */
  address(lun: number, target = 0): scsi_address {
    return { a_hba_tran: this.tran, a_target: target, a_lun: lun };
  }

  /** Queued packets complete with CMD_TRAN_ERR (state 0), those on the wire are stopped; the transport stays open. */
  async detach(): Promise<void> {
    if (this.state === 'detached') return;
    this.state = 'detached';
    this.flush(null, CMD_TRAN_ERR, 0);
    await this.stopOnWire(null, 'detach');
    this.tran.tran_pkt_cache_ptr.shrink(0);
    log('detached');
  }

  /** SenseContext: REQUEST SENSE is about to follow a CHECK CONDITION; nothing new goes on the wire. */
  holdWire(): void {
    this.holds++;
  }

  /** SenseContext: the REQUEST SENSE is done; queued packets may go on the wire again. */
  releaseWire(): void {
    this.holds--;
    this.pump();
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
      await this.stopOnWire(ap.a_lun, 'abort');
      return 1;
    }
    if (!pktWrapper(pkt).inTransport) return 0;
    if (this.queues[pkt.pkt_address.a_lun]?.remove(pkt) === true) {
      this.finish(pkt, CMD_ABORTED, STAT_ABORTED);
      return 1;
    }
    if (!this.onWire.has(pkt)) return 0;
    await this.stop(pkt, 'abort');
    return 1;
  }

  /**
   * tran_reset(9E): RESET_LUN, RESET_TARGET and RESET_ALL are the transport's reset('lun'), reset('target') and
   * reset('bus') (BOT: Reset Recovery, Reset Recovery, a USB port reset). Packets queued in the reset's scope
   * complete CMD_RESET; those on the wire are failed by the reset itself (the transport's contract) and complete
   * CMD_RESET too. The HBA does not abort them first: the reset is the transport's one recovery for all of them.
   */
  async reset(ap: scsi_address, level: number): Promise<number> {
    if (level !== RESET_LUN && level !== RESET_TARGET && level !== RESET_ALL) return 0;
    if (this.state !== 'attached') return 0;
    const bus = level === RESET_ALL;
    const lun = level === RESET_LUN ? ap.a_lun : null;
    const why: StopReason = bus ? 'reset-bus' : 'reset-dev';
    this.holds++;
    this.resetting = why;
    try {
      this.flush(lun, CMD_RESET, bus ? STAT_BUS_RESET : STAT_DEV_RESET);
      const inScope = this.onWire.filter((p) => lun === null || p.pkt_address.a_lun === lun);
      for (const p of inScope) (p.pkt_ha_private as HbaCmd).stopReason ??= why;
      await this.transport.reset(bus ? 'bus' : lun === null ? 'target' : 'lun', ap.a_lun);
      for (const p of inScope) await (p.pkt_ha_private as HbaCmd).done;
      return 1;
    } catch (err) {
      log('reset level %d failed: %O', level, err);
      return 0;
    } finally {
      this.holds--;
      if (this.holds === 0) this.resetting = null;
      this.pump();
    }
  }

  /** Stop the packet on the wire for `reason` and wait until it has completed. */
  private async stop(pkt: scsi_pkt, reason: StopReason): Promise<void> {
    const cmd = pkt.pkt_ha_private as HbaCmd;
    const done = cmd.done; // this packet's run, not whatever starts after it
    cmd.stopReason ??= reason;
    await this.transport.abort(cmd.slot).catch((err: unknown) => log('abort failed: %O', err));
    await done;
  }

  /** Stop every packet on the wire (of `lun`, or all) for `reason`, and wait until all have completed. */
  private async stopOnWire(lun: number | null, reason: StopReason): Promise<void> {
    const stopping = this.onWire.filter((p) => lun === null || p.pkt_address.a_lun === lun);
    await Promise.all(stopping.map((p) => this.stop(p, reason)));
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

  /** Put the next packets on the wire, LUNs in turn, as many as the transport takes at once. */
  private pump(): void {
    if (this.holds > 0 || this.state !== 'attached') return;
    const n = this.queues.length;
    while (!this.onWire.full) {
      let pkt: scsi_pkt | undefined;
      for (let i = 0; i < n && pkt === undefined; i++) {
        const lun = (this.nextLun + i) % n;
        pkt = this.queues[lun]?.shift();
        if (pkt !== undefined) this.nextLun = (lun + 1) % n;
      }
      if (pkt === undefined) return;
      this.onWire.add(pkt);
      const cmd = pkt.pkt_ha_private as HbaCmd;
      cmd.running = pkt;
      cmd.done = this.run(pkt, cmd);
    }
  }

  /** pkt_time of a packet: its command's KeptTimer (made once per cached packet, no timer object per command). */
  private armTimer(pkt: scsi_pkt, cmd: HbaCmd): void {
    cmd.timer ??= new KeptTimer(() => {
      // `timed` is cleared when the packet completes: a firing after that is ignored.
      if (!cmd.timed || cmd.running === null) return;
      const p = cmd.running;
      this.report?.({ step: 'timeout', detail: `the command to LUN ${p.pkt_address.a_lun} (opcode 0x${
        (p.pkt_cdbp[0] ?? 0).toString(16).padStart(2, '0')}) had no answer within ${formatWait(p.pkt_time * 1000)}: ` +
        'aborting it', timeoutMs: p.pkt_time * 1000 });
      void this.stop(p, 'timeout');
    });
    cmd.timed = true;
    cmd.timer.arm(pkt.pkt_time * 1000);
  }

  private async run(pkt: scsi_pkt, cmd: HbaCmd): Promise<void> {
    if (pkt.pkt_time > 0) this.armTimer(pkt, cmd);
    await runPacketOnTransport(this, pkt, cmd);
    if (cmd.timed) {
      cmd.timed = false;
      cmd.timer?.disarm(); // an idle HBA must not keep the process alive
    }
    cmd.running = null;
    this.onWire.remove(pkt);
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

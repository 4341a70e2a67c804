/**
 * pkt_ha_private of every packet: what tran_pkt_constructor allocates once and each command of the packet
 * reuses (the transport's slot, the command object the transport reads, the CDB of a split piece, the view of the
 * status area a transport that carries sense writes into), so that running a packet allocates nothing.
 */
import type { TransportCommand, TransportSlot } from '../transport/index.js';
import type { KeptTimer } from '../util/kept-timer.js';
import { ARQ_SENSE_OFFSET, arqSenseLength } from './arq.js';
import type { StopReason } from './outcome.js';
import type { scsi_pkt } from './pkt.js';
import { SCSI_ARQ_STATUS_SIZE } from './types.js';

/** `command.sense` when no sense may be kept: a transport that carries sense then keeps none. */
export const NO_SENSE_AREA = Buffer.alloc(0);

export class HbaCmd {
  readonly segments: Buffer[] = [];
  readonly req: TransportCommand;
  readonly pieceCdb = Buffer.alloc(16);
  stopReason: StopReason | null = null;
  /** The run of the packet now on the wire (its command and auto request sense), settled when it completes. */
  done: Promise<void> = Promise.resolve();
  /** pkt_time of the packet on the wire: made by the HBA on the packet's first timed command, then re-armed. */
  timer: KeptTimer | null = null;
  /** The timer is armed for the packet now on the wire. */
  timed = false;
  /** The packet on the wire with this command (null when idle), for a pkt_time firing to find. */
  running: scsi_pkt | null = null;
  /** sts_sensedata of the status area it was made for (a view, remade only when the area changes). */
  private senseView: Buffer = NO_SENSE_AREA;
  private senseOf: Buffer | null = null;

  constructor(readonly slot: TransportSlot) {
    this.req = { lun: 0, cdb: this.pieceCdb, cdbLength: 0, direction: 'none', segments: this.segments,
      segmentCount: 0, dataTimeoutMs: 0, sense: NO_SENSE_AREA };
  }

  /**
   * The sense bytes of the packet's struct scsi_arq_status (20, or up to 252 with extended ARQ): where auto request
   * sense, or a transport that carries sense, puts them. NO_SENSE_AREA when the status area has no room for them.
   */
  senseArea(pkt: scsi_pkt): Buffer {
    const scb = pkt.pkt_scbp;
    if (pkt.pkt_scblen < SCSI_ARQ_STATUS_SIZE) return NO_SENSE_AREA;
    const length = arqSenseLength(pkt.pkt_scblen, pkt.pkt_scblen > SCSI_ARQ_STATUS_SIZE);
    if (this.senseOf !== scb || this.senseView.length !== length) {
      this.senseView = scb.subarray(ARQ_SENSE_OFFSET, ARQ_SENSE_OFFSET + length);
      this.senseOf = scb;
    }
    return this.senseView;
  }
}

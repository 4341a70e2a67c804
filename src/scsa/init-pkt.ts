/**
 * scsi_init_pkt(9F), scsi_destroy_pkt(9F), scsi_dmafree(9F), scsi_sync_pkt(9F): the framework side of packet
 * allocation. For a setup-style HBA the framework itself takes a packet from the tran's cache, calls
 * tran_setup_pkt and binds the DMA; for an init-style HBA it calls tran_init_pkt. Either way the tran entry point
 * never waits; the waiting asked for by `callback` happens here.
 */
import {
  MAX_SENSE_LENGTH, NULL_FUNC, PKT_CONSISTENT, PKT_DMA_PARTIAL, PKT_XARQ, SCSI_ARQ_STATUS_SIZE, SENSE_LENGTH,
  SLEEP_FUNC, type buf, type ResourceCallback, type ResourceWait,
} from './types.js';
import { pktWrapper, type scsi_address, type scsi_pkt } from './pkt.js';
import { destroyPktCommon, initPktNoWait } from './pkt-alloc.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { ScsaError } from './errors.js';
import { MAX_CMDLEN, MAX_STATUSLEN } from './hba-tran.js';
import type { scsi_hba_tran } from './tran.js';

const KNOWN_FLAGS = PKT_CONSISTENT | PKT_DMA_PARTIAL | PKT_XARQ;

function validate(cmdlen: number, statuslen: number, privatelen: number, flags: number): void {
  const ok = (v: number, max: number): boolean => Number.isInteger(v) && v >= 0 && v <= max;
  if (!ok(cmdlen, MAX_CMDLEN) || !ok(statuslen, MAX_STATUSLEN) || !ok(privatelen, 0x10000)) {
    throw new UsbmsArgumentError(
      `scsi_init_pkt: cmdlen ${cmdlen} (0..${MAX_CMDLEN}), statuslen ${statuslen} (0..${MAX_STATUSLEN}), ` +
      `privatelen ${privatelen} out of range`);
  }
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new UsbmsArgumentError(`scsi_init_pkt: unknown flags 0x${flags.toString(16)}`);
}

function tryInit(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number, statuslen: number,
  privatelen: number, flags: number, arg: unknown): scsi_pkt | null {
  const tran = ap.a_hba_tran;
  if (tran.tran_setup_pkt !== undefined) {
    const setup = tran.tran_setup_pkt;
    const teardown = tran.tran_teardown_pkt ?? ((): void => undefined);
    return initPktNoWait(tran, ap, pkt, bp, cmdlen, statuslen, privatelen, flags,
      (p) => setup(p, NULL_FUNC, arg), teardown);
  }
  if (tran.tran_init_pkt === undefined) throw new UsbmsArgumentError('HBA has neither tran_setup_pkt nor tran_init_pkt');
  return tran.tran_init_pkt(ap, pkt, bp, cmdlen, statuslen, privatelen, flags, NULL_FUNC, arg);
}

/**
 * scsi_init_pkt(9F). pkt = null allocates a packet (cmdlen/statuslen/privatelen bytes of cdb, status, private);
 * bp non-null with b_bcount > 0 binds it for DMA (B_READ: device to memory). On a packet already bound with
 * PKT_DMA_PARTIAL it maps the next DMA window instead (pkt_resid = bytes still unmapped). PKT_XARQ asks for
 * extended sense (the status area is grown to hold 252 bytes). Resource shortage: NULL_FUNC returns null,
 * SLEEP_FUNC returns a Promise that resolves when it succeeds, a function is queued and called (it should retry)
 * when resources are freed. Requests that can never succeed throw ScsaError (and mark bp B_ERROR).
 */
export function scsi_init_pkt(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: typeof SLEEP_FUNC, arg?: unknown): Promise<scsi_pkt>;
export function scsi_init_pkt(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: typeof NULL_FUNC | ResourceCallback,
  arg?: unknown): scsi_pkt | null;
export function scsi_init_pkt(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: ResourceWait,
  arg?: unknown): scsi_pkt | null | Promise<scsi_pkt> {
  validate(cmdlen, statuslen, privatelen, flags);
  if ((flags & PKT_XARQ) !== 0) statuslen = Math.max(statuslen, SCSI_ARQ_STATUS_SIZE + MAX_SENSE_LENGTH - SENSE_LENGTH);
  if (pkt !== null && pktWrapper(pkt).inTransport) {
    throw new ScsaError('PKT_IN_TRANSPORT', 'scsi_init_pkt: packet is in transport');
  }
  if (callback === SLEEP_FUNC) {
    return (async () => {
      for (;;) {
        const got = tryInit(ap, pkt, bp, cmdlen, statuslen, privatelen, flags, arg);
        if (got !== null) return got;
        await ap.a_hba_tran.tran_resources.waitForRelease();
      }
    })();
  }
  const got = tryInit(ap, pkt, bp, cmdlen, statuslen, privatelen, flags, arg);
  if (got === null && callback !== NULL_FUNC) ap.a_hba_tran.tran_resources.enqueueCallback(callback, arg);
  return got;
}

function tranOf(pkt: scsi_pkt): scsi_hba_tran {
  return pkt.pkt_address.a_hba_tran;
}

/** scsi_destroy_pkt(9F): free the DMA resources and the packet (back to the cache, still constructed). */
export function scsi_destroy_pkt(pkt: scsi_pkt): void {
  const w = pktWrapper(pkt);
  if (w.inTransport) throw new ScsaError('PKT_IN_TRANSPORT', 'scsi_destroy_pkt: packet is in transport');
  if (!w.allocated) throw new ScsaError('PKT_FREED', 'scsi_destroy_pkt: packet already destroyed');
  const tran = tranOf(pkt);
  if (tran.tran_destroy_pkt !== undefined) {
    tran.tran_destroy_pkt(pkt.pkt_address, pkt);
    return;
  }
  destroyPktCommon(tran, pkt, tran.tran_teardown_pkt ?? ((): void => undefined));
}

/** scsi_dmafree(9F): release only the DMA binding; the packet can be bound again by scsi_init_pkt. */
export function scsi_dmafree(pkt: scsi_pkt): void {
  const w = pktWrapper(pkt);
  if (w.inTransport) throw new ScsaError('PKT_IN_TRANSPORT', 'scsi_dmafree: packet is in transport');
  tranOf(pkt).tran_dmafree(pkt.pkt_address, pkt);
}

/** scsi_sync_pkt(9F): make the data the device wrote visible (reads) or what the CPU wrote visible (writes). */
export function scsi_sync_pkt(pkt: scsi_pkt): void {
  tranOf(pkt).tran_sync_pkt(pkt.pkt_address, pkt);
}

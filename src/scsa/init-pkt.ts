/**
 * scsi_init_pkt(9F), scsi_destroy_pkt(9F), scsi_sync_pkt(9F): the framework side of packet allocation. For a
 * setup-style HBA the framework itself takes a packet from the tran's cache (constructed with KM_SLEEP or
 * KM_NOSLEEP), calls tran_setup_pkt(pkt, SLEEP_FUNC or NULL_FUNC, null) and binds the DMA; for an init-style HBA
 * it calls tran_init_pkt with the same callback and a null arg. Either way the tran entry point never waits; the
 * waiting asked for by `callback` happens here, and a target driver's retry callback stays here, as in illumos.
 */
import {
  NULL_FUNC, PKT_CONSISTENT, PKT_DMA_PARTIAL, PKT_XARQ, SLEEP_FUNC, type buf, type ResourceCallback,
  type ResourceWait, type TranWait,
} from './types.js';
import { idlePkt, MAX_CMDLEN, MAX_STATUSLEN, pktWrapper, type scsi_address, type scsi_pkt } from './pkt.js';
import { assertBuf, destroyPktCommon, initPktNoWait } from './pkt-alloc.js';
import { UsbmsArgumentError } from '../util/errors.js';
import { ScsaError } from './errors.js';
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

const noTeardown = (): void => undefined;

/** One attempt, never waiting; `who` names the entry point in a refusal (scsi_dmaget calls through here). */
function tryInit(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number, statuslen: number,
  privatelen: number, flags: number, wait: TranWait, who: string): scsi_pkt | null {
  // Checked on every attempt: a SLEEP_FUNC caller's packet may have been destroyed while it waited.
  if (pkt !== null) idlePkt(pkt, who);
  const tran = ap.a_hba_tran;
  const setup = tran.tran_setup_pkt;
  if (setup !== undefined) {
    return initPktNoWait(tran, ap, pkt, bp, cmdlen, statuslen, privatelen, flags, wait,
      { setup: (p) => setup(p, wait, null), teardown: tran.tran_teardown_pkt ?? noTeardown });
  }
  if (tran.tran_init_pkt === undefined) throw new UsbmsArgumentError('HBA has neither tran_setup_pkt nor tran_init_pkt');
  const got = tran.tran_init_pkt(ap, pkt, bp, cmdlen, statuslen, privatelen, flags, wait, null);
  // An init-style HBA manages its own packets; the framework still keeps their life for the refusals above.
  if (got !== null && pkt === null) pktWrapper(got).life = 'allocated';
  return got;
}

/**
 * Nothing in use means no release will ever come: a SLEEP_FUNC caller that the HBA refuses then would wait
 * forever (illumos returns NULL there even under SLEEP_FUNC). Such a caller gets SCSA_NO_RESOURCES instead.
 */
function nothingToWaitFor(tran: scsi_hba_tran): boolean {
  return tran.tran_resources.packets === 0 && tran.tran_resources.dmaBytes === 0;
}

/** Internal scsi_init_pkt with the name of the entry point the target driver called (for its refusals). */
export function initPktAs(who: string, ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: ResourceWait,
  arg?: unknown): scsi_pkt | null | Promise<scsi_pkt> {
  validate(cmdlen, statuslen, privatelen, flags);
  // The obsolete interfaces call it dmatoken, scsi_init_pkt(9F) bp.
  if (bp !== null) assertBuf(bp, who === 'scsi_init_pkt' ? 'bp' : 'dmatoken');
  if (pkt !== null) idlePkt(pkt, who);
  if ((flags & PKT_XARQ) !== 0) statuslen = Math.max(statuslen, MAX_STATUSLEN);
  if (callback === SLEEP_FUNC) {
    return (async () => {
      for (;;) {
        const got = tryInit(ap, pkt, bp, cmdlen, statuslen, privatelen, flags, SLEEP_FUNC, who);
        if (got !== null) return got;
        if (nothingToWaitFor(ap.a_hba_tran)) {
          throw new ScsaError('NO_RESOURCES', `${who}: the HBA refused the packet with nothing in use to wait for`);
        }
        await ap.a_hba_tran.tran_resources.waitForRelease();
      }
    })();
  }
  const got = tryInit(ap, pkt, bp, cmdlen, statuslen, privatelen, flags, NULL_FUNC, who);
  if (got === null && callback !== NULL_FUNC) ap.a_hba_tran.tran_resources.enqueueCallback(callback, arg);
  return got;
}

/**
 * scsi_init_pkt(9F). pkt = null allocates a packet (cmdlen/statuslen/privatelen bytes of cdb, status, private);
 * bp non-null with b_bcount > 0 binds it for DMA (B_READ: device to memory). On a packet already bound with
 * PKT_DMA_PARTIAL it maps the next DMA window instead (pkt_resid = bytes still unmapped). PKT_XARQ asks for
 * extended sense (a status area that holds 252 bytes of sense). Resource shortage: NULL_FUNC returns null,
 * SLEEP_FUNC returns a Promise that resolves when it succeeds, a function is queued and called (it should retry)
 * when resources are freed. Requests that can never succeed throw ScsaError (and mark bp B_ERROR); a packet that
 * was freed or is in transport, or a bp that is not a buf(9S), is refused before anything is changed.
 */
export function scsi_init_pkt(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: typeof SLEEP_FUNC, arg?: unknown): Promise<scsi_pkt>;
export function scsi_init_pkt(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: typeof NULL_FUNC | ResourceCallback,
  arg?: unknown): scsi_pkt | null;
export function scsi_init_pkt(ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: ResourceWait,
  arg?: unknown): scsi_pkt | null | Promise<scsi_pkt> {
  return initPktAs('scsi_init_pkt', ap, pkt, bp, cmdlen, statuslen, privatelen, flags, callback, arg);
}

/** scsi_destroy_pkt(9F): free the DMA resources and the packet (back to the cache, still constructed). */
export function scsi_destroy_pkt(pkt: scsi_pkt): void {
  const w = idlePkt(pkt, 'scsi_destroy_pkt');
  const tran = pkt.pkt_address.a_hba_tran;
  if (tran.tran_destroy_pkt !== undefined) {
    tran.tran_destroy_pkt(pkt.pkt_address, pkt);
    w.life = 'free';
    return;
  }
  destroyPktCommon(tran, pkt, tran.tran_teardown_pkt ?? noTeardown);
}

/** scsi_sync_pkt(9F): make the data the device wrote visible (reads) or what the CPU wrote visible (writes). */
export function scsi_sync_pkt(pkt: scsi_pkt): void {
  idlePkt(pkt, 'scsi_sync_pkt');
  pkt.pkt_address.a_hba_tran.tran_sync_pkt(pkt.pkt_address, pkt);
}

/**
 * Target-driver entry points that go straight to the tran vector: scsi_transport(9F), scsi_poll(9F),
 * scsi_abort(9F), scsi_reset(9F), scsi_ifgetcap(9F), scsi_ifsetcap(9F). scsi_transport hands the packet to the
 * HBA (its life is 'transport' until scsi_hba_pkt_comp), so a packet that is freed or already in transport is
 * refused here, before tran_start sees it.
 */
import { CMD_CMPLT, FLAG_NOINTR, STATUS_BUSY, STATUS_GOOD, TRAN_ACCEPT, TRAN_BUSY } from './types.js';
import {
  enterTransport, idlePkt, pktWrapper, transportRefused, type PktWrapper, type scsi_address, type scsi_pkt,
} from './pkt.js';
import { ScsaError } from './errors.js';
import { sleep } from '../util/sleep.js';

/** scsi_poll(9F) gives a command without pkt_time this long (SCSI_POLL_TIMEOUT). */
export const SCSI_POLL_TIMEOUT = 60;
/** How long scsi_poll waits before trying a busy HBA or target again. */
const POLL_RETRY_MS = 10;

/**
 * scsi_transport(9F): TRAN_ACCEPT, TRAN_BUSY, TRAN_BADPKT or TRAN_FATAL_ERROR; completion via pkt_comp. The packet
 * is the HBA's from just before tran_start (so an HBA may complete it before tran_start returns) until it
 * completes; when tran_start does not accept it, it is the target driver's again.
 */
export function scsi_transport(pkt: scsi_pkt): number {
  const w = idlePkt(pkt, 'scsi_transport');
  enterTransport(w);
  let rc: number;
  try {
    rc = pkt.pkt_address.a_hba_tran.tran_start(pkt.pkt_address, pkt);
  } catch (err) {
    transportRefused(w);
    throw err;
  }
  if (rc !== TRAN_ACCEPT) transportRefused(w);
  return rc;
}

/**
 * scsi_poll(9F): run the packet with FLAG_NOINTR (pkt_comp is not called) and wait for it; TRAN_BUSY and a
 * BUSY status are retried until pkt_time runs out. 0 when it completed with GOOD status, -1 otherwise.
 * pkt_flags and pkt_time are restored when it returns.
 */
export async function scsi_poll(pkt: scsi_pkt): Promise<number> {
  const w = idlePkt(pkt, 'scsi_poll'); // before its flags or its poll wait are touched
  // As illumos' scsi_poll: the packet gets its flags, completion routine and timeout back afterwards, so a
  // target driver can reuse it with scsi_transport.
  const savedFlags = pkt.pkt_flags;
  const savedTime = pkt.pkt_time;
  try {
    return await pollOnce(pkt, w);
  } finally {
    // Not into a packet destroyed while scsi_poll waited to retry (the refusal below): it is not ours any more.
    if (w.allocated) {
      pkt.pkt_flags = savedFlags;
      pkt.pkt_time = savedTime;
    }
  }
}

async function pollOnce(pkt: scsi_pkt, w: PktWrapper): Promise<number> {
  pkt.pkt_flags |= FLAG_NOINTR;
  if (pkt.pkt_time === 0) pkt.pkt_time = SCSI_POLL_TIMEOUT;
  const deadline = Date.now() + pkt.pkt_time * 1000;
  for (;;) {
    idlePkt(pkt, 'scsi_poll'); // again after each wait: the caller may have destroyed it meanwhile
    const done = new Promise<void>((resolve) => { w.pollDone = resolve; });
    const rc = scsi_transport(pkt);
    if (rc === TRAN_ACCEPT) {
      await done;
      if (pkt.pkt_reason === CMD_CMPLT && pkt.pkt_scbp[0] === STATUS_BUSY && Date.now() < deadline) {
        await sleep(POLL_RETRY_MS);
        continue;
      }
      return pkt.pkt_reason === CMD_CMPLT && (pkt.pkt_scbp[0] ?? 0) === STATUS_GOOD ? 0 : -1;
    }
    w.pollDone = null;
    if (rc !== TRAN_BUSY || Date.now() >= deadline) return -1;
    await sleep(POLL_RETRY_MS);
  }
}

/**
 * scsi_abort(9F): 1 on success, 0 on failure; pkt = null aborts every outstanding packet of the address. A packet
 * that is not in transport gives 0; a freed one is refused (SCSA_PKT_FREED) rather than answered as if it had
 * completed: the reference is stale.
 */
export async function scsi_abort(ap: scsi_address, pkt: scsi_pkt | null): Promise<number> {
  if (pkt !== null && !pktWrapper(pkt).allocated) throw new ScsaError('PKT_FREED', 'scsi_abort: the packet was freed');
  return ap.a_hba_tran.tran_abort(ap, pkt);
}

/** scsi_reset(9F): RESET_LUN, RESET_TARGET or RESET_ALL; 1 on success, 0 on failure. */
export function scsi_reset(ap: scsi_address, level: number): Promise<number> {
  return ap.a_hba_tran.tran_reset(ap, level);
}

/** scsi_ifgetcap(9F): the capability's value, or -1 if undefined. */
export function scsi_ifgetcap(ap: scsi_address, cap: string, whom: number): number {
  if (typeof cap !== 'string' || cap.length === 0) return -1;
  return ap.a_hba_tran.tran_getcap(ap, cap, whom);
}

/** scsi_ifsetcap(9F): 1 set, 0 not settable, -1 undefined. */
export function scsi_ifsetcap(ap: scsi_address, cap: string, value: number, whom: number): number {
  if (typeof cap !== 'string' || cap.length === 0) return -1;
  return ap.a_hba_tran.tran_setcap(ap, cap, value, whom);
}

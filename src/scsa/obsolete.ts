/**
 * The obsolete packet interfaces, kept for old target drivers and built on the current ones exactly as their
 * man pages say: scsi_pktalloc(9F) = scsi_init_pkt(ap, NULL, NULL, cmdlen, statuslen, 0, 0, callback, NULL),
 * scsi_resalloc(9F) the same with a buf, scsi_dmaget(9F) = scsi_init_pkt(&pkt->pkt_address, pkt, bp, 0, 0, 0,
 * 0, callback, NULL), scsi_pktfree / scsi_resfree = scsi_destroy_pkt. scsi_dmafree(9F) is the current one.
 * Each warns once per process (DeprecationWarning) that it is obsolete.
 */
import type { buf, ResourceWait } from './types.js';
import type { scsi_address, scsi_pkt } from './pkt.js';
import { scsi_destroy_pkt, scsi_init_pkt } from './init-pkt.js';
export { scsi_dmafree } from './init-pkt.js';

const warned = new Set<string>();

function obsolete(name: string): void {
  if (warned.has(name)) return;
  warned.add(name);
  process.emitWarning(`${name} is obsolete; use scsi_init_pkt/scsi_destroy_pkt`, {
    type: 'DeprecationWarning', code: 'USBMS_SCSA_OBSOLETE',
  });
}

/** Overloads collapse here: SLEEP_FUNC gives a Promise, anything else a packet or null. */
type InitResult = scsi_pkt | null | Promise<scsi_pkt>;
const init = scsi_init_pkt as (ap: scsi_address, pkt: scsi_pkt | null, bp: buf | null, cmdlen: number,
  statuslen: number, privatelen: number, flags: number, callback: ResourceWait, arg?: unknown) => InitResult;

/** scsi_pktalloc(9F), obsolete: scsi_init_pkt without a buffer. */
export function scsi_pktalloc(ap: scsi_address, cmdlen: number, statuslen: number, callback: ResourceWait): InitResult {
  obsolete('scsi_pktalloc');
  return init(ap, null, null, cmdlen, statuslen, 0, 0, callback, null);
}

/** dmatoken null: a packet without DMA resources (scsi_resalloc(9F): "If dmatoken is NULL, no resources ..."). */
export function scsi_resalloc(ap: scsi_address, cmdlen: number, statuslen: number, dmatoken: buf | null,
  callback: ResourceWait): InitResult {
  obsolete('scsi_resalloc');
  return init(ap, null, dmatoken, cmdlen, statuslen, 0, 0, callback, null);
}

/** dmatoken null allocates nothing and hands the packet back as it is. */
export function scsi_dmaget(pkt: scsi_pkt, dmatoken: buf | null, callback: ResourceWait): InitResult {
  obsolete('scsi_dmaget');
  return init(pkt.pkt_address, pkt, dmatoken, 0, 0, 0, 0, callback, null);
}

/** scsi_pktfree(9F), obsolete: scsi_destroy_pkt. */
export function scsi_pktfree(pkt: scsi_pkt): void {
  obsolete('scsi_pktfree');
  scsi_destroy_pkt(pkt);
}

/** scsi_resfree(9F), obsolete: scsi_destroy_pkt of a packet from scsi_resalloc. */
export function scsi_resfree(pkt: scsi_pkt): void {
  obsolete('scsi_resfree');
  scsi_destroy_pkt(pkt);
}

/**
 * The obsolete packet interfaces, kept for old target drivers and built on the current ones exactly as their
 * man pages say: scsi_pktalloc(9F) = scsi_init_pkt(ap, NULL, NULL, cmdlen, statuslen, 0, 0, callback, NULL),
 * scsi_resalloc(9F) the same with a buf, scsi_dmaget(9F) = scsi_init_pkt(&pkt->pkt_address, pkt, bp, 0, 0, 0,
 * 0, callback, NULL), scsi_dmafree(9F) = tran_dmafree (the packet stays allocated), scsi_pktfree / scsi_resfree =
 * scsi_destroy_pkt. Each warns once per process (DeprecationWarning) that it is obsolete and names what replaces
 * it ("Use scsi_init_pkt(9F) instead of scsi_dmaget(). Use scsi_destroy_pkt(9F) instead of scsi_dmafree()").
 */
import type { buf, ResourceWait } from './types.js';
import { idlePkt, type scsi_address, type scsi_pkt } from './pkt.js';
import { initPktAs, scsi_destroy_pkt } from './init-pkt.js';

const warned = new Set<string>();

function obsolete(name: string, replacement: string): void {
  if (warned.has(name)) return;
  warned.add(name);
  process.emitWarning(`${name} is obsolete; use ${replacement}`, {
    type: 'DeprecationWarning', code: 'USBMS_SCSA_OBSOLETE',
  });
}

/** Overloads collapse here: SLEEP_FUNC gives a Promise, anything else a packet or null. */
type InitResult = scsi_pkt | null | Promise<scsi_pkt>;

/** scsi_pktalloc(9F), obsolete: scsi_init_pkt without a buffer. */
export function scsi_pktalloc(ap: scsi_address, cmdlen: number, statuslen: number, callback: ResourceWait): InitResult {
  obsolete('scsi_pktalloc', 'scsi_init_pkt');
  return initPktAs('scsi_pktalloc', ap, null, null, cmdlen, statuslen, 0, 0, callback, null);
}

/** dmatoken null: a packet without DMA resources (scsi_resalloc(9F): "If dmatoken is NULL, no resources ..."). */
export function scsi_resalloc(ap: scsi_address, cmdlen: number, statuslen: number, dmatoken: buf | null,
  callback: ResourceWait): InitResult {
  obsolete('scsi_resalloc', 'scsi_init_pkt');
  return initPktAs('scsi_resalloc', ap, null, dmatoken, cmdlen, statuslen, 0, 0, callback, null);
}

/**
 * scsi_dmaget(9F), obsolete: DMA resources for an allocated packet. dmatoken null allocates nothing and hands
 * the packet back as it is; a freed packet, one in transport, or a dmatoken that is not a buf(9S) is refused.
 */
export function scsi_dmaget(pkt: scsi_pkt, dmatoken: buf | null, callback: ResourceWait): InitResult {
  obsolete('scsi_dmaget', 'scsi_init_pkt');
  idlePkt(pkt, 'scsi_dmaget'); // a freed packet's pkt_address is stale: refuse before using it
  return initPktAs('scsi_dmaget', pkt.pkt_address, pkt, dmatoken, 0, 0, 0, 0, callback, null);
}

/** scsi_dmafree(9F), obsolete: free the packet's DMA resources; "The packet itself remains allocated." */
export function scsi_dmafree(pkt: scsi_pkt): void {
  obsolete('scsi_dmafree', 'scsi_destroy_pkt');
  idlePkt(pkt, 'scsi_dmafree');
  pkt.pkt_address.a_hba_tran.tran_dmafree(pkt.pkt_address, pkt);
}

/** scsi_pktfree(9F), obsolete: scsi_destroy_pkt. */
export function scsi_pktfree(pkt: scsi_pkt): void {
  obsolete('scsi_pktfree', 'scsi_destroy_pkt');
  scsi_destroy_pkt(pkt);
}

/** scsi_resfree(9F), obsolete: scsi_destroy_pkt of a packet from scsi_resalloc. */
export function scsi_resfree(pkt: scsi_pkt): void {
  obsolete('scsi_resfree', 'scsi_destroy_pkt');
  scsi_destroy_pkt(pkt);
}

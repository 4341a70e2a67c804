/**
 * An HBA written to tran_setup_pkt(9E) on the public API alone, the second caller of the man pages beside a
 * target driver. It fills in its entry points and lets scsi_hba_attach_setup(9F) complete the tran; no entry
 * point captures the tran: each finds it in its arguments (tranp, pkt_address.a_hba_tran) and reaches its soft
 * state through tran_hba_private, as a C HBA does. Every entry point records what it was given, so the tests can
 * check `arg`, `tranp` and `kmflags`.
 *
 * Its choices, as the man page allows them: it does not preallocate CDB or status memory beyond the framework's
 * default areas, so tran_setup_pkt allocates larger ones and tran_teardown_pkt frees them (tracked in `live`); its
 * constructor allocates a "DMA handle" per cached packet and the destructor frees it (`handles`); it keeps
 * tran_hba_len bytes of per-packet data at pkt_ha_private. Its target is a tiny disk in memory: TEST UNIT READY,
 * READ(10) (every byte of block n is n & 0xff) and opcode 0xFF, which always fails with MEDIUM ERROR sense.
 */
import {
  CMD_CMPLT, STATE_ARQ_DONE, STATE_GOT_BUS, STATE_GOT_STATUS, STATE_GOT_TARGET, STATE_SENT_CMD, STATE_XFERRED_DATA,
  STATUS_CHECK, STATUS_GOOD, TRAN_ACCEPT, defaultDmaAttr, scsi_hba_attach_setup, scsi_hba_pkt_comp, scsi_transport,
  type ResourceLimits, type scsi_address, type scsi_hba_tran, type scsi_hba_tran_setup, type scsi_pkt,
} from '../../src/scsa/index.js';

/** sizeof (struct scsi_arq_status) */
export const ARQ_STATUS_SIZE = 32;
/** Bytes of HBA data per packet the framework preallocates at pkt_ha_private. */
export const HBA_LEN = 16;
export const BLOCK = 512;

export interface SetupCall { pkt: scsi_pkt; callback: unknown; arg: unknown; seen: Record<string, unknown> }
export interface CtorCall { pkt: scsi_pkt; tranp: scsi_hba_tran; kmflags: number; seen: Record<string, unknown> }
export interface StartCall { pkt: scsi_pkt; numcookies: number; cookies: Buffer[]; scblen: number; cdb: Buffer }

/** The HBA's soft state (tran_hba_private). */
export class ManPageHba {
  readonly setups: SetupCall[] = [];
  readonly teardowns: scsi_pkt[] = [];
  readonly ctors: CtorCall[] = [];
  readonly dtors: { pkt: scsi_pkt; tranp: scsi_hba_tran }[] = [];
  readonly starts: StartCall[] = [];
  /** CDB and status memory tran_setup_pkt allocated and tran_teardown_pkt has not freed yet. */
  readonly live = new Set<Buffer>();
  /** What each packet pointed at before tran_setup_pkt grew an area (restored by teardown). */
  private readonly before = new Map<scsi_pkt, { cdb: Buffer; scb: Buffer }>();
  /** "DMA handles" the constructor allocated and the destructor has not freed. */
  handles = 0;
  /** The next this many tran_setup_pkt / constructor calls fail (-1), as when memory is short. */
  failSetups = 0;
  failCtors = 0;
  autoRqsense = true;
  /** Misbehave: call pkt_comp directly instead of scsi_hba_pkt_comp (the man page forbids it). */
  directPktComp = false;
  /** Complete each packet inside tran_start, before it returns TRAN_ACCEPT (an HBA may). */
  completeInStart = false;

  setup(pkt: scsi_pkt, callback: unknown, arg: unknown): number {
    this.setups.push({ pkt, callback, arg, seen: fieldsOf(pkt) });
    if (this.failSetups > 0) {
      this.failSetups--;
      return -1;
    }
    const before = { cdb: pkt.pkt_cdbp, scb: pkt.pkt_scbp };
    // "If the HBA driver chose not to preallocate memory for pkt_cdbp and/or pkt_scbp, it must allocate the
    // requested memory at this time and point pkt_cdbp and pkt_scbp to the allocated memory."
    if (pkt.pkt_cdblen > pkt.pkt_cdbp.length) pkt.pkt_cdbp = this.allocate(pkt.pkt_cdblen);
    if (pkt.pkt_scblen > pkt.pkt_scbp.length) pkt.pkt_scbp = this.allocate(pkt.pkt_scblen);
    if (pkt.pkt_cdbp !== before.cdb || pkt.pkt_scbp !== before.scb) this.before.set(pkt, before);
    return 0;
  }

  teardown(pkt: scsi_pkt): void {
    this.teardowns.push(pkt);
    const before = this.before.get(pkt);
    if (before === undefined) return;
    this.live.delete(pkt.pkt_cdbp);
    this.live.delete(pkt.pkt_scbp);
    pkt.pkt_cdbp = before.cdb;
    pkt.pkt_scbp = before.scb;
    this.before.delete(pkt);
  }

  construct(pkt: scsi_pkt, tranp: scsi_hba_tran, kmflags: number): number {
    this.ctors.push({ pkt, tranp, kmflags, seen: fieldsOf(pkt) });
    if (this.failCtors > 0) {
      this.failCtors--;
      return -1;
    }
    this.handles++;
    (pkt.pkt_ha_private as Buffer).writeUInt32LE(this.handles, 0); // this packet's handle number
    return 0;
  }

  destruct(pkt: scsi_pkt, tranp: scsi_hba_tran): void {
    this.dtors.push({ pkt, tranp });
    this.handles--;
  }

  start(pkt: scsi_pkt): number {
    const cookies = pkt.pkt_cookies.slice(0, pkt.pkt_numcookies).map((c) => c.buffer);
    this.starts.push({ pkt, numcookies: pkt.pkt_numcookies, cookies, scblen: pkt.pkt_scblen,
      cdb: Buffer.from(pkt.pkt_cdbp.subarray(0, pkt.pkt_cdblen)) });
    if (this.completeInStart) this.complete(pkt, cookies);
    else setImmediate(() => this.complete(pkt, cookies));
    return TRAN_ACCEPT;
  }

  private complete(pkt: scsi_pkt, cookies: Buffer[]): void {
    const sent = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD | STATE_GOT_STATUS;
    pkt.pkt_reason = CMD_CMPLT;
    pkt.pkt_state = sent;
    pkt.pkt_resid = 0;
    const op = pkt.pkt_cdbp[0];
    if (op === 0x28) {
      const lba = pkt.pkt_cdbp.readUInt32BE(2);
      let at = 0;
      for (const c of cookies) for (let i = 0; i < c.length; i++, at++) c[i] = (lba + Math.floor(at / BLOCK)) & 0xff;
      pkt.pkt_state |= STATE_XFERRED_DATA;
    }
    if (op === 0xff) this.checkCondition(pkt);
    else pkt.pkt_scbp[0] = STATUS_GOOD;
    if (this.directPktComp) pkt.pkt_comp?.(pkt);
    else scsi_hba_pkt_comp(pkt);
  }

  /** CHECK CONDITION, with a struct scsi_arq_status when the packet has room for one and auto-rqsense is on. */
  private checkCondition(pkt: scsi_pkt): void {
    pkt.pkt_scbp[0] = STATUS_CHECK;
    if (pkt.pkt_scblen < ARQ_STATUS_SIZE || !this.autoRqsense) return;
    pkt.pkt_scbp[1] = STATUS_GOOD;
    pkt.pkt_scbp[2] = CMD_CMPLT;
    pkt.pkt_scbp[3] = 0;
    pkt.pkt_scbp.writeUInt32LE(STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD | STATE_XFERRED_DATA | STATE_GOT_STATUS, 4);
    pkt.pkt_scbp.writeUInt32LE(0, 8);
    Buffer.from([0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0]).copy(pkt.pkt_scbp, 12); // MEDIUM ERROR 11/00
    pkt.pkt_state |= STATE_ARQ_DONE;
  }

  private allocate(length: number): Buffer {
    const b = Buffer.alloc(length);
    this.live.add(b);
    return b;
  }
}

/** What an entry point saw of a packet when it was called. */
function fieldsOf(pkt: scsi_pkt): Record<string, unknown> {
  return {
    pkt_address: { ...pkt.pkt_address }, pkt_ha_private: pkt.pkt_ha_private,
    // Its bytes as they were at the call (the constructor writes into them afterwards).
    ha_private_bytes: Buffer.isBuffer(pkt.pkt_ha_private) ? Buffer.from(pkt.pkt_ha_private) : null,
    pkt_cdbp: pkt.pkt_cdbp, pkt_private: pkt.pkt_private, pkt_scbp: pkt.pkt_scbp,
    pkt_cdblen: pkt.pkt_cdblen, pkt_tgtlen: pkt.pkt_tgtlen, pkt_scblen: pkt.pkt_scblen,
    pkt_comp: pkt.pkt_comp, pkt_flags: pkt.pkt_flags, pkt_time: pkt.pkt_time, pkt_resid: pkt.pkt_resid,
    pkt_state: pkt.pkt_state, pkt_statistics: pkt.pkt_statistics, pkt_reason: pkt.pkt_reason,
    pkt_numcookies: pkt.pkt_numcookies, pkt_dma_len: pkt.pkt_dma_len, pkt_dma_offset: pkt.pkt_dma_offset,
    pkt_dma_flags: pkt.pkt_dma_flags,
  };
}

const soft = (tran: scsi_hba_tran): ManPageHba => tran.tran_hba_private as ManPageHba;

/** Attach the man-page HBA. `withConstructor: false` leaves out the optional constructor and destructor. */
export function attachManPageHba(opts: { withConstructor?: boolean; limits?: Partial<ResourceLimits> } = {}):
  { tran: scsi_hba_tran; hba: ManPageHba; ap: scsi_address } {
  const state = new ManPageHba();
  const vector: scsi_hba_tran_setup = {
    tran_hba_private: state,
    tran_hba_len: HBA_LEN,
    tran_interconnect_type: 0,
    tran_setup_pkt: (pkt, callback, arg) => soft(pkt.pkt_address.a_hba_tran).setup(pkt, callback, arg),
    tran_teardown_pkt: (pkt) => soft(pkt.pkt_address.a_hba_tran).teardown(pkt),
    tran_start: (ap, pkt) => soft(ap.a_hba_tran).start(pkt),
    tran_abort: () => Promise.resolve(0),
    tran_reset: () => Promise.resolve(1),
    tran_getcap: (ap, cap) => (cap === 'auto-rqsense' ? (soft(ap.a_hba_tran).autoRqsense ? 1 : 0) : -1),
    tran_setcap: (ap, cap, value) => {
      if (cap !== 'auto-rqsense') return -1;
      soft(ap.a_hba_tran).autoRqsense = value !== 0;
      return 1;
    },
  };
  if (opts.withConstructor !== false) {
    vector.tran_pkt_constructor = (pkt, tranp, kmflags) => soft(tranp).construct(pkt, tranp, kmflags);
    vector.tran_pkt_destructor = (pkt, tranp) => soft(tranp).destruct(pkt, tranp);
  }
  // Several cookies per window (1 KiB each) so that tran_start has cookies to walk.
  const dmaAttr = { ...defaultDmaAttr(BLOCK, 64 * 1024), dma_attr_count_max: 1023 };
  const tran = scsi_hba_attach_setup(dmaAttr, vector,
    { maxPackets: opts.limits?.maxPackets ?? 4, maxDmaBytes: opts.limits?.maxDmaBytes ?? 64 * 1024 });
  return { tran, hba: state, ap: { a_hba_tran: tran, a_target: 0, a_lun: 0 } };
}

/** What a target driver does to run a packet and hear of its completion (pkt_comp). */
export function transportAndWait(pkt: scsi_pkt): Promise<scsi_pkt> {
  return new Promise((resolve, reject) => {
    pkt.pkt_comp = (p) => resolve(p);
    const rc = scsi_transport(pkt);
    if (rc !== TRAN_ACCEPT) reject(new Error(`scsi_transport returned ${rc}`));
  });
}

/**
 * The SCSA entry points end to end on the device, as a target driver uses them (scsi_init_pkt(9F) ...
 * scsi_transport(9F) ... pkt_comp), in both HBA styles (tran_setup_pkt and tran_init_pkt): plain reads, auto
 * request sense (struct scsi_arq_status), PKT_DMA_PARTIAL windows, and several DMA cookies per window (each one
 * bulk transfer, all in flight together). Read-only: LUN 0.
 */
import { afterAll, describe, it, expect } from 'vitest';
import { openTransport } from '../src/open-transport.js';
import {
  B_READ, CMD_CMPLT, PKT_DMA_PARTIAL, RESET_TARGET, SLEEP_FUNC, STATE_ARQ_DONE, STATE_GOT_BUS, STATE_GOT_STATUS,
  STATE_GOT_TARGET, STATE_SENT_CMD, STATE_XFERRED_DATA, STATUS_CHECK, STATUS_GOOD, TRAN_ACCEPT, UsbmsHba,
  decodeArqStatus, scsi_abort, scsi_alloc_consistent_buf, scsi_destroy_pkt, scsi_free_consistent_buf,
  scsi_ifgetcap, scsi_ifsetcap, scsi_init_pkt, scsi_poll, scsi_reset, scsi_transport, type buf, type scsi_address,
  type scsi_pkt,
} from '../src/scsa/index.js';
import { openLibusbPort } from '../src/usb/libusb/index.js';
import { sessionSkipReason, hw, titled } from './support/env.js';
import { openUnderTest } from './support/device.js';

const ARQ_STATUS_LEN = 32;
const WINDOW_BLOCKS = 16;
const COOKIE_BLOCKS = 4;
const TOTAL_BLOCKS = 40; // three windows: 16 + 16 + 8, of 4 + 4 + 2 cookies

// What the disk driver sees first: block size, size, and the reference bytes.
let geometry: { blockSize: number; blocks: bigint; head: Buffer } | undefined;
if (sessionSkipReason === undefined) {
  const s = await openUnderTest();
  try {
    const d = await s.openDisk(0);
    geometry = { blockSize: d.blockSize, blocks: d.blocks, head: await d.read(0n, TOTAL_BLOCKS) };
  } finally {
    await s.close();
  }
}

const read10 = (pkt: scsi_pkt, lba: number, blocks: number): void => {
  pkt.pkt_cdbp.fill(0, 0, 10);
  pkt.pkt_cdbp[0] = 0x28;
  pkt.pkt_cdbp.writeUInt32BE(lba, 2);
  pkt.pkt_cdbp.writeUInt16BE(blocks, 7);
};
/** scsi_transport and wait for pkt_comp (interrupt-style completion). */
function transportAndWait(pkt: scsi_pkt): Promise<void> {
  return new Promise((resolve, reject) => {
    pkt.pkt_comp = () => { resolve(); };
    const rc = scsi_transport(pkt);
    if (rc !== TRAN_ACCEPT) reject(new Error(`scsi_transport returned ${rc}, not TRAN_ACCEPT`));
  });
}
const STATE_DONE = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD | STATE_GOT_STATUS;

describe.skipIf(sessionSkipReason !== undefined).each(['setup', 'init'] as const)(
  titled('SCSA entry points, %s style (LUN 0)', sessionSkipReason), (style) => {
    let hba: UsbmsHba | undefined;
    let transport: Awaited<ReturnType<typeof openTransport>>['transport'] | undefined;
    let ap: scsi_address;
    let bs = 512;
    afterAll(async () => {
      await hba?.detach();
      await transport?.close();
    });

    it('attaches an HBA to a fresh engine on the device, with a small DMA window and 4-block cookies', async () => {
      bs = geometry!.blockSize;
      const port = await openLibusbPort(hw.device!, { detachKernelDriver: true });
      transport = (await openTransport(port)).transport;
      hba = UsbmsHba.attach(transport, {
        style,
        dmaAttr: { dma_attr_maxxfer: WINDOW_BLOCKS * bs, dma_attr_count_max: COOKIE_BLOCKS * bs - 1,
          dma_attr_sgllen: WINDOW_BLOCKS / COOKIE_BLOCKS, dma_attr_granular: bs },
      });
      ap = hba.address(0);
      expect(scsi_ifgetcap(ap, 'interconnect-type', 1)).toBe(6); // INTERCONNECT_USB
      expect(scsi_ifsetcap(ap, 'auto-rqsense', 1, 1)).toBe(1);
      expect(scsi_ifgetcap(ap, 'auto-rqsense', 1)).toBe(1);
    });

    it('TEST UNIT READY through scsi_poll', async () => {
      const pkt = await scsi_init_pkt(ap, null, null, 6, ARQ_STATUS_LEN, 0, 0, SLEEP_FUNC);
      try {
        pkt.pkt_cdbp.fill(0, 0, 6);
        pkt.pkt_time = 10;
        // a unit attention may still be pending from the Reset Recovery of another test: poll twice at most
        const rc = (await scsi_poll(pkt)) === 0 ? 0 : await scsi_poll(pkt);
        expect(rc).toBe(0);
        expect(pkt.pkt_reason).toBe(CMD_CMPLT);
      } finally {
        scsi_destroy_pkt(pkt);
      }
    });

    it('READ(10) into consistent memory: CMD_CMPLT, every state bit, no residue, the right bytes', async () => {
      const bp = await scsi_alloc_consistent_buf(ap, null, 8 * bs, B_READ, SLEEP_FUNC);
      const pkt = await scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_LEN, 0, 0, SLEEP_FUNC);
      try {
        read10(pkt, 0, 8);
        pkt.pkt_time = 10;
        await transportAndWait(pkt);
        expect(pkt.pkt_reason).toBe(CMD_CMPLT);
        expect(pkt.pkt_scbp[0]).toBe(STATUS_GOOD);
        expect(pkt.pkt_state & (STATE_DONE | STATE_XFERRED_DATA)).toBe(STATE_DONE | STATE_XFERRED_DATA);
        expect(pkt.pkt_resid).toBe(0);
        expect(bp.b_un.b_addr.subarray(0, 8 * bs).equals(geometry!.head.subarray(0, 8 * bs))).toBe(true);
      } finally {
        scsi_destroy_pkt(pkt);
        scsi_free_consistent_buf(bp);
      }
    });

    it('auto request sense: a read past the end completes with CHECK CONDITION and sense 5/21 in scsi_arq_status', async () => {
      const bp = await scsi_alloc_consistent_buf(ap, null, bs, B_READ, SLEEP_FUNC);
      const pkt = await scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_LEN, 0, 0, SLEEP_FUNC);
      try {
        read10(pkt, Number(geometry!.blocks), 1);
        pkt.pkt_time = 10;
        await transportAndWait(pkt);
        expect(pkt.pkt_reason).toBe(CMD_CMPLT);
        expect(pkt.pkt_scbp[0]! & 0x3e).toBe(STATUS_CHECK);
        expect(pkt.pkt_state & STATE_ARQ_DONE).toBe(STATE_ARQ_DONE);
        const arq = decodeArqStatus(pkt.pkt_scbp);
        expect(arq.sts_rqpkt_reason).toBe(CMD_CMPLT);
        expect(arq.sts_rqpkt_status).toBe(STATUS_GOOD);
        const sense = arq.sts_sensedata;
        expect(sense[0]! & 0x7f).toBeOneOf([0x70, 0x71]);
        expect([sense[2]! & 0x0f, sense[12], sense[13]]).toEqual([5, 0x21, 0]);
      } finally {
        scsi_destroy_pkt(pkt);
        scsi_free_consistent_buf(bp);
      }
    });

    it('PKT_DMA_PARTIAL: 40 blocks in windows of 16, each window in 4-block cookies (concurrent transfers)', async () => {
      const total = TOTAL_BLOCKS * bs;
      const bp: buf = { b_flags: B_READ, b_bcount: total, b_un: { b_addr: Buffer.alloc(total) }, b_resid: 0, b_error: 0 };
      let pkt = await scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_LEN, 0, PKT_DMA_PARTIAL, SLEEP_FUNC);
      const windows: number[] = [];
      try {
        for (;;) {
          expect(pkt.pkt_dma_len % bs).toBe(0);
          expect(pkt.pkt_dma_len).toBeLessThanOrEqual(WINDOW_BLOCKS * bs);
          expect(pkt.pkt_resid).toBe(total - pkt.pkt_dma_offset - pkt.pkt_dma_len);
          expect(pkt.pkt_numcookies).toBe(Math.ceil(pkt.pkt_dma_len / (COOKIE_BLOCKS * bs)));
          let sum = 0;
          for (const c of pkt.pkt_cookies.slice(0, pkt.pkt_numcookies)) {
            expect(c.dmac_size).toBeLessThanOrEqual(COOKIE_BLOCKS * bs);
            expect(c.buffer.length).toBe(c.dmac_size);
            sum += c.dmac_size;
          }
          expect(sum).toBe(pkt.pkt_dma_len);
          windows.push(pkt.pkt_dma_len / bs);
          read10(pkt, pkt.pkt_dma_offset / bs, pkt.pkt_dma_len / bs);
          pkt.pkt_time = 10;
          await transportAndWait(pkt);
          expect(pkt.pkt_reason).toBe(CMD_CMPLT);
          expect(pkt.pkt_scbp[0]).toBe(STATUS_GOOD);
          if (pkt.pkt_dma_offset + pkt.pkt_dma_len >= total) break;
          pkt = await scsi_init_pkt(ap, pkt, bp, 10, ARQ_STATUS_LEN, 0, PKT_DMA_PARTIAL, SLEEP_FUNC); // next window
        }
        expect(windows).toEqual([16, 16, 8]);
        expect(bp.b_un.b_addr.equals(geometry!.head)).toBe(true);
      } finally {
        scsi_destroy_pkt(pkt);
      }
    });

    it('scsi_abort with nothing outstanding and scsi_reset(RESET_TARGET) succeed, and the unit still reads', async () => {
      expect(await scsi_abort(ap, null)).toBe(1);
      expect(await scsi_reset(ap, RESET_TARGET)).toBe(1);
      const bp = await scsi_alloc_consistent_buf(ap, null, bs, B_READ, SLEEP_FUNC);
      const pkt = await scsi_init_pkt(ap, null, bp, 10, ARQ_STATUS_LEN, 0, 0, SLEEP_FUNC);
      try {
        read10(pkt, 0, 1);
        pkt.pkt_time = 10;
        let rc = await scsi_poll(pkt);
        if (rc !== 0) rc = await scsi_poll(pkt); // the reset leaves a unit attention (power on/reset) to report once
        expect(rc).toBe(0);
        expect(bp.b_un.b_addr.subarray(0, bs).equals(geometry!.head.subarray(0, bs))).toBe(true);
      } finally {
        scsi_destroy_pkt(pkt);
        scsi_free_consistent_buf(bp);
      }
    });
  });

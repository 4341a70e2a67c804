import { describe, it, expect } from 'vitest';
import {
  DmaHandle, defaultDmaAttr, DDI_DMA_READ, DDI_DMA_WRITE, DDI_DMA_PARTIAL, DDI_DMA_SYNC_FORCPU, DDI_DMA_SYNC_FORDEV,
  decodeArqStatus, DDI_DMA_MAPPED, DDI_DMA_PARTIAL_MAP, DDI_DMA_TOOBIG, DDI_DMA_NOMAPPING, PktCache, KM_NOSLEEP,
} from '../../src/scsa/index.js';
import { encodeArqHead, arqSenseLength } from '../../src/scsa/arq.js';
import { pieceBytes, writeRwPiece, rwLba, rwBlocks, splittableSpec } from '../../src/scsa/split.js';
import { commands, ScsiParamError } from '../../src/scsi/index.js';
import { PktQueue } from '../../src/scsa/queue.js';
import { cdb16, cdb10 } from './helpers.js';

const attr = (o: Partial<ReturnType<typeof defaultDmaAttr>>) => ({ ...defaultDmaAttr(512, 65536), ...o });
const cookies = (h: DmaHandle) => h.cookies.slice(0, h.ncookies).map((c) => [c.dmac_laddress, c.dmac_size]);

describe('DMA binding obeys the attributes', () => {
  it('count_max limits each cookie; cookies are views of the caller memory', () => {
    const mem = Buffer.alloc(10000);
    const h = new DmaHandle(attr({ dma_attr_count_max: 4095 }));
    expect(h.bind(mem, 10000, DDI_DMA_READ)).toBe(DDI_DMA_MAPPED);
    expect(cookies(h)).toEqual([[0, 4096], [4096, 4096], [8192, 1808]]);
    h.cookies[1]!.buffer[0] = 7;
    expect(mem[4096]).toBe(7); // zero-copy
  });
  it('no cookie crosses a seg boundary and non-final cookies are granular multiples', () => {
    const h = new DmaHandle(attr({ dma_attr_seg: 0xfff, dma_attr_granular: 512 }));
    const mem = Buffer.alloc(9000);
    expect(h.bind(mem, 9000, DDI_DMA_WRITE)).toBe(DDI_DMA_MAPPED);
    for (const [off, size] of cookies(h)) {
      expect(Math.floor(off! / 4096)).toBe(Math.floor((off! + size! - 1) / 4096));
      if (off! + size! < 9000) expect(size! % 512).toBe(0);
    }
    expect(cookies(h).reduce((n, [, s]) => n + s!, 0)).toBe(9000);
  });
  it('sgllen/maxxfer: TOOBIG without DDI_DMA_PARTIAL, windows with it', () => {
    const a = attr({ dma_attr_count_max: 1023, dma_attr_sgllen: 4 });
    const h = new DmaHandle(a);
    expect(h.bind(Buffer.alloc(10000), 10000, DDI_DMA_READ)).toBe(DDI_DMA_TOOBIG);
    expect(h.bind(Buffer.alloc(10000), 10000, DDI_DMA_READ | DDI_DMA_PARTIAL)).toBe(DDI_DMA_PARTIAL_MAP);
    const wins: number[][] = [];
    do wins.push([h.winOffset, h.winLength, h.ncookies]); while (h.nextWindow());
    expect(wins).toEqual([[0, 4096, 4], [4096, 4096, 4], [8192, 1808, 2]]);
    expect(h.unmapped).toBe(0);
  });
  it('NOMAPPING when the attributes cannot express a piece', () => {
    const h = new DmaHandle(attr({ dma_attr_count_max: 255, dma_attr_granular: 512 }));
    expect(h.bind(Buffer.alloc(2048), 2048, DDI_DMA_READ)).toBe(DDI_DMA_NOMAPPING);
    expect(new DmaHandle(attr({ dma_attr_addr_hi: 1023 })).bind(Buffer.alloc(2048), 2048, 0)).toBe(DDI_DMA_NOMAPPING);
  });
  it('a misaligned buffer is bounced and ddi_dma_sync copies in the data direction only', () => {
    const backing = Buffer.alloc(4100);
    const mem = backing.subarray(3, 3 + 4096);
    const h = new DmaHandle(attr({ dma_attr_align: 8 }));
    expect(h.bind(mem, 4096, DDI_DMA_READ)).toBe(DDI_DMA_MAPPED);
    expect(h.bouncing).toBe(true);
    h.cookies[0]!.buffer.fill(0x42);
    expect(mem[0]).toBe(0);
    h.sync(DDI_DMA_SYNC_FORDEV); // read: nothing to push to the device
    h.sync(DDI_DMA_SYNC_FORCPU);
    expect(mem.every((b) => b === 0x42)).toBe(true);
  });
});

describe('struct scsi_arq_status layout', () => {
  it('fields sit at offsets 0,1,2,3,4,8,12', () => {
    const scb = Buffer.alloc(32);
    scb.fill(0xee, 12);
    encodeArqHead(scb, 0x02, 0x00, 3, 5, 0x1f, 0x40);
    expect([...scb.subarray(0, 12)]).toEqual([2, 0, 3, 5, 0x1f, 0, 0, 0, 0x40, 0, 0, 0]);
    const d = decodeArqStatus(scb);
    expect(d).toMatchObject({ sts_status: 2, sts_rqpkt_status: 0, sts_rqpkt_reason: 3, sts_rqpkt_resid: 5,
      sts_rqpkt_state: 0x1f, sts_rqpkt_statistics: 0x40 });
    expect(d.sts_sensedata.length).toBe(20);
    expect(d.sts_sensedata.buffer).toBe(scb.buffer);
  });
  it('sense length: 20 plain, up to 252 extended', () => {
    expect(arqSenseLength(32, false)).toBe(20);
    expect(arqSenseLength(264, true)).toBe(252);
    expect(arqSenseLength(64, true)).toBe(52);
  });
});

describe('READ/WRITE splitting arithmetic', () => {
  it('pieces are whole blocks and whole packets', () => {
    expect(pieceBytes(512, 512, 65536)).toBe(65536);
    expect(pieceBytes(512, 1024, 65000)).toBe(64512);
    expect(pieceBytes(2048, 512, 1000)).toBe(0);
  });
  it('READ(16) LBA beyond 2^53 is exact; READ(10) keeps its other bytes', () => {
    const src = cdb16(0x88, (1n << 60n) + 7n, 100);
    src[1] = 0x08; // FUA
    src[14] = 0x05; // GROUP NUMBER
    const spec16 = splittableSpec(src, 16)!;
    expect(spec16.name).toBe('READ(16)');
    const dst = Buffer.alloc(16);
    writeRwPiece(spec16, src, 16, dst, (1n << 60n) + 107n, 28);
    expect(rwLba(spec16, dst)).toBe((1n << 60n) + 107n);
    expect(rwBlocks(spec16, dst)).toBe(28);
    // The piece is what the declaration would build for it, every other field kept.
    expect(spec16.decodeCdb(dst)).toMatchObject({ lba: (1n << 60n) + 107n, blocks: 28, fua: true, groupNumber: 5 });
    const s10 = cdb10(0x28, 0xfffffff0, 8);
    const spec10 = splittableSpec(s10, 10)!;
    writeRwPiece(spec10, s10, 10, dst, 0xfffffff4n, 4);
    expect(rwLba(spec10, dst)).toBe(0xfffffff4n);
    expect(dst.subarray(0, 10)).toEqual(commands.read10.encodeCdb({ lba: 0xfffffff4n, blocks: 4 }));
  });
  it('a piece the CDB cannot carry is refused by the declaration (READ(10) past 2^32)', () => {
    const s10 = cdb10(0x2a, 0xfffffff0, 8);
    const spec10 = splittableSpec(s10, 10)!;
    expect(() => { writeRwPiece(spec10, s10, 10, Buffer.alloc(16), 0x1_0000_0000n, 4); }).toThrow(ScsiParamError);
  });
  it('only READ/WRITE (10), (12) and (16) split, and only with their whole CDB', () => {
    expect(splittableSpec(cdb10(0x2a, 0, 1), 10)?.name).toBe('WRITE(10)');
    expect(splittableSpec(Buffer.from([0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0]), 12)?.name).toBe('READ(12)');
    expect(splittableSpec(cdb10(0x28, 0, 1), 6)).toBeUndefined();
    expect(splittableSpec(Buffer.from([0x08, 0, 0, 0, 1, 0]), 6)).toBeUndefined(); // READ(6)
    expect(splittableSpec(Buffer.from([0x12, 0, 0, 0, 36, 0]), 6)).toBeUndefined();
  });
});

describe('PktCache and PktQueue', () => {
  it('constructs once per object, destructs on shrink only', () => {
    let made = 0;
    const c = new PktCache('t', { create: () => ({ id: made++ }), construct: () => 0, destruct: () => undefined });
    const a = c.alloc(KM_NOSLEEP)!;
    c.release(a);
    expect(c.alloc(KM_NOSLEEP)).toBe(a);
    c.release(a);
    expect(c.stats).toMatchObject({ constructed: 1, destructed: 0, free: 1 });
    expect(c.shrink()).toBe(1);
    expect(c.stats.destructed).toBe(1);
  });
  it('a failing constructor yields null', () => {
    const c = new PktCache('t', { create: () => ({}), construct: () => -1, destruct: () => undefined });
    expect(c.alloc(KM_NOSLEEP)).toBeNull();
  });
  it('ring queue: FIFO, push front, remove', () => {
    const q = new PktQueue<number>(3);
    q.pushBack(1); q.pushBack(2); q.pushFront(0);
    expect(q.full).toBe(true);
    expect(q.remove(1)).toBe(true);
    const out: number[] = [];
    q.drain((x) => out.push(x));
    expect(out).toEqual([0, 2]);
  });
});

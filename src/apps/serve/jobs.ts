/**
 * The requests an export serves with commands of their own rather than in a run: TRIM (UNMAP, or WRITE SAME with
 * UNMAP), WRITE_ZEROES (the partial blocks at its ends read-modify-written, the rest by WRITE SAME or zeros) and a
 * WRITE whose ends are not on block boundaries (read-modify-write). The export locks their blocks while they run.
 */
import type { Provisioning } from '../../api.js';
import type { DeviceLink } from './device.js';
import type { BufferPool } from './pool.js';
import { CMD_FLAG } from './protocol.js';
import type { NbdRequest } from './request.js';
import type { Span } from './run.js';

export class WriteJobs {
  private zeros: Buffer | undefined;

  constructor(private readonly link: DeviceLink, private readonly lun: number, private readonly blockSize: number,
    private readonly transferBytes: number, private readonly provisioning: Provisioning,
    private readonly fuaNative: boolean, private readonly pool: BufferPool) {}

  /** TRIM the whole blocks inside the range (a hint: partial blocks at its ends are left as they are). */
  async trim(req: NbdRequest): Promise<void> {
    const { start, end } = this.innerSpanOf(req);
    if (end <= start) return;
    const lba = BigInt(start / this.blockSize);
    const n = BigInt((end - start) / this.blockSize);
    if (this.provisioning.unmap) await this.link.run(this.lun, (d) => d.unmap(lba, n));
    else await this.link.run(this.lun, (d) => d.writeSame(lba, n, { unmap: true }));
  }

  /**
   * WRITE_ZEROES: the partial blocks at the ends by read-modify-write, the whole blocks by WRITE SAME(16) with
   * UNMAP where the device deallocates to zeros and the client did not say NO_HOLE, else by writing zeros.
   */
  async zero(req: NbdRequest): Promise<void> {
    const bs = this.blockSize;
    const inner = this.innerSpanOf(req);
    if (inner.end <= inner.start) { await this.rmw(req, undefined); return; }
    if (req.offset < inner.start) await this.rmwRange(req.offset, inner.start, undefined, false);
    if (req.end > inner.end) await this.rmwRange(inner.end, req.end, undefined, false);
    const lba = BigInt(inner.start / bs);
    const p = this.provisioning;
    if ((req.flags & CMD_FLAG.NO_HOLE) === 0 && p.writeSameUnmap && p.unmappedReadsZero) {
      await this.link.run(this.lun, (d) => d.writeSame(lba, BigInt((inner.end - inner.start) / bs), { unmap: true }));
      return;
    }
    this.zeros ??= Buffer.alloc(this.transferBytes);
    for (let at = inner.start; at < inner.end;) {
      const n = Math.min(this.transferBytes, inner.end - at);
      const from = BigInt(at / bs);
      await this.link.run(this.lun, (d) => d.write(from, this.zeros!.subarray(0, n)));
      at += n;
    }
  }

  /** Read-modify-write of a request whose ends are not on block boundaries (payload, or zeros without one). */
  rmw(req: NbdRequest, payload: Buffer | undefined): Promise<void> {
    return this.rmwRange(req.offset, req.end, payload, (req.flags & CMD_FLAG.FUA) !== 0 && this.fuaNative);
  }

  private async rmwRange(from: number, to: number, payload: Buffer | undefined, fua: boolean): Promise<void> {
    const bs = this.blockSize;
    const start = from - (from % bs);
    const end = Math.ceil(to / bs) * bs;
    const buf = this.pool.acquire(end - start);
    try {
      const mem = buf.subarray(0, end - start);
      // Only the blocks the payload covers in part are read: the first, the last (one read when they are one).
      const single = end - start === bs;
      if (from % bs !== 0 || (single && to % bs !== 0)) {
        await this.link.run(this.lun, (d) => d.read(BigInt(start / bs), 1, mem.subarray(0, bs)));
      }
      if (!single && to % bs !== 0) {
        await this.link.run(this.lun, (d) => d.read(BigInt((end - bs) / bs), 1, mem.subarray(mem.length - bs)));
      }
      if (payload === undefined) mem.fill(0, from - start, to - start);
      else payload.copy(mem, from - start, 0, to - from);
      await this.link.run(this.lun, (d) => d.write(BigInt(start / bs), mem, { fua }));
    } finally {
      this.pool.release(buf);
    }
  }

  /** The whole blocks inside the request. */
  private innerSpanOf(r: NbdRequest): Span {
    const bs = this.blockSize;
    return { start: Math.ceil(r.offset / bs) * bs, end: r.end - (r.end % bs) };
  }
}

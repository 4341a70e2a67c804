/**
 * One export: one LUN of the device, shared by every connection that chose it, and the queue that turns NBD
 * requests into SCSI commands.
 *
 * - **Order.** Requests are taken strictly in arrival order, and the HBA runs a LUN's commands in the order they
 *   are given, so a command never overtakes one taken before it. A read-modify-write (a WRITE or WRITE_ZEROES
 *   whose ends are not on block boundaries) locks its blocks from its READ to its WRITE: a later request that
 *   reads or writes any of them waits at the head of the queue until the lock is gone, so nothing lands between
 *   the two and a READ sent behind it reads what it wrote.
 * - **Merging.** Consecutive READs that continue each other (from any connection, with no write between them) are
 *   one run; so are consecutive WRITEs whose payloads lie one after the other in one arena (see connection.ts).
 *   A run is cut into commands of the device's transfer size whatever the requests' sizes (the kernel's nbd
 *   client sends 128 KiB requests; a 120 KiB high-speed transfer size would otherwise cost a second, 8 KiB
 *   command per request), and each request is answered as soon as the commands covering it are done.
 * - **Pipelining.** QUEUED_COMMANDS commands are kept with the HBA, so the next is on the wire as soon as the last
 *   is done, while the reply of the last goes to the socket. When nothing else waits behind a READ run (the kernel's
 *   client sends a 4 MiB read as 32 requests and waits for them all), the run is cut into pieces of PIPELINE_BYTES:
 *   the first requests' replies then go to the socket while the device reads the rest, instead of after it. A WRITE
 *   run whose next payload is still arriving waits for it (at most MERGE_WAIT_MS) until it holds PIPELINE_BYTES,
 *   rather than sending the device a command per 128 KiB request as each payload lands.
 * - **Readahead.** A sequential reader's next blocks are read into a window while its replies go out; the READs
 *   the window covers are answered from it (readahead.ts says when, and why a write retires every window).
 * - **Write-behind** (off unless asked): write-behind.ts.
 * - **Zero copy.** A READ run lands in one pooled buffer; each request's reply is a view of it, written to the
 *   socket behind its header.
 */
import { UsbmsInternalError, type Provisioning } from '../../api.js';
import type { DeviceLink } from './device.js';
import { logger } from '../../util/log.js';
import { failureOf } from './errors.js';
import { BufferPool, SharedBuffer } from './pool.js';
import { CMD, CMD_FLAG, TFLAG } from './protocol.js';
import { WriteJobs } from './jobs.js';
import { Readahead, WINDOW_BYTES } from './readahead.js';
import { WriteBehind } from './write-behind.js';
import type { NbdRequest } from './request.js';
import type { Run, Span } from './run.js';

const log = logger('serve');

/** Commands handed to the HBA ahead of completion: one on the wire, one ready behind it. */
const QUEUED_COMMANDS = 2;
/** A run's buffer holds at most this much (one request larger than it is a run alone). */
const RUN_BYTES = 16 * 1024 * 1024;
/** How far down the queue a READ run looks for the request that continues it (past other READs only). */
const MERGE_LOOKAHEAD = 64;
/** The piece size that overlaps replies (READ) or payloads (WRITE) with the device's work (see above). */
const PIPELINE_BYTES = 1024 * 1024;
/** How long a complete WRITE waits for the payload that continues it to arrive. */
const MERGE_WAIT_MS = 30;

/** What the export tells the server about a request it could not serve (for the log and --json). */
export interface ExportErrorEvent {
  readonly type: 'error';
  readonly export: string;
  readonly op: string;
  readonly offset: number;
  readonly length: number;
  readonly errno: number;
  readonly message: string;
  readonly sense: string | undefined;
}

const OP_NAMES: Record<number, string> = { 0: 'read', 1: 'write', 3: 'flush', 4: 'trim', 6: 'write-zeroes' };

/** A request served by its own disk call(s): FLUSH, TRIM, WRITE_ZEROES, an unaligned WRITE. */
interface Job { readonly req: NbdRequest; readonly lock: Span | undefined }

/** What the export is, for the handshake (NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE) and the listing. */
export interface ExportInfo {
  readonly name: string;
  readonly lun: number;
  readonly description: string;
  readonly size: bigint;
  readonly blockSize: number;
  readonly readOnly: boolean;
  readonly trim: boolean;
  /** The device's bytes per command (the preferred request size). */
  readonly transferBytes: number;
}

export class NbdExport implements ExportInfo {
  private readonly queue: NbdRequest[] = [];
  private readonly locks: Span[] = [];
  /** WRITEs whose payloads are arriving (placed in their arena, not yet submitted). */
  private readonly arrivingWrites = new Set<NbdRequest>();
  /** Since when the head WRITE has waited for the payload after it (MERGE_WAIT_MS); 0 when it is not waiting. */
  private waitingSince = 0;
  private mergeTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private current: Run | undefined;
  private pumpQueued = false;
  private readonly readahead: Readahead;
  private readonly behind: WriteBehind;
  private readonly jobs: WriteJobs;

  private constructor(readonly name: string, readonly lun: number, readonly description: string,
    readonly size: bigint, readonly blockSize: number, readonly readOnly: boolean, readonly transferBytes: number,
    private readonly provisioning: Provisioning, readonly fuaNative: boolean, private readonly link: DeviceLink,
    private readonly pool: BufferPool, private readonly emit: (e: ExportErrorEvent) => void, readaheadBytes: number,
    writeBehindBytes: number) {
    this.behind = new WriteBehind(writeBehindBytes);
    const window = readaheadBytes - (readaheadBytes % blockSize);
    this.readahead = new Readahead(window, Number(size), (w) => { this.releaseIfDone(w); });
    this.jobs = new WriteJobs(link, lun, blockSize, transferBytes, provisioning, fuaNative, pool);
  }

  /**
   * The export of `lun` on `link` (read-only unless `write` and the medium is writable), reading up to
   * `readaheadBytes` ahead of a sequential reader (0: no readahead) and answering up to `writeBehindBytes` of
   * WRITEs before the stick has them (0, the default: none).
   */
  static async open(link: DeviceLink, lun: number, name: string, description: string, write: boolean,
    pool: BufferPool, emit: (e: ExportErrorEvent) => void, readaheadBytes = WINDOW_BYTES,
    writeBehindBytes = 0): Promise<NbdExport> {
    const disk = link.disk(lun);
    const readOnly = !write || disk.writeProtected;
    const provisioning = readOnly ? NO_PROVISIONING : await link.run(lun, (d) => d.provisioning());
    return new NbdExport(name, lun, description, disk.capacityBytes, disk.blockSize, readOnly,
      Math.max(disk.blockSize, disk.maxTransferBytes - (disk.maxTransferBytes % disk.blockSize)), provisioning,
      disk.fua, link, pool, emit, readaheadBytes, writeBehindBytes);
  }

  /** TRIM is offered only where the device can deallocate (VPD 0xB2: UNMAP or WRITE SAME with UNMAP). */
  get trim(): boolean { return !this.readOnly && (this.provisioning.unmap || this.provisioning.writeSameUnmap); }

  /** Transmission flags for a connection (DF only where structured replies were agreed). */
  flags(structured: boolean): number {
    let f = TFLAG.HAS_FLAGS | TFLAG.CAN_MULTI_CONN; // one HBA queue in one process: a flush covers every connection
    if (this.readOnly) f |= TFLAG.READ_ONLY;
    else f |= TFLAG.SEND_FLUSH | TFLAG.SEND_FUA | TFLAG.SEND_WRITE_ZEROES | (this.trim ? TFLAG.SEND_TRIM : 0);
    if (structured) f |= TFLAG.SEND_DF;
    return f;
  }

  /**
   * NBD_INFO_BLOCK_SIZE: the logical block, the largest power of two up to the transfer size, the transfer size
   * (at most 32 MiB). Requests up to 32 MiB are served whatever the maximum says (connection.ts).
   */
  blockSizes(): [number, number, number] {
    const max = Math.min(32 * 1024 * 1024, this.transferBytes);
    return [this.blockSize, Math.max(this.blockSize, 2 ** Math.floor(Math.log2(max))), max];
  }

  /** A WRITE's payload starts arriving into `req.data` (a WRITE run before it may wait for it). */
  arriving(req: NbdRequest): void {
    this.arrivingWrites.add(req);
  }

  /** A WRITE whose payload did not arrive (the client left): nothing waits for it any more. */
  dropped(req: NbdRequest): void {
    this.arrivingWrites.delete(req);
    this.schedule();
  }

  /** Take a checked request (its payload, if any, has arrived); it is answered through its sink. */
  submit(req: NbdRequest): void {
    this.arrivingWrites.delete(req);
    this.queue.push(req);
    this.schedule();
  }

  /** Pump after the requests already on the wire are parsed (setImmediate), so they can merge. */
  private schedule(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => { this.pumpQueued = false; this.pump(); });
  }

  private pump(): void {
    while (this.inFlight < QUEUED_COMMANDS) {
      if (this.current === undefined || this.current.next >= this.current.end) {
        this.current = undefined;
        // READs that attached to a window wait for its next command: it goes before anything taken after them
        const owed = this.readahead.owed();
        if (owed !== undefined) { this.dispatchPiece(owed); continue; }
        const next = this.take();
        if (next === undefined) {
          if (this.readahead.owed() !== undefined) continue; // a write retired a window that READs before it need
          const idle = this.queue.length === 0 ? this.idleWindow() : undefined;
          if (idle === undefined) return;
          this.dispatchPiece(idle);
          continue;
        }
        if ('req' in next) {
          this.inFlight++;
          void this.runJob(next).finally(() => { this.inFlight--; this.pump(); });
          continue;
        }
        this.current = next;
      }
      this.dispatchPiece(this.current);
    }
  }

  /**
   * The next run or job from the head of the queue; undefined when empty, when the head must wait for a lock, or
   * when a write must wait for the READs a window still owes (they were taken before it).
   */
  private take(): Run | Job | undefined {
    for (;;) {
      const head = this.queue[0];
      if (head === undefined) return undefined;
      const span = this.spanOf(head);
      const writes = head.type !== CMD.READ && head.type !== CMD.FLUSH;
      // READs wait too: one sent behind a read-modify-write of its blocks reads what it wrote, not what was there
      if (head.type !== CMD.FLUSH && this.locks.some((l) => l.start < span.end && span.start < l.end)) return undefined;
      if (head.type === CMD.WRITE && this.aligned(head) && this.waitForMore(head)) return undefined;
      if (writes) {
        this.readahead.noteWrite();
        if (this.readahead.owed() !== undefined) return undefined;
      }
      this.queue.shift();
      if (head.type !== CMD.READ) return this.writeOrJob(head, span, writes);
      const run = this.readRun(head, span);
      if (run !== undefined) return run;
    }
  }

  /** A WRITE run, or a job of its own (FLUSH, TRIM, WRITE_ZEROES, an unaligned WRITE). */
  private writeOrJob(head: NbdRequest, span: Span, writes: boolean): Run | Job {
    if (head.type === CMD.WRITE && this.aligned(head)) return this.writeRun(head);
    // A job that writes may take several commands (read-modify-write, edges then WRITE SAME): its blocks are
    // locked until it is done, so no later write lands between them.
    const lock = writes ? span : undefined;
    if (lock !== undefined) this.locks.push(lock);
    return { req: head, lock };
  }

  /** The READ run `head` starts; undefined when a readahead window serves it (its requests attached). */
  private readRun(head: NbdRequest, span: Span): Run | undefined {
    const reqs = [head];
    let byteEnd = head.end;
    let end = span.end;
    // Later READs that continue the run, past other READs only: a READ never overtakes a write.
    for (let found = true; found && end - span.start < RUN_BYTES;) {
      found = false;
      for (let i = 0; i < this.queue.length && i < MERGE_LOOKAHEAD; i++) {
        const q = this.queue[i]!;
        if (q.type !== CMD.READ) break;
        if (q.offset !== byteEnd) continue;
        const qEnd = this.spanOf(q).end;
        if (qEnd - span.start > RUN_BYTES) break;
        this.queue.splice(i, 1);
        reqs.push(q);
        byteEnd = q.end;
        end = qEnd;
        found = true;
        break;
      }
    }
    const window = this.readahead.covering(span.start, end);
    this.readahead.noteRead(span.start, end, window !== undefined);
    if (window !== undefined) {
      log('read run of %d request(s), %d bytes at %d: from the readahead window at %d', reqs.length, end - span.start,
        span.start, window.start);
      this.attach(window, reqs);
      return undefined;
    }
    const buf = this.pool.acquire(end - span.start);
    return this.startRun('read', span.start, end, reqs, buf.subarray(0, end - span.start),
      new SharedBuffer(this.pool, buf), false);
  }

  /** READs served by `window`: answered as the commands covering them come back (at once for those back already). */
  private attach(window: Run, reqs: NbdRequest[]): void {
    const ahead = window.ahead!;
    for (const r of reqs) {
      const s = this.spanOf(r);
      r.pendingBytes = s.end - s.start;
      r.pieceFailed = undefined;
      window.reqs.push(r);
      ahead.needed = Math.max(ahead.needed, s.end);
    }
    for (const p of ahead.done) this.account(window, p.at, p.end, p.error, reqs);
  }

  /** Nothing else to do: the next command of a readahead window (a new window when the reader nears the end). */
  private idleWindow(): Run | undefined {
    const unsent = this.readahead.unsent();
    if (unsent !== undefined) return unsent;
    const next = this.readahead.nextWindow();
    if (next === undefined) return undefined;
    const buf = this.pool.acquire(next.bytes);
    const w: Run = { kind: 'read', start: next.start, end: next.start + next.bytes, reqs: [],
      mem: buf.subarray(0, next.bytes), holder: new SharedBuffer(this.pool, buf), fua: false, next: next.start,
      piecesInFlight: 0, released: false, behind: undefined, ahead: { done: [], needed: next.start } };
    log('readahead window of %d bytes at %d', next.bytes, next.start);
    this.readahead.add(w);
    return w;
  }

  /**
   * Whether the WRITE run that `head` starts should wait for the payload that continues it: it holds less than
   * PIPELINE_BYTES, that payload is arriving right behind its own in the arena, and it has waited less than
   * MERGE_WAIT_MS (a client that stalls in the middle of a payload holds nobody up for longer).
   */
  private waitForMore(head: NbdRequest): boolean {
    const data = head.data!;
    let end = head.end;
    let memEnd = data.byteOffset + data.length;
    for (let i = 1; i < this.queue.length; i++) {
      const q = this.queue[i]!;
      if (q.type !== CMD.WRITE || q.offset !== end || q.data?.buffer !== data.buffer || q.data.byteOffset !== memEnd) break;
      end = q.end;
      memEnd += q.data.length;
    }
    if (end - head.offset >= PIPELINE_BYTES || !this.isArriving(end, data.buffer, memEnd)) {
      this.waitingSince = 0;
      return false;
    }
    const now = Date.now();
    if (this.waitingSince === 0) this.waitingSince = now;
    const left = this.waitingSince + MERGE_WAIT_MS - now;
    if (left <= 0) { this.waitingSince = 0; return false; }
    this.mergeTimer ??= setTimeout(() => { this.mergeTimer = undefined; this.pump(); }, left + 1);
    return true;
  }

  /** A WRITE for `offset` is arriving into `buffer` at `byteOffset` (at most one per connection: no array built). */
  private isArriving(offset: number, buffer: ArrayBufferLike, byteOffset: number): boolean {
    for (const a of this.arrivingWrites) {
      if (a.offset === offset && a.data?.buffer === buffer && a.data.byteOffset === byteOffset) return true;
    }
    return false;
  }

  private writeRun(head: NbdRequest): Run {
    const reqs = [head];
    const data = head.data!;
    let end = head.end;
    let memEnd = data.byteOffset + data.length;
    let fua = (head.flags & CMD_FLAG.FUA) !== 0;
    // The next WRITEs in the queue whose payloads follow this one's in the same arena, at the next offset.
    while (end - head.offset < RUN_BYTES) {
      const q = this.queue[0];
      if (q === undefined || q.type !== CMD.WRITE || q.offset !== end || !this.aligned(q) || q.data === undefined ||
        q.data.buffer !== data.buffer || q.data.byteOffset !== memEnd || q.end - head.offset > RUN_BYTES) break;
      this.queue.shift();
      reqs.push(q);
      end = q.end;
      memEnd += q.data.length;
      fua ||= (q.flags & CMD_FLAG.FUA) !== 0;
    }
    const mem = Buffer.from(data.buffer, data.byteOffset, end - head.offset);
    if (fua || !this.behind.admit(end - head.offset)) {
      // The arena stays referenced by each request until its reply; the run needs no reference of its own.
      return this.startRun('write', head.offset, end, reqs, mem, undefined, fua);
    }
    // Write-behind: the run holds the arena and locks its blocks until the stick has them; the requests are
    // answered now (their replies release their own references).
    head.holder!.ref();
    const run = this.startRun('write', head.offset, end, reqs, mem, head.holder, false);
    run.behind = { start: head.offset, end };
    this.locks.push(run.behind);
    for (const r of reqs) this.finish(r);
    return run;
  }

  private startRun(kind: Run['kind'], start: number, end: number, reqs: NbdRequest[], mem: Buffer,
    holder: SharedBuffer | undefined, fua: boolean): Run {
    for (const r of reqs) {
      const s = this.spanOf(r);
      r.pendingBytes = s.end - s.start;
      r.pieceFailed = undefined;
    }
    log('%s run of %d request(s), %d bytes at %d', kind, reqs.length, end - start, start);
    return { kind, start, end, reqs, mem, holder: holder ?? NO_HOLDER, fua, next: start, piecesInFlight: 0,
      released: false, behind: undefined, ahead: undefined };
  }

  private dispatchPiece(run: Run): void {
    const at = run.next;
    // Nothing else waiting behind a READ run: pieces its replies can overlap (see the module comment).
    // A readahead window goes in halves (at least such pieces): it is read ahead of the reader, so what counts is
    // that the device moves it in few commands, and that the READs attaching to it can be answered half by half.
    const piece = run.ahead !== undefined
      ? Math.min(this.transferBytes, Math.max(PIPELINE_BYTES, this.blocksOf((run.end - run.start) / 2)))
      : run.kind === 'read' && this.queue.length === 0 ? Math.min(this.transferBytes, PIPELINE_BYTES) : this.transferBytes;
    const end = Math.min(run.end, at + piece);
    run.next = end;
    run.piecesInFlight++;
    this.inFlight++;
    const view = run.mem.subarray(at - run.start, end - run.start);
    const lba = BigInt(at / this.blockSize);
    const fua = run.fua && this.fuaNative;
    const done = run.kind === 'read'
      ? this.link.run(this.lun, (d) => d.read(lba, view.length / this.blockSize, view))
      : this.link.run(this.lun, (d) => d.write(lba, view, { fua }));
    void done.then(() => this.pieceDone(run, at, end, undefined), (e: unknown) => this.pieceDone(run, at, end, e ?? 'failed'))
      .finally(() => { this.inFlight--; this.pump(); });
  }

  private pieceDone(run: Run, at: number, end: number, error: unknown): void {
    run.piecesInFlight--;
    if (run.ahead !== undefined) {
      run.ahead.done.push({ at, end, error });
      if (error !== undefined) this.readahead.noteFailure();
    }
    if (run.behind !== undefined) this.behindPieceDone(run, at, end, error);
    else this.account(run, at, end, error, run.reqs);
    this.releaseIfDone(run);
  }

  /** A command of a write-behind run came back: its requests were answered already. */
  private behindPieceDone(run: Run, at: number, end: number, error: unknown): void {
    const lock = run.behind!;
    if (error !== undefined) {
      run.failed ??= error;
      const f = failureOf(error, true);
      this.emit({ type: 'error', export: this.name, op: 'write (answered, written behind)', offset: at,
        length: end - at, errno: f.errno, message: f.message, sense: f.sense });
    }
    if (run.next < run.end || run.piecesInFlight > 0) return;
    for (const r of run.reqs) r.pendingBytes = 0;
    this.locks.splice(this.locks.indexOf(lock), 1);
    this.behind.done(lock.end - lock.start, run.failed);
    this.schedule();
  }

  /** Resolves when every WRITE answered ahead of the stick is on it (the server drains before it closes). */
  drain(): Promise<void> { return this.behind.drain(); }

  /** The command for [at, end) of `run` came back: the requests of `reqs` it completes are answered. */
  private account(run: Run, at: number, end: number, error: unknown, reqs: readonly NbdRequest[]): void {
    for (const r of reqs) {
      const s = this.spanOf(r);
      const moved = Math.min(s.end, end) - Math.max(s.start, at);
      if (moved <= 0) continue;
      if (error !== undefined) r.pieceFailed ??= error;
      r.pendingBytes -= moved;
      if (r.pendingBytes > 0) continue;
      if (run.kind === 'read') this.readDone(run, r);
      else void this.writeDone(r);
    }
  }

  /**
   * FLUSH: every WRITE answered before it is on the stick first (write-behind), and one that failed there fails the
   * FLUSH; then SYNCHRONIZE CACHE.
   */
  private async flush(): Promise<void> {
    await this.behind.drain();
    const lost = this.behind.takeFailure();
    if (lost instanceof Error) throw lost; // the disk's own error: its errno and sense go into the FLUSH's reply
    if (lost !== undefined) throw new UsbmsInternalError(`a WRITE answered ahead of the stick failed: ${JSON.stringify(lost)}`);
    await this.link.run(this.lun, (d) => d.synchronizeCache());
  }

  /** The run's buffer goes back once every command is back, every request answered, and it is no window. */
  private releaseIfDone(run: Run): void {
    if (run.released || run.next < run.end || run.piecesInFlight > 0 || this.readahead.holds(run)) return;
    if (run.reqs.some((r) => r.pendingBytes > 0)) return;
    run.released = true;
    run.holder.unref();
  }

  private readDone(run: Run, r: NbdRequest): void {
    if (r.pieceFailed === undefined) {
      run.holder.ref();
      r.holder = run.holder;
      r.data = run.mem.subarray(r.offset - run.start, r.end - run.start);
      this.finish(r);
      return;
    }
    // A command of the run failed at a block the device named: read this request alone, to tell its good bytes
    // from its first bad block. Any other failure (the device gone for good, a timeout) is the request's as it is,
    // except a readahead window's: the request's own commands say what its blocks give.
    if (run.ahead === undefined && failureOf(r.pieceFailed, false).lba === undefined) {
      this.fail(r, r.pieceFailed, false);
      this.finish(r);
      return;
    }
    void this.readAlone(r);
  }

  private async writeDone(r: NbdRequest): Promise<void> {
    if (r.pieceFailed !== undefined) {
      this.fail(r, r.pieceFailed, true);
    } else if ((r.flags & CMD_FLAG.FUA) !== 0 && !this.fuaNative) {
      await this.link.run(this.lun, (d) => d.synchronizeCache()).catch((e: unknown) => { this.fail(r, e, true); });
    }
    this.finish(r);
  }

  /**
   * Read one request's blocks a command at a time; at the first failure, read the blocks before the bad one
   * again (the failed command's data cannot be trusted), so the reply carries the good prefix and the offset.
   */
  private async readAlone(r: NbdRequest): Promise<void> {
    const s = this.spanOf(r);
    const buf = this.pool.acquire(s.end - s.start);
    const holder = new SharedBuffer(this.pool, buf);
    const bs = this.blockSize;
    let good = s.start; // bytes before this are read and good
    try {
      while (good < s.end) {
        const n = Math.min(this.transferBytes, s.end - good);
        const view = buf.subarray(good - s.start, good - s.start + n);
        const at = BigInt(good / bs);
        try {
          await this.link.run(this.lun, (d) => d.read(at, n / bs, view));
          good += n;
        } catch (e) {
          this.fail(r, e, false);
          const bad = failureOf(e, false).lba;
          const badByte = bad === undefined ? good : Number(bad) * bs;
          if (badByte > good && badByte < good + n) {
            const before = buf.subarray(good - s.start, badByte - s.start);
            const reread = await this.link.run(this.lun, (d) => d.read(at, before.length / bs, before)).then(() => true,
              () => false);
            if (reread) good = badByte;
          }
          break;
        }
      }
      if (r.failure !== undefined) {
        r.failedAt = Math.max(r.offset, Math.min(good, r.end - 1));
        if (good > r.offset) {
          holder.ref();
          r.holder = holder;
          r.data = buf.subarray(r.offset - s.start, good - s.start);
        }
      } else {
        holder.ref();
        r.holder = holder;
        r.data = buf.subarray(r.offset - s.start, r.end - s.start);
      }
    } finally {
      holder.unref();
    }
    this.finish(r);
  }

  private async runJob(job: Job): Promise<void> {
    const { req } = job;
    try {
      switch (req.type) {
        case CMD.FLUSH: await this.flush(); break;
        case CMD.TRIM: await this.jobs.trim(req); break;
        case CMD.WRITE: await this.jobs.rmw(req, req.data); break;
        case CMD.WRITE_ZEROES: await this.jobs.zero(req); break;
        default: throw new UsbmsInternalError(`request type ${req.type} has no job`);
      }
      if ((req.flags & CMD_FLAG.FUA) !== 0 && req.type !== CMD.FLUSH && !(req.type === CMD.WRITE && this.fuaNative)) {
        await this.link.run(this.lun, (d) => d.synchronizeCache());
      }
    } catch (e) {
      this.fail(req, e, req.type !== CMD.FLUSH);
    } finally {
      if (job.lock !== undefined) {
        this.locks.splice(this.locks.indexOf(job.lock), 1);
        this.schedule();
      }
    }
    this.finish(req);
  }

  private fail(r: NbdRequest, e: unknown, write: boolean): void {
    if (r.failure !== undefined) return;
    const f = failureOf(e, write);
    r.failure = f;
    if (f.lba !== undefined) {
      const at = Number(f.lba) * this.blockSize;
      if (at < r.end) r.failedAt = Math.max(at, r.offset);
    }
    this.emit({ type: 'error', export: this.name, op: OP_NAMES[r.type] ?? String(r.type), offset: r.offset,
      length: r.length, errno: f.errno, message: f.message, sense: f.sense });
  }

  private finish(r: NbdRequest): void { r.sink.complete(r); }

  private aligned(r: NbdRequest): boolean { return r.offset % this.blockSize === 0 && r.length % this.blockSize === 0; }

  /** `bytes` rounded down to whole blocks. */
  private blocksOf(bytes: number): number { return bytes - (bytes % this.blockSize); }

  /** The whole blocks the request touches. */
  private spanOf(r: NbdRequest): Span {
    const bs = this.blockSize;
    return { start: r.offset - (r.offset % bs), end: Math.ceil(r.end / bs) * bs };
  }
}

const NO_PROVISIONING: Provisioning = {
  unmap: false, writeSameUnmap: false, unmappedReadsZero: false, maxUnmapBlocks: 0, maxUnmapDescriptors: 0,
  maxWriteSameBlocks: 0n,
};
/** A run over memory it does not own (a write run over its requests' arena). */
const NO_HOLDER = { ref: () => undefined, unref: () => undefined } as unknown as SharedBuffer;

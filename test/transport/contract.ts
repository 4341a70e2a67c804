/**
 * The Transport contract suite (the rules in src/transport/index.ts), for any implementation: BOT on the software
 * disk (bot.contract.test.ts), BOT through libusb on a real or emulated stick (hw-tests/transport.hw.test.ts), UAS
 * when it comes. Call `transportContract(name, makeFixture)` at the top level of a test file.
 *
 * What the device behind a fixture must be: LUN 0 a direct-access disk of at least 64 blocks (any block size
 * READ CAPACITY(10) reports) that answers INQUIRY, TEST UNIT READY, READ CAPACITY(10) and READ(10), and CHECK
 * CONDITION ILLEGAL REQUEST to an opcode it does not support (0xFF). With `writable` the suite writes blocks from
 * LBA 16 on and writes their old contents back. Every case gets a fresh fixture, and closes the transport (then
 * calls `dispose`) afterwards. A case that needs what the device cannot do (hang on purpose, vanish, be written)
 * is skipped, and its title says why.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  DataDirection, Transport, TransportCommand, TransportErrorKind, TransportResult, TransportSlot,
} from '../../src/transport/index.js';

/** One transport on one device, and the few controls the suite needs over that device. */
export interface TransportFixture {
  /** The transport, open on the device. */
  readonly transport: Transport;
  /**
   * The per-phase timeout (ms) the transport was opened with. Keep it short (100-500 ms): a command the device
   * never answers must fail within a few of these.
   */
  readonly timeoutMs: number;
  /**
   * Bulk transfers submitted plus control requests sent by the host so far (counted at the port), so the suite
   * can see that a refused command put nothing on the wire.
   */
  wireOps(): number;
  /**
   * Make the device take the next `count` commands and never answer them (until a reset or a port reset clears
   * them). Needed with the option `hangs`.
   */
  hangNext?(count: number): void;
  /** Make the device go away (surprise removal). Needed with the option `unplugs`. */
  unplug?(): void;
  /** Release whatever the fixture holds beside the transport; called after the suite closed the transport. */
  dispose(): Promise<void>;
}

/** What the fixture's device can be made to do (real hardware: none of it, unless a disk may be written). */
export interface TransportContractOptions {
  /** fixture.hangNext works: the timeout, abort, reset-in-flight, busy and close cases run. */
  hangs?: boolean;
  /** fixture.unplug works: the device-gone case runs. */
  unplugs?: boolean;
  /** Blocks from LBA 16 of LUN 0 may be written (and are restored): the data-out case runs. */
  writable?: boolean;
}

const INQUIRY = (alloc: number): number[] => [0x12, 0, 0, alloc >> 8, alloc & 0xff, 0];
const TUR = [0, 0, 0, 0, 0, 0];
const UNSUPPORTED = [0xff, 0, 0, 0, 0, 0];
const rw10 = (op: number, lba: number, blocks: number): number[] =>
  [op, 0, lba >>> 24, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, 0, blocks >> 8, blocks & 0xff, 0];
const ILLEGAL_REQUEST = 0x05;

/** A command as the HBA builds one (a sense area of 252 bytes, as extended ARQ gives). */
function command(cdb: number[], direction: DataDirection = 'none', segments: Buffer[] = [], lun = 0): TransportCommand {
  const c = new Uint8Array(16);
  c.set(cdb);
  return { lun, cdb: c, cdbLength: cdb.length, direction, segments, segmentCount: segments.length, dataTimeoutMs: 0,
    sense: Buffer.alloc(252) };
}

/** The seam's kind of a rejection (a protocol-specific kind counts as 'transport', as the HBA counts it). */
function kindOf(e: unknown): TransportErrorKind | 'not a transport error' {
  if (!(e instanceof Error) || !('kind' in e)) return 'not a transport error';
  const k = e.kind;
  return k === 'timeout' || k === 'device-gone' || k === 'aborted' || k === 'overrun' || k === 'busy' ? k : 'transport';
}

/** How `p` rejected, and how long it took; fails the test if it resolved. */
async function rejection(p: Promise<unknown>): Promise<{ kind: string; ms: number; error: unknown }> {
  const t0 = performance.now();
  try {
    const r = await p;
    throw new Error(`expected a rejection, got ${JSON.stringify(r)}`);
  } catch (e) {
    return { kind: kindOf(e), ms: performance.now() - t0, error: e };
  }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

export function transportContract(name: string, makeFixture: () => Promise<TransportFixture>,
  options: TransportContractOptions = {}): void {
  const hangs = options.hangs === true;
  const unplugs = hangs && options.unplugs === true;
  const writable = options.writable === true;
  // A conditional case carries the reason it does not run in its name, so reports say why it was skipped.
  const title = (runs: boolean, what: string, why: string): string => (runs ? what : `${what} [skipped: ${why}]`);
  const noHang = 'the fixture cannot make the device hang';

  describe(`Transport contract: ${name}`, () => {
    let f: TransportFixture;
    let t: Transport;
    const slots: TransportSlot[] = [];
    const slot = (maxSegments = 8): TransportSlot => {
      const s = t.allocSlot(maxSegments);
      slots.push(s);
      return s;
    };
    /** A hung command may take a few phase timeouts to fail (BOT: the phase's, then Reset Recovery's). */
    const hangBound = (): number => 6 * f.timeoutMs + 2000;
    /** LUN 0's block size (READ CAPACITY(10)), learnt before each case. */
    let block = 0;
    /**
     * The unit of multi-segment data phases: whole blocks, and a multiple of the max packet size (every segment but
     * the last must be, the Transport contract says). Both are powers of two, so the larger is both.
     */
    const unit = (): number => Math.max(block, t.maxPacketSize);

    /** The device answers and moves data: what every case that disturbed it checks last. */
    async function works(): Promise<void> {
      const buf = Buffer.alloc(36);
      const r = await t.execute(slot(), command(INQUIRY(36), 'in', [buf]));
      expect(r.status, 'INQUIRY after the disturbance').toBe(0x00);
      expect(36 - r.residue, 'bytes of INQUIRY data').toBe(36);
      expect(buf[4]! + 5, 'real INQUIRY data arrived').toBeGreaterThanOrEqual(36);
    }

    /**
     * A command the fixture made the device hang on, started; resolves once it is on the wire, with the command's
     * own promise in a box (an async function cannot return a promise unsettled).
     */
    async function hung(s: TransportSlot): Promise<{ settled: Promise<TransportResult> }> {
      const before = f.wireOps();
      if (f.hangNext === undefined) throw new Error('the fixture has no hangNext but the options say it hangs');
      f.hangNext(1);
      const p = t.execute(s, command(TUR));
      p.catch(() => undefined); // observed later; never an unhandled rejection meanwhile
      for (let i = 0; i < 50 && f.wireOps() === before; i++) await nextTurn();
      expect(f.wireOps(), 'the hung command reached the wire').toBeGreaterThan(before);
      return { settled: p };
    }

    beforeEach(async () => {
      f = await makeFixture();
      t = f.transport;
      slots.length = 0;
      // A device fresh from power-on or reset may report UNIT ATTENTION once: let it, before the cases start.
      for (let i = 0; i < 4; i++) if ((await t.execute(slot(), command(TUR))).status === 0) break;
      const cap = Buffer.alloc(8);
      const r = await t.execute(slot(), command([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'in', [cap]));
      expect(r.status, 'READ CAPACITY(10)').toBe(0x00);
      block = cap.readUInt32BE(4);
      expect(cap.readUInt32BE(0) + 1, 'blocks on LUN 0').toBeGreaterThanOrEqual(64);
    });
    afterEach(async () => {
      await t.close();
      await f.dispose();
    });

    it('describes itself: a queue depth >= 1, max packet size, max transfer in whole blocks, LUNs 0..15', () => {
      expect(Number.isInteger(t.queueDepth) && t.queueDepth >= 1).toBe(true);
      expect([8, 16, 32, 64, 512, 1024]).toContain(t.maxPacketSize);
      expect(t.maxTransferBytes % 512 === 0 && t.maxTransferBytes >= block).toBe(true);
      expect(Number.isInteger(t.maxLun) && t.maxLun >= 0 && t.maxLun <= 15).toBe(true);
      expect(['bot', 'uas']).toContain(t.protocol);
    });

    it('GOOD: INQUIRY completes with status 0x00 and its data; TEST UNIT READY moves nothing', async () => {
      const buf = Buffer.alloc(36);
      const r = await t.execute(slot(), command(INQUIRY(36), 'in', [buf]));
      expect(r).toMatchObject({ status: 0x00, transferred: 36, residue: 0 });
      expect(buf.subarray(8, 16).toString('latin1').trim().length, 'T10 vendor identification').toBeGreaterThan(0);
      expect(await t.execute(slot(), command(TUR))).toMatchObject({ status: 0x00, transferred: 0, residue: 0 });
    });

    it('CHECK CONDITION: an unsupported opcode fails with status 0x02, and the sense says ILLEGAL REQUEST', async () => {
      const s = slot();
      const c = command(UNSUPPORTED);
      c.sense.fill(0xee);
      const r = await t.execute(s, c);
      expect(r.status).toBe(0x02);
      if (!t.carriesSense) expect(r.senseLength, 'a transport that carries no sense says so').toBe(-1);
      if (r.senseLength >= 0) {
        // Sense carried with the status, within the command's sense area.
        expect(r.senseLength).toBeLessThanOrEqual(c.sense.length);
        expect(c.sense[0]! & 0x7f).toBeGreaterThanOrEqual(0x70);
        expect(c.sense[2]! & 0x0f).toBe(ILLEGAL_REQUEST);
      } else {
        // Not carried: the sense waits for REQUEST SENSE, as the HBA's auto request sense sends it.
        expect([...c.sense].every((b) => b === 0xee), 'a transport without sense leaves command.sense alone').toBe(true);
        const sense = Buffer.alloc(18);
        const rs = await t.execute(s, command([0x03, 0, 0, 0, 18, 0], 'in', [sense]));
        expect(rs.status).toBe(0x00);
        expect(sense[2]! & 0x0f).toBe(ILLEGAL_REQUEST);
      }
    });

    it('residue never hides missing data: the host expects more than the device has', async () => {
      // INQUIRY allocation 36 in a 96-byte data phase: at most 36 bytes are data, whatever the device pads.
      const inq = Buffer.alloc(96);
      const a = await t.execute(slot(), command(INQUIRY(36), 'in', [inq]));
      expect(a.status).toBe(0x00);
      expect(a.residue).toBeGreaterThanOrEqual(96 - a.transferred);
      expect(96 - a.residue).toBeLessThanOrEqual(36);
      // READ(10) of one block in a two-block data phase: exactly one block is data.
      const two = Buffer.alloc(2 * block);
      const one = Buffer.alloc(block);
      const b = await t.execute(slot(), command(rw10(0x28, 3, 1), 'in', [two]));
      expect(b.status).toBe(0x00);
      expect(b.residue).toBeGreaterThanOrEqual(2 * block - b.transferred);
      expect(2 * block - b.residue).toBe(block);
      expect((await t.execute(slot(), command(rw10(0x28, 3, 1), 'in', [one]))).status).toBe(0x00);
      expect(two.subarray(0, block).equals(one)).toBe(true);
    });

    it('data in over several segments lands in order, the same bytes as one segment gets', async () => {
      const u = unit();
      const sizes = [u, 2 * u, u];
      const total = 4 * u;
      const whole = Buffer.alloc(total);
      const r1 = await t.execute(slot(), command(rw10(0x28, 0, total / block), 'in', [whole]));
      expect(r1).toMatchObject({ status: 0x00, transferred: total, residue: 0 });
      const segs = sizes.map((n) => Buffer.alloc(n));
      const r2 = await t.execute(slot(), command(rw10(0x28, 0, total / block), 'in', segs));
      expect(r2).toMatchObject({ status: 0x00, transferred: total, residue: 0 });
      expect(Buffer.concat(segs).equals(whole)).toBe(true);
    });

    it.runIf(writable)(title(writable, 'data out over several segments, read back over several segments',
      'the device under test may not be written'), async () => {
      const u = unit();
      const total = 4 * u;
      const blocks = total / block;
      const original = Buffer.alloc(total);
      expect((await t.execute(slot(), command(rw10(0x28, 16, blocks), 'in', [original]))).status).toBe(0x00);
      const pattern = Buffer.alloc(total);
      for (let i = 0; i < total; i += 4) pattern.writeUInt32BE((i * 2654435761 + 1) >>> 0, i);
      const split = (b: Buffer, sizes: number[]): Buffer[] => {
        let at = 0;
        return sizes.map((n) => { const s = b.subarray(at, at + n); at += n; return s; });
      };
      try {
        const w = await t.execute(slot(), command(rw10(0x2a, 16, blocks), 'out', split(pattern, [2 * u, u, u])));
        expect(w).toMatchObject({ status: 0x00, transferred: total, residue: 0 });
        const back = Buffer.alloc(total);
        const r = await t.execute(slot(), command(rw10(0x28, 16, blocks), 'in', split(back, [u, 2 * u, u])));
        expect(r).toMatchObject({ status: 0x00, transferred: total, residue: 0 });
        expect(back.equals(pattern)).toBe(true);
      } finally {
        const undo = await t.execute(slot(), command(rw10(0x2a, 16, blocks), 'out', split(original, [u, u, 2 * u])));
        expect(undo.status, 'the old contents written back').toBe(0x00);
      }
    });

    it('a malformed command (LUN beyond maxLun) is refused before anything goes on the wire', async () => {
      const before = f.wireOps();
      const e = await rejection(t.execute(slot(), command(TUR, 'none', [], t.maxLun + 1)));
      expect(e.kind).not.toBe('not a transport error');
      expect(f.wireOps()).toBe(before);
      await works();
    });

    it('reset at each level leaves a working device', async () => {
      for (const level of ['lun', 'target', 'bus'] as const) {
        await t.reset(level, 0);
        await works();
      }
    });

    it.runIf(hangs)(title(hangs, 'a command the device never answers fails with kind timeout in bounded time; the next works',
      noHang), async () => {
        const p = (await hung(slot())).settled;
        const e = await rejection(p);
        expect(e.kind).toBe('timeout');
        expect(e.ms).toBeLessThan(hangBound());
        await works();
      });

    it.runIf(hangs)(title(hangs, 'abort(slot) fails that command with kind aborted before its timeout; aborting an idle slot does nothing',
      noHang), async () => {
        const s = slot();
        const p = (await hung(s)).settled;
        const t0 = performance.now();
        await t.abort(s);
        const e = await rejection(p);
        expect(e.kind).toBe('aborted');
        expect(performance.now() - t0, 'abort does not wait for the timeout').toBeLessThan(hangBound());
        const idle = slot();
        const before = f.wireOps();
        await t.abort(idle);
        expect(f.wireOps()).toBe(before);
        await works();
      });

    it.runIf(hangs)(title(hangs, 'a reset fails the command in flight with kind aborted, at every level', noHang), async () => {
      for (const level of ['lun', 'target', 'bus'] as const) {
        const p = (await hung(slot())).settled;
        await t.reset(level, 0);
        expect((await rejection(p)).kind, `reset('${level}')`).toBe('aborted');
        await works();
      }
    });

    it.runIf(hangs)(title(hangs, 'commands beyond queueDepth are refused busy and change nothing on the wire', noHang), async () => {
      const inFlight: Promise<TransportResult>[] = [];
      for (let i = 0; i < t.queueDepth; i++) inFlight.push((await hung(slot())).settled);
      const before = f.wireOps();
      const extra = await rejection(t.execute(slot(), command(TUR)));
      expect(extra.kind).toBe('busy');
      expect(f.wireOps()).toBe(before);
      await t.reset('target');
      for (const p of inFlight) expect((await rejection(p)).kind).toBe('aborted');
      await works();
    });

    it.runIf(hangs)(title(hangs, 'close() fails the command in flight with kind aborted, resolves, and later calls are refused at once',
      noHang), async () => {
        const p = (await hung(slot())).settled;
        await t.close();
        expect((await rejection(p)).kind).toBe('aborted');
        const later = await rejection(t.execute(slot(), command(TUR)));
        expect(later.ms).toBeLessThan(f.timeoutMs);
        await t.close(); // a second close resolves too
      });

    it.runIf(unplugs)(title(unplugs, 'device gone: the command in flight fails device-gone, and so does every later call, at once',
      'the fixture cannot make the device hang and vanish'), async () => {
      const p = (await hung(slot())).settled;
      if (f.unplug === undefined) throw new Error('the fixture has no unplug but the options say it unplugs');
      f.unplug();
      const e = await rejection(p);
      expect(e.kind).toBe('device-gone');
      expect(e.ms).toBeLessThan(hangBound());
      const before = f.wireOps();
      const later = await rejection(t.execute(slot(), command(TUR)));
      expect(later.kind).toBe('device-gone');
      expect(later.ms).toBeLessThan(f.timeoutMs);
      expect((await rejection(t.reset('target'))).kind).toBe('device-gone');
      expect(f.wireOps()).toBe(before);
      await t.abort(slots[0]!); // never rejects
    });
  });
}

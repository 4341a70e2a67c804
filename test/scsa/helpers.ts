/** Test fixtures: an HBA on the real BOT engine + software disk, and a scriptable fake transport. */
import { BotTransport } from '../../src/bot/transport.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import type { MockDeviceOptions } from '../../src/mock/index.js';
import { UsbmsHba, type UsbmsHbaOptions } from '../../src/scsa/index.js';
import { B_READ, B_WRITE, type buf } from '../../src/scsa/types.js';
import type {
  ResetLevel, Transport, TransportCommand, TransportResult, TransportSlot,
} from '../../src/transport/index.js';

export async function mockHba(dev: MockDeviceOptions = {}, opts: UsbmsHbaOptions = {},
  maxTransferBytes?: number): Promise<{ hba: UsbmsHba; dev: MockUsbDevice; bot: BotTransport }> {
  const device = new MockUsbDevice({ luns: [{ blocks: 8192 }], ...dev });
  const bot = await BotTransport.open(device.open(),
    maxTransferBytes === undefined ? {} : { maxTransferBytes });
  return { hba: UsbmsHba.attach(bot, opts), dev: device, bot };
}

export function makeBuf(bytes: Buffer | number, read: boolean): buf {
  const mem = typeof bytes === 'number' ? Buffer.alloc(bytes) : bytes;
  return { b_flags: read ? B_READ : B_WRITE, b_bcount: mem.length, b_un: { b_addr: mem }, b_resid: 0, b_error: 0 };
}

export function cdb10(op: number, lba: number, blocks: number): Buffer {
  const c = Buffer.alloc(10);
  c[0] = op;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
}

export function cdb16(op: number, lba: bigint, blocks: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = op;
  c.writeBigUInt64BE(lba, 2);
  c.writeUInt32BE(blocks, 10);
  return c;
}

interface Pending { slot: TransportSlot; req: Recorded; resolve: (r: TransportResult) => void; reject: (e: unknown) => void }
export interface Recorded {
  lun: number; cdb: Buffer; direction: string; segments: Buffer[]; length: number;
  /** Where a transport that carries sense writes it (the command's `sense`). */
  sense: Buffer;
}

/** A transport failure as a transport rejects with it: an error with the `kind` the HBA reads. */
export function failure(kind: string): Error {
  return Object.assign(new Error(kind), { kind });
}

/**
 * A fake transport: every execute is recorded and stays pending until the test answers it (in any order), up
 * to `queueDepth` at once, as the Transport contract says; with `carriesSense` it can answer CHECK CONDITION with
 * sense, as UAS does.
 */
export class FakeTransport implements Transport {
  readonly protocol = 'bot';
  maxTransferBytes = 64 * 1024;
  maxPacketSize = 512;
  slots = 0;
  aborts = 0;
  /** Every reset asked for, by level. */
  readonly resets: ResetLevel[] = [];
  readonly log: Recorded[] = [];
  readonly pending: Pending[] = [];
  /** The most commands that were ever pending at once. */
  peak = 0;
  /** Answer automatically (null: leave pending). */
  auto: ((req: Recorded) => Partial<TransportResult> | Error) | null = null;

  constructor(readonly maxLun = 0, readonly queueDepth = 1, readonly carriesSense = false) {}

  allocSlot(maxSegments: number): TransportSlot {
    this.slots++;
    return { maxSegments };
  }
  freeSlot(): void {
    this.slots--;
  }
  execute(slot: TransportSlot, req: TransportCommand): Promise<TransportResult> {
    const segments = req.segments.slice(0, req.segmentCount);
    const rec: Recorded = { lun: req.lun, cdb: Buffer.from(req.cdb.subarray(0, req.cdbLength)),
      direction: req.direction, segments, length: segments.reduce((n, s) => n + s.length, 0), sense: req.sense };
    this.log.push(rec);
    if (this.pending.length >= this.queueDepth || this.pending.some((p) => p.slot === slot)) {
      return Promise.reject(failure('busy'));
    }
    const auto = this.auto?.(rec);
    if (auto instanceof Error) return Promise.reject(auto);
    if (auto !== undefined && auto !== null) return Promise.resolve(this.result(rec, auto));
    return new Promise((resolve, reject) => {
      this.pending.push({ slot, req: rec, resolve, reject });
      this.peak = Math.max(this.peak, this.pending.length);
    });
  }
  /** Complete the `i`-th command on the wire; with `sense`, as CHECK CONDITION carrying it. */
  answer(r: Partial<TransportResult> = {}, i = 0, sense?: Buffer): void {
    const p = this.take(i);
    let senseLength = -1;
    if (sense !== undefined) senseLength = sense.copy(p.req.sense, 0, 0, Math.min(sense.length, p.req.sense.length));
    p.resolve(this.result(p.req, { ...(sense === undefined ? {} : { status: 0x02, senseLength }), ...r }));
  }
  fail(kind: string, i = 0): void {
    this.take(i).reject(failure(kind));
  }
  async abort(slot: TransportSlot): Promise<void> {
    const i = this.pending.findIndex((p) => p.slot === slot);
    if (i < 0) return;
    this.aborts++;
    this.take(i).reject(failure('aborted'));
  }
  /** As BOT: every reset is of the whole target, and fails every command in flight. */
  async reset(level: ResetLevel): Promise<void> {
    this.resets.push(level);
    while (this.pending.length > 0) this.take(0).reject(failure('aborted'));
  }
  async close(): Promise<void> {
    while (this.pending.length > 0) this.take(0).reject(failure('aborted'));
  }

  private take(i: number): Pending {
    const p = this.pending[i];
    if (p === undefined) throw new Error(`no command ${i} on the wire`);
    this.pending.splice(i, 1);
    return p;
  }
  private result(rec: Recorded, r: Partial<TransportResult>): TransportResult {
    return { status: 0, transferred: rec.length, residue: 0, senseLength: -1, ...r };
  }
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

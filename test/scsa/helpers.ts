/** Test fixtures: an HBA on the real BOT engine + software disk, and a scriptable fake engine. */
import type { BotRequest, BotResult, BotSlot, BotTransportApi } from '../../src/bot/api.js';
import { BotTransport } from '../../src/bot/transport.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import type { MockDeviceOptions } from '../../src/mock/index.js';
import { UsbmsHba, type UsbmsHbaOptions } from '../../src/scsa/index.js';
import { B_READ, B_WRITE, type buf } from '../../src/scsa/types.js';

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

interface Pending { slot: BotSlot; req: Recorded; resolve: (r: BotResult) => void; reject: (e: unknown) => void }
export interface Recorded { lun: number; cdb: Buffer; direction: string; segments: Buffer[]; length: number }

/** A fake engine: every execute is recorded and stays pending until the test answers it. */
export class FakeBot implements BotTransportApi {
  maxTransferBytes = 64 * 1024;
  maxPacketSize = 512;
  slots = 0;
  resets = 0;
  portResets = 0;
  readonly log: Recorded[] = [];
  readonly pending: Pending[] = [];
  /** Answer automatically (null: leave pending). */
  auto: ((req: Recorded) => BotResult | Error) | null = null;

  constructor(readonly maxLun = 0) {}

  allocSlot(maxSegments: number): BotSlot {
    this.slots++;
    return { maxSegments };
  }
  freeSlot(): void {
    this.slots--;
  }
  execute(slot: BotSlot, req: BotRequest): Promise<BotResult> {
    const segments = req.segments.slice(0, req.segmentCount);
    const rec: Recorded = { lun: req.lun, cdb: Buffer.from(req.cdb.subarray(0, req.cdbLength)),
      direction: req.direction, segments, length: segments.reduce((n, s) => n + s.length, 0) };
    this.log.push(rec);
    if (this.pending.length > 0) return Promise.reject(Object.assign(new Error('busy'), { kind: 'busy' }));
    const auto = this.auto?.(rec);
    if (auto instanceof Error) return Promise.reject(auto);
    if (auto !== undefined && auto !== null) return Promise.resolve(auto);
    return new Promise((resolve, reject) => this.pending.push({ slot, req: rec, resolve, reject }));
  }
  /** Complete the command on the wire. */
  answer(r: Partial<BotResult> = {}): void {
    const p = this.pending.shift();
    if (p === undefined) throw new Error('nothing on the wire');
    p.resolve({ status: 0, transferred: p.req.length, residue: 0, deviceResidue: 0, dataStalled: false, ...r });
  }
  fail(kind: string, recovered = true): void {
    const p = this.pending.shift();
    if (p === undefined) throw new Error('nothing on the wire');
    p.reject(Object.assign(new Error(kind), { kind, recovered }));
  }
  async abort(slot: BotSlot): Promise<void> {
    const p = this.pending[0]?.slot === slot ? this.pending.shift() : undefined;
    if (p !== undefined) {
      this.resets++;
      p.reject(Object.assign(new Error('aborted'), { kind: 'aborted', recovered: true }));
    }
  }
  async resetRecovery(): Promise<void> {
    this.resets++;
  }
  async portReset(): Promise<void> {
    this.portResets++;
  }
  async close(): Promise<void> {}
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

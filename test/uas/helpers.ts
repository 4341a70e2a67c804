/** Shared helpers of the UAS transport tests: a software disk speaking UAS, the transport on it, commands. */
import { MockUsbDevice, type MockDeviceOptions } from '../../src/mock/index.js';
import type { TransportCommand, TransportResult, TransportSlot } from '../../src/transport/index.js';
import { openUasTransport, type UasOptions, type UasTransport } from '../../src/uas/index.js';

export interface UasRig {
  dev: MockUsbDevice;
  tr: UasTransport;
}

/**
 * Phase deadlines of a test that makes the device hang on purpose (the failure comes quickly). The others get a
 * few seconds: the software disk answers at once, but a loaded machine (the whole suite on two cores) can hold the
 * event loop for longer than half a second, and a deadline then fires before the answer is read.
 */
export const QUICK: UasOptions = { timeouts: { commandMs: 500, dataMs: 1000, statusMs: 500, tmfMs: 300 } };
const ROOMY: UasOptions = { timeouts: { commandMs: 3000, dataMs: 5000, statusMs: 3000, tmfMs: 2000 } };

/** A UAS-only software disk of `blocks` 512-byte blocks (default 8 MiB), with the transport open on it. */
export async function uasRig(opts: MockDeviceOptions = {}, tropts: UasOptions = {}): Promise<UasRig> {
  const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 16384 }], ...opts });
  const tr = await openUasTransport(dev.open(), { ...ROOMY, ...tropts });
  return { dev, tr };
}

export function cdb(...bytes: number[]): Buffer {
  const b = Buffer.alloc(16);
  Buffer.from(bytes).copy(b);
  return b;
}

export const inquiry = (n = 36): Buffer => cdb(0x12, 0, 0, 0, n);
export const tur = (): Buffer => cdb(0x00);
export const readCapacity10 = (): Buffer => cdb(0x25);

export function read10(lba: number, blocks: number): Buffer {
  const b = cdb(0x28);
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
}

export function write10(lba: number, blocks: number): Buffer {
  const b = cdb(0x2a);
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
}

/** A command on `buf` (or none), 10- or 6-byte CDB length from the opcode. */
export function command(c: Buffer, direction: 'none' | 'in' | 'out', buf?: Buffer, lun = 0): TransportCommand {
  const op = c[0] ?? 0;
  const cdbLength = op < 0x20 ? 6 : op < 0x60 ? 10 : op >= 0x80 && op < 0xa0 ? 16 : 12;
  return { lun, cdb: c, cdbLength, direction, segments: buf === undefined ? [] : [buf], segmentCount: buf === undefined ? 0 : 1,
    dataTimeoutMs: 0, sense: Buffer.alloc(252) };
}

/** Run one command on a fresh slot (freed afterwards). */
export async function run(tr: UasTransport, c: TransportCommand): Promise<TransportResult> {
  const slot: TransportSlot = tr.allocSlot(Math.max(1, c.segmentCount));
  try {
    return await tr.execute(slot, c);
  } finally {
    tr.freeSlot(slot);
  }
}

export async function settle<T>(p: Promise<T>): Promise<T | Error> {
  try { return await p; } catch (e) { return e as Error; }
}

export function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return b;
}

/**
 * Issue 9: the data path allocates no memory per command from the disk driver down: the packet comes from the
 * HBA's constructor cache (its extended-ARQ status area is the constructor's), the buf header and pkt_comp from the disk
 * driver's idle command slots, the DMA cookies point at the caller's buffer, and the BOT engine (or the UAS
 * transport: IU buffers, transfers and timers per slot, status reads from a pool) reuses its transfers. Counted here: every Buffer the host side makes while Disk.read/Disk.write run (the software device's
 * own allocations, on the other side of the USB port, are not the host's and are left out by their stack).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms, type UsbmsSession } from '../../src/open.js';

type Factory = 'alloc' | 'allocUnsafe' | 'allocUnsafeSlow' | 'from' | 'concat';
const FACTORIES: Factory[] = ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'from', 'concat'];

/** Runs `fn`, returning the stacks of the Buffers made outside the software device while it ran. */
async function hostAllocations(fn: () => Promise<void>): Promise<string[]> {
  // Errors, not their stacks: formatting a stack (vitest maps it through source maps) allocates Buffers itself,
  // so the stacks are read only after counting has stopped.
  const made: Error[] = [];
  const saved = new Map<Factory, unknown>();
  type Subarray = (this: Buffer, start?: number, end?: number) => Buffer;
  const proto = Buffer.prototype as unknown as { subarray: Subarray };
  const subarray = proto.subarray;
  for (const name of FACTORIES) {
    const orig = Buffer[name] as (...a: unknown[]) => Buffer;
    saved.set(name, orig);
    (Buffer as unknown as Record<Factory, unknown>)[name] = function (this: unknown, ...a: unknown[]): Buffer {
      made.push(new Error(`Buffer.${name}`));
      return orig.apply(this, a);
    };
  }
  // A view is an object per call too (what a DMA cookie would be if it were cut per command).
  proto.subarray = function (this: Buffer, start?: number, end?: number): Buffer {
    made.push(new Error('Buffer#subarray'));
    return subarray.call(this, start, end);
  };
  try {
    await fn();
  } finally {
    for (const [name, orig] of saved) (Buffer as unknown as Record<Factory, unknown>)[name] = orig;
    proto.subarray = subarray;
  }
  // What usbms's host side made (the test's own frames and vitest's are not the data path).
  return made.map((e) => e.stack ?? e.message)
    .filter((stack) => /[/\\]src[/\\]/.test(stack) && !/[/\\]src[/\\]mock[/\\]/.test(stack));
}

let session: UsbmsSession | undefined;
afterEach(async () => { await session?.close(); session = undefined; });

describe.each(['bot', 'uas'] as const)('Disk.read / Disk.write allocate nothing per command on the host side (%s)', (transport) => {
  for (const bytes of [4096, 120 * 1024, 1024 * 1024]) {
    it(`${bytes / 1024} KiB READs and WRITEs into one reused buffer`, async () => {
      const dev = new MockUsbDevice({ luns: [{ blocks: 32768n }], transports: transport });
      session = await openUsbms({ port: dev.open(), maxTransferBytes: 1024 * 1024 });
      expect(session.transport.protocol).toBe(transport);
      const disk = await session.openDisk(0, { allowWrite: true });
      const buf = Buffer.alloc(bytes, 0x5a);
      const blocks = bytes / disk.blockSize;
      const io = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          await disk.write(BigInt(i * blocks), buf);
          await disk.read(BigInt(i * blocks), blocks, buf);
        }
      };
      await io(4); // warm: the packet cache, the command slots and the engine's transfers are made here
      const made = await hostAllocations(() => io(6));
      expect(made).toEqual([]);
      expect(buf.every((b) => b === 0x5a)).toBe(true);
    });
  }
});

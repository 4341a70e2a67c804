/**
 * `node build/tools/bench/qd.js --device SELECTOR ...`: runs INSIDE the lab guest (hw-tests/lab/bench-uas.sh). Reads
 * (and writes) through usbms's public API (Disk.read / Disk.write) with N callers at once, for a fixed time, and
 * prints one JSON document: operations per second and MB/s. With queue depth N the HBA keeps up to N commands on the
 * wire when the transport can (UAS); over Bulk-Only they queue in the HBA and go one at a time.
 *
 * Options: --device SELECTOR, --transport bot|uas|auto, --qd N (callers, default 1), --size BYTES (default 4K),
 * --pattern random|sequential (default random), --op read|write (write needs --write: it overwrites the disk),
 * --seconds S (default 8), --warmup N (untimed operations first, default 500: V8 runs the path unoptimised for its
 * first ~1,000 commands), --max-transfer BYTES.
 */
import { openUsbms } from '../../src/open.js';
import { parseByteSize } from '../../src/util/size.js';

interface Args {
  device: string; transport: string | undefined; qd: number; size: number; pattern: 'random' | 'sequential';
  op: 'read' | 'write'; seconds: number; warmup: number; maxTransfer: number | undefined; write: boolean;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const device = get('device');
  if (device === undefined) throw new Error('--device SELECTOR is required');
  const pattern = get('pattern') ?? 'random';
  const op = get('op') ?? 'read';
  if (pattern !== 'random' && pattern !== 'sequential') throw new Error('--pattern random|sequential');
  if (op !== 'read' && op !== 'write') throw new Error('--op read|write');
  const mt = get('max-transfer');
  return {
    device, transport: get('transport'), qd: Number(get('qd') ?? 1), size: parseByteSize(get('size') ?? '4K'),
    pattern, op, seconds: Number(get('seconds') ?? 8), warmup: Number(get('warmup') ?? 500),
    maxTransfer: mt === undefined ? undefined : parseByteSize(mt), write: argv.includes('--write'),
  };
}

/** xorshift32: the same LBA sequence on every run. */
function lbaSource(seed: number, slots: number, pattern: 'random' | 'sequential'): () => number {
  let x = seed >>> 0 || 1;
  let next = 0;
  return () => {
    if (pattern === 'sequential') return next++ % slots;
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) % slots;
  };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.op === 'write' && !a.write) throw new Error('--op write overwrites the disk: pass --write');
  const s = await openUsbms({ device: a.device, detachKernelDriver: true, transport: a.transport,
    ...(a.maxTransfer === undefined ? {} : { maxTransferBytes: a.maxTransfer }) });
  try {
    const disk = await s.openDisk(0, { allowWrite: a.op === 'write' });
    const per = a.size / disk.blockSize;
    // Past LBA 2048 (no partition table), in whole commands.
    const slots = Math.max(1, Math.floor((Number(disk.blocks) - 2048) / per));
    const next = lbaSource(0x5eed, slots, a.pattern);
    const bufs = Array.from({ length: a.qd }, () => Buffer.alloc(a.size));
    const one = async (i: number): Promise<void> => {
      const lba = BigInt(2048 + next() * per);
      if (a.op === 'read') await disk.read(lba, per, bufs[i]);
      else await disk.write(lba, bufs[i]!);
    };
    let warm = 0;
    await Promise.all(bufs.map(async (_, i) => { while (warm < a.warmup) { warm++; await one(i); } }));
    let ops = 0;
    const t0 = performance.now();
    const until = t0 + a.seconds * 1000;
    await Promise.all(bufs.map(async (_, i) => { while (performance.now() < until) { await one(i); ops++; } }));
    const seconds = (performance.now() - t0) / 1000;
    const bytes = ops * a.size;
    process.stdout.write(`${JSON.stringify({
      transport: (s.transport as { protocol?: string }).protocol ?? 'bot', queueDepth: a.qd, size: a.size, pattern: a.pattern, op: a.op, ops, seconds,
      iops: ops / seconds, mbPerSecond: bytes / seconds / 1e6,
    })}\n`);
  } finally {
    await s.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`qd: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

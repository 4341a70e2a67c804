/**
 * `npm run bench`: the same path users run, on the built-in software disk, layer by layer, so that each layer's
 * cost shows as a ratio to the one below it. Speed is measured here, never asserted in unit tests.
 *
 * For each command size (READ and WRITE):
 *  - memcpy: Buffer.copy of the same bytes (what moving the data costs at all);
 *  - BOT: BotTransport.execute, one segment per command (the engine alone);
 *  - SCSA: a cached scsi_pkt re-sent with scsi_transport (HBA + engine);
 *  - Disk: Disk.read / Disk.write into one reused buffer (disk driver + HBA + engine: the library API);
 * then the image stream (createDiskReadStream piped through sha256, the `usbms image` path without the file),
 * the CLI's start-up (`usbms capacity --mock`), and, with BENCH_IMAGE_MB=N, `usbms image` of an N MiB image
 * file beside `dd bs=1M | sha256sum` of the same file, and with BENCH_RSS_GIB=N the peak RSS of imaging an N GiB
 * disk. Buffer allocations per command are counted for every row (all of the process: the software device's own
 * included).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { packageRoot } from '../root.js';
import { BotTransport } from '../../src/bot/transport.js';
import type { TransportCommand } from '../../src/transport/index.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import {
  B_READ, CMD_CMPLT, NULL_FUNC, SLEEP_FUNC, UsbmsHba, scsi_destroy_pkt, scsi_init_pkt, scsi_transport,
  type buf, type scsi_pkt,
} from '../../src/scsa/index.js';
import { UsbmsInternalError } from '../../src/util/errors.js';

const BLOCK = 512;
const TOTAL = 64 * 1024 * 1024;
const SIZES = [4 * 1024, 120 * 1024, 1024 * 1024, 4 * 1024 * 1024];
const MAX = Math.max(...SIZES);

interface Figure { mbps: number; msPerCmd: number; allocsPerCmd: number }

/** Count Buffer allocations made while the process runs (Buffer.alloc/allocUnsafe/from/concat). */
const allocCounter = { n: 0 };
function instrumentBufferAllocs(): void {
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'from', 'concat'] as const) {
    const orig = (Buffer as unknown as Record<string, (...a: unknown[]) => Buffer>)[name] as (...a: unknown[]) => Buffer;
    (Buffer as unknown as Record<string, unknown>)[name] = function counted(this: unknown, ...a: unknown[]): Buffer {
      allocCounter.n++;
      return orig.apply(this, a);
    };
  }
}

/** Time `commands` calls of `one(i)`; bytes per call `size`. */
async function measure(size: number, one: (i: number) => Promise<void> | void): Promise<Figure> {
  const commands = Math.max(16, Math.min(4096, Math.floor(TOTAL / size)));
  const a0 = allocCounter.n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < commands; i++) await one(i);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { mbps: (size * commands) / secs / 1e6, msPerCmd: (secs * 1000) / commands, allocsPerCmd: (allocCounter.n - a0) / commands };
}

function rw10(cdb: Buffer, op: 'read' | 'write', lba: number, blocks: number): void {
  cdb.fill(0);
  cdb[0] = op === 'read' ? 0x28 : 0x2a;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
}

function device(): MockUsbDevice {
  return new MockUsbDevice({ speed: 'super', maxPacketSize: 1024, luns: [{ blocks: TOTAL / BLOCK + 16384 }] });
}

const lbaOf = (i: number, size: number): number => (i * size / BLOCK) % (TOTAL / BLOCK);

function benchMemcpy(size: number): Promise<Figure> {
  const src = Buffer.alloc(MAX, 1);
  const dst = Buffer.alloc(MAX);
  return measure(size, () => { src.copy(dst, 0, 0, size); });
}

async function benchBot(op: 'read' | 'write', size: number): Promise<Figure> {
  const bot = await BotTransport.open(device().open(), { maxTransferBytes: MAX });
  const data = Buffer.alloc(size, 7);
  const cdb = Buffer.alloc(16);
  const slot = bot.allocSlot(1);
  const req: TransportCommand = { lun: 0, cdb, cdbLength: 10, direction: op === 'read' ? 'in' : 'out', segments: [data],
    segmentCount: 1, dataTimeoutMs: 0, sense: Buffer.alloc(0) };
  const f = await measure(size, async (i) => {
    rw10(cdb, op, lbaOf(i, size), size / BLOCK);
    const r = await bot.execute(slot, req);
    if (r.status !== 0 || r.transferred !== size) throw new UsbmsInternalError(`bench ${op} failed: ${JSON.stringify(r)}`);
  });
  bot.freeSlot(slot);
  await bot.close();
  return f;
}

async function benchScsa(size: number): Promise<Figure> {
  const bot = await BotTransport.open(device().open(), { maxTransferBytes: MAX });
  const hba = UsbmsHba.attach(bot, { style: 'setup' });
  const ap = hba.address(0);
  const mem = Buffer.alloc(size);
  const bp: buf = { b_flags: B_READ, b_bcount: size, b_un: { b_addr: mem }, b_resid: 0, b_error: 0 };
  const pkt: scsi_pkt = await scsi_init_pkt(ap, null, bp, 10, 32, 0, 0, SLEEP_FUNC);
  let resolveDone: () => void = () => undefined;
  pkt.pkt_comp = (): void => resolveDone();
  const f = await measure(size, async (i) => {
    rw10(pkt.pkt_cdbp, 'read', lbaOf(i, size), size / BLOCK);
    const done = new Promise<void>((r) => { resolveDone = r; });
    const rc = scsi_transport(pkt);
    if (rc !== 1) throw new UsbmsInternalError(`scsi_transport returned ${rc}`);
    await done;
    if (pkt.pkt_reason !== CMD_CMPLT || pkt.pkt_resid !== 0) throw new UsbmsInternalError(`pkt_reason ${pkt.pkt_reason}`);
  });
  scsi_destroy_pkt(pkt);
  if (scsi_init_pkt(ap, null, null, 10, 32, 0, 0, NULL_FUNC) === null) throw new UsbmsInternalError('pool did not recover');
  await hba.detach();
  await bot.close();
  return f;
}

async function benchDisk(op: 'read' | 'write', size: number): Promise<Figure> {
  const session = await openUsbms({ mock: device(), maxTransferBytes: MAX });
  try {
    const disk = await session.openDisk(0, { allowWrite: op === 'write' });
    const data = Buffer.alloc(size, 3);
    return await measure(size, async (i) => {
      if (op === 'read') await disk.read(BigInt(lbaOf(i, size)), size / BLOCK, data);
      else await disk.write(BigInt(lbaOf(i, size)), data);
    });
  } finally {
    await session.close();
  }
}

/** The image path without the file: the disk's read stream through sha256 into a sink. */
async function benchImageStream(size: number): Promise<Figure> {
  const session = await openUsbms({ mock: device(), maxTransferBytes: MAX });
  try {
    const disk = await session.openDisk(0);
    const hash = createHash('sha256');
    const sink = new Writable({ write(chunk: Buffer, _e, cb): void { hash.update(chunk); cb(); } });
    const blocks = TOTAL / BLOCK;
    const a0 = allocCounter.n;
    const t0 = process.hrtime.bigint();
    await pipeline(disk.createReadStream({ start: 0n, end: BigInt(blocks - 1), chunkBlocks: size / BLOCK }), sink);
    hash.digest();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const commands = TOTAL / size;
    return { mbps: TOTAL / secs / 1e6, msPerCmd: (secs * 1000) / commands, allocsPerCmd: (allocCounter.n - a0) / commands };
  } finally {
    await session.close();
  }
}

/**
 * Peak RSS of `usbms image` (the CLI, in a process of its own) copying a `gib` GiB disk (a sparse image file on
 * the software disk, 16 MiB per command allowed, so the default 8 MiB chunks) to /dev/null with its sha256: the
 * bound the copy keeps is two chunks, whatever the size of the disk. The child reports its own maxRSS at exit.
 */
function imageRss(gib: number): { gib: number; seconds: number; peakRssMb: number } {
  const dir = mkdtempSync(join(tmpdir(), 'usbms-rss-'));
  const img = join(dir, 'big.img');
  try {
    closeSync(openSync(img, 'w'));
    truncateSync(img, gib * 1024 ** 3);
    // VmHWM (Linux), not getrusage's maxRSS: that one keeps the forked parent's RSS across execve (this process's,
    // after all the benchmarks above), so it would measure the benchmark, not the copy.
    const hook = 'data:text/javascript,import{readFileSync as r}from"node:fs";process.on("exit",()=>{let k=process.resourceUsage().maxRSS;' +
      'try{k=Number(/VmHWM:\\s*(\\d+)/.exec(r("/proc/self/status","utf8"))[1])}catch{}process.stderr.write("maxrss "+k+"\\n")})';
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--import', hook, BIN, `--mock=${img}`, '--max-transfer', '16M', 'image',
      '--out', '/dev/null'], { encoding: 'utf8' });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const kb = /maxrss (\d+)/.exec(r.stderr)?.[1];
    if (r.status !== 0 || kb === undefined) throw new UsbmsInternalError(`usbms image exited ${r.status}: ${r.stderr}`);
    return { gib, seconds, peakRssMb: (Number(kb) * 1024) / 1e6 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Best of three runs: the least disturbed by other work on the machine (the usual microbenchmark rule). */
async function bestOf(run: () => Promise<Figure>): Promise<Figure> {
  let best: Figure | undefined;
  for (let i = 0; i < 3; i++) {
    const f = await run();
    if (best === undefined || f.mbps > best.mbps) best = f;
  }
  return best as Figure;
}

function row(label: string, f: Figure, base?: Figure, baseName = ''): string {
  const ratio = base === undefined ? '' : `  x${(f.msPerCmd / base.msPerCmd).toFixed(2)} the time of ${baseName}`;
  return `  ${label.padEnd(14)} ${f.mbps.toFixed(1).padStart(9)} MB/s ${f.msPerCmd.toFixed(4).padStart(9)} ms/cmd ` +
    `${f.allocsPerCmd.toFixed(2).padStart(6)} Buffer allocs/cmd${ratio}`;
}

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] ?? NaN; }

/** The `usbms` users run: the bundled CLI (npm run build:cli), dist/bin/usbms.js. */
const BIN = join(packageRoot(import.meta.dirname), 'dist', 'bin', 'usbms.js');

function startup(): { node: number; capacityMock: number } {
  const cli = BIN;
  const time = (args: string[]): number => {
    const xs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
      if (r.status !== 0) throw new UsbmsInternalError(`${args.join(' ')} exited ${r.status}`);
      xs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return median(xs);
  };
  return { node: time(['-e', '0']), capacityMock: time([cli, 'capacity', '--mock']) };
}

/** `usbms image` of an image file against `dd bs=1M | sha256sum` of the same file (the software-disk goal). */
function imageVsDd(mib: number): { usbms: number; dd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'usbms-bench-'));
  const img = join(dir, 'disk.img');
  try {
    const fd = openSync(img, 'w');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < mib; i++) { chunk.fill(i & 0xff); chunk.writeUInt32LE(i, 0); writeSync(fd, chunk); }
    closeSync(fd);
    const cli = BIN;
    const t = (fn: () => void): number => { const t0 = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t0) / 1e9; };
    const dd = median([0, 1, 2].map(() => t(() => execFileSync('bash', ['-c', `dd if=${img} bs=1M status=none | sha256sum`]))));
    const usbms = median([0, 1, 2].map(() => t(() => execFileSync(process.execPath,
      [cli, `--mock=${img}`, 'image', '--out', '/dev/null'], { stdio: 'ignore' }))));
    return { usbms, dd };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  instrumentBufferAllocs();
  const json = process.argv.includes('--json');
  const report: Record<string, unknown> = {};
  const say = (s: string): void => { if (!json) console.log(s); };
  say(`usbms bench: the software disk, in-process; node ${process.version}. Driver CPU cost per command, not USB speed.`);
  await benchBot('read', 64 * 1024); // warm-up (JIT)
  await benchDisk('read', 64 * 1024);
  for (const size of SIZES) {
    const r: Record<string, Figure> = {};
    r.memcpy = await bestOf(() => benchMemcpy(size));
    for (const op of ['read', 'write'] as const) {
      r[`bot-${op}`] = await bestOf(() => benchBot(op, size));
      r[`disk-${op}`] = await bestOf(() => benchDisk(op, size));
    }
    r.scsa = await bestOf(() => benchScsa(size));
    r.imageStream = await bestOf(() => benchImageStream(size));
    report[String(size)] = r;
    say(`\n${size / 1024} KiB per command:`);
    say(row('memcpy', r.memcpy));
    for (const op of ['read', 'write'] as const) {
      const bot = r[`bot-${op}`] as Figure;
      say(row(`BOT ${op}`, bot));
      if (op === 'read') say(row('SCSA read', r.scsa, bot, 'BOT'));
      say(row(`Disk.${op}`, r[`disk-${op}`] as Figure, bot, 'BOT'));
    }
    say(row('image stream', r.imageStream, r['disk-read'], 'Disk.read'));
  }
  const s = startup();
  report.startup = s;
  say(`\nstart-up: node -e 0 ${s.node.toFixed(3)} s; usbms capacity --mock ${s.capacityMock.toFixed(3)} s (median of 7)`);
  const mib = Number(process.env.BENCH_IMAGE_MB ?? 0);
  if (mib > 0) {
    const r = imageVsDd(mib);
    report.image = { mib, ...r, ratio: r.usbms / r.dd };
    say(`usbms image of ${mib} MiB: ${r.usbms.toFixed(2)} s; dd bs=1M | sha256sum: ${r.dd.toFixed(2)} s; ` +
      `ratio ${(r.usbms / r.dd).toFixed(2)} (median of 3)`);
  }
  const gib = Number(process.env.BENCH_RSS_GIB ?? 0);
  if (gib > 0) {
    const r = imageRss(gib);
    report.imageRss = r;
    say(`usbms image of a ${gib} GiB disk (default chunk, sha256): ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
  }
  say('\nBest of 3 runs each. Buffer allocs/cmd counts every Buffer.alloc/from/concat in the process, the software device included.');
  if (json) console.log(JSON.stringify(report, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

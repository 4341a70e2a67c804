/**
 * Data commands: read, write, image, restore, verify. Destructive ones need --write; data goes to stdout or a
 * file, progress (only on a TTY) and messages to stderr.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Argv } from 'yargs';
import { forEachChunk, forEachWrite, isDiskError, type BlockDevice, type Disk } from '../../../disk/index.js';
import { UsbmsError } from '../../../util/errors.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { hexDump, Progress } from '../format.js';
import { nameOf, openInput, readAll, STDIO, writeStdout, type Input } from '../stdio.js';
import {
  info, out, parseCount, parseLba, printJson, requireMedium, requireWrite, run, withDisk, type GlobalArgs,
} from '../context.js';
import { UsbmsInternalError } from '../../../util/errors.js';

/** Largest read printed as a hex dump or JSON (a terminal full of hex is not what anyone wants beyond it). */
const MAX_DUMP_BYTES = 16 * 2 ** 20;

interface ReadArgs extends GlobalArgs { lba: string; count?: string | undefined; out?: string | undefined }
interface WriteArgs extends GlobalArgs { lba: string; in?: string | undefined; write: boolean }
interface ImageArgs extends GlobalArgs {
  out?: string | undefined; in?: string | undefined; write: boolean; 'chunk-blocks'?: number | undefined;
  /** restore: an image smaller than the disk is written over its first blocks only when asked. */
  partial?: boolean | undefined;
  /** image, restore: `--no-hash` copies without the sha256 (where the CPU hashes slower than the device moves data). */
  hash?: boolean | undefined;
}
interface VerifyArgs extends GlobalArgs { start?: string | undefined; count?: string | undefined }

async function readCmd(a: ReadArgs): Promise<number> {
  const lba = parseLba(a.lba);
  const count = parseCount(a.count, 'COUNT', 1);
  if (a.out === STDIO && a.json) throw new CliError('--out - puts the blocks on stdout, where --json would go too: give one');
  return withDisk(a, {}, async (disk) => {
    if (a.out !== undefined) {
      // Streamed, so any range fits: the blocks go to the file chunk by chunk, never all in memory.
      const bytes = BigInt(count) * BigInt(disk.blockSize);
      const blocks = disk.createReadStream({ start: lba, end: lba + BigInt(count) - 1n });
      await pipeline(blocks, a.out === STDIO ? process.stdout : createWriteStream(a.out), { end: a.out !== STDIO });
      if (a.json) printJson({ lba, blocks: count, blockSize: disk.blockSize, bytes, file: a.out });
      else process.stderr.write(`read ${count} blocks at LBA ${lba} (${bytes} bytes) into ${nameOf(a.out, 'stdout')}\n`);
      return;
    }
    if (count * disk.blockSize > MAX_DUMP_BYTES) {
      throw new CliError(`${count} blocks is more than a hex dump should hold (${MAX_DUMP_BYTES / 2 ** 20} MiB): ` +
        'use --out FILE, or `usbms image`');
    }
    const data = await disk.read(lba, count);
    if (a.json) {
      printJson({ lba, blocks: count, blockSize: disk.blockSize, hex: data.toString('hex') });
    } else {
      out(hexDump(data, lba * BigInt(disk.blockSize)));
    }
  });
}

async function writeCmd(a: WriteArgs): Promise<number> {
  const lba = parseLba(a.lba);
  if (a.in === undefined) throw new CliError('write needs --in FILE (- for stdin)');
  requireWrite(a.write, 'write');
  const data = await readAll(a.in);
  const from = nameOf(a.in, 'stdin');
  return withDisk(a, { allowWrite: true }, async (disk) => {
    if (data.length === 0 || data.length % disk.blockSize !== 0) {
      throw new CliError(`${from} is ${data.length} bytes, not a whole number of ${disk.blockSize}-byte blocks`);
    }
    await disk.write(lba, data);
    await disk.synchronizeCache();
    const blocks = data.length / disk.blockSize;
    if (a.json) printJson({ lba, blocks, bytes: data.length });
    else process.stderr.write(`wrote ${blocks} blocks at LBA ${lba}\n`);
  });
}

async function imageCmd(a: ImageArgs): Promise<number> {
  if (a.out === undefined) throw new CliError('image needs --out FILE (- for stdout)');
  if (a.out === STDIO && a.json) throw new CliError('--out - puts the image on stdout, where --json would go too: give one');
  const chunkBlocks = parseCount(a['chunk-blocks'], '--chunk-blocks', 0) || undefined;
  const toStdout = a.out === STDIO;
  return withDisk(a, {}, async (disk) => {
    requireMedium(disk);
    const hash = a.hash === false ? undefined : createHash('sha256');
    const started = Date.now();
    const file = toStdout ? undefined : await open(a.out!, 'w');
    try {
      const progress = new Progress(disk.capacityBytes, 'image');
      let done = 0n;
      // Two buffers taking turns: the next READ is on the wire while this chunk is hashed and written.
      // The file write runs in libuv's thread pool while this thread hashes the same (unchanging) chunk.
      const writeAll = async (chunk: Buffer): Promise<void> => {
        if (file === undefined) return writeStdout(chunk);
        for (let off = 0; off < chunk.length;) off += (await file.write(chunk, off, chunk.length - off)).bytesWritten;
      };
      await forEachChunk(disk, chunkBlocks === undefined ? {} : { chunkBlocks }, async (chunk) => {
        const written = writeAll(chunk);
        try {
          hash?.update(chunk);
        } finally {
          await written;
        }
        done += BigInt(chunk.length);
        progress.update(done);
      });
      progress.finish();
    } finally {
      await file?.close();
    }
    const seconds = (Date.now() - started) / 1000;
    const sha256 = hash?.digest('hex') ?? null;
    const line = sha256 === null ? `${disk.capacityBytes} bytes  ${a.out}` : `${sha256}  ${a.out}`;
    if (a.json) printJson({ file: a.out, blocks: disk.blocks, bytes: disk.capacityBytes, sha256, seconds });
    else if (toStdout) info(line); // the image is on stdout: its sha256 goes beside the other messages
    else out(line);
  });
}

/** A pipe ran dry inside `chunk` (a lent buffer of forEachWrite) after `bytes` bytes. */
class InputEnded extends UsbmsError {
  constructor(readonly chunk: Buffer, readonly lba: bigint, readonly bytes: number) { super('CLI_FILE', 'input ended'); }
}

async function restoreCmd(a: ImageArgs): Promise<number> {
  if (a.in === undefined) throw new CliError('restore needs --in FILE (- for stdin)');
  requireWrite(a.write, 'restore');
  const name = nameOf(a.in, 'stdin');
  // Opened before the device: a missing file is a file error (15) without touching the disk.
  const input = await openInput(a.in);
  try {
    // A pipe's size is known only at its end, too late to compare with the disk before writing.
    if (input.size === undefined && a.partial !== true) {
      throw new CliError(`${name} is not a file, so its size cannot be checked against the disk before writing: ` +
        'pass --partial to write what it holds from LBA 0');
    }
    return await withDisk(a, { allowWrite: true }, async (disk) => { await restoreOnto(disk, input, name, a); });
  } finally {
    await input.close();
  }
}

/** Writes `input` onto `disk` from LBA 0: all of a file, or a pipe to its end. */
async function restoreOnto(disk: Disk, input: Input, name: string, a: ImageArgs): Promise<void> {
  requireMedium(disk);
  const size = input.size;
  const bs = BigInt(disk.blockSize);
  if (size !== undefined) {
    if (size === 0n || size % bs !== 0n) {
      throw new CliError(`${name} is ${size} bytes, not a whole number of ${disk.blockSize}-byte blocks`);
    }
    if (size > disk.capacityBytes) {
      throw new CliError(`${name} is ${size} bytes, larger than the disk (${disk.capacityBytes} bytes)`, 'DISK_LBA_OUT_OF_RANGE');
    }
    if (size < disk.capacityBytes && a.partial !== true) {
      // Most often the image of another (smaller) disk: refuse rather than leave a disk that is half one, half other.
      throw new CliError(`${name} is ${size} bytes, smaller than the disk (${disk.capacityBytes} bytes): ` +
        'pass --partial to write it over the first blocks only');
    }
  }
  const hash = a.hash === false ? undefined : createHash('sha256');
  const started = Date.now();
  const progress = new Progress(size ?? disk.capacityBytes, 'restore');
  let done = 0n;
  try {
    // Two buffers taking turns: the next chunk is read from the file and hashed while this one's WRITE runs.
    await forEachWrite(disk, { blocks: size === undefined ? disk.blocks : size / bs }, async (chunk, lba) => {
      const n = await input.read(chunk, Number(lba * bs));
      if (n < chunk.length && size !== undefined) throw new CliError(`${name} ended at byte ${lba * bs + BigInt(n)} while it was being restored`);
      hash?.update(chunk.subarray(0, n));
      if (n < chunk.length) throw new InputEnded(chunk, lba, n);
      progress.update(done);
      done += BigInt(chunk.length);
    });
    if (size === undefined && (await input.read(Buffer.alloc(1), 0)) > 0) {
      throw new CliError(`${name} holds more than the disk (${disk.capacityBytes} bytes): the disk now holds its first ` +
        `${disk.capacityBytes} bytes`, 'DISK_LBA_OUT_OF_RANGE');
    }
  } catch (e) {
    if (!(e instanceof InputEnded)) throw e;
    // The end of a pipe: its last whole blocks go on the disk like the chunks before them.
    if (e.bytes % disk.blockSize !== 0) {
      throw new CliError(`${name} ended ${e.bytes % disk.blockSize} bytes into a ${disk.blockSize}-byte block ` +
        `(after ${e.lba * bs + BigInt(e.bytes)} bytes; the whole blocks before it are written)`);
    }
    if (e.lba === 0n && e.bytes === 0) throw new CliError(`${name} is empty: nothing written`);
    if (e.bytes > 0) await disk.write(e.lba, e.chunk.subarray(0, e.bytes));
    done += BigInt(e.bytes);
  }
  progress.update(done);
  progress.finish();
  await disk.synchronizeCache();
  const seconds = (Date.now() - started) / 1000;
  const sha256 = hash?.digest('hex') ?? null;
  if (a.json) printJson({ file: a.in, blocks: done / bs, bytes: done, sha256, seconds });
  else out(sha256 === null ? `${done} bytes  ${a.in}` : `${sha256}  ${a.in}`);
}

/**
 * Read every block of a range at the device's transfer size with forEachChunk (the next READ queued behind the one
 * on the wire); a chunk whose READ fails with a medium or hardware error is re-read block by block, into its own
 * lent buffer, to name each unreadable LBA. Any other error ends the scan.
 */
async function scan(disk: Disk, start: bigint, count: bigint, onProgress: (done: bigint) => void): Promise<bigint[]> {
  const bad: bigint[] = [];
  const failedChunks = new Set<bigint>();
  const unreadable = (e: unknown): boolean => isDiskError(e, 'medium') || isDiskError(e, 'hardware');
  // The disk as forEachChunk sees it: a chunk that cannot be read is noted, not thrown.
  const tolerant: BlockDevice = {
    blockSize: disk.blockSize, blocks: disk.blocks,
    read: (lba, n, into) => disk.read(lba, n, into).catch((e: unknown) => {
      if (!unreadable(e) || into === undefined) throw e;
      failedChunks.add(lba);
      return into.subarray(0, n * disk.blockSize);
    }),
    write: () => Promise.reject(new UsbmsInternalError('verify does not write')),
  };
  const chunkBlocks = Math.max(1, Math.floor(disk.maxTransferBytes / disk.blockSize));
  await forEachChunk(tolerant, { start, end: start + count - 1n, chunkBlocks }, async (chunk, lba) => {
    const n = chunk.length / disk.blockSize;
    if (failedChunks.delete(lba)) {
      for (let i = 0; i < n; i++) {
        await disk.read(lba + BigInt(i), 1, chunk).catch((err: unknown) => {
          if (!unreadable(err)) throw err;
          bad.push(lba + BigInt(i));
        });
      }
    }
    onProgress(lba + BigInt(n) - start);
  });
  return bad;
}

async function verifyCmd(a: VerifyArgs): Promise<number> {
  return withDisk(a, { retries: 1 }, async (disk) => {
    requireMedium(disk);
    const start = a.start === undefined ? 0n : parseLba(a.start, '--start');
    const count = a.count === undefined ? disk.blocks - start : BigInt(parseCount(a.count, '--count', 1));
    if (start + count > disk.blocks || count < 1n) {
      throw new CliError(`range ${start}+${count} is not on the disk (${disk.blocks} blocks)`, 'DISK_LBA_OUT_OF_RANGE');
    }
    const progress = new Progress(count * BigInt(disk.blockSize), 'verify');
    const bad = await scan(disk, start, count, (done) => { progress.update(done * BigInt(disk.blockSize)); });
    progress.finish();
    if (a.json) printJson({ start, blocks: count, unreadable: bad });
    else out(bad.length === 0 ? `all ${count} blocks readable` : `unreadable LBAs (${bad.length}):\n${bad.join('\n')}`);
    return bad.length === 0 ? EXIT.OK : EXIT.MEDIUM_HARD;
  });
}

export function registerIoCommands<T>(y: Argv<T>): Argv<T> {
  const writeFlag = { type: 'boolean', default: false, describe: 'confirm that data on the disk is changed' } as const;
  return y
    .command('read <lba> [count]', 'read blocks: hex dump like xxd, or --out FILE', (b) => withExamples(b, 'read')
      .positional('lba', { type: 'string' }).positional('count', { type: 'string' })
      .option('out', { alias: 'o', type: 'string', describe: 'write the raw blocks to FILE (- for stdout)' }),
    (a) => run(() => readCmd(a as unknown as ReadArgs)))
    .command('write <lba>', 'write FILE (whole blocks) at LBA', (b) => withExamples(b, 'write')
      .positional('lba', { type: 'string' })
      .option('in', { alias: 'i', type: 'string', describe: 'the blocks to write: FILE (- for stdin)' }).option('write', writeFlag),
    (a) => run(() => writeCmd(a as unknown as WriteArgs)))
    .command('image', 'copy the whole disk into FILE and print its sha256', (b) => withExamples(b, 'image')
      .option('out', { alias: 'o', type: 'string', describe: 'the image FILE (- for stdout; the sha256 then goes to stderr)' })
      .option('chunk-blocks', { type: 'number', describe: 'blocks per READ (default: the device\'s transfer size)' })
      .option('hash', { type: 'boolean', default: true,
        describe: 'sha256 of the copy (--no-hash: copy only, at the device\'s speed where hashing is slower)' }),
    (a) => run(() => imageCmd(a as unknown as ImageArgs)))
    .command('restore', 'write an image FILE onto the disk from LBA 0', (b) => withExamples(b, 'restore')
      .option('in', { alias: 'i', type: 'string', describe: 'the image FILE (- for stdin; a pipe needs --partial: its size is not known before writing)' })
      .option('write', writeFlag)
      .option('partial', { type: 'boolean', default: false, describe: 'allow an image smaller than the disk' })
      .option('hash', { type: 'boolean', default: true,
        describe: 'sha256 of the image (--no-hash: write only, at the device\'s speed where hashing is slower)' }),
    (a) => run(() => restoreCmd(a as unknown as ImageArgs)))
    .command('verify', 'read every block and list the unreadable LBAs', (b) => withExamples(b, 'verify')
      .option('start', { type: 'string' }).option('count', { type: 'string' }),
    (a) => run(() => verifyCmd(a as unknown as VerifyArgs)));
}

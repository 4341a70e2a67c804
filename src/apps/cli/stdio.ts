/**
 * `-` as a file name: stdout for --out, stdin for --in, as in dd, ddrescue and sg_dd. stdin may be a file
 * (`< disk.img`: its size is known and it is read at any offset), or a pipe or socket (read in order to its end).
 */
import { fstatSync, read, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

export const STDIO = '-';

/** What a file name stands for in messages: `-` is "stdout" or "stdin". */
export const nameOf = (file: string, stream: 'stdout' | 'stdin'): string => (file === STDIO ? stream : file);

/** Write all of `chunk` to stdout; resolves once it is out of our hands (the caller may reuse the buffer). */
export function writeStdout(chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (e) => { if (e === null || e === undefined) resolve(); else reject(e); });
  });
}

/** An input file or stdin, read into the caller's buffers. */
export interface Input {
  /** Bytes it holds, when known before reading (a file); undefined for a pipe. */
  readonly size: bigint | undefined;
  /** Fill `into` from `position` (a file) or from where the last read ended (a pipe): the bytes read, fewer only at the end. */
  read(into: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

const readFd = promisify(read);

async function fill(into: Buffer, once: (off: number) => Promise<number>): Promise<number> {
  let off = 0;
  while (off < into.length) {
    const n = await once(off);
    if (n === 0) break;
    off += n;
  }
  return off;
}

function fileInput(file: FileHandle, size: bigint): Input {
  return {
    size,
    read: (into, position) => fill(into, async (off) => (await file.read(into, off, into.length - off, position + off)).bytesRead),
    close: () => file.close(),
  };
}

/** A stream read in order: each of its chunks is copied into the caller's buffers as they come. */
function streamInput(stream: NodeJS.ReadableStream): Input {
  const chunks = stream[Symbol.asyncIterator]();
  let left: Buffer = Buffer.alloc(0);
  let ended = false;
  return {
    size: undefined,
    read: (into) => fill(into, async (off) => {
      if (left.length === 0 && !ended) {
        const next = await chunks.next();
        if (next.done === true) ended = true;
        else left = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
      }
      const n = left.copy(into, off);
      left = left.subarray(n);
      return n;
    }),
    close: async () => { await chunks.return?.(); },
  };
}

/** Open FILE, or stdin for `-`. */
export async function openInput(path: string): Promise<Input> {
  if (path !== STDIO) {
    const file = await open(path, 'r');
    return fileInput(file, BigInt((await file.stat()).size));
  }
  const stat = fstatSync(0);
  if (!stat.isFile()) return streamInput(process.stdin);
  // A file on stdin: read at any offset from fd 0, which stays open (it is not ours to close).
  return {
    size: BigInt(stat.size),
    read: (into, position) => fill(into, async (off) => (await readFd(0, into, off, into.length - off, position + off)).bytesRead),
    close: () => Promise.resolve(),
  };
}

/** All of FILE, or all of stdin for `-`. */
export async function readAll(path: string): Promise<Buffer> {
  if (path !== STDIO) return readFileSync(path);
  if (fstatSync(0).isFile()) return readFileSync(0);
  const parts: Buffer[] = [];
  for await (const part of process.stdin) parts.push(Buffer.isBuffer(part) ? part : Buffer.from(part as string));
  return Buffer.concat(parts);
}

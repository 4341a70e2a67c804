/**
 * Runs the bundled CLI (a CommonJS file) through V8's code cache, as v8-compile-cache does: Node 20 has no
 * module.enableCompileCache (22.1+), and compiling the 0.7 MB bundle was the largest part of a short command's
 * start-up after module loading. The build runs one command and saves what V8 compiled for it (bytecode, which does
 * not depend on the CPU); each later run deserialises that instead of parsing and compiling again.
 *
 * V8 checks its own version and flags and rejects a cache made by another Node, but it checks the source only by
 * its length. So the cache file starts with the SHA-1 of the bundle it was made from, and a cache whose digest does
 * not match (the bundle rebuilt or edited) is never handed to V8. Without a usable cache the script simply compiles.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

const DIGEST_BYTES = 20;

/** Node's own CommonJS wrapper (on the first line, so line numbers in stack traces stay the file's). */
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAP_TAIL = '\n});';

type CommonJsWrapper = (exports: unknown, require: NodeJS.Require, module: { exports: unknown },
  filename: string, dirname: string) => void;

/** A CommonJS file compiled with or without its code cache, ready to run once. */
export interface CachedScript {
  /** The cache matched the file and V8 took it. */
  readonly cacheUsed: boolean;
  /** Why no cache was used: 'missing' (no file), 'stale' (another bundle's), 'rejected' (by V8), or undefined. */
  readonly cacheMiss: 'missing' | 'stale' | 'rejected' | undefined;
  /** Runs the file as Node would run a CommonJS module of that name. */
  run(): void;
  /** Saves what V8 has compiled so far (call it after a representative run) beside the file. */
  writeCache(): void;
}

function readCache(cacheFile: string, digest: Buffer): Buffer | 'missing' | 'stale' {
  let data: Buffer;
  try {
    data = readFileSync(cacheFile);
  } catch {
    return 'missing';
  }
  if (data.length <= DIGEST_BYTES || !data.subarray(0, DIGEST_BYTES).equals(digest)) return 'stale';
  return data.subarray(DIGEST_BYTES);
}

/** Compiles `file` (CommonJS, an optional #! line) with the code cache in `cacheFile` when that cache is its own. */
export function compileCached(file: string, cacheFile: string): CachedScript {
  const source = readFileSync(file);
  const digest = createHash('sha1').update(source).digest();
  const cached = readCache(cacheFile, digest);
  const code = WRAP_HEAD + source.toString('utf8').replace(/^#!.*/, '') + WRAP_TAIL;
  const script = typeof cached === 'string'
    ? new Script(code, { filename: file })
    : new Script(code, { filename: file, cachedData: cached });
  const cacheMiss = typeof cached === 'string' ? cached : script.cachedDataRejected === true ? 'rejected' : undefined;
  return {
    cacheUsed: cacheMiss === undefined,
    cacheMiss,
    run() {
      const wrapper = script.runInThisContext() as CommonJsWrapper;
      const module = { exports: {} };
      wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
    },
    writeCache() {
      // Through a temporary name: a CLI starting meanwhile reads the old cache or the new one, never half of one.
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]));
      renameSync(tmp, cacheFile);
    },
  };
}

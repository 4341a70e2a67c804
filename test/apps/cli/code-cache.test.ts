/**
 * The launcher's code cache (src/apps/cli/code-cache.ts): a CommonJS file runs the same with or without it, a cache is
 * used only for the exact file it was made from (V8 itself checks only the length), and the bundle the build made
 * carries a cache that a plain `node` accepts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileCached } from '../../../src/apps/cli/code-cache.js';
import { buildCliIfStale, ROOT } from './build.js';

buildCliIfStale(); // dist/apps/cli/code-cache.js, which the child processes below import

const dir = mkdtempSync(join(tmpdir(), 'usbms-code-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A script that reports through a global what it ran with: its value, require, __filename and strictness. */
function script(value: string): string {
  return `#!/usr/bin/env node\n"use strict";\nconst path = require('node:path');\n`
    + `function sloppy() { return this === undefined ? 'strict' : 'sloppy'; }\n`
    + `globalThis.__codeCacheProbe = { value: '${value}', base: path.basename(__filename), mode: sloppy(), exports: typeof module.exports };\n`;
}

type Probe = { value: string; base: string; mode: string; exports: string };
type Outcome = { probe: Probe; used: boolean; miss: string | null };
const CODE_CACHE_JS = join(ROOT, 'dist/apps/cli/code-cache.js');

/**
 * Compiles and runs `file` in a fresh node, as the launcher does. A fresh process, because V8 keeps every script it
 * compiled in a per-process cache and would answer a second compile of the same text from there, never looking at
 * the cached data it was given.
 */
function runProbe(file: string, cache: string, write = false): Outcome {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import { compileCached } from ${JSON.stringify(CODE_CACHE_JS)};
    const s = compileCached(${JSON.stringify(file)}, ${JSON.stringify(cache)});
    s.run();
    ${write ? 's.writeCache();' : ''}
    process.stdout.write(JSON.stringify({ probe: globalThis.__codeCacheProbe, used: s.cacheUsed, miss: s.cacheMiss ?? null }));`],
  { encoding: 'utf8' });
  return JSON.parse(out) as Outcome;
}

describe('compileCached', () => {
  const file = join(dir, 'probe.js');
  const cache = join(dir, 'probe.js.cache');

  it('runs a file without a cache as CommonJS (require, __filename, module; its "use strict" after the #! line)', () => {
    writeFileSync(file, script('one'));
    const r = runProbe(file, cache);
    expect(r).toEqual({ probe: { value: 'one', base: 'probe.js', mode: 'strict', exports: 'object' }, used: false, miss: 'missing' });
    // And in this process too, as the tests' own import (the TypeScript source).
    const s = compileCached(file, cache);
    s.run();
    expect((globalThis as { __codeCacheProbe?: Probe }).__codeCacheProbe?.value).toBe('one');
  });

  it('uses the cache it wrote for the same file, with the same result', () => {
    runProbe(file, cache, true);
    const r = runProbe(file, cache);
    expect(r.used).toBe(true);
    expect(r.probe.value).toBe('one');
  });

  it('never hands V8 the cache of another file of the same length: the new text runs', () => {
    const edited = script('two');
    expect(edited.length).toBe(script('one').length);
    writeFileSync(file, edited);
    const r = runProbe(file, cache);
    expect(r).toMatchObject({ used: false, miss: 'stale', probe: { value: 'two' } });
  });

  it('a cache cut short or full of garbage is not used, and the file still runs', () => {
    writeFileSync(file, script('one'));
    runProbe(file, cache, true);
    const whole = readFileSync(cache);
    writeFileSync(cache, whole.subarray(0, 12));
    expect(runProbe(file, cache)).toMatchObject({ used: false, miss: 'stale', probe: { value: 'one' } });
    // The right digest in front of bytes V8 did not write: V8's own checks refuse them.
    const garbage = Buffer.concat([whole.subarray(0, 20), Buffer.alloc(whole.length - 20, 0x5a)]);
    writeFileSync(cache, garbage);
    expect(runProbe(file, cache)).toMatchObject({ used: false, miss: 'rejected', probe: { value: 'one' } });
  });
});

describe('the built CLI (dist/bin)', () => {
  it('ships a code cache that a plain node accepts for dist/bin/cli.js', () => {
    // A child process: V8 accepts a cache only under the flags it was made with, and vitest's workers may differ.
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
      import { compileCached } from ${JSON.stringify(CODE_CACHE_JS)};
      const s = compileCached(${JSON.stringify(join(ROOT, 'dist/bin/cli.js'))}, ${JSON.stringify(join(ROOT, 'dist/bin/cli.js.cache'))});
      process.stdout.write(JSON.stringify({ used: s.cacheUsed, miss: s.cacheMiss ?? null }));`], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ used: true, miss: null });
  });
});

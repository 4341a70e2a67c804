/**
 * Every error usbms throws is a typed UsbmsError with a code (src/util/errors.ts), so scripts branch on `code` and
 * the CLI maps it to an exit status: no plain `new Error(...)` / `RangeError` / `TypeError` anywhere in src/, and
 * no error class that extends Error (or RangeError, TypeError) directly but the two bases in src/util/errors.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');
/** Where the bases of the convention live: UsbmsError extends Error, UsbmsArgumentError extends RangeError. */
const BASES = 'util/errors.ts';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** `file:line: text` of every line of src/ that matches `re`, outside the bases. */
function offenders(re: RegExp): string[] {
  return sources(SRC).flatMap((file) => {
    const rel = relative(SRC, file);
    if (rel === BASES) return [];
    return readFileSync(file, 'utf8').split('\n').flatMap((line, i) => (re.test(line) ? [`${rel}:${i + 1}: ${line.trim()}`] : []));
  });
}

describe('typed errors only', () => {
  it('no `new Error(`, `new RangeError(` or `new TypeError(` in src/', () => {
    expect(offenders(/\bnew\s+(Error|RangeError|TypeError)\s*\(/)).toEqual([]);
  });

  it('no class in src/ extends Error, RangeError or TypeError directly (only the bases in util/errors.ts)', () => {
    expect(offenders(/\bextends\s+(Error|RangeError|TypeError)\b/)).toEqual([]);
  });

  it('the check itself finds what it looks for (the bases are where it says)', () => {
    const bases = readFileSync(join(SRC, BASES), 'utf8');
    expect(bases).toMatch(/class UsbmsError extends Error\b/);
    expect(bases).toMatch(/class UsbmsArgumentError extends RangeError\b/);
  });
});

/**
 * The CLI bundle's lazy string-width (tools/build/bundle-cli.ts): a bundle that imports string-width builds none of
 * its Intl.Segmenters while it loads, and measures strings exactly as string-width does once it is called.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { lazyStringWidth } from '../../../tools/build/bundle-cli.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'usbms-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLES = ['usbms', '\u001b[31mred\u001b[39m', '古い', '👩‍👩‍👧', '1️⃣', 'e\u0301', ''];

async function bundle(plugins: ReturnType<typeof lazyStringWidth>[]): Promise<string> {
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, "import stringWidth from 'string-width';\nexport const widths = (xs) => xs.map((x) => stringWidth(x));\n");
  const out = join(dir, `out-${plugins.length}.mjs`);
  await build({
    entryPoints: [entry], outfile: out, bundle: true, format: 'esm', platform: 'node', logLevel: 'silent',
    nodePaths: [join(ROOT, 'node_modules')], plugins,
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
  });
  return out;
}

/** Loads a bundle with Intl.Segmenter counted: how many were built while it loaded, and after measuring. */
async function load(file: string): Promise<{ atLoad: number; afterCall: number; widths: number[] }> {
  const intl = Intl as { Segmenter: typeof Intl.Segmenter }; // writable here, as it is at run time
  const Real = intl.Segmenter;
  let built = 0;
  const Counting = class extends Real { constructor(...args: ConstructorParameters<typeof Real>) { super(...args); built++; } };
  intl.Segmenter = Counting;
  try {
    const m = (await import(pathToFileURL(file).href)) as { widths: (xs: string[]) => number[] };
    const atLoad = built;
    const widths = m.widths(SAMPLES);
    return { atLoad, afterCall: built, widths };
  } finally {
    intl.Segmenter = Real;
  }
}

describe('the CLI bundle loads string-width on first use', () => {
  let plain: number[] = [];
  it('plain esbuild builds a Segmenter at load (what the plugin is for)', async () => {
    const r = await load(await bundle([]));
    expect(r.atLoad).toBeGreaterThan(0);
    plain = r.widths;
  });

  it('with the plugin: nothing built at load, the same widths as string-width once called', async () => {
    const stood: string[] = [];
    const r = await load(await bundle([lazyStringWidth(stood)]));
    expect(stood).toHaveLength(1);
    expect(r.atLoad).toBe(0);
    expect(r.afterCall).toBeGreaterThan(0);
    expect(r.widths).toEqual(plain); // string-width itself, bundled without the plugin
    expect(r.widths.slice(0, 4)).toEqual([5, 3, 4, 2]);
  });
});

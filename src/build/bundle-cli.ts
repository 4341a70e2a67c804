/**
 * Bundles the CLI (dist/cli/main.js, from tsc) into dist/bin/usbms.js with esbuild: one file for what every command
 * loads, and a chunk per command for the rest. `npm run build` runs it; nothing at run time imports this file.
 *
 * Why a script and not esbuild's command line: one plugin. Every copy of string-width (yargs 18 and its cliui and
 * wrap-ansi each carry one) builds an Intl.Segmenter and Unicode-property regexes (`\p{RGI_Emoji}` with the `v`
 * flag) while it loads. Profiled natively, that was 21 ms of the 140 ms `usbms capacity --mock` takes, yet only
 * help and usage errors ever measure a string. The plugin hands each importer a stand-in that loads its own
 * string-width (the same version it asked for) on the first call.
 */
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = resolve(ROOT, 'dist/bin');

const LAZY = 'lazy-string-width';
const SKIP = Symbol(LAZY);

/** Replaces each `import stringWidth from 'string-width'` with a stand-in that loads the real module when called. */
export function lazyStringWidth(stood: string[] = []): Plugin {
  return {
    name: LAZY,
    setup(b) {
      b.onResolve({ filter: /^string-width$/ }, async (args) => {
        if (args.pluginData === SKIP) return undefined;
        const real = await b.resolve(args.path, {
          kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: SKIP,
        });
        if (real.errors.length > 0) return { errors: real.errors };
        stood.push(real.path);
        return { path: real.path, namespace: LAZY };
      });
      // esbuild turns a require() of a bundled ES module into a module initialised at that call, not at load.
      b.onLoad({ filter: /.*/, namespace: LAZY }, (args) => ({
        loader: 'js',
        resolveDir: dirname(args.path),
        contents: [
          'let real;',
          'export default function stringWidth(string, options) {',
          `  real ??= require(${JSON.stringify(args.path)}).default;`,
          '  return real(string, options);',
          '}',
        ].join('\n'),
      }));
    },
  };
}

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  const stood: string[] = [];
  const result = await build({
    entryPoints: { usbms: resolve(ROOT, 'dist/cli/main.js') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['usb'],
    outdir: OUT,
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true,
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    // Bundled CommonJS dependencies (debug, yargs' helpers) call require; an ES module has none of its own.
    banner: { js: "import { createRequire as __usbmsRequire } from 'node:module'; const require = __usbmsRequire(import.meta.url);" },
    plugins: [lazyStringWidth(stood)],
  });
  if (result.errors.length > 0) process.exit(1);
  // yargs without string-width would be fine; a silent miss after an upgrade would cost the 21 ms again unnoticed.
  if (stood.length === 0) process.stderr.write('bundle-cli: no string-width import found to load lazily\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();

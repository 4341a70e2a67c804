/**
 * Bundles the CLI (dist/apps/cli/main.js, from tsc) into one CommonJS file, dist/bin/cli.js, with esbuild, beside the
 * launcher users run (dist/bin/usbms.js, from src/apps/cli/launch.ts), and makes the launcher's code cache by running
 * one command. `npm run build` runs it (compiled to build/tools/build/ by `npm run build:tools`); it is not shipped.
 *
 * One file and not ES modules: Node 20 can only code-cache a script (vm.Script's cachedData), and one file is also
 * one read instead of a module graph. Command modules are still initialised only when their command runs (esbuild
 * wraps each lazily imported module in an init function), so they cost parsing, which the cache takes away.
 *
 * Why a script and not esbuild's command line: one plugin. Every copy of string-width (yargs 18 and its cliui and
 * wrap-ansi each carry one) builds an Intl.Segmenter and Unicode-property regexes (`\p{RGI_Emoji}` with the `v`
 * flag) while it loads. Profiled natively, that was 21 ms of the 140 ms `usbms capacity --mock` took, yet only
 * help and usage errors ever measure a string. The plugin hands each importer a stand-in that loads its own
 * string-width (the same version it asked for) on the first call.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { packageRoot } from '../root.js';

const ROOT = packageRoot(import.meta.dirname);
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

const COMMON = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
} as const;

/** The command whose run fills the code cache: it loads yargs, the software disk, SCSA and the disk driver. */
const CACHE_TRAINING_ARGS = ['capacity', '--mock'];

async function main(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  const stood: string[] = [];
  const cli = await build({
    ...COMMON,
    entryPoints: { cli: resolve(ROOT, 'dist/apps/cli/main.js') },
    external: ['usb'],
    outdir: OUT,
    // import.meta has no meaning in CommonJS; the one use (createRequire(import.meta.url)) gets the bundle's URL.
    define: { 'import.meta.url': '__usbmsImportMetaUrl' },
    // "use strict" first: esbuild's own comes after the banner, where it is no directive, and ES modules are strict.
    banner: { js: '"use strict";var __usbmsImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    plugins: [lazyStringWidth(stood)],
  });
  const launcher = await build({
    ...COMMON,
    entryPoints: { usbms: resolve(ROOT, 'dist/apps/cli/launch.js') },
    outdir: OUT,
    define: { 'import.meta.dirname': '__dirname' },
  });
  if (cli.errors.length > 0 || launcher.errors.length > 0) process.exit(1);
  // A script run by vm.Script has no loader for import(): every dynamic import must have become a require.
  if (/\bimport\(/.test(readFileSync(resolve(OUT, 'cli.js'), 'utf8'))) {
    process.stderr.write('bundle-cli: dist/bin/cli.js still calls import(), which a vm.Script cannot\n');
    process.exit(1);
  }
  // yargs without string-width would be fine; a silent miss after an upgrade would cost the 21 ms again unnoticed.
  if (stood.length === 0) process.stderr.write('bundle-cli: no string-width import found to load lazily\n');
  // The project is "type": "module"; these two files are CommonJS.
  writeFileSync(resolve(OUT, 'package.json'), '{ "type": "commonjs" }\n');
  chmodSync(resolve(OUT, 'usbms.js'), 0o755);
  execFileSync(process.execPath, [resolve(OUT, 'usbms.js'), ...CACHE_TRAINING_ARGS],
    { env: { ...process.env, USBMS_WRITE_CODE_CACHE: '1' }, stdio: ['ignore', 'ignore', 'inherit'] });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) await main();

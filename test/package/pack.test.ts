/**
 * The package people install (issue 10): `npm pack` in a fresh tree builds dist/ by itself, the tarball holds the
 * code and no tests, lab scripts or source maps that point at missing files, and it installs into an empty
 * project whose `npx usbms --help` works, whose TypeScript importing `usbms` and `usbms/mock` type-checks under
 * moduleResolution nodenext and bundler (and runs), and whose exports @arethetypeswrong/cli accepts.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packFreshTree, ROOT, sh, type Packed } from './tarball.js';

const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ATTW = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
const TYPES_NODE = (JSON.parse(readFileSync(join(ROOT, 'node_modules/@types/node/package.json'), 'utf8')) as
  { version: string }).version;

// A consumer written against the public entry points only: the layers composed by hand, as a library user would.
const CONSUMER = `
import { BotTransport, Disk, DiskError, UsbmsHba, type OpenUsbmsOptions, type UsbPort } from 'usbms';
import { MockUsbDevice } from 'usbms/mock';
import { isLoopback, type NbdServeOptions } from 'usbms/serve';

const serveOptions: NbdServeOptions = { luns: [0], listen: { host: '127.0.0.1', port: 0 } };
if (!isLoopback('127.0.0.1') || serveOptions.write === true) throw new Error('usbms/serve');

const device = new MockUsbDevice({ luns: [{ blocks: 2048 }] });
const port: UsbPort = device.open();
const transport = await BotTransport.open(port);
const hba = UsbmsHba.attach(transport);
const options: OpenUsbmsOptions = {};
try {
  const disk = await Disk.open(hba, 0);
  const block: Buffer = await disk.read(0n, 1);
  console.log(JSON.stringify({ bytes: block.length, blocks: String(disk.blocks), options }));
  await disk.close();
} catch (e) {
  if (e instanceof DiskError) console.log('disk error', e.code);
  throw e;
} finally {
  await hba.detach();
  await transport.close();
  await port.close();
}
`;

const TSCONFIGS = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out' },
  bundler: { module: 'esnext', moduleResolution: 'bundler', noEmit: true },
} as const;

let packed: Packed;
let consumer: string;

beforeAll(async () => {
  packed = await packFreshTree();
  consumer = join(packed.work, 'consumer');
  mkdirSync(consumer);
  // usb@2's install script only looks for its bundled prebuilt binary; npm 11 runs it once the project allows it.
  writeFileSync(join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { usb: true } }));
  await sh('npm', ['install', packed.tarball, `@types/node@${TYPES_NODE}`, '--prefer-offline', '--no-audit',
    '--no-fund'], consumer, 180_000);
  writeFileSync(join(consumer, 'index.ts'), CONSUMER);
  for (const [name, opts] of Object.entries(TSCONFIGS)) {
    writeFileSync(join(consumer, `tsconfig.${name}.json`), JSON.stringify({
      // As a Node project under TypeScript 6 (whose `types` default is []) would: only @types/node listed.
      compilerOptions: { target: 'es2022', strict: true, skipLibCheck: false, types: ['node'], ...opts },
      files: ['index.ts'],
    }));
  }
}, 600_000);

afterAll(() => {
  if (packed !== undefined && process.env.USBMS_KEEP_PACK === undefined) rmSync(packed.work, { recursive: true, force: true });
});

describe('npm pack in a fresh tree', () => {
  it('builds dist/ first: the entry points, their types and the CLI are in the tarball', () => {
    for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/mock/index.js',
      'dist/mock/index.d.ts', 'dist/apps/serve/index.js', 'dist/apps/serve/index.d.ts', 'dist/apps/cli/main.js',
      'dist/bin/usbms.js', 'dist/bin/cli.js', 'dist/bin/cli.js.cache',
      'dist/bin/package.json', 'udev/70-usbms.rules']) {
      expect(packed.entries, f).toContain(f);
    }
  });

  it('holds no tests, tools, lab scripts, CI files or build leftovers', () => {
    const offending = packed.entries.filter((e) => /^(test|tools|build|hw-tests|\.ci|\.lab[^/]*|build-check|coverage|docs|node_modules)\//.test(e)
      || /^dist\/(bench|build|tools)\//.test(e)
      || /\.test\.[cm]?[jt]s$/.test(e) || /(^|\/)tsconfig[^/]*\.json$/.test(e) || /(^|\/)vitest\.config/.test(e));
    expect(offending).toEqual([]);
  });

  it('ships source maps only for its own sources, each pointing at files in the tarball or carrying their text', () => {
    const maps = packed.entries.filter((e) => e.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const present = new Set(packed.entries);
    const missing: string[] = [];
    const notOurs: string[] = [];
    const root = join(consumer, 'node_modules/usbms');
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(root, m), 'utf8')) as
        { sources: string[]; sourceRoot?: string; sourcesContent?: (string | null)[] };
      map.sources.forEach((s, i) => {
        const rel = resolve('/', dirname(m), map.sourceRoot ?? '', s).slice(1);
        // The bundled CLI (dist/bin) maps into its dependencies too: their text is in the map itself, except where
        // a dependency's own map names a source it does not publish (get-caller-file's index.ts): not ours to ship.
        const embedded = typeof map.sourcesContent?.[i] === 'string';
        const theirs = m.startsWith('dist/bin/') && /(^|\/)node_modules\//.test(s);
        if (!present.has(rel) && !embedded && !theirs) missing.push(`${m} -> ${rel}`);
        if (!theirs && !rel.startsWith('src/')) notOurs.push(`${m} -> ${rel}`);
      });
    }
    expect(missing).toEqual([]);
    // Every map is of shipped code: nothing maps back to tools/ (the bundler, benchmarks) or tests.
    expect(notOurs).toEqual([]);
  });
});

describe('the tarball installed into an empty project', () => {
  it('npx usbms --help prints the commands and exits 0', async () => {
    const { stdout } = await sh('npx', ['--no-install', 'usbms', '--help'], consumer);
    expect(stdout).toMatch(/^usbms <command>/m);
    expect(stdout).toMatch(/usbms inquiry/);
    expect(stdout).toMatch(/usbms completion/);
  }, 60_000);

  for (const name of Object.keys(TSCONFIGS)) {
    it(`TypeScript importing usbms, usbms/mock and usbms/serve type-checks with moduleResolution ${name}`, async () => {
      // tsc exits non-zero (and sh rejects with its diagnostics) on any type error, in our .d.ts files too.
      await sh(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], consumer);
      if (name !== 'nodenext') return;
      // The nodenext build is emitted: run it against the installed package.
      const { stdout } = await sh(process.execPath, ['out/index.js'], consumer);
      expect(JSON.parse(stdout)).toEqual({ bytes: 512, blocks: '2048', options: {} });
    }, 240_000);
  }

  it('@arethetypeswrong/cli finds no problem with the exports (ESM-only profile: node16 from ESM and bundler)', async () => {
    // attw exits non-zero (sh rejects) on any problem the profile does not ignore; the table shows what it checked.
    const { stdout } = await sh(process.execPath,
      [ATTW, packed.tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-emoji', '--no-color'], packed.work);
    for (const entry of ['"usbms"', '"usbms/mock"', '"usbms/serve"']) {
      expect(stdout).toMatch(new RegExp(`│ ${entry} +│ OK \\(ESM\\) +│ OK +│`));
    }
  }, 180_000);
});

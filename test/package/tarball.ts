/**
 * Packs usbms the way a release would, from a fresh tree: the packable inputs (no dist/, no tests, no lab) are
 * copied into a temporary folder, node_modules is linked in (the build needs TypeScript, nothing is downloaded
 * for it), and `npm pack` runs there, so its `prepack` script has to build dist/ by itself.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

/** What a fresh clone holds that `npm pack` may need (what a contributor commits, minus tests and lab). */
const INPUTS = ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json',
  'tsconfig.tools.json', 'src', 'tools', 'types', 'udev'];

export interface Packed {
  /** The temporary folder everything of this run lives in. */
  readonly work: string;
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** Entry names inside the tarball, without the leading `package/`. */
  readonly entries: readonly string[];
}

/** Run a command, resolving with its output; rejects with stdout and stderr in the message when it fails. */
export async function sh(cmd: string, args: readonly string[], cwd: string, timeoutMs = 120_000):
Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 64 << 20, env: { ...process.env, DEBUG: '' } });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

export async function packFreshTree(): Promise<Packed> {
  const work = mkdtempSync(join(tmpdir(), 'usbms-pack-'));
  const tree = join(work, 'tree');
  mkdirSync(tree);
  for (const name of INPUTS) {
    if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(tree, name), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
  const out = join(work, 'out');
  mkdirSync(out);
  await sh('npm', ['pack', '--pack-destination', out, '--no-audit', '--no-fund'], tree);
  const tgz = readdirSync(out).filter((f) => f.endsWith('.tgz'));
  if (tgz.length !== 1 || tgz[0] === undefined) throw new Error(`npm pack left ${tgz.length} tarballs in ${out}`);
  const tarball = join(out, tgz[0]);
  const { stdout } = await sh('tar', ['-tzf', tarball], work);
  const entries = stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(/^package\//, ''));
  return { work, tarball, entries };
}

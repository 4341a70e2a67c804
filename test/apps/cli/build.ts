/**
 * Builds dist/ (tsc -p tsconfig.build.json, then the bundled CLI: npm run build:cli) when any file under src/ is newer
 * than the built CLI. The tests run the bundle, dist/bin/usbms.js, since that is the `usbms` users get.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const CLI = join(ROOT, 'dist/bin/usbms.js');
const COMPILED_CLI = join(ROOT, 'dist/apps/cli/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function buildCliIfStale(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(join(ROOT, 'src'))) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing CLI is fatal here.
    if (!existsSync(COMPILED_CLI)) throw e;
  }
  execFileSync('npm', ['run', 'build:cli', '--silent'], { cwd: ROOT, stdio: 'pipe' });
}

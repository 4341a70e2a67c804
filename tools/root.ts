/**
 * The package root, found from a tool's own location: tools run from tools/ (vitest imports them) and compiled from
 * build/tools/ (`npm run build:tools`), so a fixed number of `..` would be right in one place only.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

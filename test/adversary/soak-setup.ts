/** globalSetup of the soak: a directory for the shards' totals, then one merged report when they are done. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyTotals, merge, report, type Totals } from './stats.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'usbms-soak-'));
  process.env.SOAK_OUT_DIR = dir;
  const t0 = Date.now();
  return () => {
    const all = emptyTotals();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) merge(all, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Totals);
    rmSync(dir, { recursive: true, force: true });
    const only = process.env.SOAK_ONLY;
    console.log(`\n=== usbms soak: seed ${only ?? process.env.SOAK_SEED ?? 1}, profile ${process.env.SOAK_PROFILE ?? 'soak'} ===\n${report(all, Date.now() - t0)}\n`);
  };
}

/**
 * The built-in plans, written as plan files would be (and checked by the same parser):
 * - quick: read-only; identify, capacity, unit ready, reads at the first/middle/last LBA, read speeds.
 * - full: destructive; quick, the cache-proof counterfeit probe, a whole-device stamped write/verify (its write
 *   speed), random write IOPS, and the original data put back when restore is asked.
 * - endurance: destructive; N whole-device write/verify cycles (power cycle and cool-down between writing and
 *   reading back when asked), resumable from a journal.
 */
import { existsSync } from 'node:fs';
import { loadPlanFile, parsePlan, PlanError } from './parse.js';
import type { Plan } from './types.js';

const QUICK = [
  { step: 'identify' },
  { step: 'capacity' },
  { step: 'unit-ready' },
  { step: 'read-points' },
  { step: 'sequential-read', params: { sizeMiB: 16, chunkKiB: 1024 } },
  { step: 'random-read', params: { ios: 256, ioKiB: 4 } },
];

/** The built-in plans by name (`quick`, `full`, `endurance`), in plan-file form (see {@link parsePlan}). */
export const BUILTIN_PLANS: Readonly<Record<string, unknown>> = {
  quick: { name: 'quick', description: 'read-only health and speed check', steps: QUICK },
  full: {
    name: 'full', description: 'quick, counterfeit probe (cache-proof), whole-device write/verify, restore if asked',
    steps: [
      ...QUICK,
      { step: 'backup' },
      { step: 'counterfeit', params: { resetType: 'port' } },
      { step: 'write-verify' },
      { step: 'random-write', params: { ios: 256, ioKiB: 4 } },
      { step: 'restore' },
    ],
  },
  endurance: {
    name: 'endurance', description: 'whole-device write/verify cycles, resumable (--journal)',
    steps: [
      { step: 'identify' },
      { step: 'capacity' },
      { step: 'backup' },
      { step: 'endurance', params: { cycles: 3 } },
      { step: 'restore' },
    ],
  },
};

/** A built-in plan by name, or a plan file by path. */
export function resolvePlan(nameOrFile: string): Plan {
  const builtin = BUILTIN_PLANS[nameOrFile];
  if (builtin !== undefined) return parsePlan(builtin, `plan ${nameOrFile}`);
  if (existsSync(nameOrFile)) return loadPlanFile(nameOrFile);
  throw new PlanError('', `is neither a built-in plan (${Object.keys(BUILTIN_PLANS).join(', ')}) nor a plan file`,
    `plan ${nameOrFile}`);
}

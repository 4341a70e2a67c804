/** Figures over many schedules: what ran, what lied, what recovered, and every violation with its SEED:INDEX. */
import type { ScheduleResult, ViolationClass } from './run.js';
import { VIOLATION_CLASSES } from './run.js';

export interface Totals {
  schedules: number;
  commands: number;
  ops: { ok: number; failed: number; skipped: number };
  faults: Record<string, number>;
  recoveries: Record<string, number>;
  corruptedCommands: number;
  violations: Record<ViolationClass, string[]>;
  notes: Record<string, number>;
  ms: number;
  slowest: { id: string; ms: number };
}

export function emptyTotals(): Totals {
  return {
    schedules: 0, commands: 0, ops: { ok: 0, failed: 0, skipped: 0 }, faults: {}, recoveries: {}, corruptedCommands: 0,
    violations: Object.fromEntries(VIOLATION_CLASSES.map((c) => [c, []])) as unknown as Record<ViolationClass, string[]>,
    notes: {}, ms: 0, slowest: { id: '', ms: 0 },
  };
}

/** Notes are grouped by their shape (numbers and LBAs stripped) so that a long run prints a short list. */
function noteKey(n: string): string { return n.replace(/\d+/g, 'N').slice(0, 160); }

export function add(t: Totals, r: ScheduleResult, keepPerClass = 50): void {
  t.schedules++;
  t.commands += r.commands;
  t.ops.ok += r.ops.ok; t.ops.failed += r.ops.failed; t.ops.skipped += r.ops.skipped;
  for (const [k, n] of Object.entries(r.faults)) t.faults[k] = (t.faults[k] ?? 0) + (n ?? 0);
  for (const [k, n] of Object.entries(r.recoveries)) t.recoveries[k] = (t.recoveries[k] ?? 0) + n;
  t.corruptedCommands += r.corruptedCommands;
  for (const v of r.violations) {
    const list = t.violations[v.cls];
    if (list.length < keepPerClass) list.push(`${r.id} ${v.detail.split('\n')[0]}`);
    else list.push(r.id);
  }
  for (const n of r.notes) t.notes[noteKey(n)] = (t.notes[noteKey(n)] ?? 0) + 1;
  t.ms += r.ms;
  if (r.ms > t.slowest.ms) t.slowest = { id: r.id, ms: r.ms };
}

export function merge(into: Totals, t: Totals): void {
  into.schedules += t.schedules;
  into.commands += t.commands;
  into.ops.ok += t.ops.ok; into.ops.failed += t.ops.failed; into.ops.skipped += t.ops.skipped;
  for (const [k, n] of Object.entries(t.faults)) into.faults[k] = (into.faults[k] ?? 0) + n;
  for (const [k, n] of Object.entries(t.recoveries)) into.recoveries[k] = (into.recoveries[k] ?? 0) + n;
  into.corruptedCommands += t.corruptedCommands;
  for (const c of VIOLATION_CLASSES) into.violations[c].push(...t.violations[c]);
  for (const [k, n] of Object.entries(t.notes)) into.notes[k] = (into.notes[k] ?? 0) + n;
  into.ms += t.ms;
  if (t.slowest.ms > into.slowest.ms) into.slowest = t.slowest;
}

export function violationCount(t: Totals): number {
  return VIOLATION_CLASSES.reduce((n, c) => n + t.violations[c].length, 0);
}

export function report(t: Totals, wallMs?: number): string {
  const lines: string[] = [];
  const faultTotal = Object.values(t.faults).reduce((a, b) => a + b, 0);
  lines.push(`schedules ${t.schedules}, device commands ${t.commands}, host operations ${t.ops.ok} ok / ${t.ops.failed} failed / ${t.ops.skipped} skipped`);
  if (wallMs !== undefined) lines.push(`wall ${(wallMs / 1000).toFixed(1)} s, schedule time ${(t.ms / 1000).toFixed(1)} s, slowest ${t.slowest.id} ${t.slowest.ms} ms`);
  lines.push(`faults injected ${faultTotal} (${Object.keys(t.faults).length} kinds), commands sent with corrupted data ${t.corruptedCommands}:`);
  const kinds = Object.entries(t.faults).sort((a, b) => b[1] - a[1]);
  for (let i = 0; i < kinds.length; i += 4) lines.push('  ' + kinds.slice(i, i + 4).map(([k, n]) => `${k} ${n}`).join(', '));
  lines.push(`recoveries: ${Object.entries(t.recoveries).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push(`violations: ${VIOLATION_CLASSES.map((c) => `${c} ${t.violations[c].length}`).join(', ')}`);
  for (const c of VIOLATION_CLASSES) {
    const list = t.violations[c];
    if (list.length === 0) continue;
    const detailed = list.filter((x) => x.includes(' '));
    const ids = list.filter((x) => !x.includes(' '));
    lines.push(`  ${c}:`);
    for (const d of detailed.slice(0, 20)) lines.push(`    ${d.slice(0, 400)}`);
    const more = [...detailed.slice(20).map((d) => d.split(' ')[0]!), ...ids];
    if (more.length > 0) lines.push(`    ... and ${more.length} more: ${more.slice(0, 40).join(' ')}${more.length > 40 ? ' ...' : ''}`);
  }
  const notes = Object.entries(t.notes).sort((a, b) => b[1] - a[1]).slice(0, 12);
  if (notes.length > 0) {
    lines.push('notes (not violations):');
    for (const [k, n] of notes) lines.push(`  ${n} x ${k}`);
  }
  return lines.join('\n');
}

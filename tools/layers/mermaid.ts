/**
 * The layers as a mermaid flowchart, drawn from the real imports: reads what
 * `depcruise src ... -T text --collapse ...` prints ("src/a/ → src/b/" per line; `npm run graph:layers` runs both)
 * and prints one edge per folder pair, sorted, so docs/architecture.md can show it and a rerun shows what changed.
 * Edges into util/ are left out: every layer may use it, and drawn they hide the rest.
 */
import { readFileSync } from 'node:fs';

const name = (path: string): string => path.trim().replace(/^src\//, '').replace(/\/$/, '') || 'src';
const id = (label: string): string => label.replace(/[^A-Za-z0-9]/g, '_');

const edges = new Set<string>();
const nodes = new Set<string>();
for (const line of readFileSync(0, 'utf8').split('\n')) {
  const [from, to] = line.split('→');
  if (from === undefined || to === undefined) continue;
  const a = name(from);
  const b = name(to);
  if (a === b || b === 'util') continue;
  nodes.add(a).add(b);
  edges.add(`  ${id(a)} --> ${id(b)}`);
}
const out = ['flowchart TD', ...[...nodes].sort().map((n) => `  ${id(n)}["${n}"]`), ...[...edges].sort()];
process.stdout.write(`${out.join('\n')}\n`);

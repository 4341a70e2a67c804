// bench-ab-report.mjs DIR - the table of bench-ab.sh: usbms/bare per op and size for each run of each tree
// (usbms ms per command in brackets), from DIR/{old,new}-N.json (build/tools/bench/lab.js output).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.lab-bench-ab';
const runs = readdirSync(dir).filter((f) => /^(old|new)-\d+\.json$/.test(f)).sort();
const table = {};
for (const f of runs) {
  const ms = {};
  for (const x of JSON.parse(readFileSync(join(dir, f), 'utf8')).figures) ms[`${x.who} ${x.op} ${x.bytes}`] = x.msPerCommand;
  for (const [k, v] of Object.entries(ms)) {
    if (!k.startsWith('usbms ')) continue;
    const bare = ms[k.replace('usbms', 'bare')];
    (table[k.slice(6)] ??= {})[f.replace('.json', '')] = `${(v / bare).toFixed(2)} (${v.toFixed(1)})`;
  }
}
console.table(table);

#!/usr/bin/env node
// bench-serve-profile.mjs OUTDIR MODEL [TOP] - the server's V8 profile (BENCH_SERVE_PROF=1) split by the runs it
// served: each run's marks (OUTDIR/marks-MODEL/*.start|.end) hold the guest's uptime, the clock of the profile's
// samples, so every sample is given to the run it fell in. Per run kind (who and op): the main thread's idle share
// and its busiest functions by self time, in ms per MiB moved (what to cut for the main thread to keep up).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [dir, model, topArg] = process.argv.slice(2);
if (!dir || !model) { console.error('usage: bench-serve-profile.mjs OUTDIR MODEL [TOP]'); process.exit(2); }
const top = Number(topArg ?? 15);
const profDir = path.join(dir, `prof-${model}`);
const marksDir = path.join(dir, `marks-${model}`);
const bytesOf = new Map(); // who op -> bytes per run, from MODEL.jsonl
for (const l of readFileSync(path.join(dir, `${model}.jsonl`), 'utf8').split('\n').filter(Boolean)) {
  const r = JSON.parse(l); if (r.seconds > 0) bytesOf.set(`${r.who} ${r.op}`, r.bytes);
}
const runs = readdirSync(marksDir).filter((f) => f.endsWith('.start')).sort().flatMap((f) => {
  const [, who, op] = f.replace(/\.start$/, '').match(/^\d+-(.+)-(read|write)$/) ?? [];
  const end = path.join(marksDir, f.replace(/\.start$/, '.end'));
  if (who === undefined || !existsSync(end)) return [];
  const t0 = Number(readFileSync(path.join(marksDir, f), 'utf8')) * 1e6; const t1 = Number(readFileSync(end, 'utf8')) * 1e6;
  return Number.isFinite(t0) && t1 > t0 ? [{ kind: `${who} ${op}`, t0, t1 }] : [];
});
const kinds = new Map(); // kind -> { runs, us, self: Map }
for (const f of readdirSync(profDir).filter((x) => x.endsWith('.cpuprofile'))) {
  const p = JSON.parse(readFileSync(path.join(profDir, f), 'utf8'));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    const run = runs.find((r) => t >= r.t0 && t < r.t1);
    if (run === undefined) return;
    const k = kinds.get(run.kind) ?? { runs: new Set(), us: 0, self: new Map() };
    kinds.set(run.kind, k); k.runs.add(run.t0);
    const dt = p.timeDeltas[i + 1] ?? 0; k.us += dt;
    const cf = nodes.get(id).callFrame;
    const name = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
    k.self.set(name, (k.self.get(name) ?? 0) + dt);
  });
}
for (const [kind, k] of kinds) {
  const mib = (k.runs.size * (bytesOf.get(kind) ?? 0)) / 1048576;
  const idle = [...k.self].filter(([n]) => n.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  console.log(`${kind}: ${k.runs.size} runs, ${mib} MiB, main thread idle ${(100 * idle / k.us).toFixed(0)}%, busy ${((k.us - idle) / 1000 / mib).toFixed(2)} ms/MiB`);
  for (const [n, v] of [...k.self].filter(([x]) => !x.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${(v / 1000 / mib).toFixed(3).padStart(7)} ms/MiB  ${n}`);
  }
}

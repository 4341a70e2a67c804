#!/usr/bin/env node
// bench-serve-report.mjs OUTDIR - the medians of bench-serve.sh's figures (OUTDIR/MODEL.jsonl) in MB/s, and the
// ratios against issue 23's goals, measured side by side in one guest per host controller (the table on stdout,
// the same figures as JSON in OUTDIR/report.json):
//   serve / qemu-nbd RAM image (the NBD path's ceiling, same kernel client) >= 0.8, EHCI and xHCI, reads and writes
//   serve / the kernel's usb-storage on the same stick >= 0.8 on EHCI
//   nbdcopy from serve / usbms image --no-hash at the same bytes per command >= 0.8
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) { console.error('usage: bench-serve-report.mjs OUTDIR'); process.exit(2); }
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const rows = readdirSync(dir).filter((f) => f.endsWith('.jsonl'))
  .flatMap((f) => readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l)));
const models = [...new Set(rows.map((r) => r.model))];
const mbps = (model, who, op) => {
  const xs = rows.filter((r) => r.model === model && r.who === who && r.op === op && Number(r.seconds) > 0)
    .map((r) => r.bytes / r.seconds / 1e6);
  return xs.length === 0 ? undefined : { median: median(xs), n: xs.length, min: Math.min(...xs), max: Math.max(...xs) };
};
const fmt = (v) => (v === undefined ? '-' : `${v.median.toFixed(1)} (${v.min.toFixed(1)}-${v.max.toFixed(1)}, n=${v.n})`);
// Where the CPU went during the dd runs (bench-serve.sh's measure): the guest's vCPUs' busy share, and the NBD
// server's own CPU per MiB moved (usbms serve, qemu-nbd; none for the kernel's usb-storage).
// The host's side (bench-serve.sh samples /proc/stat and QEMU's CPU every 0.2 s; the guest marks each dd with files
// whose mtimes are the host's clock): the host's busy share of its cores and the cores QEMU used, per dd.
const hostCpu = (model) => {
  const file = path.join(dir, `host-cpu-${model}.txt`);
  const marks = path.join(dir, `marks-${model}`);
  if (!existsSync(file) || !existsSync(marks)) return [];
  const samples = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ').map(Number));
  const at = (t) => samples.reduce((best, x) => (Math.abs(x[0] - t) < Math.abs(best[0] - t) ? x : best), samples[0]);
  const cores = cpus().length;
  return readdirSync(marks).filter((f) => f.endsWith('.start')).sort().flatMap((f) => {
    const [, who, op] = f.replace(/\.start$/, '').match(/^\d+-(.+)-(read|write)$/) ?? [];
    const end = path.join(marks, f.replace(/\.start$/, '.end'));
    if (who === undefined || !existsSync(end)) return [];
    const a = at(statSync(path.join(marks, f)).mtimeMs / 1000); const b = at(statSync(end).mtimeMs / 1000);
    const busy = b[1] - a[1]; const idle = b[2] - a[2]; const secs = b[0] - a[0];
    if (secs <= 0 || busy + idle <= 0) return [];
    return [{ who, op, hostBusyPct: Math.round((100 * busy) / (busy + idle)), qemuCores: Number(((b[3] - a[3]) / 100 / secs).toFixed(2)), cores }];
  });
};
const hostRows = Object.fromEntries([...new Set(rows.map((r) => r.model))].map((m) => [m, hostCpu(m)]));
const cpu = (model, who, op) => {
  const rs = rows.filter((r) => r.model === model && r.who === who && r.op === op && r.guestBusyPct !== undefined);
  const hs = (hostRows[model] ?? []).filter((h) => h.who === who && h.op === op);
  if (rs.length === 0 && hs.length === 0) return undefined;
  const host = hs.length === 0 ? {} : { hostBusyPct: median(hs.map((h) => h.hostBusyPct)), qemuCores: median(hs.map((h) => h.qemuCores)), hostCores: hs[0].cores };
  if (rs.length === 0) return host;
  return {
    ...host,
    guestBusyPct: median(rs.map((r) => r.guestBusyPct)),
    serverCpuMsPerMiB: Number(median(rs.map((r) => (1000 * r.serverCpuSeconds) / (r.bytes / 1048576))).toFixed(2)),
    ...(rs[0].serverSysSeconds === undefined ? {} : {
      serverSysMsPerMiB: Number(median(rs.map((r) => (1000 * r.serverSysSeconds) / (r.bytes / 1048576))).toFixed(2)),
      serverMainThreadMsPerMiB: Number(median(rs.map((r) => (1000 * r.serverMainThreadSeconds) / (r.bytes / 1048576))).toFixed(2)),
    }),
    vcpus: rs[0].vcpus,
  };
};
const lines = [];
const goals = [];
const json = { models: {}, goals: [] };
for (const model of models) {
  const tune = rows.find((r) => r.model === model && r.who === 'tune');
  const figures = {};
  json.models[model] = { bytesPerCommand: tune?.bytes, mbps: figures };
  lines.push(`${model}: bytes per command ${tune?.bytes ?? '?'}; MB/s median (min-max, runs)`);
  for (const [who, op] of [['qemu-nbd-ram', 'read'], ['serve', 'read'], ['qemu-nbd-ram', 'write'], ['serve', 'write'],
    ['usb-storage', 'read'], ['usb-storage', 'write'], ['nbdcopy', 'read'], ['nbdcopy-ram', 'read'], ['usbms-image', 'read'],
    ['qemu-nbd-ram-alt', 'read'], ['serve-alt', 'read'], ['qemu-nbd-ram-alt', 'write'], ['serve-alt', 'write']]) {
    if (who.endsWith('-alt') && mbps(model, who, op) === undefined) continue;
    const c = cpu(model, who, op);
    const hostText = c?.hostBusyPct === undefined ? '' : `; host busy ${c.hostBusyPct}% of ${c.hostCores} cores, QEMU ${c.qemuCores} cores`;
    const cpuText = c === undefined ? '' : c.guestBusyPct === undefined ? `   ${hostText.slice(2)}`
      : `   vCPUs busy ${c.guestBusyPct}% of ${c.vcpus}, server ${c.serverCpuMsPerMiB} ms CPU/MiB${c.serverSysMsPerMiB === undefined ? '' : ` (kernel ${c.serverSysMsPerMiB}, main thread ${c.serverMainThreadMsPerMiB})`}${hostText}`;
    lines.push(`  ${`${who} ${op}`.padEnd(22)} ${fmt(mbps(model, who, op)).padEnd(26)}${cpuText}`);
    if (mbps(model, who, op) !== undefined) figures[`${who} ${op}`] = { ...mbps(model, who, op), ...(c ?? {}) };
  }
  const ratio = (name, a, b, goal) => {
    if (a === undefined || b === undefined) {
      goals.push(`${model}: ${name}: not measured`);
      json.goals.push({ model, name, goal, ratio: null, met: false });
      return;
    }
    const r = a.median / b.median;
    json.goals.push({ model, name, goal, ratio: Number(r.toFixed(3)), met: r >= goal });
    goals.push(`${model}: ${name}: ${r.toFixed(2)}x (goal >= ${goal}) ${r >= goal ? 'met' : 'NOT met'}`);
  };
  for (const op of ['read', 'write']) {
    ratio(`serve / qemu-nbd RAM ${op}`, mbps(model, 'serve', op), mbps(model, 'qemu-nbd-ram', op), 0.8);
    if (model === 'ehci') ratio(`serve / usb-storage ${op}`, mbps(model, 'serve', op), mbps(model, 'usb-storage', op), 0.8);
  }
  const alt = rows.find((r) => r.model === model && r.who === 'alt-args');
  if (alt !== undefined) {
    json.models[model].altArgs = alt.op;
    for (const op of ['read', 'write']) {
      const a = mbps(model, 'serve-alt', op); const b = mbps(model, 'qemu-nbd-ram-alt', op);
      if (a !== undefined && b !== undefined) goals.push(`${model}: (A/B) serve ${alt.op} / qemu-nbd RAM ${op}: ${(a.median / b.median).toFixed(2)}x`);
    }
  }
  ratio('nbdcopy / usbms image --no-hash', mbps(model, 'nbdcopy', 'read'), mbps(model, 'usbms-image', 'read'), 0.8);
  const ram = mbps(model, 'nbdcopy-ram', 'read');
  const serve = mbps(model, 'nbdcopy', 'read');
  if (ram !== undefined && serve !== undefined) {
    goals.push(`${model}: (context) nbdcopy from serve / nbdcopy from qemu-nbd RAM: ${(serve.median / ram.median).toFixed(2)}x`);
  }
}
writeFileSync(path.join(dir, 'report.json'), `${JSON.stringify(json, null, 2)}\n`);
console.log([...lines, '', 'ratios against the goals (medians, side by side in one guest):', ...goals.map((g) => `  ${g}`)].join('\n'));

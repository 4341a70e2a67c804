#!/usr/bin/env node
// bench-report.mjs DIR - the figures bench-guest.sh left in DIR (MODEL-api.json, MODEL.jsonl) as medians, the
// ratios usbms/bare and usbms/kernel per device model, size and direction, printed as a table, and all of it as
// DIR/report.json. Ratios are only ever formed between figures of the same guest run (side by side).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.lab-bench';
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const kib = (b) => (b >= 1048576 ? `${b / 1048576} MiB` : `${b / 1024} KiB`);
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

const models = readdirSync(dir).filter((n) => n.endsWith('.jsonl') && n !== 'uas-qd.jsonl').map((n) => n.slice(0, -6));
const report = {};
for (const model of models) {
  const lines = readFileSync(join(dir, `${model}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // A step that failed in the guest leaves an empty or partial file: its figures are just missing.
  const load = (name) => { try { return JSON.parse(readFileSync(join(dir, `${model}-${name}.json`), 'utf8')); } catch { return undefined; } };
  const api = load('api') ?? {};
  const tune = load('tune');
  const fastpath = load('fastpath');
  // per command: bare and usbms API (ms/cmd), kernel dd direct (ms/cmd from its MB/s)
  const perCmd = [];
  const figs = api.figures ?? [];
  const sizes = [...new Set(figs.map((x) => x.bytes))].sort((a, b) => a - b);
  for (const op of ['read', 'write']) {
    for (const bytes of sizes) {
      const bare = figs.find((x) => x.who === 'bare' && x.op === op && x.bytes === bytes);
      const usbms = figs.find((x) => x.who === 'usbms' && x.op === op && x.bytes === bytes);
      const k = lines.filter((l) => l.who === 'kernel-dd-direct' && l.op === op && l.bytes === bytes && l.seconds > 0);
      // The swing: the i-th rounds of the two ran next to each other (lab.js takes turns size by size), so each
      // pair's ratio saw one machine; their quartiles say how far one run's median ratio can be trusted.
      const rounds = (who) => (api.samples ?? []).filter((x) => x.who === who && x.op === op && x.bytes === bytes)
        .map((x) => x.seconds / x.commands);
      const [rb, ru] = [rounds('bare'), rounds('usbms')];
      const pairs = ru.slice(0, rb.length).map((u, i) => u / rb[i]).sort((x, y) => x - y);
      const q = (p) => pairs[Math.min(pairs.length - 1, Math.floor(p * pairs.length))];
      const kMbps = median(k.map((l) => l.total / l.seconds / 1e6));
      perCmd.push({
        op, bytes, bareMs: bare?.msPerCommand, usbmsMs: usbms?.msPerCommand,
        bareMbps: bare?.mbPerSecond, usbmsMbps: usbms?.mbPerSecond, kernelMbps: kMbps,
        usbmsOverBare: usbms && bare ? usbms.msPerCommand / bare.msPerCommand : undefined,
        pairRatioP25: pairs.length > 0 ? q(0.25) : undefined, pairRatioP75: pairs.length > 0 ? q(0.75) : undefined,
        usbmsOverKernel: usbms && Number.isFinite(kMbps) ? usbms.mbPerSecond / kMbps : undefined,
      });
    }
  }
  // whole-disk CLI runs (start-up included) against kernel dd bs=1M iflag=direct and plain dd bs=1M
  const cli = {};
  const own = {};
  for (const l of lines.filter((x) => x.who.startsWith('cli-') && x.total > 0)) {
    (cli[l.who] ??= []).push(l.total / l.seconds / 1e6);
    if (l.ownSeconds > 0) (own[l.who] ??= []).push(l.total / l.ownSeconds / 1e6);
  }
  const k1m = median(lines.filter((l) => l.who === 'kernel-dd-direct' && l.op === 'read' && l.bytes === 1048576).map((l) => l.total / l.seconds / 1e6));
  const kbuf = median(lines.filter((l) => l.who === 'kernel-dd-buffered').map((l) => l.total / l.seconds / 1e6));
  const sg = median(lines.filter((l) => l.who === 'kernel-sg-dd').map((l) => l.total / l.seconds / 1e6));
  const rate = (who) => median(lines.filter((l) => l.who === who && l.seconds > 0).map((l) => l.total / l.seconds / 1e6));
  // What `usbms image` does, done by the kernel: into a tmpfs file; and the same through sha256sum (the hash's cost)
  const kFile = rate('kernel-dd-direct-file');
  const kSha = rate('kernel-dd-direct-sha256');
  const kWhole = rate('kernel-dd-direct-whole');
  const kRestore = rate('kernel-dd-direct-restore');
  const sha = rate('sha256sum-tmpfs');
  const cliFigures = Object.entries(cli).map(([who, xs]) => {
    const copy = own[who] ? median(own[who]) : undefined;
    const hashed = who.startsWith('cli-image-') && !who.startsWith('cli-image-nohash-') && !who.startsWith('cli-image-null-');
    return { who, mbps: median(xs), copyMbps: copy, runs: xs.length, overKernelDirect1M: (copy ?? median(xs)) / k1m,
      // a hashed image beside the kernel doing the same work (dd iflag=direct | tee file | sha256sum)
      overKernelDirectSha256: hashed ? (copy ?? median(xs)) / kSha : undefined,
      // an image without the hash beside the kernel's dd iflag=direct into a file of the same tmpfs
      overKernelDirectToFile: who.startsWith('cli-image-nohash-') ? (copy ?? median(xs)) / kFile : undefined,
      // the whole disk read and kept nowhere, beside the kernel's dd bs=1M iflag=direct of=/dev/null of the whole disk
      overKernelDirectWhole: who.startsWith('cli-image-null-') ? (copy ?? median(xs)) / kWhole : undefined,
      // the image file written back, beside the kernel's dd bs=1M oflag=direct of the same file onto the disk
      overKernelDirectRestore: who.startsWith('cli-restore-') ? (copy ?? median(xs)) / kRestore : undefined };
  });
  const startup = {
    nodeSeconds: median(lines.filter((l) => l.who === 'node-start').map((l) => l.seconds)),
    capacityMockSeconds: median(lines.filter((l) => l.who === 'cli-capacity-mock').map((l) => l.seconds)),
  };
  // The untimed JIT warm-up before the timed rounds (lab.js --warmup): its first and last 100 4 KiB commands.
  const warmup = [];
  for (const who of ['bare', 'usbms']) {
    for (const op of ['read', 'write']) {
      const xs = (api.warmup ?? []).filter((w) => w.who === who && w.op === op);
      if (xs.length > 0) warmup.push({ who, op, commands: xs.length * 100, firstMs: xs[0].msPerCommand, lastMs: xs[xs.length - 1].msPerCommand });
    }
  }
  report[model] = { perCommand: perCmd, warmup, cli: cliFigures, kernel: { directRead1M: k1m, bufferedRead1M: kbuf, sgDd: sg, directWhole1M: kWhole, directRestore1M: kRestore, directToFile1M: kFile, directSha256: kSha, sha256Only: sha }, tune, startup, fastpath };

  console.log(`\n## ${model}${tune ? ` (usbms tune: ${tune.maxTransferBytes} bytes per command)` : ''}\n`);
  console.log('| op | bytes/cmd | bare ms/cmd | usbms ms/cmd | usbms/bare | round pairs p25..p75 | bare MB/s | usbms MB/s | kernel dd direct MB/s | usbms/kernel |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of perCmd) {
    console.log(`| ${r.op} | ${kib(r.bytes)} | ${f(r.bareMs)} | ${f(r.usbmsMs)} | ${f(r.usbmsOverBare)} | ` +
      `${f(r.pairRatioP25)}..${f(r.pairRatioP75)} | ${f(r.bareMbps, 1)} | ` +
      `${f(r.usbmsMbps, 1)} | ${f(r.kernelMbps, 1)} | ${f(r.usbmsOverKernel)} |`);
  }
  for (const w of warmup) {
    console.log(`\nwarm-up (untimed, before the rounds): ${w.who} ${w.op} 4 KiB, first 100 commands ${f(w.firstMs)} ms/cmd, last 100 of ${w.commands} ${f(w.lastMs)} ms/cmd`);
  }
  console.log(`\nkernel: dd bs=1M iflag=direct ${f(k1m, 1)} MB/s, dd bs=1M (page cache) ${f(kbuf, 1)} MB/s, sg_dd ${f(sg, 1)} MB/s`);
  console.log(`kernel, whole disk: dd bs=1M oflag=direct of the image file onto the disk ${f(kRestore, 1)} MB/s; dd bs=1M iflag=direct of=/dev/null ${f(kWhole, 1)} MB/s, into a tmpfs file ${f(kFile, 1)} MB/s, the same | tee | sha256sum ` +
    `${f(kSha, 1)} MB/s; sha256sum of a tmpfs file alone ${f(sha, 1)} MB/s`);
  console.log('\n| CLI, whole disk | MB/s with start-up | MB/s of the copy (image --json seconds) | runs | copy (or whole) / kernel dd bs=1M iflag=direct | hashed image / kernel dd \\| sha256sum | unhashed image / kernel dd into a file | image --out /dev/null / kernel dd of=/dev/null, whole disk | restore / kernel dd oflag=direct of the file |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const c of cliFigures) {
    console.log(`| ${c.who} | ${f(c.mbps, 1)} | ${f(c.copyMbps, 1)} | ${c.runs} | ${f(c.overKernelDirect1M)} | ${f(c.overKernelDirectSha256)} | ${f(c.overKernelDirectToFile)} | ${f(c.overKernelDirectWhole)} | ${f(c.overKernelDirectRestore)} |`);
  }
  console.log(`\nnode -e 0: ${f(startup.nodeSeconds)} s; usbms capacity --mock: ${f(startup.capacityMockSeconds)} s`);
  if (fastpath) {
    console.log('\n| bare loop mode | op | bytes | taken | ms/cmd (median) | failure |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const x of fastpath) console.log(`| ${x.mode} | ${x.op} | ${kib(x.bytes)} | ${x.ok ? 'yes' : 'NO'} | ${f(x.median)} | ${x.error ?? ''} |`);
  }
}
// ---- the UAS row (bench-uas.sh): usbms over UAS against the kernel's uas and against usbms over Bulk-Only
let uasLines = [];
try { uasLines = readFileSync(join(dir, 'uas-qd.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { /* no UAS model run */ }
if (uasLines.length > 0) {
  const key = (l) => `${l.pattern},${l.op ?? 'read'},${l.size},${l.qd}`;
  const jobs = [...new Set(uasLines.map(key))];
  const rows = jobs.map((job) => {
    const [pattern, op, size, qd] = job.split(',');
    const med = (who, k) => median(uasLines.filter((l) => l.who === who && key(l) === job && Number.isFinite(l[k])).map((l) => l[k]));
    const k = pattern === 'random' ? 'iops' : 'mbps';
    const uas = med('usbms-uas', k); const kern = med('kernel-uas', k); const bot = med('usbms-bot', k); const bare = med('bare-uas', k);
    return { pattern, op, size: Number(size), queueDepth: Number(qd), unit: k, usbmsUas: uas, kernelUas: kern, usbmsBot: bot,
      bareUas: bare, uasOverKernel: uas / kern, uasOverBot: uas / bot, uasOverBare: uas / bare,
      // the ceiling of node-usb + libusb + usbfs itself here: the bare loop against the kernel's uas
      bareOverKernel: bare / kern,
      // CPU of the measuring process per operation (ms) and the guest's busy share of its 2 vCPUs during the job
      cpuMsPerOp: { usbmsUas: med('usbms-uas', 'cpuMsPerOp'), usbmsBot: med('usbms-bot', 'cpuMsPerOp'), bareUas: med('bare-uas', 'cpuMsPerOp') },
      guestBusy: { usbmsUas: med('usbms-uas', 'guestBusy'), usbmsBot: med('usbms-bot', 'guestBusy'), bareUas: med('bare-uas', 'guestBusy'),
        kernelUas: med('kernel-uas', 'guestBusy') } };
  });
  report.uas = rows;
  console.log('\n## uas (usb-uas and usb-storage behind one EHCI, copies of one image; medians)\n');
  console.log('| job | queue depth | unit | usbms UAS | kernel uas | usbms BOT | bare UAS loop | UAS / kernel uas | UAS / usbms BOT | UAS / bare | bare / kernel uas | CPU ms/op UAS, BOT, bare | guest busy UAS, BOT, bare, kernel |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const c = r.cpuMsPerOp; const b = r.guestBusy;
    console.log(`| ${r.pattern} ${r.op} ${kib(r.size)} | ${r.queueDepth} | ${r.unit === 'iops' ? 'IOPS' : 'MB/s'} | ${f(r.usbmsUas, 1)} | ${f(r.kernelUas, 1)} | ` +
      `${f(r.usbmsBot, 1)} | ${f(r.bareUas, 1)} | ${f(r.uasOverKernel)} | ${f(r.uasOverBot)} | ${f(r.uasOverBare)} | ${f(r.bareOverKernel)} | ` +
      `${f(c.usbmsUas)}, ${f(c.usbmsBot)}, ${f(c.bareUas)} | ${f(b.usbmsUas)}, ${f(b.usbmsBot)}, ${f(b.bareUas)}, ${f(b.kernelUas)} |`);
  }
}
// USB/IP (bench-usbip.sh): usbms on the stick directly and through vhci, and the kernel's usb-storage through vhci,
// per command, all from one guest run.
const direct = report['usbip-direct'];
const vhci = report['usbip-vhci'];
if (direct !== undefined && vhci !== undefined) {
  const rows = vhci.perCommand.map((v) => {
    const d = direct.perCommand.find((x) => x.op === v.op && x.bytes === v.bytes);
    return { op: v.op, bytes: v.bytes, directMs: d?.usbmsMs, vhciMs: v.usbmsMs, bareVhciMs: v.bareMs,
      vhciOverDirect: d?.usbmsMs && v.usbmsMs ? v.usbmsMs / d.usbmsMs : undefined, usbmsMbps: v.usbmsMbps,
      kernelMbps: v.kernelMbps, usbmsOverKernel: v.usbmsOverKernel,
      kernelMs: Number.isFinite(v.kernelMbps) ? v.bytes / v.kernelMbps / 1000 : undefined };
  });
  // Which round-trip savers the stick takes directly and through vhci (tools/bench/fastpath.ts, the bare loop):
  // per mode, op and size the median ms per command, or null where the mode failed (stall, lost CSW).
  const saver = (list, mode, op, bytes) => {
    const x = (list ?? []).find((y) => y.mode === mode && y.op === op && y.bytes === bytes);
    return x === undefined ? undefined : x.ok ? x.median : null;
  };
  const fastpath = [];
  for (const op of ['read', 'write']) {
    for (const mode of ['plain', 'earlyData', 'queuedCsw', 'both']) {
      const sizes = [...new Set((vhci.fastpath ?? []).map((y) => y.bytes))].sort((a, b) => a - b);
      for (const bytes of sizes) {
        fastpath.push({ mode, op, bytes, directMs: saver(direct.fastpath, mode, op, bytes), vhciMs: saver(vhci.fastpath, mode, op, bytes) });
      }
    }
  }
  report.usbip = { tuned: vhci.tune?.maxTransferBytes, perCommand: rows, fastpath };
  console.log(`\n## USB/IP: usbms directly, usbms through vhci, usb-storage through vhci (tuned: ${vhci.tune?.maxTransferBytes ?? '-'} bytes)\n`);
  console.log('| op | bytes/cmd | usbms direct ms/cmd | usbms USB/IP ms/cmd | USB/IP / direct | bare USB/IP ms/cmd | usbms USB/IP MB/s | kernel USB/IP MB/s (dd direct, same bs) | usbms / kernel |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.op} | ${kib(r.bytes)} | ${f(r.directMs)} | ${f(r.vhciMs)} | ${f(r.vhciOverDirect)} | ${f(r.bareVhciMs)} | ` +
      `${f(r.usbmsMbps, 1)} | ${f(r.kernelMbps, 1)} | ${f(r.usbmsOverKernel)} |`);
  }
  console.log('\n## USB/IP: the round-trip savers, bare loop, ms per command direct / USB/IP (NO: stalled or timed out)\n');
  console.log('| op | mode | bytes/cmd | direct | USB/IP |');
  console.log('| --- | --- | --- | --- | --- |');
  const cell = (x) => (x === null ? 'NO' : f(x, 1));
  for (const r of fastpath) console.log(`| ${r.op} | ${r.mode} | ${kib(r.bytes)} | ${cell(r.directMs)} | ${cell(r.vhciMs)} |`);
}
writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\n(JSON: ${join(dir, 'report.json')})`);

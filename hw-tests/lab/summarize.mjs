#!/usr/bin/env node
// summarize.mjs REPORTS_DIR LAB_DIR - the lab's result, read on the host after the VMs have exited.
// Prints every check by name: each test case of each vitest run (from its JUnit XML, lab-*.junit.xml) and each
// lab check (LAB_DIR/checks/*.txt, "ok - name" / "not ok - name # why"). A run whose report is missing, or
// whose vitest exited non-zero without a failed case (an unhandled error, a crash), counts as a failure.
// The last line is "N passed, N failed"; the exit status is 1 when anything failed.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const [reportsDir, labDir] = process.argv.slice(2);
if (!reportsDir || !labDir) {
  console.error('usage: summarize.mjs REPORTS_DIR LAB_DIR');
  process.exit(2);
}
let passed = 0, failed = 0, skipped = 0;
const line = (state, name, note = '') => {
  if (state === 'ok') passed++; else if (state === 'not ok') failed++; else skipped++;
  console.log(`${state} - ${name}${note ? ` # ${note}` : ''}`);
};
const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'")
  .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16))).replace(/&amp;/g, '&');
const attr = (tag, name) => { const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag); return m ? unescape(m[1]) : ''; };

// ---- vitest runs: the guest wrote LAB_DIR/logs/VM-MODEL.rc next to each run's report
const logs = path.join(labDir, 'logs');
const runs = existsSync(logs) ? readdirSync(logs).filter((f) => f.endsWith('.rc') && !f.startsWith('vm-')).sort() : [];
for (const rcFile of runs) {
  const run = rcFile.slice(0, -3);
  const rc = Number(readFileSync(path.join(logs, rcFile), 'utf8').trim());
  const xmlPath = path.join(reportsDir, `lab-${run}.junit.xml`);
  console.log(`# suite ${run} (log: .lab/logs/${run}.log)`);
  if (!existsSync(xmlPath)) { line('not ok', `${run}: vitest wrote a JUnit report`, `missing ${xmlPath}, exit ${rc}`); continue; }
  const xml = readFileSync(xmlPath, 'utf8');
  let runFailed = 0;
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const head = m[1], body = m[3] ?? '';
    const name = `${run}: ${attr(head, 'classname').replace(/^hw-tests\//, '')} > ${attr(head, 'name')}`;
    const failure = /<(failure|error)\b([^>]*)>/.exec(body);
    if (failure) { runFailed++; line('not ok', name, attr(failure[0], 'message').split('\n')[0].slice(0, 200)); }
    else if (/<skipped\b/.test(body)) line('skip', name, attr(/<skipped\b[^>]*>/.exec(body)[0], 'message'));
    else line('ok', name);
  }
  if (rc !== 0 && runFailed === 0) line('not ok', `${run}: vitest exited ${rc} without a failed case (unhandled error?)`);
}

// ---- lab checks (guest and host)
const checksDir = path.join(labDir, 'checks');
for (const f of existsSync(checksDir) ? readdirSync(checksDir).sort() : []) {
  console.log(`# checks ${f}`);
  for (const l of readFileSync(path.join(checksDir, f), 'utf8').split('\n')) {
    const m = /^(ok|not ok) - (.*?)(?: # (.*))?$/.exec(l.trim());
    if (m) line(m[1], m[2], m[3] ?? '');
  }
}
// ---- a VM that did not finish is a failure even if what it reported passed
for (const f of existsSync(logs) ? readdirSync(logs).filter((x) => /^vm-.*\.rc$/.test(x)) : []) {
  const rc = readFileSync(path.join(logs, f), 'utf8').trim();
  const vm = f.slice(3, -3);
  if (rc === '0') line('ok', `VM ${vm} ran the guest script to the end`);
  else line('not ok', `VM ${vm} ran the guest script to the end`, `run-in-vm.sh exit ${rc} (124 timeout, 125 never ran)`);
}
if (passed + failed === 0) line('not ok', 'the lab produced results', 'no reports and no checks found');
console.log(`(${skipped} skipped)`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;

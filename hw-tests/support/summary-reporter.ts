/**
 * A short human summary of a hardware run: one line per case (PASS/FAIL/SKIP with the reason), the counts, and
 * how to enable the skipped cases. Printed at the end and written to hw-tests/reports/<name>.summary.txt.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { NO_DEVICE_REASON } from './env.js';

export class SummaryReporter implements Reporter {
  constructor(private readonly outputFile: string, private readonly device: string | undefined) {}

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [`usbms hardware suite, device ${this.device ?? '(none)'}`];
    let pass = 0, fail = 0, skip = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const r = test.result();
        const name = `${mod.moduleId.replace(/^.*\/hw-tests\//, '')} > ${test.fullName}`;
        if (r.state === 'passed') { pass++; lines.push(`PASS ${name}`); }
        else if (r.state === 'failed') {
          fail++;
          lines.push(`FAIL ${name}: ${(r.errors[0]?.message ?? '').split('\n')[0] ?? ''}`);
        } else { skip++; lines.push(`SKIP ${name}${r.state === 'skipped' && r.note ? ` (${r.note})` : ''}`); }
      }
    }
    lines.push(`${pass} passed, ${fail} failed, ${skip} skipped`);
    if (this.device === undefined) lines.push(`Nothing ran: ${NO_DEVICE_REASON} (see hw-tests/README.md).`);
    const text = lines.join('\n') + '\n';
    mkdirSync(dirname(this.outputFile), { recursive: true });
    writeFileSync(this.outputFile, text);
    process.stdout.write(`\n${text}`);
  }
}

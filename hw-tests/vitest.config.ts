/**
 * The hardware validation suite (`npm run test:hw`): hw-tests/*.hw.test.ts against USBMS_TEST_DEVICE.
 * One worker, one process for every file (isolate: false): under the lab's TCG guest each node start costs
 * seconds, and a device can be claimed by one process at a time anyway. With USBMS_HW_DIST=1 (the lab) the
 * tests' `../src/X.js` imports resolve to the compiled `../dist/X.js` and Node loads them itself, so the guest
 * runs what `npm run build` made, without Vite transforming the stack (that alone took minutes under TCG).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { HardwareFileOrder } from './support/file-order.js';
import { SummaryReporter } from './support/summary-reporter.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const report = process.env.USBMS_TEST_REPORT?.trim() || 'hw';
const device = process.env.USBMS_TEST_DEVICE?.trim() || undefined;
const useDist = process.env.USBMS_HW_DIST === '1';

export default defineConfig({
  resolve: {
    alias: useDist ? [{ find: /^((?:\.\.\/)+)src\/(.*)$/, replacement: '$1dist/$2' }] : [],
  },
  test: {
    root,
    include: ['hw-tests/**/*.hw.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    isolate: false,
    sequence: { shuffle: false, sequencer: HardwareFileOrder },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    server: { deps: { external: useDist ? [/\/dist\//] : [] } },
    reporters: [
      'default',
      'junit',
      new SummaryReporter(`${root}hw-tests/reports/${report}.summary.txt`, device),
    ],
    outputFile: { junit: `${root}hw-tests/reports/${report}.junit.xml` },
  },
});

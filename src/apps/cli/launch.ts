#!/usr/bin/env node
/**
 * `usbms`: dist/bin/usbms.js. Runs the bundled command line (dist/bin/cli.js) through the code cache the build
 * made (./code-cache.ts). `npm run build:cli` runs this once with USBMS_WRITE_CODE_CACHE=1 to make that cache.
 */
import { join } from 'node:path';
import { compileCached } from './code-cache.js';

const cli = compileCached(join(import.meta.dirname, 'cli.js'), join(import.meta.dirname, 'cli.js.cache'));
if (process.env['USBMS_WRITE_CODE_CACHE'] === '1') process.once('exit', () => cli.writeCache());
cli.run();

#!/usr/bin/env node
/**
 * `usbms`: dist/bin/usbms.js. Runs the bundled command line (dist/bin/cli.js) through the code cache the build
 * made (./code-cache.ts). `npm run build:cli` runs this once with USBMS_WRITE_CODE_CACHE=1 to make that cache.
 *
 * With DEBUG set (DEBUG=usbms:* prints the stack of an error), the bundle is loaded as an ordinary CommonJS module
 * with source maps on instead: its stack traces then name src/*.ts lines through dist/bin/cli.js.map, which a
 * script compiled from the code cache (vm.Script) cannot. Parsing that map costs a debugging run some milliseconds;
 * every other run keeps the cache.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { compileCached } from './code-cache.js';

const file = join(import.meta.dirname, 'cli.js');
const writeCache = process.env['USBMS_WRITE_CODE_CACHE'] === '1';
if ((process.env['DEBUG'] ?? '') !== '' && !writeCache) {
  process.setSourceMapsEnabled(true);
  createRequire(file)(file);
} else {
  const cli = compileCached(file, join(import.meta.dirname, 'cli.js.cache'));
  if (writeCache) process.once('exit', () => cli.writeCache());
  cli.run();
}

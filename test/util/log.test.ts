/**
 * The lazy `debug` loggers (src/util/log.ts): `debug` loads only when logging may be on, a program that loads and
 * enables `debug` later gets the output, and a log call with logging off costs no module resolution. Each case
 * runs in a fresh node (vitest itself may have loaded `debug`), against the built dist/util/log.js.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCliIfStale, ROOT } from '../apps/cli/build.js';

buildCliIfStale(); // dist/util/log.js
const LOG_JS = JSON.stringify(join(ROOT, 'dist/util/log.js'));

function run(script: string, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const base = { ...process.env };
  delete base.DEBUG;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script],
    { cwd: ROOT, encoding: 'utf8', env: { ...base, ...env, DEBUG_COLORS: '0' } });
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('logger', () => {
  it('with DEBUG unset and debug not loaded: no output, not enabled, debug never loaded', () => {
    const r = run(`
      import { createRequire } from 'node:module';
      import { logger } from ${LOG_JS};
      const log = logger('disk');
      for (let i = 0; i < 100; i++) log('event %d', i);
      const req = createRequire(${LOG_JS});
      process.stdout.write(JSON.stringify({ enabled: log.enabled, loaded: req.cache[req.resolve('debug')] !== undefined }));`);
    expect(JSON.parse(r.stdout)).toEqual({ enabled: false, loaded: false });
    expect(r.stderr).toBe('');
  });

  it('resolves debug at most once, however many calls are made while logging is off', () => {
    const r = run(`
      import Module from 'node:module';
      import { logger } from ${LOG_JS};
      let lookups = 0;
      const real = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) { if (request === 'debug') lookups++; return real.call(this, request, ...rest); };
      const log = logger('bot');
      for (let i = 0; i < 1000; i++) { log('tag %d', i); void log.enabled; }
      process.stdout.write(String(lookups));`);
    expect(Number(r.stdout)).toBeLessThanOrEqual(1);
  });

  it('a program that loads and enables debug after the first calls gets the output', () => {
    const r = run(`
      import { createRequire } from 'node:module';
      import { logger } from ${LOG_JS};
      const log = logger('disk');
      log('before %d', 1);
      const debug = createRequire(${LOG_JS})('debug');
      debug.enable('usbms:disk');
      log('after %d', 2);
      process.stdout.write(String(log.enabled));`);
    expect(r.stdout).toBe('true');
    expect(r.stderr).toMatch(/usbms:disk after 2/);
    expect(r.stderr).not.toMatch(/before/);
  });

  it('with DEBUG naming the layer, the layer logs and the others do not', () => {
    const r = run(`
      import { logger } from ${LOG_JS};
      logger('disk')('disk %s', 'on');
      logger('bot')('bot %s', 'off');`, { DEBUG: 'usbms:disk' });
    expect(r.stderr).toMatch(/usbms:disk disk on/);
    expect(r.stderr).not.toMatch(/bot off/);
  });
});

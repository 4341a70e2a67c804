/**
 * `usbms COMMAND --help` shows examples for every command, the examples on the emulated disk run as printed, and
 * `usbms completion` prints a bash completion script that really completes (issue 10).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../../src/apps/cli/examples.js';
import { CLI } from './build.js';
import { usbms } from './run.js';

const exec = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'usbms-help-'));
afterAll(() => { rmSync(work, { recursive: true, force: true }); });

/** The command names `usbms --help` lists. */
async function listedCommands(): Promise<string[]> {
  const { stdout, code } = await usbms(['--help']);
  expect(code).toBe(0);
  const section = stdout.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return [...section.matchAll(/^ {2}usbms (\S+)/gm)].map((m) => m[1] ?? '');
}

describe('usbms COMMAND --help', () => {
  it('every listed command has examples, and every example belongs to a listed command', async () => {
    const listed = await listedCommands();
    expect(listed.length).toBeGreaterThanOrEqual(18);
    expect(listed).toContain('completion');
    expect(Object.keys(EXAMPLES).sort()).toEqual([...listed].sort());
  });

  for (const [command, rows] of Object.entries(EXAMPLES)) {
    it(`usbms ${command} --help prints its examples`, async () => {
      const { stdout, code } = await usbms([command, '--help']);
      expect(code).toBe(0);
      const examples = stdout.split('\nExamples:\n')[1] ?? '';
      expect(rows.length).toBeGreaterThan(0);
      for (const [line] of rows) {
        expect(line.startsWith(`usbms ${command}`)).toBe(true);
        // yargs wraps long example lines into two columns: the words of the line, in order, with the
        // wrapped description in between.
        const words = line.split(' ').map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
        expect(examples).toMatch(new RegExp(words.join('[\\s\\S]*?')));
      }
    });
  }

  // The examples on the emulated disk are runnable as printed (in a scratch folder: some write files there).
  const runnable = Object.values(EXAMPLES).flat().map(([line]) => line)
    .filter((line) => line.includes('--mock') && !/[|;&>]/.test(line));
  it('has runnable --mock examples', () => { expect(runnable.length).toBeGreaterThanOrEqual(15); });
  for (const line of runnable) {
    it(`"${line}" exits 0 on the emulated disk`, async () => {
      const args = line.split(' ').slice(1);
      const r = await exec(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, DEBUG: '' },
        timeout: 30_000, maxBuffer: 32 << 20 }).then((o) => ({ code: 0, ...o }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
      expect(r.stderr ?? '', line).not.toMatch(/internal error/);
      expect(r.code, `${line}\n${r.stderr ?? ''}`).toBe(0);
      expect(`${r.stdout ?? ''}${r.stderr ?? ''}`.length, line).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe('usbms completion', () => {
  it('prints a bash completion script that asks usbms for the words', async () => {
    const { stdout, code } = await usbms(['completion']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^###-begin-usbms-completions-###$/m);
    expect(stdout).toMatch(/usbms --get-yargs-completions/);
    expect(stdout).toMatch(/^complete .* usbms$/m);
  });

  it('answers completion queries with the commands and a command\'s options', async () => {
    const top = await usbms(['--get-yargs-completions', 'usbms', '']);
    expect(top.code).toBe(0);
    expect(top.stdout.split('\n')).toEqual(expect.arrayContaining(['read', 'restore', 'reset', 'completion']));
    const opts = await usbms(['--get-yargs-completions', 'usbms', 'read', '--']);
    expect(opts.stdout.split('\n')).toEqual(expect.arrayContaining(['--out', '--mock', '--device']));
  });

  it('completes "usbms re" to the commands starting with re (read, restore, reset ...) in a real bash', async () => {
    // A `usbms` on PATH that runs the built CLI, as `npm install -g` would provide.
    const bin = join(work, 'bin');
    await exec('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'usbms'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(bin, 'usbms'), 0o755);
    const script = 'source <(usbms completion); COMP_WORDS=(usbms re); COMP_CWORD=1; _usbms_yargs_completions; ' +
      'printf "%s\\n" "${COMPREPLY[@]}"';
    const { stdout } = await exec('bash', ['-c', script], { env: { ...process.env, DEBUG: '', PATH: `${bin}:${process.env.PATH ?? ''}` } });
    const expected = (await listedCommands()).filter((c) => c.startsWith('re')).sort();
    expect(expected).toEqual(expect.arrayContaining(['read', 'reset', 'restore']));
    expect(stdout.split('\n').filter((l) => l !== '').sort()).toEqual(expected);
  });
});

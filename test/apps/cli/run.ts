/** Spawn the built CLI and collect what it printed and how it exited. */
import { spawn } from 'node:child_process';
import { CLI, ROOT } from './build.js';

export interface CliRun { code: number | null; stdout: string; stderr: string; stdoutBytes: Buffer }

/**
 * `input`: what the CLI reads on stdin (default: nothing, stdin closed at once). `stdoutBytes`: close our end of its
 * stdout after this many bytes, as `| head -c N` does.
 */
export interface CliRunOptions { input?: Buffer | undefined; stdoutBytes?: number | undefined }

export function usbms(args: string[], env: Record<string, string> = {}, opts: CliRunOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, DEBUG: '', ...env } });
    child.stdin.on('error', () => undefined); // a command that does not read stdin may exit before we are done
    child.stdin.end(opts.input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let got = 0;
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      got += b.length;
      if (opts.stdoutBytes !== undefined && got >= opts.stdoutBytes) child.stdout.destroy();
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`usbms ${args.join(' ')} hung`)); }, 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), stdoutBytes });
    });
  });
}

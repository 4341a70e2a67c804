/**
 * Running tshark (Wireshark's command line) on a capture. Tests that decode captures need it: a missing tshark
 * fails them (CI installs it in .ci/run; locally `apt-get install tshark`), it never skips them.
 */
import { execFileSync } from 'node:child_process';

export function tsharkVersion(): string {
  try {
    return execFileSync('tshark', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  } catch (e) {
    throw new Error('tshark is not installed (apt-get install -y tshark; .ci/run installs it): ' +
      `${(e as Error).message}`);
  }
}

/** One row per frame (that `filter` keeps), one string per field ('' when the frame has none). */
export function tsharkFields(file: string, fields: readonly string[], filter?: string): string[][] {
  tsharkVersion();
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f',
    ...fields.flatMap((f) => ['-e', f]), ...(filter === undefined ? [] : ['-Y', filter])];
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('|'));
}

/** tshark's one-line summary of each frame (what Wireshark's packet list shows). */
export function tsharkSummary(file: string): string[] {
  tsharkVersion();
  const out = execFileSync('tshark', ['-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return out.split('\n').filter((l) => l !== '');
}

export const num = (s: string | undefined): number => (s === undefined || s === '' ? NaN : Number(s));

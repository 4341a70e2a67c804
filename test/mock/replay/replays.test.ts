/**
 * test/replays/: captures taken in the lab (hw-tests/lab/trace.sh) of real device models: QEMU usb-storage
 * (with an unreadable sector), the Linux gadget, and the guest kernel's own usb-storage seen through usbmon.
 * Each is replayed through the real CLI, which must print what the live command printed in the lab, byte for
 * byte (stdout and stderr), with the same exit status. replays.json lists them (see test/replays/README.md).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildCliIfStale, ROOT } from '../../apps/cli/build.js';
import { usbms } from '../../apps/cli/run.js';

interface Replay { name: string; capture: string; args: string[]; exit: number; what: string }

const DIR = join(ROOT, 'test/replays');
const replays = JSON.parse(readFileSync(join(DIR, 'replays.json'), 'utf8')) as Replay[];

beforeAll(() => { buildCliIfStale(); }, 120_000);

describe('lab captures replayed through the CLI print what the live device made it print', () => {
  it('the folder holds captures of each lab device model', () => {
    const models = new Set(replays.map((r) => r.name.split('-')[0]));
    expect([...models].sort()).toEqual(['gadget', 'kernel', 'qemu']);
  });

  for (const r of replays) {
    it(`${r.name}: usbms ${r.args.join(' ')} --replay ${r.capture} (${r.what})`, async () => {
      const got = await usbms([...r.args, '--replay', join('test/replays', r.capture)]);
      expect(got.stdout).toBe(readFileSync(join(DIR, `${r.name}.out`), 'utf8'));
      expect(got.stderr).toBe(readFileSync(join(DIR, `${r.name}.err`), 'utf8'));
      expect(got.code).toBe(r.exit);
    });
  }
});

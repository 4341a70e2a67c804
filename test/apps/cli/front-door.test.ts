/**
 * Issue 21, the CLI's rough edges as a new user meets them, each through the real `usbms`: a reader that closes
 * the pipe early, `usbms` alone, --version, `-` for stdout and stdin, the replay divergence message, options given
 * words instead of numbers, and the messages of validate, power, eject and a write to the built-in disk.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliIfStale, ROOT } from './build.js';
import { usbms } from './run.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-front-'));
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });
beforeAll(() => { buildCliIfStale(); }, 120_000);

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

function image(name: string, blocks: number): string {
  const p = join(tmp, name);
  const b = Buffer.alloc(blocks * 512);
  for (let i = 0; i < b.length; i++) b[i] = (i * 13 + 1) & 0xff;
  writeFileSync(p, b);
  return p;
}

describe('a reader that closes the pipe early (`| head`) ends the command quietly with status 0', () => {
  const cases: [string, string[]][] = [
    ['read 0 1000 (hex dump)', ['read', '0', '1000', '--mock']],
    ['read 0 1000 --json', ['read', '0', '1000', '--mock', '--json']],
    ['read 0 131072 --out -', ['read', '0', '131072', '--mock', '--out', '-']],
    ['image --out -', ['image', '--mock', '--out', '-']],
  ];
  it.each(cases)('%s', async (_name, args) => {
    const r = await usbms(args, {}, { stdoutBytes: 100 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.length).toBeGreaterThanOrEqual(100);
  });
});

describe('usbms alone and --version', () => {
  it('usbms alone: one line saying what to do, then the help; exit 1', async () => {
    const r = await usbms([]);
    expect(r.code).toBe(1);
    const [first, ...rest] = r.stderr.split('\n');
    expect(first).toBe('usbms: name a command (usbms --help lists them)');
    expect(r.stderr).not.toMatch(/usbms: usbms:/);
    expect(rest.join('\n')).toMatch(/Commands:\n\s+usbms list/);
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await usbms(['--version']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, `${version}\n`, '']);
    expect((await usbms(['--help'])).stdout).toMatch(/--version\s+print the version of usbms/);
  });
});

describe('`-` is stdout for --out and stdin for --in', () => {
  it('read --out - puts the raw blocks on stdout, the summary on stderr', async () => {
    const img = image('read.img', 64);
    const r = await usbms(['read', '4', '3', `--mock=${img}`, '--out', '-']);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(readFileSync(img).subarray(4 * 512, 7 * 512))).toBe(true);
    expect(r.stderr).toBe('read 3 blocks at LBA 4 (1536 bytes) into stdout\n');
    expect((await usbms(['read', '0', `--mock=${img}`, '-o', '-'])).stdoutBytes.length).toBe(512);
    const both = await usbms(['read', '0', `--mock=${img}`, '--out', '-', '--json']);
    expect([both.code, lines(both.stderr)]).toEqual([1, [expect.stringMatching(/^usbms: --out - puts the blocks on stdout/)]]);
  });

  it('image --out - puts the image on stdout and its sha256 on stderr', async () => {
    const img = image('image.img', 128);
    const r = await usbms(['image', `--mock=${img}`, '--out', '-']);
    expect(r.code).toBe(0);
    expect(r.stdoutBytes.equals(readFileSync(img))).toBe(true);
    expect(r.stderr).toBe(`${sha(readFileSync(img))}  -\n`);
  });

  it('write --in - takes the blocks from stdin', async () => {
    const img = image('write.img', 64);
    const data = Buffer.alloc(1024, 0xc3);
    const r = await usbms(['write', '5', '--in', '-', '--write', `--mock=${img}`], {}, { input: data });
    expect([r.code, r.stderr]).toEqual([0, 'wrote 2 blocks at LBA 5\n']);
    expect(readFileSync(img).subarray(5 * 512, 7 * 512).equals(data)).toBe(true);
    const odd = await usbms(['write', '5', '-i', '-', '--write', `--mock=${img}`], {}, { input: Buffer.alloc(700) });
    expect([odd.code, odd.stderr]).toEqual([1, 'usbms: stdin is 700 bytes, not a whole number of 512-byte blocks\n']);
  });

  it('restore --in - from a pipe needs --partial, then writes what the pipe holds', async () => {
    const img = image('restore.img', 64);
    const before = readFileSync(img);
    const data = Buffer.alloc(3 * 512, 0x7e);
    const refused = await usbms(['restore', '--in', '-', '--write', `--mock=${img}`], {}, { input: data });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^usbms: stdin is not a file, so its size cannot be checked .*--partial/);
    expect(readFileSync(img).equals(before)).toBe(true);
    const r = await usbms(['restore', '--in', '-', '--write', '--partial', `--mock=${img}`, '--json'], {}, { input: data });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ file: '-', blocks: 3, bytes: 1536, sha256: sha(data) });
    const after = readFileSync(img);
    expect(after.subarray(0, 1536).equals(data)).toBe(true);
    expect(after.subarray(1536).equals(before.subarray(1536))).toBe(true);
    const ragged = await usbms(['restore', '--in', '-', '--write', '--partial', `--mock=${img}`], {},
      { input: Buffer.alloc(1000, 1) });
    expect([ragged.code, lines(ragged.stderr)]).toEqual([1, [expect.stringMatching(/^usbms: stdin ended 488 bytes into a 512-byte block/)]]);
    const more = await usbms(['restore', '--in', '-', '--write', '--partial', `--mock=${img}`], {},
      { input: Buffer.alloc(65 * 512, 2) });
    expect([more.code, lines(more.stderr)]).toEqual([22, [expect.stringMatching(/^usbms: stdin holds more than the disk/)]]);
  });
});

describe('the replay divergence message says what is missing', () => {
  it('read 5 1 on a capture of read 0 2: the READ(10) due asks another question', async () => {
    const pcap = join(tmp, 'r.pcap');
    expect((await usbms(['read', '0', '2', '--mock', '--pcap', pcap])).code).toBe(0);
    const r = await usbms(['read', '5', '1', '--replay', pcap]);
    expect(r.code).toBe(35);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/the host sent LUN 0 READ\(10\) lba=5 blocks=1 .*but the recording holds #\d+: LUN 0 READ\(10\) lba=0 blocks=2/);
    expect(r.stderr).toMatch(/the same opcode, another question: no recorded command answers the host's\)\n$/);
    expect(r.stderr).not.toMatch(/no command of that opcode/);
  });
});

describe('an option that takes a number, given something else', () => {
  const cases: [string[], string][] = [
    [['tur', '--mock', '--lun', 'abc'], "usbms: --lun: 'abc' is not a number"],
    [['tur', '--mock', '--lun=x1'], "usbms: --lun: 'x1' is not a number"],
    [['tur', '--mock', '--timeout', 'soon'], "usbms: --timeout: 'soon' is not a number"],
    [['power', 'cycle', '--mock', '--device', '0-1.1', '--off-ms', 'abc'], "usbms: --off-ms: 'abc' is not a number"],
    [['tur', '--mock', '--lun'], 'usbms: --lun needs a number'],
    [['tur', '--lun', '--mock'], 'usbms: --lun needs a number'],
    [['tur', '--mock', '--max-transfer', 'lots'], /^usbms: --max-transfer: 'lots' is not a size/],
  ].map(([args, message]) => [args as string[], message as string]);
  it.each(cases)('%j', async (args, message) => {
    const r = await usbms(args);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toHaveLength(1);
    if (typeof message === 'string') expect(r.stderr).toBe(`${message}\n`);
    else expect(r.stderr).toMatch(message);
  });
  it('a number still works, in range or not', async () => {
    expect((await usbms(['tur', '--mock', '--lun', '0'])).code).toBe(0);
    expect((await usbms(['tur', '--mock', '--lun', '16'])).stderr).toBe('usbms: --lun 16 is not 0..15\n');
  });
});

describe('messages of validate, power, eject and a write to the built-in disk', () => {
  it('validate --mock --mock FILE says the file-less --mock cannot stand beside it', async () => {
    const r = await usbms(['validate', '--plan', 'quick', '--mock', '--mock', 'fake.json']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(['usbms: --mock without a file (the built-in disk) cannot stand beside --mock FILE: ' +
      'give each --mock a device .json or image file (fake.json), or --mock alone for the built-in disk']);
  });

  it('power prints labelled lines: no JSON, every time with its unit', async () => {
    const s = await usbms(['power', 'status', '--mock', '--device', '0-1.1']);
    expect([s.code, s.stdout]).toEqual([0, 'port: 0-1.1\nport powered: yes\ndevice connected: yes\n' +
      'device: f055:5b00 serial USBMS-DEMO address 2\n']);
    const c = await usbms(['power', 'cycle', '--mock', '--device', '0-1.1', '--off-ms', '10']);
    expect(c.code).toBe(0);
    expect(c.stdout).not.toMatch(/[{}"]/);
    expect(c.stdout).toMatch(/^time off: 10 ms$/m);
    expect(c.stdout).toMatch(/^took: \d+ ms$/m);
    expect(c.stdout).toMatch(/^address before: 2\naddress after: 3$/m);
  });

  it('eject on the fixed demo disk says the medium is not removable (exit 5, one line)', async () => {
    const r = await usbms(['eject', '--mock']);
    expect(r.code).toBe(5);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^usbms: LUN 0 \(USBMS Demo Disk\) has a medium that is not removable \(INQUIRY RMB=0\): the device refused/);
  });

  it('write --write --mock says the built-in disk is gone at exit; an image says nothing of the kind', async () => {
    const block = join(tmp, 'block.bin');
    writeFileSync(block, Buffer.alloc(512, 1));
    const r = await usbms(['write', '9', '--in', block, '--write', '--mock']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^wrote 1 blocks at LBA 9\nusbms: the built-in disk lives in memory: what this command wrote is gone when usbms exits/);
    const img = await usbms(['write', '9', '--in', block, '--write', `--mock=${image('keep.img', 16)}`]);
    expect([img.code, img.stderr]).toEqual([0, 'wrote 1 blocks at LBA 9\n']);
  });
});

describe('DEBUG=usbms:* stack traces', () => {
  it('name the src/ files and lines, not the bundle', async () => {
    const r = await usbms(['read', '131072', '--mock'], { DEBUG: 'usbms:cli' });
    expect(r.code).toBe(22);
    const frames = r.stderr.split('\n').filter((l) => /^\s+at /.test(l));
    expect(frames.length).toBeGreaterThan(0);
    expect(frames[0]).toMatch(/src\/disk\/disk\.ts:\d+:\d+\)$/);
    expect(r.stderr).not.toMatch(/dist\/bin\/cli\.js/);
  });

  it('without DEBUG: one line, no stack', async () => {
    const r = await usbms(['read', '131072', '--mock']);
    expect([r.code, lines(r.stderr).length]).toEqual([22, 1]);
  });
});

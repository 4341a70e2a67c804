/**
 * `usbms serve --mock=IMAGE`, as users run it, checked by NBD clients that share no code with it: libnbd's
 * nbdinfo, nbdcopy and nbdfuse, QEMU's qemu-io and qemu-img, and a FAT file system made and read by dosfstools
 * and mtools through nbdfuse. Needs Debian's libnbd-bin, qemu-utils, fuse3, dosfstools, mtools and openssl, and
 * root with /dev/fuse for nbdfuse (.ci/run installs them).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCliIfStale, CLI, ROOT } from '../cli/build.js';
import { pattern } from './helpers.js';
import { CMD, ERRNO, TestClient } from './client.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'usbms-serve-'));
beforeAll(() => { buildCliIfStale(); }, 180_000);

interface Running { proc: ChildProcess; events: Record<string, unknown>[]; uri: string; port: number; stop(): Promise<number | null> }
let running: Running | undefined;
afterEach(async () => { await running?.stop(); running = undefined; });

/** Start `usbms serve ARGS --json` on a free port of loopback and wait for its `listening` event. */
async function start(args: string[]): Promise<Running> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--json', '--listen', '0', ...args],
    { cwd: ROOT, env: { ...process.env, DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  let buf = '';
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const e = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        events.push(e);
        if (e.type === 'listening') resolve(e);
      }
    });
    proc.on('exit', (code) => { reject(new Error(`usbms serve exited ${code}: ${stderr}`)); });
    setTimeout(() => { reject(new Error(`usbms serve did not listen in 20 s: ${stderr}`)); }, 20_000);
  });
  const l = await listening;
  const port = (l.address as { port: number }).port;
  const exports = l.exports as { uri: string }[];
  const exited = new Promise<number | null>((r) => { proc.on('exit', (code) => { r(code); }); });
  return { proc, events, port, uri: exports[0]!.uri,
    stop: async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return exited; } };
}

function image(name: string, bytes: number, seed = 1): string {
  const p = join(tmp, name);
  writeFileSync(p, pattern(bytes, seed));
  return p;
}

/** A thin-provisioned software disk over `img` (TRIM offered), as a --mock=DEVICE.json. */
function thinSpec(img: string): string {
  const p = `${img}.json`;
  writeFileSync(p, JSON.stringify({ device: { serialNumber: 'THIN1' }, luns: [{ image: img, provisioning: true }] }));
  return p;
}

describe('usbms serve with the clients from Debian', () => {
  it('nbdinfo --json: the export, its flags and block sizes; --list names it; read-only without --write', async () => {
    const img = image('info.img', 8 << 20);
    running = await start([`--mock=${img}`, '--name', 'stick']);
    const { stdout } = await run('nbdinfo', ['--json', running.uri]);
    const info = JSON.parse(stdout) as { protocol: string; structured: boolean; exports: Record<string, unknown>[] };
    expect(info.protocol).toBe('newstyle-fixed');
    expect(info.structured).toBe(true);
    expect(info.exports[0]).toMatchObject({ 'export-name': 'stick', 'export-size': 8 << 20, is_read_only: true,
      can_multi_conn: true, can_trim: false, can_df: true, block_size_minimum: 512, block_size_preferred: 65536,
      block_size_maximum: 122880, description: 'USBMS Mock Disk USBMS0001' });
    const list = await run('nbdinfo', ['--list', '--json', `nbd://127.0.0.1:${running.port}`]);
    expect((JSON.parse(list.stdout) as { exports: { 'export-name': string }[] }).exports.map((e) => e['export-name']))
      .toEqual(['stick']);
    const w = await run('nbdinfo', ['--can', 'write', running.uri]).then(() => 0, (e: { code: number }) => e.code);
    expect(w).not.toBe(0);
    expect(await running.stop()).toBe(0);
  });

  it('qemu-io: write -P, read -P, discard, flush, write -z (with and without -u), unaligned I/O; the image holds it all',
    async () => {
      const img = image('qio.img', 8 << 20, 2);
      const before = readFileSync(img);
      running = await start([`--mock=${thinSpec(img)}`, '--write', '--name', 'q']);
      const { stdout } = await run('qemu-io', ['-f', 'raw',
        '-c', 'write -P 0xa5 65536 131072', '-c', 'read -P 0xa5 65536 131072',
        '-c', 'discard 1048576 1048576', '-c', 'read -P 0 1048576 1048576',
        '-c', 'write -z 2097152 1048576', '-c', 'read -P 0 2097152 1048576',
        '-c', 'write -z -u 4194304 65536', '-c', 'read -P 0 4194304 65536',
        '-c', 'write -P 0x3c 5001 3000', '-c', 'read -P 0x3c 5001 3000',
        '-c', 'flush', running.uri]);
      expect(stdout).not.toMatch(/fail|error|mismatch/i);
      expect(await running.stop()).toBe(0);
      const expected = Buffer.from(before);
      expected.fill(0xa5, 65536, 65536 + 131072);
      expected.fill(0, 1048576, 2 * 1048576);
      expected.fill(0, 2097152, 3 * 1048576);
      expected.fill(0, 4194304, 4194304 + 65536);
      expected.fill(0x3c, 5001, 8001);
      expect(readFileSync(img).equals(expected)).toBe(true);
    });

  it('nbdcopy both ways (four connections, many requests each), and qemu-img compare against the image', async () => {
    const img = image('copy.img', 16 << 20, 3);
    running = await start([`--mock=${img}`, '--write', '--name', 'c']);
    const out = join(tmp, 'copied.img');
    await run('nbdcopy', ['--connections=4', '--requests=32', running.uri, out]);
    expect(readFileSync(out).equals(readFileSync(img))).toBe(true);
    await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', img, running.uri]);
    const src = image('src.img', 16 << 20, 4);
    await run('nbdcopy', ['--connections=4', '--requests=32', src, running.uri]);
    expect(await running.stop()).toBe(0);
    expect(readFileSync(img).equals(readFileSync(src))).toBe(true);
  });

  it('a FAT file system made, written and read through nbdfuse (mkfs.vfat, mcopy, mdir); mtools read it off the image',
    async () => {
      const img = join(tmp, 'fat.img');
      writeFileSync(img, Buffer.alloc(32 << 20));
      running = await start([`--mock=${img}`, '--write', '--name', 'fat']);
      const mnt = join(tmp, 'mnt');
      mkdirSync(mnt, { recursive: true });
      const fuse = spawn('nbdfuse', [mnt, running.uri], { stdio: 'ignore' });
      try {
        const file = join(mnt, 'nbd');
        for (let i = 0; i < 100 && (await run('test', ['-s', file]).then(() => false, () => true)); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        await run('mkfs.vfat', ['-F', '16', '-n', 'USBMS', file]);
        const doc = join(tmp, 'hello.txt');
        const blob = join(tmp, 'blob.bin');
        writeFileSync(doc, 'usbms serve: a FAT file system through NBD\n');
        writeFileSync(blob, pattern(3 << 20, 9));
        await run('mcopy', ['-i', file, doc, '::/HELLO.TXT']);
        await run('mcopy', ['-i', file, blob, '::/BLOB.BIN']);
        expect((await run('mdir', ['-i', file, '::'])).stdout).toMatch(/HELLO\s+TXT[\s\S]*BLOB\s+BIN/);
        expect((await run('mtype', ['-i', file, '::/HELLO.TXT'])).stdout).toBe('usbms serve: a FAT file system through NBD\n');
        await run('fsck.vfat', ['-n', file]);
      } finally {
        await run('fusermount3', ['-u', mnt]).catch(() => undefined);
        fuse.kill();
      }
      expect(await running.stop()).toBe(0);
      // the image itself, read without NBD
      expect((await run('mtype', ['-i', img, '::/HELLO.TXT'])).stdout).toBe('usbms serve: a FAT file system through NBD\n');
      const back = join(tmp, 'blob.back');
      await run('mcopy', ['-n', '-i', img, '::/BLOB.BIN', back]);
      expect(readFileSync(back).equals(pattern(3 << 20, 9))).toBe(true);
    }, 120_000);

  it('TLS: PSK (psktool format) and X.509 through nbdinfo; a client without TLS is refused', async () => {
    const img = image('tls.img', 4 << 20, 5);
    const psk = join(tmp, 'keys.psk');
    writeFileSync(psk, `alice:${pattern(32, 6).toString('hex')}\n`);
    running = await start([`--mock=${img}`, '--name', 't', '--tls-psk', psk]);
    expect(running.uri).toMatch(/^nbds:/);
    const ok = await run('nbdinfo', ['--json', `nbds://alice@127.0.0.1:${running.port}/t?tls-psk-file=${psk}`]);
    expect(JSON.parse(ok.stdout)).toMatchObject({ TLS: true, exports: [{ 'export-name': 't' }] });
    const plain = await run('nbdinfo', [`nbd://127.0.0.1:${running.port}/t`]).then(() => 0, (e: { code: number }) => e.code);
    expect(plain).not.toBe(0);
    const wrong = join(tmp, 'wrong.psk');
    writeFileSync(wrong, `alice:${pattern(32, 7).toString('hex')}\n`);
    const bad = await run('nbdinfo', [`nbds://alice@127.0.0.1:${running.port}/t?tls-psk-file=${wrong}`])
      .then(() => 0, (e: { code: number }) => e.code);
    expect(bad).not.toBe(0);
    expect(await running.stop()).toBe(0);

    const certs = join(tmp, 'certs');
    mkdirSync(certs, { recursive: true });
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'ca-cert.pem')]);
    running = await start([`--mock=${img}`, '--name', 'x', '--tls-cert', join(certs, 'ca-cert.pem'), '--tls-key', join(certs, 'key.pem')]);
    const x = await run('nbdinfo', ['--json', `nbds://localhost:${running.port}/x?tls-certificates=${certs}&tls-verify-peer=false`]);
    expect(JSON.parse(x.stdout)).toMatchObject({ TLS: true, exports: [{ 'export-name': 'x', 'export-size': 4 << 20 }] });
  }, 60_000);

  it('refuses what is unsafe or wrong before it listens: another address without TLS, bad TLS files, --socket with --listen',
    async () => {
      const img = image('refuse.img', 1 << 20);
      const exit = (args: string[]) => run(process.execPath, [CLI, 'serve', `--mock=${img}`, ...args], { cwd: ROOT })
        .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
      const open = await exit(['--listen', '0.0.0.0:10999']);
      expect(open.code).toBe(1);
      expect(open.stderr).toMatch(/not a loopback address, needs TLS/);
      const psk = join(tmp, 'bad.psk');
      writeFileSync(psk, 'alice:xyz\n');
      const tls = await exit(['--listen', '10999', '--tls-psk', psk]);
      expect(tls.code).toBe(15);
      expect(tls.stderr).toMatch(/bad\.psk:1: not an "identity:hexkey" line/);
      const both = await exit(['--listen', '10999', '--socket', join(tmp, 's.sock')]);
      expect(both.code).toBe(1);
    }, 60_000);

  it('the process survives clients that send garbage; nbdinfo and the data are fine afterwards', async () => {
    const img = image('garbage.img', 4 << 20, 8);
    running = await start([`--mock=${img}`, '--name', 'g', '--write']);
    const before = readFileSync(img);
    for (let i = 0; i < 3; i++) {
      const c = await TestClient.go(running.port, 'g', i % 2 === 0);
      expect((await c.request(CMD.READ, 0, 0)).error).toBe(ERRNO.EINVAL);
      expect((await c.request(77, 0, 512)).error).toBe(ERRNO.EINVAL);
      expect((await c.write(4 << 20, Buffer.alloc(512))).error).toBe(ERRNO.ENOSPC);
      c.send(CMD.WRITE, 0, 65536, { payload: Buffer.alloc(1000, 0xee) }); // then gone mid-payload
      c.raw.end();
    }
    const bad = await TestClient.go(running.port, 'g');
    bad.send(CMD.READ, 0, 512, { magic: 0xdeadbeef });
    expect(await bad.raw.closedWithin(3000)).toBe(true);
    await run('nbdinfo', [running.uri]);
    expect(await running.stop()).toBe(0);
    expect(readFileSync(img).equals(before)).toBe(true);
    expect(running.events.filter((e) => e.type === 'protocol-error').length).toBeGreaterThanOrEqual(1);
  });
});

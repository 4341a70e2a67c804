/**
 * The transmission phase against the software disk: data in and out byte-exact (aligned or not, simple or
 * structured replies), what every kind of bad request gets, and that none of it changes anything else.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CMD, ERRNO, FLAG, Raw, TestClient } from './client.js';
import { mediaBytes, opcodes, pattern, readLengths, serve, type Served } from './helpers.js';

let s: Served | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

describe('READ and WRITE', () => {
  it('reads what the medium holds and writes land exactly, with simple and with structured replies', async () => {
    s = await serve([{ blocks: 8192 }], { write: true });
    for (const structured of [false, true]) {
      const c = await TestClient.go(s.port, 'd', structured);
      expect(c.flags & 0x14f).toBe(0x14d); // HAS_FLAGS SEND_FLUSH SEND_FUA SEND_WRITE_ZEROES CAN_MULTI_CONN, not READ_ONLY
      const r = await c.read(4096, 65536);
      expect(r.error).toBe(0);
      expect(r.data.equals(mediaBytes(s.media[0]!, 4096, 65536))).toBe(true);
      if (structured) expect(r.chunks.map((x) => [x.type, x.flags])).toEqual([[1, 1]]); // one OFFSET_DATA, DONE
      const payload = pattern(8192, structured ? 7 : 8);
      expect((await c.write(1024 * 512, payload)).error).toBe(0);
      expect(mediaBytes(s.media[0]!, 1024 * 512, 8192).equals(payload)).toBe(true);
      c.disconnect();
    }
  });

  it('unaligned reads and writes: only the bytes asked for, the rest of each block kept', async () => {
    s = await serve([{ blocks: 8192 }], { write: true });
    const before = mediaBytes(s.media[0]!, 0, 8192 * 512);
    const c = await TestClient.go(s.port, 'd');
    const r = await c.read(1000, 3333);
    expect(r.data.equals(before.subarray(1000, 4333))).toBe(true);
    const small = Buffer.from('usbms unaligned write');
    expect((await c.write(5003, small)).error).toBe(0);
    const big = pattern(70_001, 3);
    expect((await c.write(100_007, big)).error).toBe(0);
    const expected = Buffer.from(before);
    small.copy(expected, 5003);
    big.copy(expected, 100_007);
    expect(mediaBytes(s.media[0]!, 0, 8192 * 512).equals(expected)).toBe(true);
    // WRITE_ZEROES over a partial block
    expect((await c.request(CMD.WRITE_ZEROES, 200_001, 1000)).error).toBe(0);
    expected.fill(0, 200_001, 201_001);
    expect(mediaBytes(s.media[0]!, 0, 8192 * 512).equals(expected)).toBe(true);
    c.disconnect();
  });

  it('read-modify-writes of one block in flight together never lose each other\'s bytes', async () => {
    s = await serve([{ blocks: 64 }], { write: true });
    const c = await TestClient.go(s.port, 'd');
    const d = await TestClient.go(s.port, 'd'); // and from another connection
    const block = 7 * 512;
    const replies = [];
    for (let i = 0; i < 64; i++) {
      const who = i % 2 === 0 ? c : d;
      replies.push(who.write(block + i * 8, Buffer.alloc(8, i + 1)));
    }
    expect((await Promise.all(replies)).map((r) => r.error)).toEqual(new Array(64).fill(0));
    const got = mediaBytes(s.media[0]!, block, 512);
    for (let i = 0; i < 64; i++) expect(got.subarray(i * 8, i * 8 + 8).every((b) => b === i + 1), `bytes of write ${i}`).toBe(true);
    c.disconnect();
    d.disconnect();
  });

  it('FLUSH sends SYNCHRONIZE CACHE; FUA is the WRITE\'s FUA bit with DPOFUA, else WRITE then SYNCHRONIZE CACHE', async () => {
    s = await serve([{ blocks: 1024 }, { blocks: 1024, dpofua: true }], { write: true, luns: [0, 1] });
    let flushes = 0;
    Object.assign(s.media[1]!, { flush: () => { flushes++; } });
    const c = await TestClient.go(s.port, 'd-lun0');
    s.dev.log.length = 0;
    expect((await c.request(CMD.FLUSH, 0, 0)).error).toBe(0);
    expect(opcodes(s.dev)).toEqual([0x35]);
    s.dev.log.length = 0;
    expect((await c.write(0, Buffer.alloc(4096, 1), FLAG.FUA)).error).toBe(0);
    expect(opcodes(s.dev)).toEqual([0x2a, 0x35]);
    const f = await TestClient.go(s.port, 'd-lun1');
    s.dev.log.length = 0;
    expect((await f.write(0, Buffer.alloc(4096, 2), FLAG.FUA)).error).toBe(0);
    expect(opcodes(s.dev)).toEqual([0x2a]);
    expect(flushes).toBe(1); // the device flushed the FUA write itself
    c.disconnect();
    f.disconnect();
  });

  it('DISC: every request already sent is answered before the connection closes', async () => {
    s = await serve([{ blocks: 8192 }]);
    const c = await TestClient.go(s.port, 'd');
    const replies = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => c.read(i * 65536, 65536));
    c.send(CMD.DISC, 0, 0);
    const got = await Promise.all(replies);
    got.forEach((r, i) => { expect(r.data.equals(mediaBytes(s!.media[0]!, i * 65536, 65536))).toBe(true); });
    expect(await c.raw.closedWithin(3000)).toBe(true);
  });
});

describe('TRIM and WRITE_ZEROES', () => {
  it('TRIM is offered and is UNMAP only on a device that reports provisioning; partial blocks are left alone', async () => {
    s = await serve([{ blocks: 8192 }, { blocks: 8192, provisioning: true }], { write: true, luns: [0, 1] });
    const plain = await TestClient.go(s.port, 'd-lun0');
    expect(plain.flags & 0x20).toBe(0);
    expect((await plain.request(CMD.TRIM, 0, 4096)).error).toBe(ERRNO.EINVAL);
    const thin = await TestClient.go(s.port, 'd-lun1');
    expect(thin.flags & 0x20).toBe(0x20);
    const before = mediaBytes(s.media[1]!, 0, 8192 * 512);
    s.dev.log.length = 0;
    expect((await thin.request(CMD.TRIM, 1000, 10_000)).error).toBe(0); // blocks 2..20 whole, 1 and 21 in part
    expect(opcodes(s.dev)).toEqual([0x42]);
    const after = mediaBytes(s.media[1]!, 0, 8192 * 512);
    expect(after.subarray(0, 1024).equals(before.subarray(0, 1024))).toBe(true);
    expect(after.subarray(1024, 10752).every((b) => b === 0)).toBe(true);
    expect(after.subarray(10752).equals(before.subarray(10752))).toBe(true);
    plain.disconnect();
    thin.disconnect();
  });

  it('WRITE_ZEROES: WRITE SAME(16) with UNMAP where it deallocates to zeros, zeros written with NO_HOLE or without it', async () => {
    s = await serve([{ blocks: 8192 }, { blocks: 8192, provisioning: true }], { write: true, luns: [0, 1] });
    const thin = await TestClient.go(s.port, 'd-lun1');
    s.dev.log.length = 0;
    expect((await thin.request(CMD.WRITE_ZEROES, 65536, 1 << 20)).error).toBe(0);
    expect(opcodes(s.dev)).toEqual([0x93]);
    expect(mediaBytes(s.media[1]!, 65536, 1 << 20).every((b) => b === 0)).toBe(true);
    s.dev.log.length = 0;
    expect((await thin.request(CMD.WRITE_ZEROES, 2 << 20, 1 << 20, { flags: FLAG.NO_HOLE })).error).toBe(0);
    expect(new Set(opcodes(s.dev))).toEqual(new Set([0x2a]));
    expect(mediaBytes(s.media[1]!, 2 << 20, 1 << 20).every((b) => b === 0)).toBe(true);
    const plain = await TestClient.go(s.port, 'd-lun0');
    s.dev.log.length = 0;
    expect((await plain.request(CMD.WRITE_ZEROES, 0, 300_000)).error).toBe(0);
    expect(new Set(opcodes(s.dev))).toEqual(new Set([0x2a, 0x28])); // whole blocks written, the partial last one by RMW
    expect(mediaBytes(s.media[0]!, 0, 300_000).every((b) => b === 0)).toBe(true);
    thin.disconnect();
    plain.disconnect();
  });
});

describe('a medium error', () => {
  it('structured: the good bytes, then an error chunk with the offset of the first bad block; simple: EIO and no data',
    async () => {
      s = await serve([{ blocks: 8192 }]);
      s.dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'medium-error', lbas: [300n] } });
      const c = await TestClient.go(s.port, 'd');
      const r = await c.read(250 * 512 + 100, 100 * 512);
      expect(r.error).toBe(ERRNO.EIO);
      expect(r.chunks.map((x) => x.type)).toEqual([1, 0x8002]);
      expect(r.chunks[1]!.offset).toBe(300n * 512n);
      const good = 300 * 512 - (250 * 512 + 100);
      expect(r.chunks[0]!.length - 8).toBe(good);
      expect(r.data.subarray(0, good).equals(mediaBytes(s.media[0]!, 250 * 512 + 100, good))).toBe(true);
      // a request that starts at the bad block: no data, the offset is its own start
      const at = await c.read(300 * 512, 4096);
      expect(at.chunks.map((x) => [x.type, x.offset])).toEqual([[0x8002, 300n * 512n]]);
      // reads elsewhere, even in the same run, are not affected
      const ok = await Promise.all([c.read(0, 65536), c.read(65536, 65536), c.read(400 * 512, 4096)]);
      expect(ok.map((x) => x.error)).toEqual([0, 0, 0]);
      const simple = await TestClient.go(s.port, 'd', false);
      const sr = await simple.read(290 * 512, 20 * 512);
      expect(sr.error).toBe(ERRNO.EIO);
      expect((await simple.read(0, 512)).error).toBe(0); // the stream stays in step: no payload followed the error
      const medium = s.events.filter((e) => e.type === 'error');
      expect(medium.length).toBeGreaterThanOrEqual(3);
      expect(medium[0]).toMatchObject({ errno: ERRNO.EIO, op: 'read' });
      expect(medium.some((e) => e.type === 'error' && e.sense !== undefined && /^(70|f0|72)/.test(e.sense))).toBe(true);
      c.disconnect();
      simple.disconnect();
    });

  it('a LUN without a medium is not served (DISK_NO_MEDIUM); --lun all serves the LUNs that have one', async () => {
    await expect(serve([{ blocks: 1024, removable: true, present: false }])).rejects.toMatchObject({ code: 'DISK_NO_MEDIUM' });
    s = await serve([{ blocks: 1024, removable: true, present: false }, { blocks: 2048 }], { luns: 'all' });
    expect(s.server.exports.map((e) => [e.name, e.lun, e.size])).toEqual([['d', 1, 2048n * 512n]]);
  });

  it('a write-protected medium: the export is read-only even with write, and writes are EPERM', async () => {
    s = await serve([{ blocks: 1024, writeProtected: true }], { write: true });
    const c = await TestClient.go(s.port, 'd');
    expect(c.flags & 2).toBe(2);
    expect((await c.write(0, Buffer.alloc(512))).error).toBe(ERRNO.EPERM);
    c.disconnect();
  });
});

describe('readahead for a sequential reader', () => {
  const MiB = 1024 * 1024;
  /** Bytes the device was asked to read so far (READ(10) data lengths). */
  const readBytes = (): number => readLengths(s!.dev).reduce((n, len) => n + len, 0);
  /** What the kernel's client sends for `dd bs=4M`: 32 READs of 128 KiB, all in flight, answered before the next. */
  async function ddBlock(c: TestClient, base: number): Promise<void> {
    const got = await Promise.all([...Array(32).keys()].map((i) => c.read(base + i * 131072, 131072)));
    got.forEach((r, i) => {
      expect(r.error).toBe(0);
      expect(r.data.equals(mediaBytes(s!.media[0]!, base + i * 131072, 131072)), `read at ${base + i * 131072}`).toBe(true);
    });
  }
  /** Until the device has been asked for nothing more for 50 ms (the readahead has gone as far as it goes). */
  async function idle(): Promise<void> {
    for (let last = -1, i = 0; i < 100 && readBytes() !== last; i++) {
      last = readBytes();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function until(what: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(what()).toBe(true);
  }

  it('after two 4 MiB reads in order the device reads the next 8 MiB unasked; READs there take no command of their own',
    async () => {
      s = await serve([{ blocks: 32768 }]); // 16 MiB: one window fits, no second one
      const c = await TestClient.go(s.port, 'd');
      s.dev.log.length = 0;
      await ddBlock(c, 0);
      await ddBlock(c, 4 * MiB);
      await until(() => readBytes() >= 16 * MiB); // read ahead past the 8 MiB asked for
      const before = readBytes();
      await ddBlock(c, 8 * MiB);
      await ddBlock(c, 12 * MiB);
      expect(readBytes()).toBe(before);
      expect(s.events.filter((e) => e.type === 'error')).toEqual([]);
      c.disconnect();
    });

  it('a write retires the window: a READ sent behind a WRITE into read-ahead blocks gets the new bytes', async () => {
    s = await serve([{ blocks: 32768 }], { write: true });
    const c = await TestClient.go(s.port, 'd');
    s.dev.log.length = 0;
    await ddBlock(c, 0);
    await ddBlock(c, 4 * MiB);
    await until(() => readBytes() >= 16 * MiB);
    const fresh = pattern(131072, 77);
    const [w, r] = await Promise.all([c.write(9 * MiB, fresh), c.read(9 * MiB, 131072)]); // in flight together
    expect(w.error).toBe(0);
    expect(r.data.equals(fresh)).toBe(true);
    // an unaligned write into read-ahead blocks (read-modify-write), then a READ of them
    const mark = readBytes();
    await ddBlock(c, 0);
    await ddBlock(c, 4 * MiB);
    await idle();
    expect(readBytes() - mark).toBeGreaterThan(12 * MiB); // read ahead again (the window covers 12 MiB)
    const odd = pattern(1000, 5);
    const [w2, r2] = await Promise.all([c.write(12 * MiB + 100, odd), c.read(12 * MiB, 4096)]); // in flight together
    expect(w2.error).toBe(0);
    expect(r2.data.subarray(100, 1100).equals(odd)).toBe(true);
    expect(r2.data.subarray(0, 100).equals(mediaBytes(s.media[0]!, 12 * MiB, 100))).toBe(true);
    await ddBlock(c, 8 * MiB); // the medium as written, whatever was read ahead before
    c.disconnect();
  });

  it('a window\'s failed command is nobody\'s error: only a READ of the bad block fails, at its offset', async () => {
    s = await serve([{ blocks: 32768 }]);
    const bad = (10 * MiB) / 512;
    s.dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'medium-error', lbas: [BigInt(bad)] } });
    const c = await TestClient.go(s.port, 'd');
    s.dev.log.length = 0;
    await ddBlock(c, 0);
    await ddBlock(c, 4 * MiB);
    // the first window, [4, 12) MiB, meets the bad block at 10 MiB; after that readahead rests (no second window)
    await until(() => readBytes() >= 12 * MiB);
    await idle();
    expect(readBytes()).toBe(12 * MiB);
    expect(s.events.filter((e) => e.type === 'error')).toEqual([]); // nobody asked for the bad block yet
    const near = await c.read(bad * 512 - 4096, 8192);
    expect(near.error).toBe(ERRNO.EIO);
    expect(near.chunks.at(-1)!.offset).toBe(BigInt(bad * 512));
    expect(near.data.subarray(0, 4096).equals(mediaBytes(s.media[0]!, bad * 512 - 4096, 4096))).toBe(true);
    expect(s.events.filter((e) => e.type === 'error')).toHaveLength(1);
    expect((await c.read(8 * MiB, 131072)).error).toBe(0);
    c.disconnect();
  });

  it('reads a whole disk of an odd number of blocks in order byte-exact, the last window cut at the end', async () => {
    s = await serve([{ blocks: 32768 + 3 }]);
    const c = await TestClient.go(s.port, 'd');
    const size = (32768 + 3) * 512;
    for (let at = 0; at < size; at += 3 * MiB) {
      const n = Math.min(3 * MiB, size - at);
      const parts = [0, 1, 2].filter((k) => k * MiB < n);
      const got = await Promise.all(parts.map((k) => c.read(at + k * MiB, Math.min(MiB, n - k * MiB))));
      got.forEach((r, k) => {
        expect(r.error).toBe(0);
        expect(r.data.equals(mediaBytes(s!.media[0]!, at + k * MiB, r.data.length))).toBe(true);
      });
    }
    expect(s.events.filter((e) => e.type === 'error')).toEqual([]);
    c.disconnect();
  });

  it('--readahead 0 reads nothing unasked', async () => {
    s = await serve([{ blocks: 32768 }], { readaheadBytes: 0 });
    const c = await TestClient.go(s.port, 'd');
    s.dev.log.length = 0;
    for (let i = 0; i < 3; i++) await ddBlock(c, i * 4 * MiB);
    await new Promise((r) => setTimeout(r, 100));
    expect(readBytes()).toBe(12 * MiB);
    c.disconnect();
  });

  it('refuses a readahead that is not a whole number of bytes up to 64 MiB', async () => {
    await expect(serve([{ blocks: 1024 }], { readaheadBytes: -1 })).rejects.toMatchObject({ code: 'ARG_INVALID' });
    await expect(serve([{ blocks: 1024 }], { readaheadBytes: 65 * MiB })).rejects.toMatchObject({ code: 'ARG_INVALID' });
  });
});

describe('write-behind (--write-back)', () => {
  const slow = { latencyMs: 40 }; // each transfer of the software disk completes 40 ms late: a WRITE takes >= 120 ms

  it('a WRITE is answered before the stick has it; a READ of its blocks and a FLUSH wait for it', async () => {
    s = await serve([{ blocks: 8192 }], { write: true, writeBack: true }, slow);
    const c = await TestClient.go(s.port, 'd');
    const data = pattern(131072, 9);
    const w = await c.write(65536, data);
    expect(w.error).toBe(0);
    expect(mediaBytes(s.media[0]!, 65536, 131072).equals(data)).toBe(false); // answered, not yet on the stick
    const [r, f] = await Promise.all([c.read(65536 + 4096, 8192), c.request(CMD.FLUSH, 0, 0)]);
    expect(r.data.equals(data.subarray(4096, 12288))).toBe(true);
    expect(f.error).toBe(0);
    expect(mediaBytes(s.media[0]!, 65536, 131072).equals(data)).toBe(true); // FLUSH answered: on the stick
    c.disconnect();
  });

  it('a FUA WRITE is still answered only once the stick has it', async () => {
    s = await serve([{ blocks: 8192 }], { write: true, writeBack: true }, slow);
    const c = await TestClient.go(s.port, 'd');
    const data = pattern(65536, 4);
    expect((await c.write(0, data, 1)).error).toBe(0); // NBD_CMD_FLAG_FUA
    expect(mediaBytes(s.media[0]!, 0, 65536).equals(data)).toBe(true);
    c.disconnect();
  });

  /** The medium turns read-only under the export (a stick's write-protect switch): WRITEs fail DATA PROTECT. */
  const protect = (on: boolean): void => { Object.defineProperty(s!.media[0]!, 'readOnly', { value: on, configurable: true }); };

  it('a WRITE that fails after its answer is logged when it fails and fails the next FLUSH, not the one after', async () => {
    s = await serve([{ blocks: 8192 }], { write: true, writeBack: true });
    const c = await TestClient.go(s.port, 'd');
    protect(true);
    expect((await c.write(256 * 512, pattern(65536, 1))).error).toBe(0); // answered ahead of the stick
    expect((await c.request(CMD.FLUSH, 0, 0)).error).toBe(ERRNO.EPERM); // the stick's DATA PROTECT, reported here
    expect(s.events.some((e) => e.type === 'error' && e.op === 'write (answered, written behind)' && e.errno === ERRNO.EPERM))
      .toBe(true);
    protect(false);
    expect((await c.request(CMD.FLUSH, 0, 0)).error).toBe(0);
    c.disconnect();
  });

  it('without it the same WRITE gets the error in its own reply', async () => {
    s = await serve([{ blocks: 8192 }], { write: true });
    const c = await TestClient.go(s.port, 'd');
    protect(true);
    expect((await c.write(256 * 512, pattern(65536, 1))).error).toBe(ERRNO.EPERM);
    c.disconnect();
  });

  it('the server writes what it answered before it closes the device', async () => {
    s = await serve([{ blocks: 8192 }], { write: true, writeBack: true }, slow);
    const c = await TestClient.go(s.port, 'd');
    const data = pattern(262144, 6);
    const ws = await Promise.all([0, 1].map((i) => c.write(i * 131072, data.subarray(i * 131072, (i + 1) * 131072))));
    expect(ws.map((w) => w.error)).toEqual([0, 0]);
    c.disconnect();
    await s.server.close();
    expect(mediaBytes(s.media[0]!, 0, 262144).equals(data)).toBe(true);
  });
});

describe('a client that misbehaves', () => {
  it('gets the protocol\'s error for each bad request, and the connection and the medium carry on unchanged', async () => {
    s = await serve([{ blocks: 8192 }]);
    const before = mediaBytes(s.media[0]!, 0, 8192 * 512);
    const c = await TestClient.go(s.port, 'd');
    const size = 8192 * 512;
    const cases: [string, Promise<{ error: number }>, number][] = [
      ['zero-length read', c.request(CMD.READ, 0, 0), ERRNO.EINVAL],
      ['read over 32 MiB', c.request(CMD.READ, 0, 33 << 20), ERRNO.EINVAL],
      ['read past the end', c.request(CMD.READ, size - 512, 1024), ERRNO.EINVAL],
      ['read at an offset beyond 2^63', c.request(CMD.READ, 1n << 63n, 512), ERRNO.EINVAL],
      ['unknown command', c.request(9, 0, 512), ERRNO.EINVAL],
      ['BLOCK_STATUS without contexts', c.request(CMD.BLOCK_STATUS, 0, 512), ERRNO.EINVAL],
      ['CACHE not offered', c.request(CMD.CACHE, 0, 512), ERRNO.EINVAL],
      ['unknown flag', c.request(CMD.READ, 0, 512, { flags: 0x40 }), ERRNO.EINVAL],
      ['NO_HOLE on a READ', c.request(CMD.READ, 0, 512, { flags: FLAG.NO_HOLE }), ERRNO.EINVAL],
      ['FUA on a read-only export', c.request(CMD.READ, 0, 512, { flags: FLAG.FUA }), ERRNO.EINVAL],
      ['write to a read-only export', c.write(0, Buffer.alloc(4096, 0xee)), ERRNO.EPERM],
      ['trim on a read-only export', c.request(CMD.TRIM, 0, 4096), ERRNO.EPERM],
      ['flush on a read-only export', c.request(CMD.FLUSH, 0, 0), ERRNO.EINVAL],
    ];
    for (const [what, reply, errno] of cases) expect((await reply).error, what).toBe(errno);
    expect((await c.read(0, 4096)).data.equals(before.subarray(0, 4096))).toBe(true);
    expect(mediaBytes(s.media[0]!, 0, size).equals(before)).toBe(true);
    c.disconnect();
  });

  it('writes past the end get ENOSPC and over 32 MiB EINVAL, their payloads skipped; the stream stays in step', async () => {
    s = await serve([{ blocks: 8192 }], { write: true });
    const before = mediaBytes(s.media[0]!, 0, 8192 * 512);
    const c = await TestClient.go(s.port, 'd');
    expect((await c.write(8192 * 512 - 512, Buffer.alloc(1024, 0xee))).error).toBe(ERRNO.ENOSPC);
    expect((await c.write(0, Buffer.alloc((32 << 20) + 512, 0xee))).error).toBe(ERRNO.EINVAL);
    expect((await c.request(CMD.WRITE_ZEROES, 8192 * 512, 512)).error).toBe(ERRNO.ENOSPC);
    expect((await c.request(CMD.FLUSH, 512, 0)).error).toBe(ERRNO.EINVAL);
    expect((await c.write(0, Buffer.alloc(512, 1), 0x80)).error).toBe(ERRNO.EINVAL);
    expect((await c.read(0, 512)).error).toBe(0);
    expect(mediaBytes(s.media[0]!, 0, 8192 * 512).equals(before)).toBe(true);
    c.disconnect();
  });

  it('a bad request magic or a disconnect in the middle of a payload closes that connection only; nothing is written',
    async () => {
      s = await serve([{ blocks: 8192 }], { write: true });
      const before = mediaBytes(s.media[0]!, 0, 8192 * 512);
      const other = await TestClient.go(s.port, 'd');
      const pending = [0, 1, 2, 3].map((i) => other.read(i * 65536, 65536));
      const bad = await TestClient.go(s.port, 'd');
      bad.send(CMD.READ, 0, 512, { magic: 0x12345678 });
      expect(await bad.raw.closedWithin(3000)).toBe(true);
      const cut = await TestClient.go(s.port, 'd');
      const h = Buffer.alloc(28);
      h.writeUInt32BE(0x25609513, 0);
      h.writeUInt16BE(CMD.WRITE, 6);
      h.writeBigUInt64BE(0n, 16);
      h.writeUInt32BE(65536, 24);
      cut.raw.write(Buffer.concat([h, Buffer.alloc(30_000, 0xee)])); // 30 000 of 65 536 bytes, then gone
      await new Promise((r) => setTimeout(r, 100));
      cut.raw.end();
      // garbage before the handshake is even done
      const junk = await Raw.connect(s.port);
      junk.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      expect(await junk.closedWithin(3000)).toBe(true);
      expect((await Promise.all(pending)).map((r) => r.error)).toEqual([0, 0, 0, 0]);
      expect((await other.read(0, 512)).error).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      expect(mediaBytes(s.media[0]!, 0, 8192 * 512).equals(before)).toBe(true);
      other.disconnect();
    });
});

describe('pipelining with a large transfer size (4 MiB per command)', () => {
  it('a 4 MiB read as 32 requests with nothing behind it: 1 MiB pieces, so replies overlap the reading', async () => {
    s = await serve([{ blocks: 32768 }], { readaheadBytes: 0 }, {}, false, 4 << 20); // the requests' own commands
    const c = await TestClient.go(s.port, 'd');
    s.dev.log.length = 0;
    const got = await Promise.all([...Array(32).keys()].map((i) => c.read(i * 131072, 131072)));
    got.forEach((r, i) => { expect(r.data.equals(mediaBytes(s!.media[0]!, i * 131072, 131072))).toBe(true); });
    const reads = readLengths(s.dev);
    expect(Math.max(...reads)).toBeLessThanOrEqual(1 << 20);
    expect(reads.length).toBeLessThanOrEqual(6); // 4 MiB in 1 MiB pieces, the first request perhaps alone
    c.disconnect();
  });

  it('128 KiB writes arriving one after the other are merged into commands of up to 1 MiB, not one each', async () => {
    s = await serve([{ blocks: 32768 }], { write: true }, {}, false, 4 << 20);
    const c = await TestClient.go(s.port, 'd');
    s.dev.log.length = 0;
    const writes = [...Array(32).keys()].map((i) => c.write(i * 131072, pattern(131072, i + 50)));
    expect((await Promise.all(writes)).every((r) => r.error === 0)).toBe(true);
    const cmds = s.dev.log.filter((e) => e.type === 'cbw' && e.opcode === 0x2a).length;
    expect(cmds).toBeLessThan(16);
    for (let i = 0; i < 32; i++) expect(mediaBytes(s.media[0]!, i * 131072, 131072).equals(pattern(131072, i + 50))).toBe(true);
    c.disconnect();
  });
});

describe('several connections, many requests in flight', () => {
  it('random aligned and unaligned reads and writes on four connections end byte-exact against a model', async () => {
    const blocks = 4096;
    s = await serve([{ blocks }], { write: true });
    const model = mediaBytes(s.media[0]!, 0, blocks * 512);
    const clients = await Promise.all([0, 1, 2, 3].map((i) => TestClient.go(s!.port, 'd', i % 2 === 0)));
    let seed = 12345;
    const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const region = (blocks * 512) / 4;
    await Promise.all(clients.map(async (c, ci) => {
      for (let round = 0; round < 6; round++) {
        // 24 disjoint ranges of this connection's quarter, in flight together
        const slot = Math.floor(region / 24);
        const slots = [...Array(24).keys()].map((k) => ci * region + k * slot);
        const ops = slots.map((base) => {
          const off = base + rand(slot >> 1);
          const len = 1 + rand((slot >> 1) - 1);
          if (rand(2) === 0) return { kind: 'read' as const, off, len, p: c.read(off, len) };
          const data = pattern(Math.ceil(len / 4) * 4, rand(1000)).subarray(0, len);
          return { kind: 'write' as const, off, len, data, p: c.write(off, data) };
        });
        for (const o of ops) {
          const r = await o.p;
          expect(r.error).toBe(0);
          if (o.kind === 'read') expect(r.data.equals(model.subarray(o.off, o.off + o.len)), `read ${o.off}+${o.len}`).toBe(true);
          else o.data.copy(model, o.off);
        }
      }
    }));
    expect(mediaBytes(s.media[0]!, 0, blocks * 512).equals(model)).toBe(true);
    for (const c of clients) c.disconnect();
  });

  it('adjacent requests in flight are merged into transfer-size commands (32 x 128 KiB READs: 35 READ(10)s of 120 KiB)',
    async () => {
      // (no readahead: this counts the commands the requests themselves take)
      s = await serve([{ blocks: 16384 }], { write: true, readaheadBytes: 0 });
      const c = await TestClient.go(s.port, 'd');
      s.dev.log.length = 0;
      const reads = [...Array(32).keys()].map((i) => c.read(i * 131072, 131072));
      const got = await Promise.all(reads);
      got.forEach((r, i) => { expect(r.data.equals(mediaBytes(s!.media[0]!, i * 131072, 131072))).toBe(true); });
      const cmds = opcodes(s.dev).filter((o) => o === 0x28).length;
      expect(cmds).toBeLessThanOrEqual(36); // 4 MiB / 120 KiB = 34.1; the first one or two may go before the rest arrive
      s.dev.log.length = 0;
      const writes = [...Array(32).keys()].map((i) => c.write((4 << 20) + i * 131072, pattern(131072, i)));
      expect((await Promise.all(writes)).every((r) => r.error === 0)).toBe(true);
      expect(opcodes(s.dev).filter((o) => o === 0x2a).length).toBeLessThanOrEqual(40);
      for (let i = 0; i < 32; i++) expect(mediaBytes(s.media[0]!, (4 << 20) + i * 131072, 131072).equals(pattern(131072, i))).toBe(true);
      c.disconnect();
    });
});

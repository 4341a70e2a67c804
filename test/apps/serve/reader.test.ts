import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamEndedError, StreamReader } from '../../../src/apps/serve/reader.js';

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

describe('StreamReader: a WRITE payload filled as its chunks arrive', () => {
  it('takes the payload whatever the chunking (some bytes here before, the next request in the same chunk as its tail)', async () => {
    for (const cut of [1, 5, 28, 100, 4095, 4096, 4100]) {
      const s = new PassThrough();
      const r = new StreamReader(s);
      const payload = bytes(4096, cut);
      const next = bytes(28, 99);
      const wire = Buffer.concat([payload, next]);
      s.write(wire.subarray(0, Math.min(cut, 50))); // a little is here before the payload is asked for
      await new Promise((res) => setImmediate(res));
      const into = Buffer.alloc(4096 + 8, 0xaa);
      const filling = r.copyStreaming(into, 8, 4096);
      for (let at = Math.min(cut, 50); at < wire.length; at += cut) s.write(wire.subarray(at, at + cut));
      if (filling !== undefined) await filling;
      expect(into.subarray(0, 8).every((b) => b === 0xaa)).toBe(true); // nothing written before `at`
      expect(into.subarray(8).equals(payload)).toBe(true);
      const wait = r.need(28);
      if (wait !== undefined) await wait;
      expect(r.take(28).equals(next)).toBe(true); // the bytes after the payload are the next request's, in order
    }
  });

  it('fails the payload with StreamEndedError when the client leaves in the middle of it', async () => {
    const s = new PassThrough();
    const r = new StreamReader(s);
    const filling = r.copyStreaming(Buffer.alloc(100), 0, 100);
    s.write(Buffer.alloc(40, 1));
    s.end();
    await expect(filling).rejects.toBeInstanceOf(StreamEndedError);
  });
});

describe('StreamReader reading a socket that reads into one buffer of its own (own-buffer.ts)', () => {
  /** A socket's reads into one reused buffer: feed() is called only while reading, and the buffer is overwritten. */
  function fixedSource(wire: Buffer, readBytes: number): { reader: StreamReader; pump: () => Promise<void> } {
    const buf = Buffer.alloc(readBytes);
    let at = 0;
    let reading = true;
    const stream = new PassThrough();
    const reader = new StreamReader(stream, () => { reading = true; });
    const pump = async (): Promise<void> => {
      while (at < wire.length) {
        await new Promise((res) => setImmediate(res));
        if (!reading) continue;
        const n = Math.min(readBytes, wire.length - at);
        buf.fill(0xee); // the last read's bytes are gone, as when the socket reads again
        wire.copy(buf, 0, at, at + n);
        at += n;
        reading = reader.feed(n, buf);
      }
    };
    return { reader, pump };
  }

  it('parses headers and payloads byte-exact though every read overwrites the same buffer', async () => {
    for (const readBytes of [7, 28, 1000, 4096, 65536]) {
      const parts = [bytes(28, 1), bytes(5000, 2), bytes(28, 3), bytes(131072, 4), bytes(28, 5)];
      const { reader, pump } = fixedSource(Buffer.concat(parts), readBytes);
      const pumping = pump();
      const got: Buffer[] = [];
      for (const [i, p] of parts.entries()) {
        if (i % 2 === 0) {
          const wait = reader.need(p.length);
          if (wait !== undefined) await wait;
          got.push(reader.take(p.length)); // kept across later reads: take() must not hand out a view of the buffer
        } else {
          const into = Buffer.alloc(p.length);
          const filling = reader.copyStreaming(into, 0, p.length);
          if (filling !== undefined) await filling;
          got.push(into);
        }
      }
      await pumping;
      parts.forEach((p, i) => { expect(got[i]!.equals(p), `read size ${readBytes}, part ${i}`).toBe(true); });
    }
  });
});

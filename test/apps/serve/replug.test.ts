/**
 * What the kernel cannot do: the stick is pulled out and plugged back in while requests are in flight, and they
 * finish; another stick in the slot is refused; past --reattach-timeout requests fail with EIO, and once the
 * right stick is back the next request works again. On the software hub (src/mock/backend.ts), through the same
 * slot code the CLI uses.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryMedia, MockUsbDevice } from '../../../src/mock/index.js';
import { MockBackend } from '../../../src/mock/backend.js';
import { openUsbms } from '../../../src/open.js';
import { DeviceAtPort } from '../../../src/usb/device-at-port.js';
import { parseDeviceSelector } from '../../../src/usb/selector.js';
import { serveNbd, type NbdServer, type ServeEvent } from '../../../src/apps/serve/index.js';
import { ERRNO, TestClient } from './client.js';
import { mediaBytes, pattern } from './helpers.js';

const AT = '0-1.1';
let server: NbdServer | undefined;
afterEach(async () => { await server?.close(); server = undefined; });

async function setup(timeoutMs: number) {
  const media = new MemoryMedia(8192 * 512);
  media.write(0n, pattern(8192 * 512));
  const dev = new MockUsbDevice({ serialNumber: 'STICK1', luns: [{ blocks: 8192, media }] });
  const backend = new MockBackend();
  backend.addHub('0-1', { ports: 4, powerSwitching: 'individual' });
  await backend.plug(AT, dev);
  const slot = await DeviceAtPort.find(backend, parseDeviceSelector(AT));
  const open = (s: DeviceAtPort) => openUsbms({ backend, device: s.selector, expect: s.identity });
  const events: ServeEvent[] = [];
  server = await serveNbd(await open(slot), { write: true, listen: { host: '127.0.0.1', port: 0 }, name: 'd',
    reattach: { slot, open, timeoutMs, pollMs: 20 }, onEvent: (e) => { events.push(e); } });
  const port = 'port' in server.address ? server.address.port : 0;
  return { dev, backend, media, port, events };
}

const replugs = (events: ServeEvent[]): string[] => events.flatMap((e) => (e.type === 'replug' ? [e.phase] : []));

describe('re-plug', () => {
  it('requests in flight when the stick is pulled finish after it is back, byte-exact; writes land once', async () => {
    const { dev, backend, media, port, events } = await setup(5000);
    const c = await TestClient.go(port, 'd');
    dev.log.length = 0;
    const reads = [...Array(16).keys()].map((i) => c.read(i * 131072, 131072));
    const writes = [...Array(8).keys()].map((i) => c.write((3 << 20) + i * 4096, Buffer.alloc(4096, i + 1)));
    backend.unplug(AT);
    await new Promise((r) => setTimeout(r, 300));
    await backend.plug(AT, dev);
    const got = await Promise.all(reads);
    got.forEach((r, i) => {
      expect(r.error, `read ${i}`).toBe(0);
      expect(r.data.equals(mediaBytes(media, i * 131072, 131072)), `read ${i}`).toBe(true);
    });
    expect((await Promise.all(writes)).map((r) => r.error)).toEqual(new Array(8).fill(0));
    for (let i = 0; i < 8; i++) expect(mediaBytes(media, (3 << 20) + i * 4096, 4096).every((b) => b === i + 1)).toBe(true);
    expect(replugs(events)).toEqual(['gone', 'back']);
    // and it keeps working on the new session
    expect((await c.read(0, 4096)).data.equals(mediaBytes(media, 0, 4096))).toBe(true);
    c.disconnect();
  });

  it('another stick in the slot is refused; past the timeout EIO; the right stick back, requests work again', async () => {
    const { dev, backend, media, port, events } = await setup(600);
    const c = await TestClient.go(port, 'd');
    backend.unplug(AT);
    const intruder = new MockUsbDevice({ serialNumber: 'OTHER', luns: [{ blocks: 8192 }] });
    await backend.plug(AT, intruder);
    const r = await c.read(0, 4096);
    expect(r.error).toBe(ERRNO.EIO);
    expect(replugs(events), JSON.stringify(events.filter((e) => e.type === 'replug'))).toEqual(['gone', 'refused', 'timeout']);
    const refused = events.find((e) => e.type === 'replug' && e.phase === 'refused');
    expect(refused).toMatchObject({ reason: expect.stringMatching(/STICK1/) as string });
    expect(intruder.log.filter((e) => e.type === 'cbw')).toEqual([]); // never a command to the wrong stick
    // lost: a request fails at once while the slot holds the wrong stick ...
    const t0 = Date.now();
    expect((await c.read(0, 512)).error).toBe(ERRNO.EIO);
    expect(Date.now() - t0).toBeLessThan(500);
    // ... and works as soon as the right one is back
    backend.unplug(AT);
    await backend.plug(AT, dev);
    const back = await c.read(8192, 4096);
    expect(back.error).toBe(0);
    expect(back.data.equals(mediaBytes(media, 8192, 4096))).toBe(true);
    c.disconnect();
  });

  it('stopping the server while requests wait for the stick ends the wait at once', async () => {
    const { backend, port } = await setup(60_000);
    const c = await TestClient.go(port, 'd');
    backend.unplug(AT);
    const pending = c.read(0, 4096);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await server!.close();
    server = undefined;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await pending).error).toBe(ERRNO.EIO);
  });

  it('the same stick with another medium (another size) is refused', async () => {
    const { backend, port, events } = await setup(400);
    const c = await TestClient.go(port, 'd');
    backend.unplug(AT);
    await backend.plug(AT, new MockUsbDevice({ serialNumber: 'STICK1', luns: [{ blocks: 4096 }] }));
    expect((await c.read(0, 512)).error).toBe(ERRNO.EIO);
    const refused = events.find((e) => e.type === 'replug' && e.phase === 'refused');
    expect(refused).toMatchObject({ reason: expect.stringMatching(/another medium/) as string });
    c.disconnect();
  });
});

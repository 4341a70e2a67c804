/**
 * The one device-source factory (src/sources): each description (software disks, a rig file, a replayed capture,
 * libusb, a backend built by hand) becomes a UsbBackend that lists and opens the device it describes, and
 * openUsbms gets every device through it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { MockBackend, MockUsbDevice } from '../../src/mock/index.js';
import { openSource, openUsbms, sourceSpecOf, UsbmsOpenError } from '../../src/open.js';
import { parseDeviceSelector } from '../../src/usb/selector.js';
import { closing } from '../support/session.js';

// No native addon in these tests: libusb is node-usb with no devices attached.
vi.mock('usb', () => ({ getDeviceList: () => [], usb: { on: vi.fn(), removeListener: vi.fn(), unrefHotplugEvents: vi.fn() } }));

const tmp = mkdtempSync(join(tmpdir(), 'usbms-sources-'));
let n = 0;
const file = (ext: string, content: string | Buffer): string => {
  const f = join(tmp, `f${n++}${ext}`);
  writeFileSync(f, content);
  return f;
};

/** Capacity and the first block's first bytes, read through a whole session. */
async function readThrough(opts: Parameters<typeof openUsbms>[0]): Promise<{ blocks: bigint; head: string; serial: string | undefined }> {
  await using s = closing(await openUsbms(opts));
  const disk = await s.openDisk(0);
  return { blocks: disk.blocks, head: (await disk.read(0n, 1)).subarray(0, 4).toString('hex'), serial: s.port.info.serialNumber };
}

describe('software disks ({ kind: "mock" })', () => {
  it('one device sits at 0-1.1 behind a hub whose ports switch power, and is the source\'s device', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64n }], serialNumber: 'ONE' });
    const src = await openSource({ kind: 'mock', devices: [dev] });
    const rows = await src.backend.list();
    expect(rows.map((r) => [r.portPath, r.serialNumber])).toEqual([['0-1.1', 'ONE']]);
    expect(src.selector).toEqual(parseDeviceSelector('0-1.1'));
    expect(src.mock).toBe(dev);
    const hub = await src.backend.openHub({ busNumber: 0, portNumbers: [1] });
    await hub.close();
  });

  it('an image file is served as a removable disk of its size; the demo disk is the built-in one', async () => {
    const image = Buffer.alloc(1 << 20);
    image.write('usbm', 0);
    expect(await readThrough({ mock: file('.img', image) })).toMatchObject({ blocks: 2048n, head: Buffer.from('usbm').toString('hex') });
    const demo = await openSource({ kind: 'mock', devices: ['demo'] });
    expect((await demo.backend.list())[0]?.vendorId).toBe(demo.mock?.open().info.vendorId);
  });

  it('refuses an image that is not whole blocks (OPEN_IMAGE) and an invalid JSON description (OPEN_MOCK_SPEC)', async () => {
    await expect(openSource({ kind: 'mock', devices: [{ file: file('.img', Buffer.alloc(1000)) }] }))
      .rejects.toMatchObject({ code: 'OPEN_IMAGE', message: expect.stringMatching(/1000 bytes, not a non-zero multiple of 512/) as unknown });
    await expect(openSource({ kind: 'mock', devices: [{ file: file('.json', '{ "luns": 3 }') }] }))
      .rejects.toMatchObject({ code: 'OPEN_MOCK_SPEC' });
  });

  it('several devices sit at 0-1.1, 0-1.2, ... in order, and none is picked for the caller', async () => {
    const src = await openSource({ kind: 'mock', devices: ['demo', { file: file('.json', '{ "device": { "serialNumber": "J2" } }') }] });
    expect((await src.backend.list()).map((r) => r.portPath)).toEqual(['0-1.1', '0-1.2']);
    expect((await src.backend.list())[1]?.serialNumber).toBe('J2');
    expect(src.selector).toBeUndefined();
    expect(src.mock).toBeUndefined();
  });
});

describe('a rig file ({ kind: "rig" })', () => {
  it('plugs each entry at its port path, adding the hubs on the way', async () => {
    const dev = file('.json', '{ "device": { "serialNumber": "FROMJSON" } }');
    const rig = file('.json', JSON.stringify({ devices: [
      { port: '0-1.3', mock: dev }, { port: '0-2.1.4', personality: 'counterfeit', serial: 'CF1' }] }));
    const src = await openSource({ kind: 'rig', file: rig });
    expect((await src.backend.list()).map((r) => [r.portPath, r.serialNumber])).toEqual([['0-1.3', 'FROMJSON'], ['0-2.1.4', 'CF1']]);
    expect(src.selector).toBeUndefined();
    expect(await readThrough({ backend: src.backend, device: '0-1.3' })).toMatchObject({ serial: 'FROMJSON' });
  });

  it('names the bad entry of a rig file (RigSpecError, ARG_INVALID)', async () => {
    const rig = file('.json', JSON.stringify({ devices: [{ port: '3-1.1', personality: 'counterfeit' }] }));
    await expect(openSource({ kind: 'rig', file: rig })).rejects.toMatchObject({
      name: 'RigSpecError', code: 'ARG_INVALID', message: expect.stringMatching(/"3-1\.1" is not a bus-0 port path/) as unknown });
  });
});

describe('a replayed capture ({ kind: "replay" })', () => {
  it('lists the recorded device where the capture saw it, and a session on it reads what the live one did', async () => {
    const pcap = join(tmp, 'live.pcap');
    const dev = new MockUsbDevice({ luns: [{ blocks: 512n }], serialNumber: 'REC1' });
    const live = await readThrough({ mock: dev, pcap: { file: pcap } });
    const src = await openSource({ kind: 'replay', file: pcap });
    const [row] = await src.backend.list();
    expect(row).toMatchObject({ serialNumber: 'REC1', protocol: 'BOT' });
    expect(src.selector).toEqual({ kind: 'location', busNumber: row?.busNumber, deviceAddress: row?.deviceAddress });
    expect(await readThrough({ replay: pcap })).toEqual(live);
  });

  it('refuses a file that is no capture (OPEN_IMAGE) and a --device that is not BUS:ADDRESS (OPEN_BOTH_SELECTED)', async () => {
    await expect(openSource({ kind: 'replay', file: file('.pcap', 'not a capture at all') })).rejects.toMatchObject({ code: 'OPEN_IMAGE' });
    const pcap = join(tmp, 'one.pcap');
    await readThrough({ mock: new MockUsbDevice({ luns: [{ blocks: 64n }] }), pcap: { file: pcap } });
    await expect(openSource({ kind: 'replay', file: pcap, device: '0-1.1' })).rejects.toMatchObject({ code: 'OPEN_BOTH_SELECTED' });
  });
});

describe('libusb ({ kind: "libusb" }) and a backend built by hand ({ kind: "backend" })', () => {
  it('libusb lists what node-usb sees, and openUsbms reaches it through the factory', async () => {
    const src = await openSource({ kind: 'libusb', selector: '1-2.3' });
    expect(src.backend.kind).toBe('libusb');
    expect(src.selector).toEqual({ kind: 'port', busNumber: 1, portNumbers: [2, 3] });
    expect(await src.backend.list()).toEqual([]);
    await expect(openUsbms({ device: '1-2.3' })).rejects.toMatchObject({
      code: 'USB_NOT_FOUND', message: expect.stringMatching(/no USB mass-storage device matches 1-2\.3/) as unknown });
  });

  it('a backend given is used as it is, with the device named in it', async () => {
    const backend = new MockBackend();
    backend.addHub('0-4', { ports: 2 });
    await backend.plug('0-4.2', new MockUsbDevice({ luns: [{ blocks: 128n }], serialNumber: 'MINE' }));
    const src = await openSource({ kind: 'backend', backend, selector: '0-4.2' });
    expect(src.backend).toBe(backend);
    expect(await readThrough({ backend, device: '0-4.2' })).toMatchObject({ blocks: 128n, serial: 'MINE' });
  });
});

describe('openUsbms options as a description (sourceSpecOf)', () => {
  it('maps each option to its kind', () => {
    const dev = new MockUsbDevice();
    expect(sourceSpecOf({ mock: true })).toEqual({ kind: 'mock', devices: ['demo'] });
    expect(sourceSpecOf({ mock: 'disk.img' })).toEqual({ kind: 'mock', devices: [{ file: 'disk.img' }] });
    expect(sourceSpecOf({ mock: dev })).toEqual({ kind: 'mock', devices: [dev] });
    expect(sourceSpecOf({ replay: 'x.pcap', device: '1:4' })).toEqual({ kind: 'replay', file: 'x.pcap', device: '1:4' });
    expect(sourceSpecOf({ device: '46f4:0001' })).toEqual({ kind: 'libusb', selector: '46f4:0001' });
    expect(sourceSpecOf({})).toEqual({ kind: 'libusb', selector: undefined });
  });

  it('refuses options that name two sources (OPEN_BOTH_SELECTED), and a session with no device (OPEN_NO_DEVICE_SELECTED)', async () => {
    for (const opts of [{ mock: true, device: '1:2' }, { mock: true, replay: 'x.pcap' }, { mock: true, backend: new MockBackend() }] as const) {
      expect(() => sourceSpecOf(opts)).toThrow(UsbmsOpenError);
    }
    await expect(openUsbms({ port: new MockUsbDevice().open(), mock: true })).rejects.toMatchObject({ code: 'OPEN_BOTH_SELECTED' });
    await expect(openUsbms({})).rejects.toMatchObject({ code: 'OPEN_NO_DEVICE_SELECTED' });
  });
});

/**
 * The pcap a TracingPort writes, read back record by record: the usbmon header fields, the S/C pairing, the
 * statuses usbmon gives each way a transfer ends, snaplen, and that the data is what crossed the port.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { openUsbms } from '../../../src/open.js';
import { PcapWriter, readCapture, TracingPort, type UsbmonRecord } from '../../../src/usb/trace/index.js';
import { findMassStorageInterface } from '../../../src/usb/trace/descriptors.js';
import { makeCbw } from '../../mock/host.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-capture-'));
let n = 0;
const pcapFile = (): string => join(tmp, `c${n++}.pcap`);

function traced(dev: MockUsbDevice, snaplen?: number): { port: TracingPort; file: string } {
  const file = pcapFile();
  return { port: new TracingPort(dev.open(), PcapWriter.open(file, { snaplen })), file };
}
const bulk = (recs: UsbmonRecord[]): UsbmonRecord[] => recs.filter((r) => r.xferType === 3);

describe('TracingPort: the file', () => {
  it('is a little-endian classic pcap of link type 220 whose records are 64-byte usbmon headers plus data', async () => {
    const { port, file } = traced(new MockUsbDevice({ luns: [{ blocks: 64n }] }));
    await port.close();
    const b = readFileSync(file);
    expect(b.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect([b.readUInt16LE(4), b.readUInt16LE(6), b.readUInt32LE(20)]).toEqual([2, 4, 220]);
    const first = b.subarray(24);
    expect(first.readUInt32LE(8)).toBe(64); // GET_DESCRIPTOR request: header only
    expect(String.fromCharCode(first[16 + 8]!)).toBe('S');
  });

  it('opens with GET_DESCRIPTOR(DEVICE, CONFIGURATION, STRING) answers built from port.info', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64n }], vendorId: 0x1234, productId: 0xabcd, serialNumber: 'SN42' });
    const { port, file } = traced(dev);
    const info = port.info;
    await port.close();
    const recs = readCapture(file);
    const answers = recs.filter((r) => r.type === 'C' && r.xferType === 2);
    const device = answers[0]!.data;
    expect([device[1], device.readUInt16LE(8), device.readUInt16LE(10)]).toEqual([1, 0x1234, 0xabcd]);
    expect(findMassStorageInterface(answers[1]!.data)).toEqual({ interfaceNumber: info.interfaceNumber,
      alternateSetting: 0, endpoints: info.endpoints, maxPacketSize: info.maxPacketSize });
    expect(answers.map((a) => a.data.subarray(2).toString('utf16le'))).toContain('SN42');
  });
});

describe('TracingPort: one S and one C per transfer, as usbmon writes them', () => {
  it('a whole session: every S has one C with its id, in order; OUT data on S, IN data on C; timestamps are now', async () => {
    const file = pcapFile();
    const t0 = Date.now() / 1000;
    const s = await openUsbms({ mock: new MockUsbDevice({ luns: [{ blocks: 4096n }] }), pcap: { file } });
    const disk = await s.openDisk(0);
    const data = await disk.read(0n, 8);
    await s.close();
    const recs = readCapture(file);
    const open = new Map<bigint, UsbmonRecord>();
    for (const r of recs) {
      if (r.type === 'S') { expect(open.has(r.id)).toBe(false); open.set(r.id, r); continue; }
      const sub = open.get(r.id);
      expect(sub, `C without S, id ${r.id}`).toBeDefined();
      open.delete(r.id);
      expect([r.xferType, r.epnum, r.devnum, r.busnum]).toEqual([sub!.xferType, sub!.epnum, sub!.devnum, sub!.busnum]);
      expect(sub!.status).toBe(-115); // -EINPROGRESS on every submission
      if ((r.epnum & 0x80) === 0) expect(r.data.length).toBe(0);
    }
    expect(open.size).toBe(0);
    for (const r of recs) expect(Math.abs(r.tsSec + r.tsUsec / 1e6 - t0)).toBeLessThan(30);
    const cbws = bulk(recs).filter((r) => r.type === 'S' && r.length === 31);
    expect(cbws.length).toBeGreaterThan(3);
    expect(cbws.every((r) => r.data.readUInt32LE(0) === 0x43425355)).toBe(true);
    const read = bulk(recs).find((r) => r.type === 'C' && r.epnum === 0x81 && r.length === 4096);
    expect(read?.data.equals(data)).toBe(true);
    // the setup packet rides on control submissions: Get Max LUN is A1 FE 0000 iface 0001
    const gml = recs.find((r) => r.type === 'S' && r.setup?.[1] === 0xfe);
    expect([...gml!.setup!]).toEqual([0xa1, 0xfe, 0, 0, s.port.info.interfaceNumber, 0, 1, 0]);
  });

  it('--pcap-snaplen keeps N data bytes (len_cap < length) but every CBW and CSW whole', async () => {
    const file = pcapFile();
    const s = await openUsbms({ mock: new MockUsbDevice({ luns: [{ blocks: 4096n }] }), pcap: { file, snaplen: 16 } });
    const disk = await s.openDisk(0);
    await disk.read(0n, 64);
    await s.close();
    const recs = bulk(readCapture(file));
    const big = recs.find((r) => r.type === 'C' && r.length === 32768);
    expect([big?.length, big?.data.length]).toEqual([32768, 31]);
    expect(recs.filter((r) => r.type === 'S' && r.length === 31).every((r) => r.data.length === 31)).toBe(true);
    expect(recs.filter((r) => r.type === 'C' && r.length === 13).every((r) => r.data.length === 13)).toBe(true);
  });

  it('statuses: -ETIMEDOUT timeout, -ECONNRESET cancel, -EPIPE stall, and E -EINVAL for a refused submission', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64n }] });
    const { port, file } = traced(dev);
    const inT = port.createTransfer('in');
    const outT = port.createTransfer('out');
    // a device waiting for a CBW sends nothing: the IN read times out, then one is cancelled
    await expect(inT.submit(Buffer.alloc(13), 20)).rejects.toMatchObject({ kind: 'TIMEOUT' });
    const pending = inT.submit(Buffer.alloc(13), 0);
    // submitting a transfer already in flight is refused at submission: usbmon's 'E' record
    await expect(inT.submit(Buffer.alloc(13), 0)).rejects.toMatchObject({ code: 'ARG_INVALID' });
    inT.cancel();
    await expect(pending).rejects.toMatchObject({ kind: 'CANCELLED' });
    // an invalid CBW (30 bytes) makes the device stall bulk-in
    await outT.submit(makeCbw({ cdb: [0x00, 0, 0, 0, 0, 0] }).subarray(0, 30), 200);
    await expect(inT.submit(Buffer.alloc(13), 200)).rejects.toMatchObject({ kind: 'STALL' });
    await port.close();
    const ends = bulk(readCapture(file)).filter((r) => r.type !== 'S').map((r) => [r.type, r.epnum, r.status]);
    expect(ends).toEqual([['C', 0x81, -110], ['E', 0x81, -22], ['C', 0x81, -104], ['C', 0x02, 0], ['C', 0x81, -32]]);
  });

  it('close() with a transfer in flight: C with -ENOENT (killed), as usb_kill_urb shows', async () => {
    const { port, file } = traced(new MockUsbDevice({ luns: [{ blocks: 64n }] }));
    const pending = port.createTransfer('in').submit(Buffer.alloc(13), 0);
    await port.close();
    await expect(pending).rejects.toMatchObject({ kind: 'CANCELLED' });
    expect(bulk(readCapture(file)).map((r) => [r.type, r.status])).toEqual([['S', -115], ['C', -2]]);
  });

  it('a device unplugged under a transfer: C with -ESHUTDOWN (and the bytes moved so far)', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64n }] });
    const { port, file } = traced(dev);
    const gone = port.createTransfer('in').submit(Buffer.alloc(13), 0);
    dev.disconnect();
    await expect(gone).rejects.toMatchObject({ kind: 'NO_DEVICE' });
    await port.close();
    expect(bulk(readCapture(file)).map((r) => [r.type, r.status, r.length])).toEqual([['S', -115, 13], ['C', -108, 0]]);
  });

  it('a clear halt is CLEAR_FEATURE(ENDPOINT_HALT) to the endpoint, with its setup packet', async () => {
    const { port, file } = traced(new MockUsbDevice({ luns: [{ blocks: 64n }] }));
    await port.clearHalt('in');
    await port.close();
    const s = readCapture(file).filter((r) => r.type === 'S' && r.setup?.[1] === 0x01);
    expect(s.map((r) => [...r.setup!])).toEqual([[0x02, 0x01, 0, 0, port.info.endpoints.in, 0, 0, 0]]);
  });
});

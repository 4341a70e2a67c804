/**
 * Issue 8: bad data must never come back as good through auto request sense. A CHECK CONDITION is success only
 * when valid sense (by the residue, by its own response code and additional length, from a REQUEST SENSE that
 * itself completed GOOD) says RECOVERED ERROR about the command with nothing missing; NO SENSE is retried
 * (issue 20, test/disk/no-sense.test.ts).
 */
import { describe, it, expect } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import { Disk, DiskError, DiskTimeoutError, DiskTransportError, type DiskOpenOptions } from '../../src/disk/index.js';
import { BotTransport, BotError } from '../../src/bot/index.js';
import { UsbmsHba } from '../../src/scsa/index.js';
import { UsbError, UsbStallError } from '../../src/usb/errors.js';
import { fixedSense, tamperPort, type Tamper } from './tamper.js';
import { opcodesSent } from './helpers.js';

const BLOCKS = 2048n;
const REQUEST_SENSE = 0x03;

function device(): MockUsbDevice {
  const dev = new MockUsbDevice({ luns: [{ blocks: BLOCKS }] });
  return dev;
}

async function open(dev: MockUsbDevice, tamper?: Tamper, diskOpts: DiskOpenOptions = {}) {
  const port = tamperPort(dev.open(), tamper ?? { opcode: -1 });
  const session = await openUsbms({ port });
  const disk = await session.openDisk(0, { readyPollMs: 5, ...diskOpts });
  return { session, disk, port };
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => 'resolved', (e: unknown) => e);
}

describe('auto request sense: only valid sense decides', () => {
  it('padding the residue says is not sense: a failed READ is never returned as good (defect 1)', async () => {
    const dev = device();
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [100n] } });
    const fake = fixedSense(0x1, 0x17, 0x01); // RECOVERED ERROR, recovered data with retries
    const { session, disk } = await open(dev, {
      opcode: REQUEST_SENSE,
      // The device pads its data phase with bytes that look like RECOVERED ERROR sense ...
      data: (buf) => { buf.fill(0); fake.copy(buf); return fake.length; },
      // ... and says in its residue that none of them is valid (BOT allows exactly this).
      csw: (csw, expected) => { csw.writeUInt32LE(expected, 8); },
    }, { retries: 1 });
    try {
      const r = await outcome(disk.read(96n, 8));
      expect(r).toBeInstanceOf(DiskTransportError);
      expect((r as Error).message).toMatch(/without usable sense/);
    } finally { await session.close(); }
  });

  it('the sense of a REQUEST SENSE that itself failed is no verdict (defect 2)', async () => {
    const dev = device();
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [100n] } });
    const fake = fixedSense(0x1, 0x17, 0x01);
    const { session, disk } = await open(dev, {
      opcode: REQUEST_SENSE,
      data: (buf) => { fake.copy(buf); return fake.length; },
      csw: (csw) => { csw[12] = 1; }, // the REQUEST SENSE ends in CHECK CONDITION
    }, { retries: 1 });
    try {
      const r = await outcome(disk.read(96n, 8));
      expect(r).toBeInstanceOf(DiskTransportError);
      expect((r as Error).message).toMatch(/REQUEST SENSE itself ended/);
    } finally { await session.close(); }
  });

  it('genuine RECOVERED ERROR sense: the READ succeeds at once with the medium data', async () => {
    const dev = device();
    const recovered = fixedSense(0x1, 0x17, 0x01, { info: 12 });
    // The READ moves all its data and ends CHECK CONDITION; the REQUEST SENSE after it says RECOVERED ERROR.
    const port = tamperPort(tamperPort(dev.open(), { opcode: 0x28, times: 1, csw: (csw) => { csw[12] = 1; } }), {
      opcode: REQUEST_SENSE, times: 1,
      data: (buf) => { recovered.copy(buf); return recovered.length; },
      csw: (csw, expected) => { csw.writeUInt32LE(expected - recovered.length, 8); },
    });
    const session = await openUsbms({ port });
    try {
      const disk = await session.openDisk(0);
      const want = Buffer.alloc(4 * 512);
      dev.luns[0]!.media.read(10n * 512n, want);
      const before = opcodesSent(dev).length;
      expect(Buffer.from(await disk.read(10n, 4)).equals(want)).toBe(true);
      expect(opcodesSent(dev).slice(before)).toEqual([0x28, REQUEST_SENSE]);
    } finally { await session.close(); }
  });

  const untrusted: [string, Buffer][] = [
    ['deferred sense (0x71)', fixedSense(0x1, 0x17, 0x01, { code: 0x71 })],
    ['not sense at all (response code 0x00)', fixedSense(0x1, 0x17, 0x01, { code: 0x00 })],
    ['additional length too short for ASC/ASCQ', (() => { const b = fixedSense(0x1, 0x17, 0x01); b[7] = 2; return b; })()],
    ['RECOVERED ERROR naming a block outside the command (stale)', fixedSense(0x1, 0x17, 0x01, { info: 1500 })],
  ];
  /** A READ of blocks 96..103 that fails (a medium error at 100), its REQUEST SENSE answered with `sense`. */
  async function readAnswered(sense: Buffer): Promise<{ r: unknown; reads: number }> {
    const dev = device();
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [100n] } });
    const { session, disk } = await open(dev, {
      opcode: REQUEST_SENSE,
      data: (buf) => { buf.fill(0); sense.copy(buf); return sense.length; },
      csw: (csw, expected) => { csw.writeUInt32LE(expected - sense.length, 8); },
    }, { retries: 2 });
    try {
      const r = await outcome(disk.read(96n, 8));
      return { r, reads: opcodesSent(dev).filter((op) => op === 0x28).length };
    } finally { await session.close(); }
  }

  it.each(untrusted)('%s: retried, never success', async (_name, sense) => {
    const { r } = await readAnswered(sense);
    expect(r).toBeInstanceOf(DiskError);
    expect((r as DiskError).kind).toBe('transport');
    expect((r as Error).message).toMatch(/cannot be a verdict/);
  });

  const noSense: [string, Buffer][] = [
    ['NO SENSE 00/00', fixedSense(0x0, 0x00, 0x00)],
    ['NO SENSE with ILI', fixedSense(0x0, 0x00, 0x00, { ili: true })],
    ['NO SENSE with an ASC', fixedSense(0x0, 0x5d, 0x00)],
  ];
  it.each(noSense)('%s: retried, then DISK_NO_SENSE, never success (issue 20)', async (_name, sense) => {
    const { r, reads } = await readAnswered(sense);
    expect(r).toMatchObject({ name: 'DiskNoSenseError', kind: 'no-sense', code: 'DISK_NO_SENSE', range: { lba: 96n, blocks: 8 } });
    expect(reads).toBeGreaterThanOrEqual(3);
  });
});

describe('short answers at open (defect 4)', () => {
  it('READ CAPACITY(16) of 12..15 bytes is a disk error (bad-response), after retries', async () => {
    const dev = device();
    const r = await outcome(open(dev, { opcode: 0x9e, data: () => 12 }, { quirks: { readCapacity16: true }, retries: 2 }));
    expect(r).toBeInstanceOf(DiskError);
    expect((r as DiskError).kind).toBe('bad-response');
  });
  it('a short READ CAPACITY(16) once is retried and the disk opens', async () => {
    const dev = device();
    const { session, disk, port } = await open(dev, { opcode: 0x9e, times: 1, data: () => 14 },
      { quirks: { readCapacity16: true } });
    try {
      expect(port.tampered).toBe(1);
      expect(disk.capacity?.blocks).toBe(BLOCKS);
    } finally { await session.close(); }
  });
  it('a short INQUIRY once is retried', async () => {
    const dev = device();
    const { session, disk } = await open(dev, { opcode: 0x12, times: 1, data: () => 20 });
    try { expect(disk.info.vendor.length).toBeGreaterThan(0); } finally { await session.close(); }
  });
});

describe('DMA attributes that cannot map a whole command (defect 5)', () => {
  it('a small dma_attr_count_max with the default sgllen: commands go in PKT_DMA_PARTIAL windows', async () => {
    const dev = device();
    const transport = await BotTransport.open(dev.open());
    const hba = UsbmsHba.attach(transport, { dmaAttr: { dma_attr_count_max: 511 } });
    try {
      const disk = await Disk.open(hba, 0, { allowWrite: true });
      const data = Buffer.alloc(512 * 600);
      for (let i = 0; i < data.length; i++) data[i] = (i * 13 + 5) & 0xff;
      await disk.write(7n, data);
      expect(Buffer.from(await disk.read(7n, 600)).equals(data)).toBe(true);
      await disk.close();
    } finally {
      await hba.detach();
      await transport.close();
    }
  });
});

describe('a timeout whose recovery fails (defect 3)', () => {
  it('the next command is not sent into the unrecovered device: the engine recovers first', async () => {
    const dev = device();
    let broken = false;
    const inner = dev.open();
    let cbwsSent = 0;
    const port = new Proxy(inner, {
      get(target, key) {
        if (key === 'createTransfer') {
          return (pipe: 'in' | 'out') => {
            const t = target.createTransfer(pipe);
            return { get pipe() { return t.pipe; }, get inFlight() { return t.inFlight; }, cancel: () => t.cancel(),
              submit: (b: Buffer, ms: number) => {
                if (pipe === 'out' && b.length === 31 && b.readUInt32LE(0) === 0x43425355) cbwsSent++;
                return t.submit(b, ms);
              } };
          };
        }
        if (key === 'controlOut' && broken) return () => Promise.reject(new UsbStallError('refused', { pipe: 'control' }));
        if (key === 'resetDevice' && broken) return () => Promise.reject(new UsbError('IO', 'port reset failed'));
        const v: unknown = Reflect.get(target, key, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const session = await openUsbms({ port, timeoutMs: 100 });
    try {
      const disk = await session.openDisk(0, { retries: 2 });
      const cbws = (): number => cbwsSent;
      dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'no-response', phase: 'data' } });
      broken = true;
      const before = cbws();
      const r = await outcome(disk.read(0n, 1));
      expect(r).toBeInstanceOf(DiskError);
      // One CBW (the READ that hung); its two retries were refused by the engine before reaching the wire.
      expect(cbws() - before).toBe(1);
      broken = false;
      expect((await disk.read(0n, 1)).length).toBe(512);
    } finally { await session.close(); }
  });
});

describe('one unit and the cause (defect 6)', () => {
  it('openUsbms({ timeoutMs }) is not rounded up to a second', async () => {
    const dev = device();
    const session = await openUsbms({ port: dev.open(), timeoutMs: 150 });
    try {
      const disk = await session.openDisk(0, { retries: 0 });
      dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'delay', phase: 'data', ms: 600 } });
      const t0 = performance.now();
      const r = await outcome(disk.read(0n, 1));
      expect(r).toBeInstanceOf(DiskTimeoutError);
      expect(performance.now() - t0).toBeLessThan(590);
    } finally { await session.close(); }
  });
  it('DiskTransportError carries the BOT failure as its cause', async () => {
    const dev = device();
    const { session, disk } = await open(dev, undefined, { retries: 1 });
    try {
      dev.faults.inject({ match: { opcode: 0x28 }, times: 5, fault: { kind: 'csw-signature' } });
      const r = await outcome(disk.read(0n, 1));
      expect(r).toBeInstanceOf(DiskTransportError);
      const cause = (r as Error).cause;
      expect(cause).toBeInstanceOf(BotError);
      expect((cause as BotError).kind).toBe('invalid-csw');
    } finally { await session.close(); }
  });
  it('a write that fails by removal reports the LBA range it may have left half-written', async () => {
    const dev = device();
    const { session, disk } = await open(dev, undefined, { allowWrite: true });
    try {
      dev.faults.inject({ match: { opcode: 0x2a }, fault: { kind: 'disconnect', phase: 'data' } });
      const r = await outcome(disk.write(40n, Buffer.alloc(8 * 512, 1)));
      expect(r).toBeInstanceOf(DiskError);
      expect((r as DiskError).kind).toBe('device-gone');
      expect((r as DiskError).range).toEqual({ lba: 40n, blocks: 8 });
    } finally { await session.close().catch(() => undefined); }
  });
  it('openUsbms takes a custom port and refuses two selections', async () => {
    const dev = device();
    await expect(openUsbms({ port: dev.open(), mock: true })).rejects.toMatchObject({ code: 'OPEN_BOTH_SELECTED', kind: 'BOTH_SELECTED' });
  });
});

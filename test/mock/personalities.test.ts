import { describe, it, expect } from 'vitest';
import { createPersonality, PERSONALITY_IDS, PERSONALITY_QUIRKS, type PersonalityName } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import type { UsbError } from '../../src/usb/errors.js';
import { OP, TestHost, makeCbw, read10, rw16, write10 } from './host.js';

const RC10 = [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0];

function open(name: PersonalityName, opts = {}): { host: TestHost; dev: ReturnType<typeof createPersonality> } {
  const dev = createPersonality(name, opts);
  return { dev, host: new TestHost(dev.open(), 500) };
}

describe('personalities', () => {
  it('each enumerates with its own published VID:PID (users name them in --quirks), product and serial', () => {
    // The ids are public (README, --quirks overrides): a golden list, not the table compared with itself.
    const expected: Record<PersonalityName, string> = {
      'good': 'f055:5b00', 'ignore-residue': 'f055:5b01', 'fix-capacity': 'f055:5b02', 'no-get-max-lun': 'f055:5b03',
      'single-lun': 'f055:5b04', 'max-sectors-64': 'f055:5b05', 'no-read-capacity-16': 'f055:5b06', 'slow': 'f055:5b07',
      'counterfeit': 'f055:5b08', 'multi-lun': 'f055:5b09', 'cached-counterfeit': 'f055:5b0a',
      'uas-enclosure': 'f055:5b10', 'uas-only': 'f055:5b11', 'uas-small-queue': 'f055:5b12', 'uas-broken': 'f055:5b13',
    };
    for (const [name, id] of Object.entries(expected)) {
      const info = createPersonality(name as PersonalityName).open().info;
      const hex = (n: number): string => n.toString(16).padStart(4, '0');
      expect(`${hex(info.vendorId)}:${hex(info.productId)}`, name).toBe(id);
      expect(info.product).toBe(`usbms ${name}`);
      expect(info.serialNumber).toBe(`USBMS-${name.toUpperCase()}`);
    }
    expect(Object.keys(PERSONALITY_IDS).sort()).toEqual(Object.keys(expected).sort());
  });

  it('opened the normal way, each quirky one works as its real counterpart does with its quirk', async () => {
    for (const name of Object.keys(PERSONALITY_QUIRKS) as PersonalityName[]) {
      const dev = createPersonality(name, name === 'slow' ? { commandDelayMs: 1 } : {});
      const pattern = Buffer.alloc(65 * 512);
      for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32BE((i * 2654435761 + name.length) >>> 0, i);
      dev.luns[0]!.media.write(0n, pattern);
      const session = await openUsbms({ mock: dev });
      try {
        expect(session.hba.maxLun, name).toBe(0); // single-lun's ghost LUN and no-get-max-lun's stall: LUN 0 only
        const disk = await session.openDisk(0);
        expect(disk.blocks, `${name}: capacity`).toBe(BigInt(dev.luns[0]!.blocks));
        // 65 blocks: more than max-sectors-64 takes in one command, so it is split; ignore-residue's garbage
        // residue must not fail the READ; the data is what is stored.
        const data = await disk.read(0n, 65);
        expect(data.length).toBe(65 * 512);
        expect(data.equals(pattern), `${name}: data`).toBe(true);
      } finally {
        await session.close();
      }
    }
  });

  it('good: reads capacity and stores data', async () => {
    const { host } = open('good');
    const rc = await host.run({ cdb: RC10, length: 8, dir: 'in' });
    expect(rc.data.readUInt32BE(0)).toBe(131071);
    expect(await host.getMaxLun()).toBe(0);
  });

  it('ignore-residue: reports the full length as residue although all data moved', async () => {
    const { host } = open('ignore-residue');
    const o = await host.run({ cdb: read10(0, 1), length: 512, dir: 'in' });
    expect(o.moved).toBe(512);
    expect(o.csw).toMatchObject({ status: 0, residue: 512 });
  });

  it('fix-capacity: READ CAPACITY reports the block count', async () => {
    const { host } = open('fix-capacity');
    expect((await host.run({ cdb: RC10, length: 8, dir: 'in' })).data.readUInt32BE(0)).toBe(131072);
  });

  it('no-get-max-lun stalls Get Max LUN', async () => {
    const { host } = open('no-get-max-lun');
    expect(((await host.getMaxLun()) as UsbError).code).toBe('USB_STALL');
  });

  it('single-lun: claims LUN 1, which mirrors LUN 0', async () => {
    const { host } = open('single-lun');
    expect(await host.getMaxLun()).toBe(1);
    await host.run({ cdb: write10(5, 1), length: 512, dir: 'out', lun: 0 }, Buffer.alloc(512, 0x44));
    expect((await host.run({ cdb: read10(5, 1), length: 512, dir: 'in', lun: 1 })).data[0]).toBe(0x44);
  });

  it('max-sectors-64: 64 sectors work, 65 end in a stall and a phase error', async () => {
    const { host } = open('max-sectors-64');
    expect((await host.run({ cdb: read10(0, 64), length: 64 * 512, dir: 'in' })).csw.status).toBe(0);
    const o = await host.run({ cdb: read10(0, 65), length: 65 * 512, dir: 'in' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.csw.status).toBe(2);
  });

  it('no-read-capacity-16: READ CAPACITY(16) gives a stall and a phase error, (10) works', async () => {
    const { host } = open('no-read-capacity-16');
    const o = await host.run({ cdb: [OP.SERVICE_IN16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], length: 32, dir: 'in' });
    expect(o.dataError?.code).toBe('USB_STALL');
    expect(o.csw.status).toBe(2);
    expect((await host.run({ cdb: RC10, length: 8, dir: 'in' })).csw.status).toBe(0);
  });

  it('slow: each command takes at least its delay', async () => {
    const { host } = open('slow', { commandDelayMs: 15 });
    const t0 = performance.now();
    await host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(14);
  });

  it('counterfeit: claims 4x, writes past the real size overwrite the start', async () => {
    const { host } = open('counterfeit', { realBytes: 1024 * 1024 });
    const rc = await host.run({ cdb: RC10, length: 8, dir: 'in' });
    expect(rc.data.readUInt32BE(0) + 1).toBe(4 * 2048);
    const stamp = Buffer.alloc(512);
    stamp.write('LBA 2048');
    await host.run({ cdb: rw16(OP.WRITE16, 2048n, 1), length: 512, dir: 'out' }, stamp);
    const first = await host.run({ cdb: read10(0, 1), length: 512, dir: 'in' });
    expect(first.data.toString('latin1', 0, 8)).toBe('LBA 2048');
  });

  it('multi-lun: a disk and a write-protected CD-ROM with 2048-byte blocks', async () => {
    const { host } = open('multi-lun');
    expect(await host.getMaxLun()).toBe(1);
    const inq = await host.run({ cdb: [OP.INQUIRY, 0, 0, 0, 36, 0], length: 36, dir: 'in', lun: 1 });
    expect(inq.data[0]).toBe(5);
    expect(inq.data[1]).toBe(0x80);
    const rc = await host.run({ cdb: RC10, length: 8, dir: 'in', lun: 1 });
    expect(rc.data.readUInt32BE(4)).toBe(2048);
    const w = await host.run({ cdb: write10(0, 1), length: 2048, dir: 'out', lun: 1 }, Buffer.alloc(2048));
    expect(w.csw.status).toBe(1);
  });

  it('a CBW for a LUN beyond the personality max is not meaningful', async () => {
    const { host } = open('good');
    await host.bulkOut.submit(makeCbw({ cdb: [OP.TUR, 0, 0, 0, 0, 0], lun: 1 }), 100);
    expect((await host.readCsw()).status).toBe(2);
  });
});

describe('UAS personalities', () => {
  /** Eight READs at once through the disk driver: each gets its own blocks. */
  async function eightReads(dev: ReturnType<typeof createPersonality>, transport?: string): Promise<string> {
    const pattern = Buffer.alloc(64 * 512);
    for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32BE((i * 2654435761) >>> 0, i);
    dev.luns[0]!.media.write(0n, pattern);
    const session = await openUsbms({ mock: dev, transport });
    try {
      const disk = await session.openDisk(0);
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => disk.read(BigInt(8 * i), 8)));
      got.forEach((b, i) => expect(b.equals(pattern.subarray(8 * i * 512, 8 * (i + 1) * 512)), `read ${i}`).toBe(true));
      return session.transport.protocol;
    } finally {
      await session.close();
    }
  }

  it('uas-enclosure: UAS at high speed (commands in flight together), Bulk-Only at SuperSpeed', async () => {
    const dev = createPersonality('uas-enclosure');
    expect(await eightReads(dev)).toBe('uas');
    expect(dev.stats.uas.maxTasks).toBeGreaterThan(1);
    expect(await eightReads(createPersonality('uas-enclosure', { speed: 'super' }))).toBe('bot');
  });

  it('uas-enclosure: a target reset is I_T NEXUS RESET, answered TMF SUCCEEDED', async () => {
    const dev = createPersonality('uas-enclosure');
    const session = await openUsbms({ mock: dev });
    try {
      await session.transport.reset('target');
      const tmf = dev.log.find((e) => e.type === 'uas-tmf');
      expect(tmf).toMatchObject({ fn: 0x10 });
      expect(dev.log.some((e) => e.type === 'uas-response' && e.code === 0x08)).toBe(true);
    } finally {
      await session.close();
    }
  });

  it('uas-only: UAS at high speed; at SuperSpeed refused with UAS_UNSUPPORTED that names the missing streams', async () => {
    expect(await eightReads(createPersonality('uas-only'))).toBe('uas');
    const e = await openUsbms({ mock: createPersonality('uas-only', { speed: 'super' }) }).then(
      async (s) => { await s.close(); return undefined; }, (err: unknown) => err);
    expect((e as { code?: string }).code).toBe('UAS_UNSUPPORTED');
    expect((e as Error).message).toMatch(/streams/);
  });

  it('uas-small-queue: the commands past its task set of 4 are answered TASK SET FULL and retried', async () => {
    const dev = createPersonality('uas-small-queue');
    expect(await eightReads(dev)).toBe('uas');
    expect(dev.log.some((e) => e.type === 'uas-sense' && e.status === 0x28)).toBe(true);
  });

  it('uas-broken: its IGNORE_UAS keeps it on Bulk-Only, which works; forced onto UAS its READs never complete', async () => {
    expect(await eightReads(createPersonality('uas-broken'))).toBe('bot');
    const session = await openUsbms({ mock: createPersonality('uas-broken'), transport: 'uas', timeoutMs: 300,
      uasTimeouts: { statusMs: 300, dataMs: 300, tmfMs: 200 } });
    try {
      expect(session.transport.protocol).toBe('uas');
      const disk = await session.openDisk(0, { retries: 0 });
      await expect(disk.read(0n, 1)).rejects.toThrow();
    } finally {
      await session.close();
    }
  });
});

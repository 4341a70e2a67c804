/**
 * Issue 20: options a program passes are never silently ignored. Every options object of the public API, nested
 * ones included, and every JSON file usbms reads refuses a key it does not know with a UsbmsArgumentError
 * (ARG_INVALID) naming the key and the known ones, before anything is done. The case that started it: the old
 * `timeoutS` passed to Disk.open, whose 0.3 s deadline quietly became the 30 s default.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BotTransport } from '../../src/bot/index.js';
import { createDiskReadStream, createDiskWriteStream, Disk, forEachChunk, forEachWrite } from '../../src/disk/index.js';
import {
  CachingMedia, createPersonality, FileMedia, MemoryMedia, MockBackend, MockUsbDevice,
} from '../../src/mock/index.js';
import { mockFromSpec } from '../../src/sources/mock-spec.js';
import { openUsbms } from '../../src/open.js';
import { escalate, RescueEngine, RescueMap, type RescueDevice } from '../../src/apps/rescue/index.js';
import {
  DeviceJournal, probeDisk, resolvePlan, rigDevicesOf, runRig, selectRigDevices,
} from '../../src/apps/rig/index.js';
import { defaultDmaAttr, scsi_hba_attach_setup, UsbmsHba } from '../../src/scsa/index.js';
import { loadRecording } from '../../src/mock/replay/index.js';
import { PcapWriter, tracePort } from '../../src/usb/trace/index.js';
import { DeviceAtPort, waitForArrival } from '../../src/usb/device-at-port.js';
import { mockRigFromFile } from '../../src/sources/mock-rig.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-options-'));

/** `f` throws (or rejects with) a UsbmsArgumentError about `key`, whose message names the known keys. */
async function refuses(f: () => unknown, key: string, known: RegExp): Promise<void> {
  let caught: unknown;
  try { await f(); } catch (e) { caught = e; }
  expect(caught, `expected a refusal of '${key}'`).toBeInstanceOf(UsbmsArgumentError);
  expect(caught).toMatchObject({ code: 'ARG_INVALID' });
  const message = (caught as Error).message;
  expect(message).toContain(`unknown key '${key}'`);
  expect(message).toMatch(known);
}

/** Options objects as a JavaScript caller (or a stale TypeScript one) may pass them. */
const loose = <T>(o: Record<string, unknown>): T => o as T;

async function session(dev = new MockUsbDevice({ luns: [{ blocks: 256 }] })) {
  const s = await openUsbms({ mock: dev });
  return { dev, s, disk: await s.openDisk(0, { allowWrite: true }) };
}

describe('the composition root and the disk driver', () => {
  it('Disk.open refuses the old timeoutS before sending anything (and says timeoutMs)', async () => {
    const { dev, s } = await session();
    try {
      const before = dev.stats.cbws;
      await refuses(() => s.openDisk(0, loose({ timeoutS: 0.3 })), 'timeoutS', /did you mean 'timeoutMs'\?.*known keys: allowWrite, retries/);
      await refuses(() => Disk.open(s.hba, 0, loose({ timeoutS: 0.3 })), 'timeoutS', /timeoutMs/);
      expect(dev.stats.cbws).toBe(before);
    } finally { await s.close(); }
  });
  it('Disk.open: nested quirks too', async () => {
    const { s } = await session();
    try {
      await refuses(() => s.openDisk(0, { quirks: loose({ fixCapcity: true }) }), 'fixCapcity', /fixCapacity, noReadCapacity16/);
    } finally { await s.close(); }
  });
  it('openUsbms, and its botTimeouts, before the device is opened', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    await refuses(() => openUsbms(loose({ mock: dev, timeoutS: 1 })), 'timeoutS', /timeoutMs/);
    await refuses(() => openUsbms({ mock: dev, botTimeouts: loose({ cswMS: 5 }) }), 'cswMS', /cbwMs, cswMs, dataMs, controlMs/);
    expect(dev.isOpen).toBe(false);
    expect(dev.stats.cbws).toBe(0);
  });
  it('openUsbms pcap options (the trace layer)', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    await refuses(() => openUsbms({ mock: dev, pcap: loose({ file: join(tmp, 'x.pcap'), snapLen: 64 }) }), 'snapLen', /file, snaplen/);
    expect(dev.isOpen).toBe(false);
  });
  it('Disk.raw, the streams and forEachWrite', async () => {
    const { s, disk } = await session();
    try {
      await refuses(() => disk.raw(Buffer.from([0, 0, 0, 0, 0, 0]), loose({ dataIN: 8 })), 'dataIN', /dataIn, dataOut, timeoutMs/);
      await refuses(() => createDiskReadStream(disk, loose({ begin: 0n })), 'begin', /start, end, chunkBlocks/);
      await refuses(() => forEachChunk(disk, loose({ chunk: 8 }), () => undefined), 'chunk', /chunkBlocks/);
      await refuses(() => createDiskWriteStream(disk, loose({ end: 3n })), 'end', /start, chunkBlocks/);
      await refuses(() => forEachWrite(disk, loose({ blocks: 1n, chunkblocks: 1 }), () => undefined), 'chunkblocks', /did you mean 'chunkBlocks'/);
    } finally { await s.close(); }
  });
});

describe('BotTransport.open and UsbmsHba.attach', () => {
  it('BotTransport.open: its options, timeouts, quirks and quirk overrides', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    const port = dev.open();
    await refuses(() => BotTransport.open(port, loose({ timeout: {} })), 'timeout', /did you mean 'timeouts'/);
    await refuses(() => BotTransport.open(port, { timeouts: loose({ dataMS: 1 }) }), 'dataMS', /cbwMs/);
    await refuses(() => BotTransport.open(port, { quirkOverrides: [loose({ vendorId: 1, productId: 2, quirks: [], flags: [] })] }),
      'flags', /vendorId, productId, quirks/);
    await refuses(() => BotTransport.open(port, { quirks: loose({ ignoreResidue: true, goslow: true }) }), 'goslow', /goSlow/);
    expect(dev.stats.getMaxLun).toBe(0);
    await port.close();
  });
  it('maxTransferBytes above the engine\'s limit says the limit', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    const port = dev.open();
    await expect(BotTransport.open(port, { maxTransferBytes: 1024 ** 3 })).rejects.toThrow(
      /maxTransferBytes 1073741824 is larger than the limit, 16777216 bytes/);
    await expect(openUsbms({ mock: new MockUsbDevice(), maxTransferBytes: 1024 ** 3 })).rejects.toMatchObject({
      code: 'ARG_INVALID', argument: 'maxTransferBytes' });
    await port.close();
  });
  it('UsbmsHba.attach: its options, dmaAttr and quirks', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    const transport = await BotTransport.open(dev.open());
    try {
      await refuses(() => UsbmsHba.attach(transport, loose({ queuedepth: 4 })), 'queuedepth', /queueDepth/);
      await refuses(() => UsbmsHba.attach(transport, { dmaAttr: loose({ dma_attr_sgl: 1 }) }), 'dma_attr_sgl', /dma_attr_sgllen/);
      await refuses(() => UsbmsHba.attach(transport, { quirks: loose({ noAutoRqSense: true }) }), 'noAutoRqSense', /noAutoRqsense/);
    } finally { await transport.close(); }
  });
});

describe('scsi_hba_attach_setup(9F)', () => {
  it('refuses a DMA attribute or a resource limit of another name', async () => {
    const vector = loose<Parameters<typeof scsi_hba_attach_setup>[1]>({ tran_hba_len: 0,
      tran_setup_pkt: () => 0, tran_teardown_pkt: () => undefined });
    await refuses(() => scsi_hba_attach_setup(defaultDmaAttr(512, 65536), vector, loose({ maxPackets: 4, maxDMABytes: 1 })),
      'maxDMABytes', /did you mean 'maxDmaBytes'/);
    await refuses(() => scsi_hba_attach_setup({ ...defaultDmaAttr(512, 65536), ...loose({ dma_attr_sgl_len: 1 }) }, vector,
      { maxPackets: 4, maxDmaBytes: 65536 }), 'dma_attr_sgl_len', /dma_attr_sgllen/);
  });
});

describe('the software disk', () => {
  it('MockUsbDevice: its options, each LUN and the quirks', async () => {
    await refuses(() => new MockUsbDevice(loose({ lun: [] })), 'lun', /did you mean 'luns'/);
    await refuses(() => new MockUsbDevice({ luns: [loose({ blocks: 64, writeProtect: true })] }), 'writeProtect', /writeProtected/);
    await refuses(() => new MockUsbDevice({ quirks: loose({ residu: 'zero' }) }), 'residu', /residue, maxSectors/);
  });
  it('createPersonality, MockBackend, its hubs and the media', async () => {
    await refuses(() => createPersonality('counterfeit', loose({ realbytes: 1 })), 'realbytes', /realBytes/);
    await refuses(() => new MockBackend(loose({ bus: 1 })), 'bus', /busNumber/);
    await refuses(() => new MockBackend().addHub('0-1', loose({ port: 4 })), 'port', /ports, powerSwitching/);
    await refuses(() => new FileMedia(join(tmp, 'm.img'), loose({ readonly: true })), 'readonly', /did you mean 'readOnly'/);
    await refuses(() => new CachingMedia(new MemoryMedia(4096n), loose({ blocks: 1 })), 'blocks', /cacheBlocks, blockSize/);
  });
  it('fault rules, their match and their fault, random faults, hang areas and drop-outs', async () => {
    const { faults } = new MockUsbDevice();
    await refuses(() => { faults.inject(loose({ fault: { kind: 'lost-csw' }, time: 2 })); }, 'time', /match, times, fault/);
    await refuses(() => { faults.inject({ match: loose({ opcod: 0x28 }), fault: { kind: 'lost-csw' } }); }, 'opcod', /opcode/);
    await refuses(() => { faults.inject({ fault: loose({ kind: 'stall', phase: 'data', after: 3 }) }); }, 'after', /kind, phase, afterBytes/);
    await refuses(() => { faults.random(loose({ probability: 0.1, kinds: ['lost-csw'], seeds: 1 })); }, 'seeds', /did you mean 'seed'/);
    await refuses(() => { faults.wedge.hang(loose({ lba: 1n, blocks: 1, clearBy: 'power' })); }, 'clearBy', /clearedBy/);
    await refuses(() => { faults.wedge.dropOut(loose({ lba: 1n, reconnectMs: 5 })); }, 'reconnectMs', /reconnectAfterMs/);
    expect(faults.pending).toBe(0);
  });
});

describe('JSON files usbms reads', () => {
  const spec = (name: string, value: unknown): string => {
    const p = join(tmp, name);
    writeFileSync(p, JSON.stringify(value));
    return p;
  };
  const cases: [string, unknown, string, RegExp][] = [
    ['the description', { luns: [{ blocks: 64 }], lun: [] }, 'lun', /personality, device, luns, faults, hangs, dropouts/],
    ['"device"', { device: { serial: 'X' } }, 'serial', /did you mean 'serialNumber'/],
    ['"device" of a personality', { personality: 'counterfeit', device: { realbytes: 1 } }, 'realbytes', /realBytes/],
    ['"device".quirks', { device: { quirks: { maxSector: 64 } } }, 'maxSector', /maxSectors/],
    ['luns[0]', { luns: [{ blocks: 64, media: 'x' }] }, 'media', /image/],
    ['faults[0]', { faults: [{ fault: { kind: 'lost-csw' }, count: 2 }] }, 'count', /match, times, fault/],
    ['faults[0].match', { faults: [{ match: { op: 40 }, fault: { kind: 'lost-csw' } }] }, 'op', /opcode, lun, nth/],
    ['faults[0].fault', { faults: [{ fault: { kind: 'medium-error', lba: [1] } }] }, 'lba', /kind, lbas/],
    ['hangs[0]', { hangs: [{ lba: 1, block: 2 }] }, 'block', /did you mean 'blocks'/],
    ['dropouts[0]', { dropouts: [{ lba: 1, after: 5 }] }, 'after', /lba, reconnectAfterMs, times/],
  ];
  it.each(cases)('--mock=DEVICE.json: an unknown key in %s', async (_where, value, key, known) => {
    const file = spec(`${key}.json`, value);
    await refuses(() => mockFromSpec(file), key, known);
    let caught: unknown;
    try { mockFromSpec(file); } catch (e) { caught = e; }
    expect((caught as Error).message).toContain(file);
    // openUsbms reports a bad description as OPEN_MOCK_SPEC (a file the user gave), the reason kept.
    const opened = await openUsbms({ mock: file }).then(() => undefined, (e: unknown) => e);
    expect(opened).toMatchObject({ code: 'OPEN_MOCK_SPEC' });
    expect((opened as Error).message).toContain(`unknown key '${key}'`);
  });
  it('--rig RIG.json: an unknown key at the top and in a device', async () => {
    await refuses(() => mockRigFromFile(spec('rig1.json', { devices: [{ personality: 'good' }], hub: 1 })), 'hub', /known keys: devices/);
    await refuses(() => mockRigFromFile(spec('rig2.json', { devices: [{ personality: 'good', serialNumber: 'A' }] })),
      'serialNumber', /port, mock, personality, serial/);
  });
  it('a validation journal with a key this version does not write is refused, not rewritten without it', () => {
    const key = { port: '0-1.1', vendorId: 1, productId: 2, serial: 'S' };
    const dir = mkdtempSync(join(tmp, 'journal-'));
    const j = DeviceJournal.open(dir, key, 'quick', 7);
    writeFileSync(j.path, JSON.stringify({ ...j.data, notes: 'hand-written' }));
    expect(() => DeviceJournal.open(dir, key, 'quick', 7)).toThrow(/unknown key 'notes'/);
    expect(readFileSync(j.path, 'utf8')).toContain('hand-written');
  });
});

describe('rig, rescue and trace entry points', () => {
  it('runRig, rigDevicesOf, selectRigDevices, probeDisk', async () => {
    await refuses(() => runRig([], loose({ plan: resolvePlan('quick'), write: false, seed: 1, journal: 'x' })), 'journal', /journalDir/);
    await refuses(() => rigDevicesOf(new MockBackend(), loose({ timeout: 5 })), 'timeout', /timeoutMs/);
    await refuses(() => selectRigDevices([], loose({ device: ['0-1.1'] })), 'device', /devices, all, match/);
    const { s, disk } = await session();
    try {
      await refuses(() => probeDisk(disk, loose({ seed: 1, random: 4, resettype: 'none' })), 'resettype', /resetType/);
    } finally { await s.close(); }
  });
  it('RescueEngine and escalate', async () => {
    const dev = { blockSize: 512, blocks: 8n } as RescueDevice;
    const opts = {
      copyBytes: 4096, retries: 0, reverse: false, maxBadAreas: undefined, waitDeviceMs: 10, saveIntervalMs: 10,
      progressIntervalMs: 10, onEvent: () => undefined, stopRequested: () => false,
    };
    await refuses(() => new RescueEngine(dev, { write: () => undefined }, new RescueMap(4096n), undefined,
      loose({ ...opts, retires: 1 }), () => undefined), 'retires', /did you mean 'retries'/);
    await refuses(() => escalate(dev, 'test', 0n, false, loose({ waitDeviceMs: 1, healthy: () => Promise.resolve(true),
      onRecord: () => undefined, stopRequest: () => true })), 'stopRequest', /stopRequested/);
  });
  it('tracePort, PcapWriter.open, loadRecording', async () => {
    const dev = new MockUsbDevice();
    const port = dev.open();
    await refuses(() => tracePort(port, loose({ file: join(tmp, 't.pcap'), snap: 1 })), 'snap', /file, snaplen/);
    await refuses(() => PcapWriter.open(join(tmp, 'w.pcap'), loose({ snapLen: 1 })), 'snapLen', /snaplen/);
    await refuses(() => loadRecording('test/replays/qemu-read.pcap', loose({ bus: 1, deviceAddress: 2 })), 'bus', /busNumber, deviceAddress/);
    await port.close();
  });
  it('device slots and waiting for a device', async () => {
    const backend = new MockBackend();
    const slot = DeviceAtPort.of(backend, { busNumber: 0, portNumbers: [1], vendorId: 1, productId: 2, serialNumber: undefined });
    await refuses(() => slot.powerCycle(loose({ offms: 1 })), 'offms', /offMs/);
    await refuses(() => slot.open(loose({ expect: {} })), 'expect', /detachKernelDriver, force, interfaceNumber, forceExported$/);
    await refuses(() => waitForArrival(backend, { busNumber: 0, portNumbers: [1] }, loose({ timeout: 5 })), 'timeout', /timeoutMs, pollMs, signal/);
    await refuses(() => backend.open({ kind: 'port', busNumber: 0, portNumbers: [1] }, loose({ detach: true })), 'detach', /detachKernelDriver/);
  });
  it('the libusb backend and port', async () => {
    const { LibusbBackend, openLibusbPort } = await import('../../src/usb/libusb/index.js');
    await refuses(() => new LibusbBackend(loose({ sysfs: '/sys' })), 'sysfs', /closeTimeoutMs, sysfsRoot/);
    await refuses(() => openLibusbPort('1:2', loose({ detachKernel: true })), 'detachKernel', /detachKernelDriver/);
  });
});

/**
 * A capture becomes a device: what a host gets from the replay is what it got from the recorded device (data,
 * stalls, short transfers, CSW status and residue), whatever tags it uses; a question the recording cannot
 * answer ends the replay with a ReplayDivergenceError that says what was asked and what was recorded.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { openUsbms, replayDivergenceOf } from '../../../src/open.js';
import { DiskError } from '../../../src/disk/index.js';
import { PcapWriter, TracingPort } from '../../../src/usb/trace/index.js';
import { loadRecording, ReplayDivergenceError, ReplayUsbDevice } from '../../../src/mock/replay/index.js';
import { OP, read10, TestHost, type CbwSpec, type CommandOutcome } from '../host.js';
import { closing } from '../../support/session.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-replay-'));
let n = 0;
const pcapFile = (): string => join(tmp, `r${n++}.pcap`);

/** What a host can observe of one command (the tag is left out: the replay's CSW carries the host's own). */
function seen(o: CommandOutcome): unknown {
  return { moved: o.moved, data: o.data.toString('hex'), dataError: o.dataError?.kind, status: o.csw.status,
    residue: o.csw.residue, tagOk: o.csw.tag === o.tag, length: o.csw.length };
}

async function recordWire(dev: MockUsbDevice, specs: CbwSpec[]): Promise<{ file: string; outcomes: unknown[] }> {
  const file = pcapFile();
  const port = new TracingPort(dev.open(), PcapWriter.open(file));
  const host = new TestHost(port, 500);
  const outcomes = [];
  for (const s of specs) outcomes.push(seen(await host.run(s)));
  await port.close();
  return { file, outcomes };
}

const inquiry = (alloc: number, tag?: number): CbwSpec => ({ cdb: [OP.INQUIRY, 0, 0, 0, alloc, 0], dir: 'in', length: alloc, ...(tag === undefined ? {} : { tag }) });

describe('replay at the wire: the recorded device, packet for packet', () => {
  const specs: CbwSpec[] = [
    inquiry(36),
    { cdb: [OP.TUR, 0, 0, 0, 0, 0] },
    { cdb: read10(0, 2), dir: 'in', length: 1024 },
    { cdb: [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0], dir: 'in', length: 8 },
    // host expects more than the device has (case 4/5): short data and a residue, or a stall
    { cdb: [OP.REQUEST_SENSE, 0, 0, 0, 18, 0], dir: 'in', length: 252 },
  ];

  it('the same data, stalls, CSW statuses and residues, with the host\'s own tags', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 2048n }] });
    dev.faults.inject({ match: { opcode: OP.READ_CAPACITY10 }, fault: { kind: 'stall', phase: 'data' } });
    const rec = await recordWire(dev, specs);
    const replay = ReplayUsbDevice.fromFile(rec.file);
    const host = new TestHost(replay.open(), 500);
    const got = [];
    // tags far from the recorded 1, 2, 3 ...: the CSW must come back with each of these
    for (const [i, s] of specs.entries()) got.push(seen(await host.run({ ...s, tag: 0x7000_0000 + i * 17 })));
    expect(got).toEqual(rec.outcomes);
    expect(got.every((g) => (g as { tagOk: boolean }).tagOk)).toBe(true);
    expect(rec.outcomes[3]).toMatchObject({ dataError: 'STALL' });
    expect(replay.stats).toMatchObject({ commands: specs.length, exact: specs.length, repeated: 0 });
  });

  it('commands are found by opcode, LBA and length, not by order or tag; a repeated question gets the recorded answer', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 2048n }] });
    const rec = await recordWire(dev, specs);
    const host = new TestHost(ReplayUsbDevice.fromFile(rec.file).open(), 500);
    expect(seen(await host.run(specs[2]!))).toEqual(rec.outcomes[2]);
    expect(seen(await host.run(specs[0]!))).toEqual(rec.outcomes[0]);
    expect(seen(await host.run(specs[2]!))).toEqual(rec.outcomes[2]);
  });

  it('another allocation length gets the recorded answer as a device would give it: cut, or short with a residue', async () => {
    const rec = await recordWire(new MockUsbDevice({ luns: [{ blocks: 2048n }] }), [inquiry(36)]);
    const recorded = rec.outcomes[0] as { data: string };
    const host = new TestHost(ReplayUsbDevice.fromFile(rec.file).open(), 500);
    const more = await host.run(inquiry(96));
    expect([more.moved, more.csw.status, more.csw.residue, more.data.toString('hex')]).toEqual([36, 0, 60, recorded.data]);
    const less = await host.run(inquiry(5));
    expect([less.moved, less.csw.status, less.csw.residue, less.data.toString('hex')]).toEqual([5, 0, 0, recorded.data.slice(0, 10)]);
  });

  it('a question the recording does not hold: ReplayDivergenceError naming both sides, then the device is gone', async () => {
    const rec = await recordWire(new MockUsbDevice({ luns: [{ blocks: 2048n }] }), [{ cdb: read10(0, 2), dir: 'in', length: 1024 }]);
    const replay = ReplayUsbDevice.fromFile(rec.file);
    const host = new TestHost(replay.open(), 500);
    const err = await host.run({ cdb: read10(5, 1), dir: 'in', length: 512 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayDivergenceError);
    const d = err as ReplayDivergenceError;
    expect(d.asked).toMatch(/READ\(10\).*lba=5 blocks=1.*512 bytes in/);
    expect(d.recorded).toMatch(/#1: .*READ\(10\).*lba=0 blocks=2/);
    expect(d.message).toContain(rec.file);
    expect(replay.divergence).toBe(d);
    await expect(host.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] })).rejects.toMatchObject({ kind: 'NO_DEVICE' });
  });

  it('reads pcapng too (what dumpcap and tshark -i usbmonN write by default)', async () => {
    const rec = await recordWire(new MockUsbDevice({ luns: [{ blocks: 2048n }] }), specs.slice(0, 3));
    const ng = join(tmp, 'same.pcapng');
    execFileSync('editcap', ['-F', 'pcapng', rec.file, ng]);
    const a = loadRecording(rec.file);
    const b = loadRecording(ng);
    expect(b.commands.length).toBe(3);
    expect(b.commands.map((c) => [c.tag, c.cdb.toString('hex'), Buffer.concat(c.dataIn).toString('hex'), c.csw?.toString('hex')]))
      .toEqual(a.commands.map((c) => [c.tag, c.cdb.toString('hex'), Buffer.concat(c.dataIn).toString('hex'), c.csw?.toString('hex')]));
    expect(b.info).toEqual(a.info);
  });
});

describe('a capture of several devices (as a kernel capture of a bus is)', () => {
  it('refuses to guess between two mass-storage devices, and replays the one picked by bus and address', async () => {
    const file = pcapFile();
    const writer = PcapWriter.open(file);
    const a = new MockUsbDevice({ luns: [{ blocks: 2048n }], serialNumber: 'AAA' });
    const b = new MockUsbDevice({ luns: [{ blocks: 4096n }], serialNumber: 'BBB' });
    b.disconnect(); b.reconnect(); // a new address, as a second device on the bus has
    const pa = new TracingPort(a.open(), writer);
    const pb = new TracingPort(b.open(), writer);
    const ha = new TestHost(pa, 500);
    const hb = new TestHost(pb, 500);
    const capA = await ha.run({ cdb: [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0], dir: 'in', length: 8 });
    const capB = await hb.run({ cdb: [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0], dir: 'in', length: 8 });
    await ha.run({ cdb: [OP.TUR, 0, 0, 0, 0, 0] });
    writer.close();
    expect(pa.info.deviceAddress).not.toBe(pb.info.deviceAddress);
    expect(() => loadRecording(file)).toThrow(/several mass-storage devices.*--device BUS:ADDRESS/);
    const recB = loadRecording(file, { busNumber: pb.info.busNumber, deviceAddress: pb.info.deviceAddress });
    expect([recB.commands.length, recB.info.serialNumber]).toEqual([1, 'BBB']);
    const replayed = await new TestHost(new ReplayUsbDevice(recB).open(), 500)
      .run({ cdb: [OP.READ_CAPACITY10, 0, 0, 0, 0, 0, 0, 0, 0, 0], dir: 'in', length: 8 });
    expect(replayed.data).toEqual(capB.data);
    expect(replayed.data).not.toEqual(capA.data);
  });
});

describe('replay through the whole stack (openUsbms({ replay }))', () => {
  it('a session on a faulty disk replays to the same results: identity, capacity, data, the medium error', async () => {
    const file = pcapFile();
    const dev = new MockUsbDevice({ luns: [{ blocks: 4096n }], serialNumber: 'REPLAY1' });
    dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'medium-error', lbas: [100n] } });
    dev.faults.inject({ match: { opcode: 0x00 }, fault: { kind: 'phase-error' } });
    const run = async (opts: Parameters<typeof openUsbms>[0]): Promise<unknown> => {
      await using s = closing(await openUsbms(opts));
      const disk = await s.openDisk(0);
      const data = await disk.read(10n, 4);
      const bad = await disk.read(100n, 1).catch((e: unknown) => e as DiskError);
      return { serial: s.port.info.serialNumber, vendorId: s.port.info.vendorId, blocks: disk.blocks,
        blockSize: disk.blockSize, data: data.toString('hex'), bad: [(bad as DiskError).kind, (bad as DiskError).sense?.key,
          (bad as DiskError).lba], maxLun: s.hba.maxLun };
    };
    const live = await run({ mock: dev, pcap: { file } });
    const replay = new ReplayUsbDevice(loadRecording(file));
    expect(await run({ replay })).toEqual(live);
    expect(replay.divergence).toBeUndefined();
    expect(replay.stats.commands).toBe(dev.log.filter((e) => e.type === 'cbw').length);
  });

  it('a divergence reaches the caller as itself (replayDivergenceOf), not only as "device disconnected"', async () => {
    const file = pcapFile();
    const s1 = await openUsbms({ mock: new MockUsbDevice({ luns: [{ blocks: 4096n }] }), pcap: { file } });
    await (await s1.openDisk(0)).read(0n, 1);
    await s1.close();
    await using s = closing(await openUsbms({ replay: file }));
    const disk = await s.openDisk(0);
    await expect(disk.read(7n, 1)).rejects.toBeDefined();
    expect(replayDivergenceOf(s.port)?.asked).toMatch(/READ\(10\) lba=7 blocks=1/);
  });
});

describe('a capture of the Linux kernel driving a stick (test/replays/kernel-usbmon.pcap, usbmon)', () => {
  const file = join(import.meta.dirname, '../../replays/kernel-usbmon.pcap');

  it('is found among the bus\'s devices by its CBWs, and holds what usb-storage and sd asked at probe', () => {
    const rec = loadRecording(file);
    const ops = rec.commands.map((c) => c.cdb[0]);
    expect(ops.slice(0, 3)).toEqual([OP.INQUIRY, OP.TUR, OP.READ_CAPACITY10]);
    expect(ops).toContain(OP.MODE_SENSE6);
    expect(rec.getMaxLun.length).toBeGreaterThan(0);
    // the READ(10) of LBA 128 that `dd skip=16 bs=4096 iflag=direct` made
    expect(rec.commands.some((c) => c.cdb[0] === OP.READ10 && c.cdb.readUInt32BE(2) === 128 && c.dataInLength === 4096)).toBe(true);
  });

  it('what the kernel did not ask fails loudly: usbms\'s MODE SENSE(6) with DBD, naming the kernel\'s own', async () => {
    await using s = closing(await openUsbms({ replay: file }));
    await expect(s.openDisk(0)).rejects.toBeDefined();
    const d = replayDivergenceOf(s.port);
    expect(d?.asked).toMatch(/MODE SENSE\(6\) dbd pageCode=63.*\[1a 08 3f 00 c0 00\]/);
    expect(d?.recorded).toMatch(/nearest of that opcode: #\d+: LUN 0 MODE SENSE\(6\).*\[1a 00 3f/);
  });
});

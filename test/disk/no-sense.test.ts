/**
 * Issue 20: after CHECK CONDITION, NO SENSE is not success. An unknown amount of data moved (Linux sd_done: "a
 * false check condition ... treat it as an error"; illumos sd_sense_key_no_sense retries), so the disk driver
 * retries the command and, when its retries are spent, fails with DiskNoSenseError (DISK_NO_SENSE, exit 20).
 * Only valid RECOVERED ERROR sense about the command, with nothing missing, makes a CHECK CONDITION a success.
 * Each level that decides it is tested: the sense rule, the command's verdict and retry loop, and a READ and a
 * WRITE through the whole stack on the software disk (fault `no-sense-corrupt`: wrong data in the same command).
 */
import { describe, expect, it } from 'vitest';
import { classify, DEFAULT_POLICY, runCommand, type CommandData } from '../../src/disk/retry.js';
import type { CdbSpec } from '../../src/disk/packet.js';
import type { PacketOutcome } from '../../src/disk/packet.js';
import { decodeDiskSense, notSuccess } from '../../src/disk/sense.js';
import { EXIT_STATUS_BY_CODE } from '../../src/apps/cli/exit.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import { CMD_CMPLT, STATUS_CHECK } from '../../src/scsa/types.js';
import { cdb10, mockHba } from '../scsa/helpers.js';
import { fixedSense } from './tamper.js';
import { opcodesSent } from './helpers.js';

const READ10 = 0x28;
const WRITE10 = 0x2a;

function sense(key: number, asc = 0, ascq = 0, opts: Parameters<typeof fixedSense>[3] = {}): ReturnType<typeof decodeDiskSense> {
  return decodeDiskSense(fixedSense(key, asc, ascq, opts));
}

/** Distinct bytes per LBA, so a block from anywhere else (or inverted) is told apart. */
function pattern(lba: number, blocks: number, salt = 0): Buffer {
  const b = Buffer.alloc(blocks * 512);
  for (let i = 0; i < b.length; i++) b[i] = (lba * 131 + i * 7 + salt) & 0xff;
  return b;
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => 'resolved', (e: unknown) => e);
}

describe('the sense rule (notSuccess)', () => {
  const range = { lba: 100n, blocks: 8 };
  it('valid RECOVERED ERROR about the command, nothing missing: success', () => {
    expect(notSuccess(sense(0x1, 0x17, 0x01), range, 0)).toBeUndefined();
    expect(notSuccess(sense(0x1, 0x17, 0x01, { info: 103 }), range, 0)).toBeUndefined();
  });
  it('NO SENSE 00/00 with nothing else wrong: not success (an unknown amount of data moved)', () => {
    expect(notSuccess(sense(0x0), range, 0)).toMatch(/NO SENSE/);
    expect(notSuccess(sense(0x0))).toMatch(/unknown amount of data/);
  });
  it('NO SENSE with ILI or an ASC: not success either', () => {
    expect(notSuccess(sense(0x0, 0, 0, { ili: true }), range, 0)).toMatch(/NO SENSE/);
    expect(notSuccess(sense(0x0, 0x5d, 0x00), range, 0)).toMatch(/NO SENSE/);
  });
  it('RECOVERED ERROR with bytes of the data phase missing: not success (illumos: only with pkt_resid 0)', () => {
    expect(notSuccess(sense(0x1, 0x17, 0x01), range, 512)).toMatch(/512 bytes/);
  });
  it('RECOVERED ERROR naming a block outside the command, or untrusted sense: not success', () => {
    expect(notSuccess(sense(0x1, 0x17, 0x01, { info: 1500 }), range, 0)).toMatch(/outside/);
    expect(notSuccess(sense(0x1, 0x17, 0x01, { code: 0x71 }), range, 0)).toMatch(/deferred/);
  });
  it('any other sense key: not success', () => {
    expect(notSuccess(sense(0x3, 0x11, 0x00), range, 0)).toMatch(/sense key 3/);
  });
});

describe('the command\'s verdict (classify)', () => {
  const read: CommandData = { dataIn: Buffer.alloc(8 * 512), lba: 100n, blocks: 8, timeoutMs: 1000 };
  const check = (raw: Buffer, resid = 0): PacketOutcome => ({
    reason: CMD_CMPLT, state: 0, statistics: 0, status: STATUS_CHECK, resid, sense: raw, senseProblem: undefined,
    cause: undefined,
  });
  it('NO SENSE: retried, with an error naming the command, its LBA range and the sense', () => {
    const v = classify(check(fixedSense(0x0, 0, 0)), 'READ(10)', read);
    expect(v).toMatchObject({ kind: 'retry', error: { name: 'DiskNoSenseError', kind: 'no-sense', code: 'DISK_NO_SENSE' } });
    const e = (v as { error: Error & { sense?: { key: number } } }).error;
    expect(e.message).toMatch(/READ\(10\) of LBA 100\.\.107 \(8 blocks\).*NO SENSE/);
    expect(e.sense?.key).toBe(0);
  });
  it('NO SENSE with ILI: retried the same way', () => {
    expect(classify(check(fixedSense(0x0, 0, 0, { ili: true })), 'READ(10)', read)).toMatchObject({ kind: 'retry', error: { code: 'DISK_NO_SENSE' } });
  });
  it('RECOVERED ERROR with nothing missing: success, the sense kept', () => {
    expect(classify(check(fixedSense(0x1, 0x17, 0x01)), 'READ(10)', read)).toMatchObject({ resid: 0, recovered: { key: 1 } });
  });
  it('RECOVERED ERROR with a residue: retried even where a short answer is allowed', () => {
    const v = classify(check(fixedSense(0x1, 0x17, 0x01), 100), 'READ(10)', { ...read, allowResid: true });
    expect(v).toMatchObject({ kind: 'retry' });
  });
});

describe('the command with its retries (runCommand on the HBA over the software disk)', () => {
  async function setup(times: number): Promise<{ run: () => Promise<unknown>; data: Buffer; want: Buffer; dev: MockUsbDevice; close: () => Promise<void> }> {
    const { hba, dev, bot } = await mockHba();
    const want = pattern(100, 8);
    dev.luns[0]!.media.write(100n * 512n, want);
    dev.faults.inject({ match: { opcode: READ10 }, times, fault: { kind: 'no-sense-corrupt' } });
    const data = Buffer.alloc(8 * 512);
    // A READ(10) of blocks 100..107, its CDB written as the test's own helper builds it.
    const read10: CdbSpec<null> = { name: 'READ(10)', cdbLength: 10, encodeCdb: (_p, into) => { const cdb = cdb10(READ10, 100, 8); if (into === undefined) return cdb; cdb.copy(into); return into; } };
    const ctx = { ap: hba.address(0), policy: { ...DEFAULT_POLICY, retries: 3 }, hooks: {}, timeoutMs: 2000 };
    const run = (): Promise<unknown> => runCommand(ctx, read10, null, { dataIn: data, lba: 100n, blocks: 8 });
    return { run, data, want, dev, close: async () => { await hba.detach(); await bot.close(); } };
  }
  it('a NO SENSE READ is sent again, and the data that comes back is the medium\'s', async () => {
    const s = await setup(2);
    try {
      await s.run();
      expect(s.data.equals(s.want)).toBe(true);
      expect(opcodesSent(s.dev).filter((op) => op === READ10)).toHaveLength(3);
    } finally { await s.close(); }
  });
  it('retries spent: DiskNoSenseError with the LBA range and the sense, never the buffer', async () => {
    const s = await setup(4);
    try {
      const e = await outcome(s.run());
      expect(e).toMatchObject({ name: 'DiskNoSenseError', code: 'DISK_NO_SENSE', range: { lba: 100n, blocks: 8 }, lba: 100n });
      expect((e as { sense?: { key: number; asc: number } }).sense).toMatchObject({ key: 0, asc: 0, ascq: 0 });
      expect(opcodesSent(s.dev).filter((op) => op === READ10)).toHaveLength(4);
    } finally { await s.close(); }
  });
});

describe('through the whole stack (openUsbms, Disk) on the software disk', () => {
  async function open(): Promise<{ dev: MockUsbDevice; session: Awaited<ReturnType<typeof openUsbms>>; disk: Awaited<ReturnType<Awaited<ReturnType<typeof openUsbms>>['openDisk']>> }> {
    const dev = new MockUsbDevice({ luns: [{ blocks: 2048 }] });
    const session = await openUsbms({ mock: dev });
    const disk = await session.openDisk(0, { allowWrite: true });
    return { dev, session, disk };
  }
  it('a READ answered CHECK CONDITION + NO SENSE with wrong bytes returns the medium\'s data', async () => {
    const { dev, session, disk } = await open();
    try {
      const want = pattern(40, 16);
      dev.luns[0]!.media.write(40n * 512n, want);
      dev.faults.inject({ match: { opcode: READ10 }, fault: { kind: 'no-sense-corrupt' } });
      const got = Buffer.from(await disk.read(40n, 16));
      expect(got.equals(want)).toBe(true);
    } finally { await session.close(); }
  });
  it('a WRITE answered CHECK CONDITION + NO SENSE (wrong bytes stored) is sent again: the medium holds the data', async () => {
    const { dev, session, disk } = await open();
    try {
      const data = pattern(300, 16, 5);
      dev.faults.inject({ match: { opcode: WRITE10 }, fault: { kind: 'no-sense-corrupt' } });
      await disk.write(300n, data);
      const stored = Buffer.alloc(data.length);
      dev.luns[0]!.media.read(300n * 512n, stored);
      expect(stored.equals(data)).toBe(true);
      expect(opcodesSent(dev).filter((op) => op === WRITE10)).toHaveLength(2);
    } finally { await session.close(); }
  });
  it('a WRITE that keeps answering NO SENSE fails with DISK_NO_SENSE (exit status 20) and its LBA range', async () => {
    const { dev, session, disk } = await open();
    try {
      dev.faults.inject({ match: { opcode: WRITE10 }, times: 10, fault: { kind: 'no-sense-corrupt' } });
      const e = await outcome(disk.write(300n, pattern(300, 4)));
      expect(e).toMatchObject({ code: 'DISK_NO_SENSE', kind: 'no-sense', range: { lba: 300n, blocks: 4 } });
      expect(EXIT_STATUS_BY_CODE.DISK_NO_SENSE).toBe(20);
    } finally { await session.close(); }
  });
});

/**
 * UAS faults and recovery on the software disk: a status IU that never comes (ABORT TASK, then LOGICAL UNIT
 * RESET, then a port reset), IUs with unknown or overlapped tags, a RESPONSE refusing task management, a stall on
 * every pipe, data phases announced in the wrong direction, babble, and a device that vanishes with commands in
 * flight. Every failure is typed, bounded in time, and leaves the device working.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RESPONSE_CODE, TMF } from '../../src/usb/wire/uas.js';
import { isUasError, type UasError } from '../../src/uas/index.js';
import { command, inquiry, pattern, QUICK, read10, run, settle, tur, uasRig, write10, type UasRig } from './helpers.js';

let rig: UasRig | undefined;
afterEach(async () => { await rig?.tr.close(); rig = undefined; });

async function works(r: UasRig): Promise<void> {
  const buf = Buffer.alloc(36);
  for (let i = 0; i < 3; i++) {
    const res = await run(r.tr, command(inquiry(), 'in', buf));
    if (res.status === 0) { expect(res.transferred).toBe(36); return; }
  }
  throw new Error('INQUIRY never completed GOOD after the fault');
}

const tmfs = (r: UasRig): number[] => r.dev.log.filter((e) => e.type === 'uas-tmf').map((e) => (e as { fn: number }).fn);

describe('a status IU that never comes', () => {
  it('timeout -> ABORT TASK: the command fails timeout, recovery abort-task, the device works', async () => {
    rig = await uasRig({}, QUICK);
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
    const t0 = Date.now();
    const e = await settle(run(rig.tr, command(tur(), 'none'))) as UasError;
    expect(isUasError(e, 'timeout')).toBe(true);
    expect(e.recovery).toBe('abort-task');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(tmfs(rig)).toEqual([TMF.ABORT_TASK]);
    expect(rig.dev.uasTasks).toBe(0);
    await works(rig);
  });

  it('each recovery step is told to onRecovery as it begins: the timeout, ABORT TASK, LOGICAL UNIT RESET', async () => {
    const steps: string[] = [];
    rig = await uasRig({}, { ...QUICK, onRecovery: (e) => { steps.push(`${e.step}: ${e.detail}`); } });
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
    rig.dev.uasFaults.injectTmf({ match: { fn: TMF.ABORT_TASK }, fault: { kind: 'tmf-refuse', code: RESPONSE_CODE.TMF_FAILED } });
    await settle(run(rig.tr, command(tur(), 'none')));
    expect(steps.map((s) => s.split(':')[0])).toEqual(['timeout', 'abort-task', 'lun-reset']);
    expect(steps[1]).toMatch(/ABORT TASK of tag \d+/);
    await works(rig);
  });

  it('ABORT TASK refused (TMF FAILED) -> LOGICAL UNIT RESET; the LUN\'s other commands end aborted', async () => {
    rig = await uasRig({}, QUICK);
    const { tr, dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
    dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'delay', phase: 'ready', ms: 3000 } });
    dev.uasFaults.injectTmf({ match: { fn: TMF.ABORT_TASK }, fault: { kind: 'tmf-refuse', code: RESPONSE_CODE.TMF_FAILED } });
    const a = tr.execute(tr.allocSlot(1), command(tur(), 'none'));
    // A slow READ on the same LUN, still in the device's hands when the LUN is reset.
    const b = tr.execute(tr.allocSlot(1), { ...command(read10(0, 1), 'in', Buffer.alloc(512)), dataTimeoutMs: 5000 });
    const [ea, eb] = await Promise.all([settle(a), settle(b)]) as UasError[];
    expect(ea).toMatchObject({ kind: 'timeout', recovery: 'lun-reset' });
    expect(eb).toMatchObject({ kind: 'aborted', recovery: 'lun-reset' });
    expect(tmfs(rig)).toContain(TMF.LOGICAL_UNIT_RESET);
    expect(tr.stats.portResets).toBe(0);
    await works(rig);
  });

  it('ABORT TASK and LOGICAL UNIT RESET unanswered -> port reset', async () => {
    rig = await uasRig({}, QUICK);
    const { dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
    dev.uasFaults.injectTmf({ times: 2, fault: { kind: 'tmf-no-response' } });
    const e = await settle(run(rig.tr, command(tur(), 'none'))) as UasError;
    expect(e.kind).toBe('timeout');
    expect(e.recovery).toBe('port-reset');
    expect(dev.stats.portResets).toBe(1);
    await works(rig);
  });

  it('a data phase never announced (no READ READY) is recovered the same way, and the data pipe stays usable', async () => {
    rig = await uasRig({}, QUICK);
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'no-ready' } });
    const e = await settle(run(rig.tr, command(read10(0, 8), 'in', Buffer.alloc(4096)))) as UasError;
    expect(e.kind).toBe('timeout');
    expect(e.recovery).toBe('abort-task');
    const back = Buffer.alloc(4096);
    expect((await run(rig.tr, command(read10(0, 8), 'in', back))).transferred).toBe(4096);
  });
});

describe('IUs with tags that are not in flight', () => {
  it('an IU for an unknown tag is ignored; the real status still completes the command', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x12 }, fault: { kind: 'spurious-iu' } });
    const r = await run(rig.tr, command(inquiry(), 'in', Buffer.alloc(36)));
    expect(r.status).toBe(0);
    expect(rig.tr.stats.unknownTagIus).toBe(1);
  });

  it('a status IU sent twice: the second finds its tag free and is ignored', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'duplicate-status' } });
    expect((await run(rig.tr, command(tur(), 'none'))).status).toBe(0);
    await works(rig);
    expect(rig.tr.stats.unknownTagIus).toBeGreaterThanOrEqual(1);
  });

  it('RESPONSE OVERLAPPED TAG: the command fails protocol, ABORT TASK clears the tag on the device', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'overlapped-tag' } });
    const e = await settle(run(rig.tr, command(tur(), 'none'))) as UasError;
    expect(e.code).toBe('UAS_PROTOCOL');
    expect(e.message).toMatch(/overlaps/);
    expect(e.recovery).toBe('abort-task');
    await works(rig);
  });

  it('an IU with an unknown IU ID for a command in flight is a protocol error, aborted', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'bad-iu' } });
    const e = await settle(run(rig.tr, command(tur(), 'none'))) as UasError;
    expect(e.code).toBe('UAS_PROTOCOL');
    expect(e.recovery).toBe('abort-task');
    await works(rig);
  });
});

describe('task management refused', () => {
  it('RESPONSE TMF NOT SUPPORTED to ABORT TASK escalates; I_T NEXUS RESET unsupported falls back to LU resets', async () => {
    rig = await uasRig({}, QUICK);
    const { tr, dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
    dev.uasFaults.injectTmf({ match: { fn: TMF.ABORT_TASK }, fault: { kind: 'tmf-refuse', code: RESPONSE_CODE.TMF_NOT_SUPPORTED } });
    expect(((await settle(run(tr, command(tur(), 'none')))) as UasError).recovery).toBe('lun-reset');
    await tr.reset('target');
    expect(tmfs(rig).slice(-2)).toEqual([TMF.I_T_NEXUS_RESET, TMF.LOGICAL_UNIT_RESET]);
    await works(rig);
  });

  it('reset(lun) is LOGICAL UNIT RESET; reset(target) is I_T NEXUS RESET where supported; reset(bus) a port reset', async () => {
    rig = await uasRig({ uas: { itNexusReset: true, tmfAnswer: 'succeeded' } });
    const { tr, dev } = rig;
    await tr.reset('lun', 0);
    await tr.reset('target');
    expect(tmfs(rig)).toEqual([TMF.LOGICAL_UNIT_RESET, TMF.I_T_NEXUS_RESET]);
    await tr.reset('bus');
    expect(dev.stats.portResets).toBe(1);
    await works(rig);
  });

  it('a reset ends every command in flight in its scope with aborted', async () => {
    rig = await uasRig({}, QUICK);
    const { tr, dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, times: 3, fault: { kind: 'no-status' } });
    const ps = [0, 1, 2].map(() => settle(tr.execute(tr.allocSlot(1), command(tur(), 'none'))));
    while (dev.uasTasks < 3) await new Promise((r) => setImmediate(r));
    await tr.reset('lun', 0);
    const es = await Promise.all(ps) as UasError[];
    expect(es.map((e) => e.kind)).toEqual(['aborted', 'aborted', 'aborted']);
    expect(es.every((e) => e.recovery === 'lun-reset')).toBe(true);
  });
});

describe('stalls', () => {
  it('a stalled COMMAND IU: halt cleared, command fails transport, nothing left on the device', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'stall', pipe: 'command' } });
    const e = await settle(run(rig.tr, command(tur(), 'none'))) as UasError;
    expect(e.code).toBe('UAS_TRANSPORT');
    expect(rig.dev.stats.clearHalts.command).toBe(1);
    expect(rig.dev.uasHalted.command).toBe(false);
    await works(rig);
  });

  it('a stalled status pipe is cleared once and the status IU then arrives', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x12 }, fault: { kind: 'stall', pipe: 'status' } });
    const r = await run(rig.tr, command(inquiry(), 'in', Buffer.alloc(36)));
    expect(r.status).toBe(0);
    expect(rig.dev.stats.clearHalts.status).toBe(1);
  });

  it('a stalled data-in pipe ends the data phase: halt cleared, the status says the rest', async () => {
    rig = await uasRig();
    await run(rig.tr, command(write10(0, 8), 'out', pattern(4096, 1)));
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'stall', pipe: 'data', afterBytes: 1024 } });
    const buf = Buffer.alloc(4096);
    const r = await run(rig.tr, command(read10(0, 8), 'in', buf));
    expect(r.transferred).toBe(1024);
    expect(r.residue).toBe(3072);
    expect(buf.subarray(0, 1024).equals(pattern(4096, 1).subarray(0, 1024))).toBe(true);
    expect(rig.dev.stats.clearHalts.in).toBe(1);
    await works(rig);
  });

  it('a stalled data-out pipe: halt cleared, the write fails with sense, nothing more written', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x2a }, fault: { kind: 'stall', pipe: 'data', afterBytes: 512 } });
    const c = command(write10(50, 8), 'out', pattern(4096, 2));
    const r = await run(rig.tr, c);
    expect(r.status).toBe(0x02);
    expect(r.transferred).toBeLessThan(4096);
    expect(rig.dev.stats.clearHalts.out).toBe(1);
    await works(rig);
  });
});

describe('data phases that break the protocol', () => {
  it('WRITE READY for a read is a protocol error; the data pipe is not touched', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'wrong-ready' } });
    const e = await settle(run(rig.tr, command(read10(0, 1), 'in', Buffer.alloc(512)))) as UasError;
    expect(e.code).toBe('UAS_PROTOCOL');
    expect(e.message).toMatch(/WRITE READY for a data-in command/);
    expect(rig.dev.stats.bytesOut).toBe(0);
    await works(rig);
  });

  it('babble (a packet bigger than the room left) on data-in: overrun, aborted, the data pipe flushed', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x12 }, fault: { kind: 'babble', extraBytes: 64 } });
    const e = await settle(run(rig.tr, command(inquiry(36), 'in', Buffer.alloc(36)))) as UasError;
    expect(e).toMatchObject({ kind: 'overrun', recovery: 'abort-task' });
    expect(rig.dev.stats.clearHalts.in).toBe(1);
    await works(rig);
  });

  it('more data than a full buffer holds waits for the next read: the command times out, the next READ is clean', async () => {
    rig = await uasRig();
    await run(rig.tr, command(write10(8, 8), 'out', pattern(4096, 5)));
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'babble', extraBytes: 512 } });
    const e = await settle(run(rig.tr, command(read10(0, 1), 'in', Buffer.alloc(512)))) as UasError;
    expect(e).toMatchObject({ kind: 'timeout', recovery: 'abort-task' });
    const back = Buffer.alloc(4096);
    expect((await run(rig.tr, command(read10(8, 8), 'in', back))).transferred).toBe(4096);
    expect(back.equals(pattern(4096, 5))).toBe(true);
  });

  it('a SENSE IU whose length field claims more than arrived carries no trusted sense; padding past the field is not sense', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'sense-length', length: 200 } });
    const r = await run(rig.tr, command(read10(1_000_000, 1), 'in', Buffer.alloc(512)));
    expect(r).toMatchObject({ status: 0x02, senseLength: 0 });
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'sense-length', length: 8 } });
    const c = command(read10(1_000_000, 1), 'in', Buffer.alloc(512));
    expect(await run(rig.tr, c)).toMatchObject({ status: 0x02, senseLength: 8 });
    expect(c.sense[0]).toBe(0x70);
  });

  it('TASK SET FULL is a status the HBA sees, not a failure of the transport', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'task-set-full' } });
    expect((await run(rig.tr, command(tur(), 'none'))).status).toBe(0x28);
  });
});

describe('device gone and close', () => {
  it('a disconnect with commands in flight completes all of them device-gone, and every later call at once', async () => {
    rig = await uasRig({}, QUICK);
    const { tr, dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, times: 4, fault: { kind: 'no-status' } });
    const ps = [0, 1, 2, 3].map(() => settle(tr.execute(tr.allocSlot(1), command(tur(), 'none'))));
    const reads = [0, 1].map(() => settle(tr.execute(tr.allocSlot(1), command(read10(0, 64), 'in', Buffer.alloc(32768)))));
    while (dev.uasTasks < 4) await new Promise((r) => setImmediate(r));
    dev.disconnect();
    const es = await Promise.all([...ps, ...reads]) as UasError[];
    expect(es.every((e) => isUasError(e, 'device-gone'))).toBe(true);
    const later = await settle(run(tr, command(tur(), 'none')));
    expect(later).toMatchObject({ code: 'UAS_DEVICE_GONE' });
  });

  it('a disconnect in the middle of a data phase', async () => {
    rig = await uasRig();
    rig.dev.uasFaults.inject({ match: { opcode: 0x28 }, fault: { kind: 'disconnect', phase: 'data' } });
    const e = await settle(run(rig.tr, command(read10(0, 16), 'in', Buffer.alloc(8192))));
    expect(e).toMatchObject({ code: 'UAS_DEVICE_GONE' });
  });

  it('abort() of one command is ABORT TASK; the others complete', async () => {
    rig = await uasRig({}, QUICK);
    const { tr, dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
    const hungSlot = tr.allocSlot(1);
    const hung = settle(tr.execute(hungSlot, command(tur(), 'none')));
    const others = [1, 2, 3].map(() => tr.execute(tr.allocSlot(1), command(inquiry(), 'in', Buffer.alloc(36))));
    while (dev.uasTasks < 1) await new Promise((r) => setImmediate(r));
    await tr.abort(hungSlot);
    expect(await hung).toMatchObject({ code: 'UAS_ABORTED', recovery: 'abort-task' });
    expect((await Promise.all(others)).every((r) => r.status === 0)).toBe(true);
  });

  it('close() fails what is in flight with aborted and never rejects', async () => {
    rig = await uasRig({}, QUICK);
    const { tr, dev } = rig;
    dev.uasFaults.inject({ match: { opcode: 0x00 }, times: 2, fault: { kind: 'no-status' } });
    const ps = [0, 1].map(() => settle(tr.execute(tr.allocSlot(1), command(tur(), 'none'))));
    while (dev.uasTasks < 2) await new Promise((r) => setImmediate(r));
    await tr.close();
    expect((await Promise.all(ps)).every((e) => isUasError(e, 'aborted'))).toBe(true);
    expect(await settle(run(tr, command(tur(), 'none')))).toMatchObject({ code: 'UAS_ABORTED' });
    rig = undefined;
  });
});

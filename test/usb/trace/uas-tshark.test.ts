/**
 * A usbms capture of a UAS session decodes in Wireshark's UASP dissector as what went over the wire: the IUs
 * (COMMAND, READ READY, WRITE READY, SENSE, TASK MANAGEMENT, RESPONSE), their tags and the SCSI opcodes inside
 * are the ones the software disk logged receiving and sending, and several commands are in flight at once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { tracePort } from '../../../src/usb/trace/index.js';
import { openUasTransport } from '../../../src/uas/index.js';
import { IU_ID } from '../../../src/usb/wire/uas.js';
import { num, tsharkFields, tsharkVersion } from './tshark.js';
import { command, inquiry, pattern, read10, settle, tur, write10 } from '../../uas/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-uasp-'));

describe('tshark decodes a usbms capture of a UAS session', () => {
  const file = join(tmp, 'uas.pcap');
  const dev = new MockUsbDevice({ transports: 'bot+uas', luns: [{ blocks: 8192 }], uas: { order: 'lifo' } });

  beforeAll(async () => {
    tsharkVersion();
    const tr = await openUasTransport(tracePort(dev.open(), { file }), { timeouts: { dataMs: 300, tmfMs: 300 } });
    try {
      const slots = Array.from({ length: 6 }, () => tr.allocSlot(1));
      await Promise.all(slots.map((s, i) => tr.execute(s, command(write10(i * 8, 8), 'out', pattern(4096, i)))));
      await Promise.all(slots.map((s, i) => tr.execute(s, command(read10(i * 8, 8), 'in', Buffer.alloc(4096)))));
      await tr.execute(slots[0]!, command(read10(1 << 20, 1), 'in', Buffer.alloc(512))); // CHECK CONDITION
      dev.uasFaults.inject({ match: { opcode: 0x00 }, fault: { kind: 'no-status' } });
      await settle(tr.execute(slots[0]!, command(tur(), 'none'))); // timeout, ABORT TASK
      await tr.execute(slots[0]!, command(inquiry(), 'in', Buffer.alloc(36)));
    } finally {
      await tr.close();
    }
  }, 20_000);

  const F = ['frame.number', 'usb.urb_type', 'uasp.iu_id', 'uasp.tag', 'scsi_sbc.opcode', 'scsi.spc.opcode',
    'uasp.sense.status', 'uasp.task_mgmt.function', 'uasp.task_mgmt.managed_tag', 'uasp.response.code',
    'uasp.pipe_usage.bPipeID', 'usb.setup.bRequest'] as const;
  type Frame = Record<(typeof F)[number], string>;
  let frames: Frame[] = [];
  beforeAll(() => { frames = tsharkFields(file, F).map((r) => Object.fromEntries(F.map((f, i) => [f, r[i] ?? ''])) as Frame); });
  const ius = (): Frame[] => frames.filter((f) => f['uasp.iu_id'] !== '');
  const opcode = (f: Frame): number => num(f['scsi_sbc.opcode'] !== '' ? f['scsi_sbc.opcode'] : f['scsi.spc.opcode']);

  it('the configuration descriptor names the four pipes by their Pipe Usage descriptors', () => {
    const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
      '-e', 'uasp.pipe_usage.bPipeID', '-Y', 'uasp.pipe_usage.bPipeID'], { encoding: 'utf8' });
    expect(out.trim().split(',').map(Number)).toEqual([1, 2, 3, 4]);
  });

  it('every IU, with its tag and opcode, is the one the device logged, in order', () => {
    const logged = dev.log.filter((e) => e.type === 'uas-command' || e.type === 'uas-ready' || e.type === 'uas-sense'
      || e.type === 'uas-tmf' || e.type === 'uas-response');
    const id = { 'uas-command': IU_ID.COMMAND, 'uas-ready': 0, 'uas-sense': IU_ID.SENSE, 'uas-tmf': IU_ID.TASK_MANAGEMENT,
      'uas-response': IU_ID.RESPONSE } as const;
    const want = logged.map((e) => {
      if (e.type === 'uas-ready') return { iu: e.direction === 'in' ? IU_ID.READ_READY : IU_ID.WRITE_READY, tag: e.tag };
      return { iu: id[e.type as keyof typeof id], tag: (e as { tag: number }).tag };
    });
    const seen = ius().map((f) => ({ iu: num(f['uasp.iu_id']), tag: num(f['uasp.tag']) }));
    // Sorted per tag: the device logs an IU when it queues it, the capture shows it when it lands.
    const byTag = (xs: { iu: number; tag: number }[]): string[] => xs.map((x) => `${x.tag}:${x.iu}`).sort();
    expect(byTag(seen)).toEqual(byTag(want));
    const commands = ius().filter((f) => num(f['uasp.iu_id']) === IU_ID.COMMAND).map((f) => ({ tag: num(f['uasp.tag']), op: opcode(f) }));
    expect(commands).toEqual(dev.log.filter((e) => e.type === 'uas-command').map((e) => ({ tag: e.tag, op: e.opcode })));
  });

  it('the failed READ\'s SENSE IU says CHECK CONDITION; the timeout shows as ABORT TASK of its tag, answered', () => {
    expect(ius().some((f) => num(f['uasp.iu_id']) === IU_ID.SENSE && num(f['uasp.sense.status']) === 2)).toBe(true);
    const tmf = ius().find((f) => num(f['uasp.iu_id']) === IU_ID.TASK_MANAGEMENT);
    expect(num(tmf?.['uasp.task_mgmt.function'])).toBe(1);
    const turTag = dev.log.filter((e) => e.type === 'uas-command' && e.opcode === 0).pop() as { tag: number };
    expect(num(tmf?.['uasp.task_mgmt.managed_tag'])).toBe(turTag.tag);
    expect(ius().some((f) => num(f['uasp.iu_id']) === IU_ID.RESPONSE && num(f['uasp.tag']) === num(tmf?.['uasp.tag']))).toBe(true);
  });

  it('several commands are in flight at once: COMMAND IUs of six tags before the first of their SENSE IUs', () => {
    const seq = ius().map((f) => num(f['uasp.iu_id']));
    const firstWrite = seq.indexOf(IU_ID.COMMAND, 1); // after REPORT LUNS
    let open = 0;
    let most = 0;
    for (const id of seq.slice(firstWrite)) {
      if (id === IU_ID.COMMAND) open++;
      if (id === IU_ID.SENSE) open--;
      most = Math.max(most, open);
    }
    expect(most).toBeGreaterThanOrEqual(6);
    expect(frames.some((f) => f['usb.setup.bRequest'] === '11')).toBe(true); // SET_INTERFACE to the UAS setting
  });
});

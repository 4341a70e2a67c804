/**
 * What Wireshark sees in a usbms capture equals what went over the wire: a session on the software disk with a
 * medium error, a stalled data phase and a phase error (Reset Recovery) is captured with `pcap`, decoded by
 * tshark, and compared with the device's own log of what it received and answered (src/mock keeps one) and with
 * what usbms got back (the sense key of the failed READ).
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { openUsbms } from '../../../src/open.js';
import { DiskError } from '../../../src/disk/index.js';
import { loadRecording } from '../../../src/mock/replay/index.js';
import { num, tsharkFields, tsharkVersion } from './tshark.js';
import { closing } from '../../support/session.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-tshark-'));

describe('tshark decodes a usbms capture of the software disk', () => {
  const file = join(tmp, 'session.pcap');
  const dev = new MockUsbDevice({ luns: [{ blocks: 4096n }] });
  let senseKey = -1;

  beforeAll(async () => {
    tsharkVersion(); // fail here, loudly, when tshark is missing
    dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'medium-error', lbas: [100n] } });
    dev.faults.inject({ match: { opcode: 0x25 }, fault: { kind: 'stall', phase: 'data' } });
    dev.faults.inject({ match: { opcode: 0x00 }, fault: { kind: 'phase-error' } });
    await using s = closing(await openUsbms({ mock: dev, pcap: { file } }));
    const disk = await s.openDisk(0);
    await disk.read(0n, 4);
    const err = await disk.read(100n, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    senseKey = (err as DiskError).sense?.key ?? -1;
  }, 20_000);

  /** Every frame, decoded once (tshark takes a second or more to start). */
  const F = ['frame.number', 'usb.urb_type', 'usb.endpoint_address', 'usb.urb_status', 'usb.setup.bRequest',
    'usb.setup.wEndpoint', 'usbms.setup.bRequest', 'usbms.dCBWSignature', 'usbms.dCSWSignature', 'usbms.dCBWTag',
    'usbms.dCBWLUN', 'scsi_sbc.opcode', 'usbms.dCSWStatus', 'usbms.dCSWDataResidue', 'scsi.sns.key', 'scsi.status',
    'usb.bInterfaceClass', 'usb.bInterfaceSubClass', 'usb.bInterfaceProtocol'] as const;
  type Frame = Record<(typeof F)[number], string>;
  let frames: Frame[] = [];
  beforeAll(() => {
    frames = tsharkFields(file, F).map((r) => Object.fromEntries(F.map((f, i) => [f, r[i] ?? ''])) as Frame);
  });
  const cbws = (): Frame[] => frames.filter((f) => f['usbms.dCBWSignature'] !== '');
  const csws = (): Frame[] => frames.filter((f) => f['usbms.dCSWSignature'] !== '');
  const clearHalt = (f: Frame): boolean => f['usb.urb_type'] === "'S'" && f['usb.setup.bRequest'] === '1';

  it('CBW tags, LUNs and SCSI opcodes are the ones the device received, in order', () => {
    const sent = dev.log.filter((e) => e.type === 'cbw');
    expect(sent.length).toBeGreaterThan(6);
    expect(cbws().map((f) => ({ tag: num(f['usbms.dCBWTag']), lun: num(f['usbms.dCBWLUN']), opcode: num(f['scsi_sbc.opcode']) })))
      .toEqual(sent.map((e) => ({ tag: e.tag, lun: e.lun, opcode: e.opcode })));
  });

  it('CSW tags, statuses and residues are the ones the device answered (1 on the bad READ, 2 on the phase error)', () => {
    const answered = dev.log.filter((e) => e.type === 'csw');
    expect(csws().map((f) => ({ tag: num(f['usbms.dCBWTag']), status: num(f['usbms.dCSWStatus']),
      residue: num(f['usbms.dCSWDataResidue']) })))
      .toEqual(answered.map((e) => ({ tag: e.tag, status: e.status, residue: e.residue })));
    expect(answered.map((e) => e.status)).toEqual(expect.arrayContaining([1, 2]));
  });

  it('the sense key tshark decodes in the REQUEST SENSE data is the one usbms reported (3, MEDIUM ERROR)', () => {
    expect(senseKey).toBe(3);
    expect(frames.filter((f) => f['scsi.sns.key'] !== '').map((f) => num(f['scsi.sns.key']))).toEqual([senseKey]);
    // and the READ that failed has CHECK CONDITION (0x02) as the SCSI status of its CSW
    const read = csws().filter((f) => f['scsi_sbc.opcode'] === '0x28').map((f) => f['scsi.status']);
    expect(read).toEqual(['0x00', '0x02']);
  });

  it('the stalled data phase shows as -EPIPE on bulk-in, then CLEAR_FEATURE(HALT) of 0x81, then the CSW', () => {
    const cbw = frames.findIndex((f) => f['usbms.dCBWSignature'] !== '' && f['scsi_sbc.opcode'] === '0x25');
    expect(cbw).toBeGreaterThan(0);
    const after = frames.slice(cbw + 1);
    const stall = after.findIndex((f) => f['usb.urb_type'] === "'C'" && f['usb.endpoint_address'] === '0x81'
      && f['usb.urb_status'] === '-32');
    const clear = after.findIndex((f) => clearHalt(f) && f['usb.setup.wEndpoint'] === '129');
    const csw = after.findIndex((f) => f['usbms.dCSWSignature'] !== '');
    expect(stall).toBeGreaterThanOrEqual(0);
    expect(clear).toBeGreaterThan(stall);
    expect(csw).toBeGreaterThan(clear);
    expect(frames.filter(clearHalt).length).toBe(dev.log.filter((e) => e.type === 'clear-halt').length);
  });

  it('the phase error is followed by Reset Recovery: Mass Storage Reset, then CLEAR_FEATURE on 0x81 and 0x02', () => {
    const phase = frames.findIndex((f) => f['usbms.dCSWSignature'] !== '' && num(f['usbms.dCSWStatus']) === 2);
    expect(phase).toBeGreaterThan(0);
    const next = frames.slice(phase + 1).filter((f) => f['usb.urb_type'] === "'S'").slice(0, 3);
    expect(next.map((f) => [f['usbms.setup.bRequest'], f['usb.setup.bRequest'], f['usb.setup.wEndpoint']]))
      .toEqual([['0xff', '', ''], ['', '1', '129'], ['', '1', '2']]);
    expect(frames.filter((f) => f['usbms.setup.bRequest'] === '0xff' && f['usb.urb_type'] === "'S'").length)
      .toBe(dev.log.filter((e) => e.type === 'mass-storage-reset').length);
  });

  it('Wireshark learns the interface from the synthetic descriptors: class 08 subclass 06 protocol 0x50', () => {
    const config = frames.find((f) => f['usb.bInterfaceSubClass'] !== '');
    expect([config?.['usb.bInterfaceClass'], config?.['usb.bInterfaceSubClass'], config?.['usb.bInterfaceProtocol']])
      .toEqual(['0x08', '0x06', '0x50']);
  });
});

describe('tshark and usbms read the lab captures (test/replays) the same way', () => {
  const dir = join(import.meta.dirname, '../../replays');
  const F = ['usbms.dCBWSignature', 'usbms.dCSWSignature', 'usbms.dCBWTag', 'usbms.dCBWLUN', 'scsi_sbc.opcode',
    'usbms.dCSWStatus', 'scsi.sns.key'] as const;
  const decode = (file: string): string[][] => tsharkFields(join(dir, file), F, 'usbms.dCBWSignature || usbms.dCSWSignature || scsi.sns.key');

  it('QEMU usb-storage, the unreadable sector: tags, LUNs, opcodes, CSW statuses as replay.ts reads them; sense key 0x0b', () => {
    const rows = decode('qemu-bad-sector.pcap');
    const rec = loadRecording(join(dir, 'qemu-bad-sector.pcap'));
    expect(rows.filter((r) => r[0] !== '').map((r) => [num(r[2]), num(r[3]), num(r[4])]))
      .toEqual(rec.commands.map((c) => [c.tag, c.lun, c.cdb[0]]));
    expect(rows.filter((r) => r[1] !== '').map((r) => [num(r[2]), num(r[5])]))
      .toEqual(rec.commands.map((c) => [c.csw?.readUInt32LE(4), c.csw?.[12]]));
    // usbms said "Sense key: Aborted Command" (0x0b) for READ(10) at LBA 100; Wireshark decodes the same key
    expect(readFileSync(join(dir, 'qemu-bad-sector.err'), 'utf8')).toMatch(/Sense key: Aborted Command/);
    // one REQUEST SENSE per try of the READ (usbms retries an ABORTED COMMAND), each decoded as key 0x0b
    const keys = rows.filter((r) => r[6] !== '').map((r) => num(r[6]));
    expect(keys).toEqual(rec.commands.filter((c) => c.cdb[0] === 0x03).map(() => 0x0b));
    const read = rec.commands.find((c) => c.cdb[0] === 0x28);
    expect([read?.cdb.readUInt32BE(2), read?.csw?.[12]]).toEqual([100, 1]);
  });

  it('the Linux gadget: the same agreement, and the UNIT ATTENTION (key 6) of its first TEST UNIT READY', () => {
    const rows = decode('gadget-inquiry.pcap');
    const rec = loadRecording(join(dir, 'gadget-inquiry.pcap'));
    expect(rows.filter((r) => r[0] !== '').map((r) => [num(r[2]), num(r[4])])).toEqual(rec.commands.map((c) => [c.tag, c.cdb[0]]));
    expect(rec.info.product).toBe('gadget mass storage');
    expect(rows.filter((r) => r[6] !== '').map((r) => num(r[6]))).toEqual([6]);
  });
});

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  ascDescription, decodeSense, encodeDescriptorSense, encodeFixedSense, ExitStatus, exitStatusForSense,
  exitStatusForStatus, formatSense, SENSE_KEY_NAMES, senseKeyName, ScsiStatus, statusName,
} from '../../src/scsi/index.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('fixed format', () => {
  it('decodes ILLEGAL REQUEST / LBA out of range with INFORMATION', () => {
    const s = decodeSense(h('f0 00 05 00123456 0a 00000000 21 00 00 000000'));
    expect(s).toMatchObject({ format: 'fixed', responseCode: 0x70, deferred: false, valid: true, senseKey: 5,
      senseKeyName: 'Illegal Request', asc: 0x21, ascq: 0, description: 'Logical block address out of range',
      information: 0x123456n, truncated: false, malformed: false });
    expect(formatSense(s)).toBe('Fixed format, current; Sense key: Illegal Request\n' +
      ' Additional sense: Logical block address out of range\n  Info fld=0x00123456');
  });
  it('decodes a field pointer (C/D, bit pointer) for ILLEGAL REQUEST', () => {
    const s = decodeSense(h('70 00 05 00000000 0a 00000000 24 00 00 ce 0002'));
    expect(s.senseKeySpecific).toEqual({ kind: 'field-pointer', commandData: true, bitPointer: 6, fieldPointer: 2 });
    expect(formatSense(s)).toContain('Error in Command: byte 2 bit 6');
  });
  it('reports progress indication for NOT READY as a percentage', () => {
    const s = decodeSense(h('70 00 02 00000000 0a 00000000 04 04 00 80 8000'));
    expect(s.description).toBe('Logical unit not ready, format in progress');
    expect(s.senseKeySpecific).toEqual({ kind: 'progress', progress: 0x8000, percent: 50 });
    expect(formatSense(s)).toContain('Progress indication: 50.00 %');
  });
  it('decodes FILEMARK/EOM/ILI, FRU, deferred and command-specific information', () => {
    const s = decodeSense(h('71 00 e3 00000000 0a 0000abcd 11 00 07 00 0000'));
    expect(s).toMatchObject({ deferred: true, filemark: true, eom: true, ili: true, senseKey: 3, fru: 7,
      commandSpecific: 0xabcdn, description: 'Unrecovered read error', valid: false });
    expect(s.information).toBeUndefined();
    expect(formatSense(s)).toMatch(/^Fixed format, deferred; Sense key: Medium Error\n/);
  });
  it('honours the transferred length and flags truncation without throwing', () => {
    const full = h('70 00 06 00000000 0a 00000000 29 00 00 000000');
    const s = decodeSense(full, 8);
    expect(s).toMatchObject({ senseKey: 6, asc: 0, truncated: true, malformed: false });
    expect(decodeSense(full.subarray(0, 3))).toMatchObject({ senseKey: 6, truncated: true });
    expect(decodeSense(full, 14)).toMatchObject({ asc: 0x29, ascq: 0, truncated: true });
    expect(decodeSense(full, 18)).toMatchObject({ asc: 0x29, truncated: false });
  });
  it('treats garbage and empty buffers as malformed, never throwing', () => {
    expect(decodeSense(new Uint8Array(0))).toMatchObject({ malformed: true, truncated: true, format: 'unknown' });
    expect(decodeSense(h('12 34 56'))).toMatchObject({ malformed: true, format: 'unknown' });
    expect(formatSense(decodeSense(h('12')))).toMatch(/Malformed/);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      const s = decodeSense(b);
      expect(typeof formatSense(s)).toBe('string');
      expect(typeof exitStatusForSense(s)).toBe('number');
    }), { numRuns: 500 });
  });
});

describe('descriptor format', () => {
  it('decodes information (64-bit), command-specific, SKS, FRU and stream descriptors', () => {
    const b = h('72 03 11 00 000000 28' +
      '00 0a 80 00 0123456789abcdef' + '01 0a 00 00 0000000000000042' + '02 06 00 00 80 1234 00' +
      '03 02 00 09' + '04 02 00 20');
    const s = decodeSense(b);
    expect(s).toMatchObject({ format: 'descriptor', senseKey: 3, asc: 0x11, ascq: 0, valid: true,
      information: 0x0123456789abcdefn, commandSpecific: 0x42n, fru: 9, ili: true,
      senseKeySpecific: { kind: 'retry-count', count: 0x1234 }, truncated: false });
    expect(s.descriptors.map((d) => d.type)).toEqual([0, 1, 2, 3, 4]);
    expect(formatSense(s)).toContain('Info fld=0x0123456789abcdef');
    expect(formatSense(s)).toMatch(/^Descriptor format, current; Sense key: Medium Error/);
  });
  it('keeps unknown descriptors raw and flags a cut-off descriptor', () => {
    const s = decodeSense(h('72 05 24 00 000000 0c  80 02 aabb  00 0a 80 00 0000'));
    expect(s.descriptors[0]).toEqual({ type: 'other', code: 0x80, bytes: h('8002aabb') });
    expect(s.truncated).toBe(true);
    expect(s.information).toBeUndefined();
  });
  it('encoders produce what the decoder reads back', () => {
    fc.assert(fc.property(fc.record({ senseKey: fc.integer({ min: 0, max: 15 }), asc: fc.integer({ min: 0, max: 255 }),
      ascq: fc.integer({ min: 0, max: 255 }), deferred: fc.boolean(), information: fc.bigInt({ min: 0n, max: 0xffffffffn }),
      ili: fc.boolean() }), (p) => {
      for (const buf of [encodeFixedSense(p), encodeDescriptorSense(p)]) {
        expect(decodeSense(buf)).toMatchObject({ ...p, valid: true, truncated: false, malformed: false });
      }
    }));
    expect(encodeFixedSense({ senseKey: 2, asc: 0x3a, ascq: 0 })).toEqual(h('70 00 02 00000000 0a 00000000 3a 00 00 000000'));
    expect(() => encodeFixedSense({ senseKey: 5, asc: 0x21, ascq: 0, information: 1n << 32n })).toThrow(RangeError);
    const progress = decodeSense(encodeDescriptorSense({ senseKey: 0, asc: 0, ascq: 0x16,
      senseKeySpecific: { kind: 'progress', progress: 0x4000, percent: 25 } }));
    expect(progress.senseKeySpecific).toEqual({ kind: 'progress', progress: 0x4000, percent: 25 });
  });
});

describe('tables', () => {
  it('names every sense key', () => {
    expect(SENSE_KEY_NAMES).toHaveLength(16);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(senseKeyName)).toEqual([
      'No Sense', 'Recovered Error', 'Not Ready', 'Medium Error', 'Hardware Error', 'Illegal Request',
      'Unit Attention', 'Data Protect', 'Blank Check', 'Vendor specific(9)', 'Copy Aborted', 'Aborted Command',
      'Equal', 'Volume Overflow', 'Miscompare', 'Completed']);
  });
  it('looks ASC/ASCQ pairs up in the T10 table', () => {
    expect(ascDescription(0x3a, 0x00)).toBe('Medium not present');
    expect(ascDescription(0x21, 0x00)).toBe('Logical block address out of range');
    expect(ascDescription(0x29, 0x00)).toBe('Power on, reset, or bus device reset occurred');
    expect(ascDescription(0x04, 0x01)).toBe('Logical unit is in process of becoming ready');
    expect(ascDescription(0x11, 0x00)).toBe('Unrecovered read error');
    expect(ascDescription(0x20, 0x00)).toBe('Invalid command operation code');
    expect(ascDescription(0x27, 0x00)).toBe('Write protected');
    expect(ascDescription(0x28, 0x00)).toBe('Not ready to ready change, medium may have changed');
  });
  it('renders ranges, vendor-specific and unknown codes by rule', () => {
    expect(ascDescription(0x40, 0x85)).toBe('Diagnostic failure on component [0x85]');
    expect(ascDescription(0x40, 0x12)).toBe('Ram failure [0x12]');
    expect(ascDescription(0x42, 0x03)).toBe('Power-on or self-test failure [0x03]');
    expect(ascDescription(0x91, 0x02)).toMatch(/^vendor specific ASC=0x91, ASCQ=0x02/);
    expect(ascDescription(0x3a, 0x99)).toMatch(/vendor specific qualification ASCQ=0x99/);
    expect(ascDescription(0x3a, 0x7e)).toBe('ASC 0x3a ASCQ 0x7e (unknown)');
  });
});

describe('status and exit codes', () => {
  const sense = (senseKey: number, asc = 0, ascq = 0) => decodeSense(encodeFixedSense({ senseKey, asc, ascq }));
  it('maps sense the way sg3_utils does', () => {
    expect(exitStatusForSense(sense(0x0))).toBe(20);
    expect(exitStatusForSense(sense(0x1))).toBe(21);
    expect(exitStatusForSense(sense(0x2, 0x3a))).toBe(2);
    expect(exitStatusForSense(sense(0x3, 0x11))).toBe(3);
    expect(exitStatusForSense(sense(0x4))).toBe(3);
    expect(exitStatusForSense(sense(0x8))).toBe(3);
    expect(exitStatusForSense(sense(0x5, 0x24))).toBe(5);
    expect(exitStatusForSense(sense(0x5, 0x20, 0x00))).toBe(9);
    expect(exitStatusForSense(sense(0x5, 0x21, 0x00))).toBe(22);
    expect(exitStatusForSense(sense(0x5, 0x21, 0x01))).toBe(5);
    expect(exitStatusForSense(sense(0x6, 0x29))).toBe(6);
    expect(exitStatusForSense(sense(0x7, 0x27))).toBe(7);
    expect(exitStatusForSense(sense(0xa))).toBe(10);
    expect(exitStatusForSense(sense(0xb, 0x47))).toBe(11);
    expect(exitStatusForSense(sense(0xb, 0x10, 0x01))).toBe(40);
    expect(exitStatusForSense(sense(0xe, 0x1d))).toBe(14);
    expect(exitStatusForSense(sense(0xd))).toBe(ExitStatus.OTHER_SENSE);
    expect(exitStatusForSense(decodeSense(h('00')))).toBe(ExitStatus.MALFORMED);
    expect(ExitStatus.TIMEOUT).toBe(33);
    expect(ExitStatus.TRANSPORT_ERROR).toBe(35);
  });
  it('names status bytes and maps them', () => {
    expect([0, 2, 4, 8, 0x18, 0x28, 0x30, 0x40].map(statusName)).toEqual(['GOOD', 'CHECK CONDITION', 'CONDITION MET',
      'BUSY', 'RESERVATION CONFLICT', 'TASK SET FULL', 'ACA ACTIVE', 'TASK ABORTED']);
    expect(statusName(0x22)).toBe('reserved status 0x22');
    expect(exitStatusForStatus(ScsiStatus.GOOD)).toBe(0);
    expect(exitStatusForStatus(ScsiStatus.CHECK_CONDITION, sense(0x2))).toBe(2);
    expect(exitStatusForStatus(ScsiStatus.BUSY)).toBe(26);
    expect(exitStatusForStatus(ScsiStatus.RESERVATION_CONFLICT)).toBe(24);
  });
});

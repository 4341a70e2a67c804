import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  cachingPage, commands, decodeModeSense10, decodeModeSense6, decodeReportLuns, decodeVpdPage, encodeReportLuns,
  encodeVpdPage, ScsiDataError, type VpdPage,
} from '../../src/scsi/index.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('standard INQUIRY data', () => {
  // A USB flash drive: removable disk, SPC-4, response format 2, "SanDisk " "Cruzer Blade    " "1.00".
  const bytes = Buffer.concat([h('00 80 06 02 1f 00 00 00'), Buffer.from('SanDisk Cruzer Blade    1.00', 'latin1')]);
  it('decodes every field', () => {
    const d = commands.inquiry.decodeData(bytes);
    expect(d).toMatchObject({ peripheralQualifier: 0, peripheralDeviceType: 0, removable: true, version: 6,
      responseDataFormat: 2, additionalLength: 31, hisup: false, cmdque: false, protect: false,
      vendor: 'SanDisk', product: 'Cruzer Blade', revision: '1.00', truncated: false });
  });
  it('decodes flag bits and the qualifier', () => {
    const b = Buffer.from(bytes);
    b[0] = 0x7f; b[3] = 0x32; b[5] = 0xb9; b[6] = 0x50; b[7] = 0x02;
    expect(commands.inquiry.decodeData(b)).toMatchObject({ peripheralQualifier: 3, peripheralDeviceType: 0x1f,
      normaca: true, hisup: true, sccs: true, acc: false, tpgs: 3, threePc: true, protect: true, encserv: true,
      multip: true, cmdque: true });
  });
  it('round-trips through encodeData', () => {
    expect(commands.inquiry.encodeData(commands.inquiry.decodeData(bytes))).toEqual(bytes);
  });
  it('flags short data and honours the transferred length', () => {
    const d = commands.inquiry.decodeData(bytes, 20);
    expect(d.truncated).toBe(true);
    expect(d.vendor).toBe('SanDisk');
    expect(d.revision).toBe('');
    expect(() => commands.inquiry.decodeData(bytes, 5)).toThrow(ScsiDataError);
  });
});

describe('VPD pages', () => {
  it('0x00 supported pages', () => {
    const p = decodeVpdPage(h('00 00 0004 00 80 83 b0'));
    expect(p).toMatchObject({ kind: 'supported-pages', pages: [0, 0x80, 0x83, 0xb0], truncated: false });
  });
  it('0x80 unit serial number, trimmed', () => {
    const p = decodeVpdPage(Buffer.concat([h('00 80 000c'), Buffer.from('  4C530001  ', 'latin1')]));
    expect(p).toMatchObject({ kind: 'unit-serial', serial: '4C530001' });
  });
  it('0x83 device identification: NAA, T10 vendor ID, EUI-64', () => {
    const page = Buffer.concat([h('00 83 003c'),
      h('01 03 00 08 5000c5000d3a6b2f'),                               // NAA 5, binary, LU
      Buffer.concat([h('02 01 00 18'), Buffer.from('SanDisk Cruzer    123456', 'latin1')]), // T10 vendor ID, ASCII
      h('01 02 00 08 0011223344556677'),                               // EUI-64
      h('01 94 00 04 00000001')]);                                     // relative target port, PIV, target port
    const p = decodeVpdPage(page);
    if (p.kind !== 'device-identification') throw new Error(p.kind);
    expect(p.designators).toHaveLength(4);
    expect(p.designators[0]).toMatchObject({ typeName: 'NAA', naa: 5, value: '5000c5000d3a6b2f', association: 0, codeSet: 1 });
    expect(p.designators[1]).toMatchObject({ typeName: 'T10 vendor ID', t10Vendor: 'SanDisk', value: 'SanDisk Cruzer    123456' });
    expect(p.designators[2]).toMatchObject({ typeName: 'EUI-64', value: '0011223344556677' });
    expect(p.designators[3]).toMatchObject({ typeName: 'relative target port', piv: true, association: 1 });
    expect(encodeVpdPage(p)).toEqual(page);
  });
  it('0x83 with a designator cut off by the allocation length keeps the whole ones', () => {
    const page = h('00 83 0018 01 03 00 08 5000c5000d3a6b2f 01 02 00 08 00112233');
    const p = decodeVpdPage(page);
    expect(p.truncated).toBe(true);
    expect(p.kind === 'device-identification' && p.designators.length).toBe(1);
  });
  it('0xB0 block limits (SBC-4 length 0x3C)', () => {
    const page = Buffer.alloc(64);
    h('00 b0 003c 01 ff 0008 00000800 00000080 00001000 00400000 00000100 00000008 80000004 0000000000010000').copy(page);
    const p = decodeVpdPage(page);
    if (p.kind !== 'block-limits') throw new Error(p.kind);
    expect(p.limits).toEqual({ wsnz: true, maxCompareAndWriteLength: 255, optimalTransferLengthGranularity: 8,
      maxTransferLength: 2048, optimalTransferLength: 128, maxPrefetchLength: 4096, maxUnmapLbaCount: 0x400000,
      maxUnmapDescriptorCount: 256, optimalUnmapGranularity: 8, ugavalid: true, unmapGranularityAlignment: 4,
      maxWriteSameLength: 0x10000n });
    expect(encodeVpdPage(p)).toEqual(page);
  });
  it('0xB0 from an SPC-3 device (length 0x10) has no unmap fields', () => {
    const p = decodeVpdPage(h('00 b0 0010 00 00 0001 0000ffff 00000000 00000000'));
    expect(p.kind === 'block-limits' && p.limits).toEqual({ wsnz: false, maxCompareAndWriteLength: 0,
      optimalTransferLengthGranularity: 1, maxTransferLength: 0xffff, optimalTransferLength: 0, maxPrefetchLength: 0 });
  });
  it('0xB1 block device characteristics: SSD, 2.5 inch', () => {
    const page = Buffer.alloc(64);
    h('00 b1 003c 0001 00 03 03').copy(page);
    const p = decodeVpdPage(page);
    expect(p).toMatchObject({ kind: 'block-device-characteristics',
      characteristics: { rotationRate: 1, formFactor: 3, formFactorName: '2.5 inch', fuab: true, vbuls: true } });
    expect(encodeVpdPage(p)).toEqual(page);
  });
  it('0xB1 rotating 7200 rpm 3.5 inch', () => {
    const p = decodeVpdPage(Buffer.concat([h('00 b1 003c 1c20 00 02'), Buffer.alloc(57)]));
    expect(p).toMatchObject({ characteristics: { rotationRate: 7200, formFactorName: '3.5 inch' } });
  });
  it('0xB2 logical block provisioning', () => {
    const page = h('00 b2 0004 00 d4 02 00');
    const p = decodeVpdPage(page);
    expect(p).toMatchObject({ kind: 'logical-block-provisioning', provisioning: { lbpu: true, lbpws: true,
      lbpws10: false, lbprz: 5, anc: false, dp: false, provisioningType: 2 } });
    expect(encodeVpdPage(p)).toEqual(page);
  });
  it('unknown pages are raw, short headers are errors', () => {
    expect(decodeVpdPage(h('00 89 0002 abcd'))).toMatchObject({ kind: 'raw', bytes: h('abcd') });
    expect(() => decodeVpdPage(h('00 80 00'))).toThrow(ScsiDataError);
  });
  it('round-trips supported-pages and serial pages', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }), (pages) => {
      const page: VpdPage = { kind: 'supported-pages', pages, peripheralQualifier: 0, peripheralDeviceType: 0,
        pageCode: 0, pageLength: pages.length, truncated: false };
      expect(decodeVpdPage(encodeVpdPage(page))).toEqual(page);
    }));
  });
});

describe('READ CAPACITY', () => {
  it('(10): last LBA and block length', () => {
    expect(commands.readCapacity10.decodeData(h('003b9fff 00000200'))).toEqual({ returnedLba: 0x3b9fff, blockLength: 512 });
    expect(commands.readCapacity10.decodeData(h('ffffffff 00000200')).returnedLba).toBe(0xffffffff);
    expect(() => commands.readCapacity10.decodeData(h('ffffffff 0000'))).toThrow(ScsiDataError);
    expect(() => commands.readCapacity10.decodeData(h('003b9fff 00000200'), 7)).toThrow(ScsiDataError);
  });
  it('(16): exact 64-bit LBA, protection, 512e exponent, provisioning bits', () => {
    const buf = Buffer.alloc(32);
    h('0123456789abcdef 00000200 05 23 c0 07').copy(buf);
    const d = commands.readCapacity16.decodeData(buf);
    expect(d).toEqual({ returnedLba: 0x0123456789abcdefn, blockLength: 512, pType: 2, protectionEnabled: true,
      piExponent: 2, logicalPerPhysicalExponent: 3, lbpme: true, lbprz: true, lowestAlignedLba: 7 });
    expect(commands.readCapacity16.encodeData(d)).toEqual(buf);
  });
  it('(16) round-trips over the full ranges', () => {
    fc.assert(fc.property(fc.record({ returnedLba: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      blockLength: fc.integer({ min: 0, max: 2 ** 32 - 1 }), pType: fc.integer({ min: 0, max: 7 }),
      protectionEnabled: fc.boolean(), piExponent: fc.integer({ min: 0, max: 15 }),
      logicalPerPhysicalExponent: fc.integer({ min: 0, max: 15 }), lbpme: fc.boolean(), lbprz: fc.boolean(),
      lowestAlignedLba: fc.integer({ min: 0, max: 0x3fff }) }), (d) => {
      expect(commands.readCapacity16.decodeData(commands.readCapacity16.encodeData(d))).toEqual(d);
    }));
  });
});

describe('READ FORMAT CAPACITIES', () => {
  it('decodes the current descriptor types and formattable list', () => {
    const d = commands.readFormatCapacities.decodeData(h('000000 10 003c0000 02000200 003c0000 00000200'));
    expect(d).toEqual({ current: { blocks: 0x3c0000, type: 'formatted', blockLength: 512 },
      formattable: [{ blocks: 0x3c0000, formatType: 0, param: 512 }], truncated: false });
    expect(commands.readFormatCapacities.encodeData(d)).toEqual(h('000000 10 003c0000 02000200 003c0000 00000200'));
    expect(commands.readFormatCapacities.decodeData(h('00000008 ffffffff 03000200')).current.type).toBe('no-media');
    expect(commands.readFormatCapacities.decodeData(h('00000008 00001000 01000200')).current.type).toBe('unformatted');
  });
  it('rejects nonsense lengths and flags truncation', () => {
    expect(() => commands.readFormatCapacities.decodeData(h('00000005 00001000 01000200'))).toThrow(ScsiDataError);
    expect(commands.readFormatCapacities.decodeData(h('00000010 00001000 01000200')).truncated).toBe(true);
  });
});

describe('MODE SENSE data', () => {
  it('(6): write-protected header, short block descriptor, caching page with WCE', () => {
    const b = h('1f 00 90 08  00001000 00 000200  88 12 04 00 0000000000000000000000000000 00 00');
    const d = decodeModeSense6(b);
    expect(d).toMatchObject({ modeDataLength: 0x1f, mediumType: 0, writeProtected: true, dpofua: true, longLba: false,
      blockDescriptors: [{ blocks: 0x1000n, blockLength: 512, densityCode: 0 }], truncated: false });
    expect(d.pages).toHaveLength(1);
    expect(d.pages[0]).toMatchObject({ pageCode: 8, ps: true, spf: false, caching: { wce: true, rcd: false, ic: false } });
    expect(commands.modeSense6.encodeData(d)).toEqual(b);
  });
  it('(10): LONGLBA descriptor and all pages, RCD set, a subpage-format page', () => {
    const b = h('0022 00 00 01 00 0010  0000000100000000 00 000000 00001000  08 02 01 00  4a 01 0004 01020304');
    const d = decodeModeSense10(b);
    expect(d).toMatchObject({ writeProtected: false, longLba: true,
      blockDescriptors: [{ blocks: 0x100000000n, blockLength: 4096 }] });
    expect(d.pages.map((p) => [p.pageCode, p.subpageCode, p.spf])).toEqual([[8, 0, false], [0x0a, 1, true]]);
    expect(d.pages[0]?.caching).toMatchObject({ wce: false, rcd: true });
    expect(commands.modeSense10.encodeData(d)).toEqual(b);
  });
  it('DBD answer without descriptors; truncation drops partial pages', () => {
    const full = commands.modeSense6.encodeData({ modeDataLength: 0, mediumType: 0, deviceSpecific: 0,
      writeProtected: false, dpofua: false, longLba: false, blockDescriptors: [], truncated: false,
      pages: [cachingPage({ wce: true }), { pageCode: 0x1c, subpageCode: 0, ps: false, spf: false, data: new Uint8Array(10) }] });
    expect(decodeModeSense6(full).pages).toHaveLength(2);
    const cut = decodeModeSense6(full, 4 + 20 + 4);
    expect(cut.truncated).toBe(true);
    expect(cut.pages.map((p) => p.pageCode)).toEqual([8]);
    expect(() => decodeModeSense6(h('0300'))).toThrow(ScsiDataError);
    expect(() => decodeModeSense6(h('0b000005 0000000000000000'))).toThrow(ScsiDataError);
  });
});

describe('REPORT LUNS data', () => {
  it('decodes peripheral and flat addressing', () => {
    const d = decodeReportLuns(h('00000018 00000000 0000000000000000 0001000000000000 4123000000000000'));
    expect(d.luns.map((l) => [l.addressMethod, l.lun])).toEqual([[0, 0], [0, 1], [1, 0x123]]);
    expect(d.truncated).toBe(false);
    expect(commands.reportLuns.encodeData(d)).toEqual(h('00000018 00000000 0000000000000000 0001000000000000 4123000000000000'));
  });
  it('flags a list longer than the allocation length', () => {
    const d = decodeReportLuns(encodeReportLuns([0, 1, 2, 3]), 24);
    expect(d).toMatchObject({ listLength: 32, truncated: true });
    expect(d.luns).toHaveLength(2);
    expect(() => decodeReportLuns(h('000000'))).toThrow(ScsiDataError);
  });
});

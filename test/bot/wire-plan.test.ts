import { describe, expect, it } from 'vitest';
import { parseQuirkOverrides, resolveQuirks } from '../../src/quirks/index.js';
import { wirePlan } from '../../src/bot/run.js';

const QEMU = { vendorId: 0x46f4, productId: 0x0001 };

describe('round-trip quirks per device model', () => {
  it('QEMU usb-storage behind xHCI (SuperSpeed): NO_CSW_PIPELINING only; behind EHCI (high speed): NO_EARLY_IN too', () => {
    const xhci = resolveQuirks({ ...QEMU, speed: 'super' });
    expect(xhci.noCswPipelining).toBe(true);
    expect(xhci.noEarlyIn).toBe(false);
    const ehci = resolveQuirks({ ...QEMU, speed: 'high' });
    expect(ehci.noEarlyIn).toBe(true);
    expect(ehci.noCswPipelining).toBe(true);
    for (const q of [xhci, ehci]) expect(q.senseLun0Only).toBe(true);
  });

  it('an unknown speed gets every speed-limited entry of the device (the safe side)', () => {
    const q = resolveQuirks({ ...QEMU });
    expect(q.noCswPipelining && q.noEarlyIn).toBe(true);
    expect(resolveQuirks({ ...QEMU, speed: 'unknown' }).noEarlyIn).toBe(true);
    // The xHCI entry's QUEUED_CSW_OUT_MAX comes along, but NO_EARLY_IN keeps a WRITE's CSW read behind its data.
    expect(wirePlan(q, 'out', true, 4096).queueCsw).toBe(false);
  });

  it('the flags parse as overrides, and a device without quirks takes every round-trip saver', () => {
    const q = resolveQuirks({ vendorId: 1, productId: 2 }, parseQuirkOverrides('1:2:NO_EARLY_IN+NO_EARLY_DATA_OUT'));
    expect(q).toMatchObject({ noEarlyIn: true, noEarlyDataOut: true, noCswPipelining: false });
    const none = resolveQuirks({ vendorId: 1, productId: 2 });
    expect(wirePlan(none, 'in', true)).toEqual({ earlyData: true, queueCsw: true, cswWithCbw: true, sequential: false });
    expect(wirePlan(none, 'out', true)).toEqual({ earlyData: true, queueCsw: true, cswWithCbw: true, sequential: false });
    expect(wirePlan(none, 'none', false)).toEqual({ earlyData: false, queueCsw: true, cswWithCbw: true, sequential: false });
  });

  it('xHCI plan: data (in or out) with the CBW, the CSW read only after the data, data-IN one segment at a time', () => {
    const q = resolveQuirks({ ...QEMU, speed: 'super' });
    expect(wirePlan(q, 'in', true)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: true });
    expect(wirePlan(q, 'out', true)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: false });
    // ... except a data-OUT of at most 120 KiB: the device has all of it before the queued CSW read arrives.
    expect(q.queuedCswOutMax).toBe(120 * 1024);
    expect(wirePlan(q, 'out', true, 4096)).toEqual({ earlyData: true, queueCsw: true, cswWithCbw: true, sequential: false });
    expect(wirePlan(q, 'out', true, 120 * 1024)).toEqual({ earlyData: true, queueCsw: true, cswWithCbw: true, sequential: false });
    expect(wirePlan(q, 'out', true, 120 * 1024 + 512)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: false });
    expect(wirePlan(q, 'in', true, 4096)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: true });
    expect(wirePlan(q, 'none', false)).toEqual({ earlyData: false, queueCsw: false, cswWithCbw: false, sequential: false });
  });

  it('EHCI plan: no IN before the CBW is through, the CSW read only after the data; data-OUT with the CBW', () => {
    const q = resolveQuirks({ ...QEMU, speed: 'high' });
    expect(wirePlan(q, 'in', true)).toEqual({ earlyData: false, queueCsw: false, cswWithCbw: false, sequential: true });
    expect(wirePlan(q, 'out', true)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: false });
    expect(wirePlan(q, 'none', false)).toEqual({ earlyData: false, queueCsw: false, cswWithCbw: false, sequential: false });
    // EHCI stalls any IN before the data-OUT is through, small or not.
    expect(q.queuedCswOutMax).toBe(0);
    expect(wirePlan(q, 'out', true, 4096)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: false });
  });

  it('QUEUED_CSW_OUT_MAX=n as an override: needs its byte count, and NO_EARLY_IN still wins', () => {
    expect(() => parseQuirkOverrides('1:2:NO_CSW_PIPELINING+QUEUED_CSW_OUT_MAX')).toThrow(/QUEUED_CSW_OUT_MAX needs a value/);
    expect(() => parseQuirkOverrides('1:2:QUEUED_CSW_OUT_MAX=0')).toThrow(/QUEUED_CSW_OUT_MAX needs a value/);
    const q = resolveQuirks({ vendorId: 1, productId: 2 }, parseQuirkOverrides('1:2:NO_CSW_PIPELINING+QUEUED_CSW_OUT_MAX=65536'));
    expect(q.queuedCswOutMax).toBe(65536);
    expect(wirePlan(q, 'out', true, 65536).cswWithCbw).toBe(true);
    expect(wirePlan(q, 'out', true, 65537).queueCsw).toBe(false);
    const early = resolveQuirks({ vendorId: 1, productId: 2 },
      parseQuirkOverrides('1:2:NO_EARLY_IN+NO_CSW_PIPELINING+QUEUED_CSW_OUT_MAX=65536'));
    expect(wirePlan(early, 'out', true, 4096).queueCsw).toBe(false);
  });
});

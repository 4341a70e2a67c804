import { describe, expect, it } from 'vitest';
import { parseQuirkOverrides, resolveQuirks } from '../../src/bot/quirks.js';
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
    expect(wirePlan(q, 'none', false)).toEqual({ earlyData: false, queueCsw: false, cswWithCbw: false, sequential: false });
  });

  it('EHCI plan: no IN before the CBW is through, the CSW read only after the data; data-OUT with the CBW', () => {
    const q = resolveQuirks({ ...QEMU, speed: 'high' });
    expect(wirePlan(q, 'in', true)).toEqual({ earlyData: false, queueCsw: false, cswWithCbw: false, sequential: true });
    expect(wirePlan(q, 'out', true)).toEqual({ earlyData: true, queueCsw: false, cswWithCbw: false, sequential: false });
    expect(wirePlan(q, 'none', false)).toEqual({ earlyData: false, queueCsw: false, cswWithCbw: false, sequential: false });
  });
});

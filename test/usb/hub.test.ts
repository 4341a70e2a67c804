import { describe, expect, it } from 'vitest';
import { PortPowerError } from '../../src/usb/device-errors.js';
import { UsbError } from '../../src/usb/errors.js';
import { checkPortSwitchable, parseHubDescriptor, powerSwitchingOf } from '../../src/usb/hub.js';

const hubAt = { busNumber: 1, portNumbers: [2] };
// QEMU's usb-hub descriptor (hw/usb/dev-hub.c): 8 ports, wHubCharacteristics 0x000a (no power switching,
// per-port over-current), bPwrOn2PwrGood 10 (20 ms); port-power=on turns bits 1:0 into 01.
const qemuHub = (chars: number): Buffer => Buffer.from([0x09, 0x29, 8, chars & 0xff, chars >> 8, 10, 0, 0, 0xff]);

describe('hub descriptor', () => {
  it('reads bNbrPorts, wHubCharacteristics and the power-on delay', () => {
    expect(parseHubDescriptor(qemuHub(0x0009))).toEqual({ ports: 8, characteristics: 0x0009, powerSwitching: 'individual',
      powerOnToGoodMs: 20 });
    // a USB 3 hub descriptor (type 0x2A) agrees on the first bytes
    expect(parseHubDescriptor(Buffer.from([12, 0x2a, 4, 0x01, 0x00, 50, 0, 0, 0, 0, 0, 0])).powerSwitching).toBe('individual');
  });

  it('bits 1:0 of wHubCharacteristics: 00 ganged, 01 individual, 1X none (USB 2.0 11.23.2.1)', () => {
    expect(powerSwitchingOf(0x0000)).toBe('ganged');
    expect(powerSwitchingOf(0x0001)).toBe('individual');
    expect(powerSwitchingOf(0x0002)).toBe('none');
    expect(powerSwitchingOf(0x0003)).toBe('none');
    expect(powerSwitchingOf(0x00a9)).toBe('individual'); // other bits do not matter
  });

  it('refuses what is not a hub descriptor', () => {
    expect(() => parseHubDescriptor(Buffer.from([9, 0x01, 8, 0, 0, 0, 0]))).toThrow(/not a hub descriptor/);
    expect(() => parseHubDescriptor(Buffer.from([9, 0x29, 8]))).toThrow(/not a hub descriptor/);
  });
});

describe('can this port be switched alone?', () => {
  const refusal = (buf: Buffer, port: number): PortPowerError | undefined => {
    try { checkPortSwitchable(parseHubDescriptor(buf), hubAt, port); return undefined; } catch (e) { return e as PortPowerError; }
  };

  it('per-port switching: yes', () => {
    expect(refusal(qemuHub(0x0009), 3)).toBeUndefined();
  });

  it('no switching: a typed NOT_SUPPORTED refusal naming the hub and wHubCharacteristics', () => {
    const e = refusal(qemuHub(0x000a), 3);
    expect(e).toBeInstanceOf(PortPowerError);
    expect(e).toBeInstanceOf(UsbError);
    expect(e?.code).toBe('USB_NOT_SUPPORTED');
    expect(e?.reason).toBe('no-switching');
    expect(e?.location).toEqual({ busNumber: 1, portNumbers: [2, 3] });
    expect(e?.message).toBe('hub 1-2 cannot switch port power (wHubCharacteristics 0x000a: no power switching); ' +
      'use a hub with per-port power switching');
  });

  it('ganged switching: refused on a hub of several ports, allowed on a one-port hub (as uhubctl does)', () => {
    expect(refusal(qemuHub(0x0008), 3)?.reason).toBe('ganged');
    expect(refusal(Buffer.from([9, 0x29, 1, 0x08, 0, 10, 0, 0, 0xff]), 1)).toBeUndefined();
  });

  it('a port the hub does not have', () => {
    expect(refusal(qemuHub(0x0009), 9)?.reason).toBe('no-such-port');
    expect(refusal(qemuHub(0x0009), 0)?.message).toMatch(/hub 1-2 has ports 1\.\.8, not 0/);
  });
});

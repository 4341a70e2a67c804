/** Finding UAS's four pipes from the Pipe Usage descriptors among each endpoint's extra descriptors. */
import { describe, expect, it } from 'vitest';
import { findUasPipes, pipeIdOf } from '../../src/uas/index.js';
import type { AltSettingInfo } from '../../src/usb/port.js';

const usage = (id: number): Uint8Array => Uint8Array.from([4, 0x24, id, 0]);
const ep = (address: number, extra: Uint8Array) => ({ address, attributes: 2, maxPacketSize: 512, extra });
const uas = (endpoints: AltSettingInfo['endpoints']): AltSettingInfo =>
  ({ alternateSetting: 1, interfaceClass: 8, interfaceSubClass: 6, interfaceProtocol: 0x62, endpoints });

describe('Pipe Usage descriptors', () => {
  it('name the pipes whatever the endpoint order (QEMU usb-uas: command 0x01, status 0x82, data-in 0x83, data-out 0x04)', () => {
    const v = findUasPipes(uas([ep(0x04, usage(4)), ep(0x83, usage(3)), ep(0x01, usage(1)), ep(0x82, usage(2))]));
    expect(v).toEqual({ ok: true, binding: { command: 0x01, status: 0x82, in: 0x83, out: 0x04 }, maxPacketSize: 512 });
  });

  it('are found after other class descriptors, in a plain Uint8Array as in a Buffer', () => {
    const ss = Uint8Array.from([6, 0x30, 15, 4, 0, 0, 4, 0x24, 2, 0]); // a SuperSpeed companion first
    expect(pipeIdOf(ss)).toBe(2);
    expect(pipeIdOf(Buffer.from(ss))).toBe(2);
    expect(pipeIdOf(Uint8Array.from([3, 0x24]))).toBeUndefined(); // truncated
  });

  it('refuse a setting with a pipe missing, twice, or the wrong way round, and say which', () => {
    const four = [ep(0x01, usage(1)), ep(0x82, usage(2)), ep(0x83, usage(3)), ep(0x04, usage(4))];
    expect(findUasPipes(uas(four.slice(0, 3)))).toEqual({ ok: false, why: 'no Pipe Usage descriptor names the data-out pipe' });
    expect(findUasPipes(uas([...four, ep(0x05, usage(4))]))).toMatchObject({ ok: false, why: 'two endpoints claim pipe 4' });
    expect(findUasPipes(uas([ep(0x81, usage(1)), ...four.slice(1)]))).toMatchObject({ ok: false, why: /wrong direction/ });
    expect(findUasPipes({ ...uas(four), interfaceProtocol: 0x50 })).toMatchObject({ ok: false, why: /not UAS/ });
  });
});

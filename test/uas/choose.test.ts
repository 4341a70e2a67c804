/**
 * Choosing the transport: UAS at high speed where offered, Bulk-Only at SuperSpeed (no bulk streams in node-usb
 * 2), `--transport` and IGNORE_UAS over both, and a UAS-only device at SuperSpeed refused with the reason.
 */
import { describe, expect, it } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { chooseTransport, openTransport, parseTransportRequest } from '../../src/open-transport.js';
import { parseQuirkOverrides } from '../../src/quirks/index.js';
import type { UsbSpeed } from '../../src/usb/port.js';
import { settle } from './helpers.js';

const offer = (bot: boolean, uas: boolean, speed: UsbSpeed = 'high') => ({ bot, uas, speed });

describe('chooseTransport', () => {
  it('both offered: UAS at high and full speed, Bulk-Only at SuperSpeed', () => {
    expect(chooseTransport(offer(true, true, 'high'), 'auto', false).protocol).toBe('uas');
    expect(chooseTransport(offer(true, true, 'full'), 'auto', false).protocol).toBe('uas');
    const ss = chooseTransport(offer(true, true, 'super'), 'auto', false);
    expect(ss.protocol).toBe('bot');
    expect(ss.why).toMatch(/streams/);
    expect(chooseTransport(offer(true, false, 'super'), 'auto', false).protocol).toBe('bot');
  });

  it('IGNORE_UAS and --transport bot keep a UAS-capable device on Bulk-Only', () => {
    expect(chooseTransport(offer(true, true), 'auto', true)).toEqual({ protocol: 'bot', why: 'the IGNORE_UAS quirk' });
    expect(chooseTransport(offer(true, true), 'bot', false).protocol).toBe('bot');
    expect(chooseTransport(offer(true, true), 'uas', true).protocol).toBe('uas'); // asked for by name
  });

  it('refuses, typed, what cannot run: UAS-only at SuperSpeed, UAS asked of a BOT stick, BOT of a UAS-only one', () => {
    const ss = (() => { try { return chooseTransport(offer(false, true, 'super'), 'auto', false); } catch (e) { return e as Error; } })();
    expect(ss).toMatchObject({ code: 'UAS_UNSUPPORTED' });
    expect((ss as Error).message).toMatch(/offers only UAS.*bulk streams.*node-usb 2/);
    expect(() => chooseTransport(offer(true, false), 'uas', false)).toThrow(/no UAS alternate setting/);
    expect(() => chooseTransport(offer(false, true, 'super'), 'uas', false)).toThrow(/streams/);
    expect(() => chooseTransport(offer(false, true), 'bot', false)).toThrow(expect.objectContaining({ code: 'USB_NOT_SUPPORTED' }));
    expect(() => chooseTransport(offer(false, true), 'auto', true)).toThrow(/IGNORE_UAS/);
  });

  it('parses --transport', () => {
    expect(parseTransportRequest(undefined)).toBe('auto');
    expect(parseTransportRequest('uas')).toBe('uas');
    expect(() => parseTransportRequest('cbi')).toThrow(expect.objectContaining({ code: 'ARG_INVALID' }));
  });
});

describe('openTransport on the software disk', () => {
  it('BOT+UAS at high speed opens UAS in setting 1; IGNORE_UAS opens Bulk-Only in setting 0', async () => {
    const dev = new MockUsbDevice({ transports: 'bot+uas' });
    const a = await openTransport(dev.open());
    expect(a.decision.protocol).toBe('uas');
    expect(dev.function).toBe('uas');
    await a.transport.close();
    expect(dev.function).toBe('bot'); // closing the port put the setting it was opened in back
    const b = await openTransport(dev.open(), { bot: { quirkOverrides: parseQuirkOverrides('f055:5b00:u') } });
    expect(b.decision.protocol).toBe('bot');
    expect(b.decision.why).toBe('the IGNORE_UAS quirk');
    await b.transport.close();
  });

  it('BOT+UAS at SuperSpeed opens Bulk-Only; UAS-only at SuperSpeed is refused', async () => {
    const both = new MockUsbDevice({ transports: 'bot+uas', speed: 'super', maxPacketSize: 1024 });
    const a = await openTransport(both.open());
    expect(a.decision.protocol).toBe('bot');
    await a.transport.close();
    const only = new MockUsbDevice({ transports: 'uas', speed: 'super', maxPacketSize: 1024 });
    const port = only.open();
    expect(await settle(openTransport(port))).toMatchObject({ code: 'UAS_UNSUPPORTED' });
    await port.close();
  });
});

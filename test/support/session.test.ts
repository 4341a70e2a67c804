/** The session fixture closes what it holds when the block is left, by an assertion failure too. */
import { describe, expect, it } from 'vitest';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms, type UsbmsSession } from '../../src/open.js';
import { closing } from './session.js';

describe('closing()', () => {
  it('closes the session at the end of the block', async () => {
    let kept: UsbmsSession | undefined;
    {
      await using s = closing(await openUsbms({ mock: new MockUsbDevice() }));
      kept = s;
      expect(s.port.closed).toBe(false);
    }
    expect(kept.port.closed).toBe(true);
  });

  it('closes the session of a holder when the block throws, and the error is the block\'s', async () => {
    const dev = new MockUsbDevice();
    let kept: UsbmsSession | undefined;
    const run = async (): Promise<void> => {
      await using held = closing({ session: await openUsbms({ mock: dev }), dev });
      kept = held.session;
      throw new Error('the test failed');
    };
    await expect(run()).rejects.toThrow('the test failed');
    expect(kept?.port.closed).toBe(true);
    expect(dev.isOpen).toBe(false);
  });
});

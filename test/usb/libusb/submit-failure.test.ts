import { describe, expect, it } from 'vitest';
import { makeFakePort, libusbError } from './fake-node-usb.js';
import { UsbError } from '../../../src/usb/errors.js';

describe('a failed libusb_submit_transfer does not poison the transfer', () => {
  it('after LIBUSB_ERROR_NO_MEM (usbfs memory) the next submit goes to the wire on a fresh native transfer', async () => {
    const { port, bulkIn } = makeFakePort();
    const t = port.createTransfer('in');
    const first = bulkIn.transfers[0]!;
    // What node-usb does: the buffer is set before libusb_submit_transfer, and stays set when that fails.
    first.submit = function (this: typeof first, buffer: Buffer) {
      this.buffer = buffer;
      throw libusbError(-11); // LIBUSB_ERROR_NO_MEM
    };
    const err = await t.submit(Buffer.alloc(8 * 1024 * 1024), 0).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsbError);
    expect(t.inFlight).toBe(false);
    const p = t.submit(Buffer.alloc(512), 0);
    expect(bulkIn.transfers).toHaveLength(2); // replaced, not "Transfer is already active"
    bulkIn.transfers[1]!.complete(0, 512);
    expect(await p).toBe(512);
    await port.close();
  });
});

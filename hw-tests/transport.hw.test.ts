/**
 * The Transport contract (test/transport/contract.ts) against the device under test: BotTransport through
 * libusb, the seam the HBA runs packets on (UasTransport with USBMS_TEST_EXPECT=uas). A real device cannot be made to hang or vanish on purpose, so those
 * cases are skipped (and say so); the data-out case runs only where the write checks may (USBMS_DESTRUCTIVE_OK),
 * and writes the blocks' old contents back.
 *
 *   USBMS_TEST_DEVICE=46f4:0001 npx vitest run --config hw-tests/vitest.config.ts hw-tests/transport.hw.test.ts
 */
import { describe } from 'vitest';
import { BotTransport } from '../src/bot/index.js';
import { openUasTransport } from '../src/uas/index.js';
import { openLibusbPort } from '../src/usb/libusb/index.js';
import { CountingPort } from '../test/transport/counting-port.js';
import { transportContract } from '../test/transport/contract.js';
import { destructiveRefusal } from './support/device.js';
import { botSkipReason, hw, titled, uasSkipReason } from './support/env.js';

/** Phases of a command on a healthy device take milliseconds; under the lab's TCG guest, up to a second. */
const TIMEOUT_MS = 5000;
const writable = (botSkipReason === undefined || uasSkipReason === undefined) && hw.expectWriteProtect === false &&
  await destructiveRefusal() === undefined;

describe.skipIf(botSkipReason !== undefined)(titled('BotTransport through libusb (USBMS_TEST_DEVICE)', botSkipReason), () => {
  transportContract(`BotTransport on ${hw.device ?? '?'}`, async () => {
    const port = new CountingPort(await openLibusbPort(hw.device ?? '', { detachKernelDriver: true, closeTimeoutMs: 1000 }));
    const transport = await BotTransport.open(port, {
      timeouts: { cbwMs: TIMEOUT_MS, cswMs: TIMEOUT_MS, dataMs: TIMEOUT_MS, controlMs: TIMEOUT_MS },
    });
    return { transport, timeoutMs: TIMEOUT_MS, wireOps: () => port.ops, dispose: () => port.close() };
  }, { writable });
});

describe.skipIf(uasSkipReason !== undefined)(titled('UasTransport through libusb (USBMS_TEST_DEVICE)', uasSkipReason), () => {
  transportContract(`UasTransport on ${hw.device ?? '?'}`, async () => {
    const port = new CountingPort(await openLibusbPort(hw.device ?? '', { detachKernelDriver: true, closeTimeoutMs: 1000 }));
    const transport = await openUasTransport(port, {
      timeouts: { commandMs: TIMEOUT_MS, dataMs: TIMEOUT_MS, statusMs: TIMEOUT_MS, tmfMs: TIMEOUT_MS, controlMs: TIMEOUT_MS },
    });
    return { transport, timeoutMs: TIMEOUT_MS, wireOps: () => port.ops, dispose: () => port.close() };
  }, { writable });
});

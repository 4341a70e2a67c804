/**
 * Enumeration, interface choice, the kernel driver hand-over and Get Max LUN on the device under test; for a
 * device without a Bulk-Only interface (USBMS_TEST_EXPECT=no-bot), the typed refusal that says so; for a device
 * that runs UAS (USBMS_TEST_EXPECT=uas), the choice of UAS and its four pipes.
 */
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, it, expect } from 'vitest';
import { openUsbms } from '../src/open.js';
import { isUsbError } from '../src/usb/errors.js';
import { openLibusbPort } from '../src/usb/libusb/index.js';
import { describeTransportChoice } from '../src/open-transport.js';
import { botSkipReason, hw, NO_DEVICE_REASON, titled, uasSkipReason } from './support/env.js';
import { findUnderTest, openUnderTest } from './support/device.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const underTest = botSkipReason === undefined ? await findUnderTest() : undefined;
/** The driver bound to the interface, from sysfs (Linux): 'usb-storage', 'usbfs' or 'none'. */
function interfaceDriver(interfaceNumber: number): string {
  const dev = underTest!;
  const dir = `/sys/bus/usb/devices/${dev.busNumber}-${dev.portNumbers.join('.')}:1.${interfaceNumber}/driver`;
  try { return basename(readlinkSync(dir)); } catch { return 'none'; }
}

describe.skipIf(botSkipReason !== undefined)(titled('enumeration and interface choice', botSkipReason), () => {
  it('lists the device as a Bulk-Only mass-storage interface', async () => {
    const dev = await findUnderTest();
    expect(dev, `${hw.device ?? ''} is not among the mass-storage devices present`).toBeDefined();
    expect(dev!.accessDenied, 'no permission to open it: install udev/70-usbms.rules').toBe(false);
    expect(dev!.hasBotAltSetting).toBe(true);
    expect(dev!.protocol).toBe('BOT');
    expect(dev!.speed).not.toBe('unknown');
  });

  it('opens the Bulk-Only interface with a bulk-in/bulk-out pair and reads Get Max LUN', async () => {
    const s = await openUnderTest();
    try {
      const info = s.port.info;
      expect(info.endpoints.in & 0x80).toBe(0x80);
      expect(info.endpoints.out & 0x80).toBe(0);
      // wMaxPacketSize for bulk: 8..64 full speed, 512 high speed, 1024 SuperSpeed (USB 2.0 5.8.3, 3.x 9.6.6)
      expect([8, 16, 32, 64, 512, 1024]).toContain(info.maxPacketSize.in);
      expect(info.maxPacketSize.out).toBe(info.maxPacketSize.in);
      expect(s.transport.maxLun).toBeGreaterThanOrEqual(0);
      expect(s.transport.maxLun).toBeLessThanOrEqual(15);
      expect(s.hba.maxLun).toBe(s.transport.maxLun);
      if (hw.images.length > 1) expect(s.transport.maxLun).toBe(hw.images.length - 1);
    } finally {
      await s.close();
    }
  });
});

// The hand-over only exists while a kernel driver is bound (usb-storage loaded, device not excluded).
const driverBound = underTest?.kernelDriverActive === true;
const driverSkip = botSkipReason ?? (driverBound || hw.requireKernelDriver ? undefined
  : 'no kernel driver bound to the interface (load usb-storage to run it)');

describe.skipIf(driverSkip !== undefined)(titled('kernel driver detach and re-attach', driverSkip), () => {
  it('a kernel driver is bound before the test', () => {
    expect(driverBound, 'USBMS_TEST_REQUIRE_KERNEL_DRIVER=1 but no kernel driver is bound').toBe(true);
  });

  it('refuses to take the interface from the kernel unless asked, with a BUSY error that says how', async () => {
    const err = await openLibusbPort(hw.device!).then(
      async (p) => { await p.close(); return undefined; }, (e: unknown) => e);
    expect(isUsbError(err, 'BUSY'), `expected UsbError BUSY, got ${String(err)}`).toBe(true);
    expect((err as Error).message).toMatch(/detach/i);
  });

  it('detaches the kernel driver, works, and gives the interface back on close', async () => {
    const s = await openUsbms({ device: hw.device!, detachKernelDriver: true });
    try {
      // sysfs, not a device listing: the interface is now usbfs's (the kernel driver let go)
      expect(interfaceDriver(s.port.info.interfaceNumber)).toBe('usbfs');
      const disk = await s.openDisk(0);
      await disk.testUnitReady();
    } finally {
      await s.close();
    }
    // The kernel re-probes asynchronously after the re-attach.
    let bound = false;
    for (let i = 0; i < 50 && !bound; i++) {
      bound = (await findUnderTest())?.kernelDriverActive === true;
      if (!bound) await sleep(100);
    }
    expect(bound, 'the kernel driver is not bound again after close').toBe(true);
  });
});

const noBotSkip = hw.device === undefined ? NO_DEVICE_REASON
  : hw.expectNoBot ? undefined : 'the device is expected to speak Bulk-Only (USBMS_TEST_EXPECT unset)';

describe.skipIf(noBotSkip !== undefined)(titled('a device without a Bulk-Only alternate setting', noBotSkip), () => {
  it('is listed as mass storage without a Bulk-Only setting', async () => {
    const dev = await findUnderTest();
    expect(dev).toBeDefined();
    expect(dev!.hasBotAltSetting).toBe(false);
    expect(dev!.protocol).not.toBe('BOT');
  });

  it('is listed with UAS offered', async () => {
    expect((await findUnderTest())?.hasUasAltSetting).toBe(true);
  });

  it('at SuperSpeed (UAS needs bulk streams there) it is refused with a typed error that says why', async () => {
    const dev = await findUnderTest();
    const err = await openUsbms({ device: hw.device!, detachKernelDriver: true }).then(
      async (s) => { await s.close(); return undefined; }, (e: unknown) => e);
    if (dev?.speed === 'super' || dev?.speed === 'super-plus') {
      expect((err as { code?: string } | undefined)?.code, `expected UAS_UNSUPPORTED, got ${String(err)}`).toBe('UAS_UNSUPPORTED');
      expect((err as Error).message).toMatch(/streams/);
    } else {
      expect(err, 'below SuperSpeed usbms runs UAS on it').toBeUndefined();
    }
  });
});

describe.skipIf(uasSkipReason !== undefined)(titled('a device that runs UAS', uasSkipReason), () => {
  it('is listed with UAS offered, and UAS is the transport a session would run', async () => {
    const dev = await findUnderTest();
    expect(dev, `${hw.device ?? ''} is not among the mass-storage devices present`).toBeDefined();
    expect(dev!.hasUasAltSetting).toBe(true);
    const choice = describeTransportChoice(dev!);
    expect(choice.offered).toContain('uas');
    expect(choice.protocol, choice.why).toBe('uas');
  });

  it('opens UAS with its four pipes (command, status, data-in, data-out) and finds the LUNs', async () => {
    const s = await openUnderTest();
    try {
      expect(s.transport.protocol).toBe('uas');
      const ep = s.port.info.endpoints;
      expect(ep.command !== undefined && (ep.command & 0x80) === 0).toBe(true);
      expect(ep.status !== undefined && (ep.status & 0x80) === 0x80).toBe(true);
      expect(ep.in & 0x80).toBe(0x80);
      expect(ep.out & 0x80).toBe(0);
      expect(new Set([ep.command, ep.status, ep.in, ep.out]).size).toBe(4);
      expect(s.transport.queueDepth).toBeGreaterThan(1);
      expect(s.hba.maxLun).toBe(s.transport.maxLun);
      if (hw.images.length > 1) expect(s.transport.maxLun).toBe(hw.images.length - 1);
    } finally {
      await s.close();
    }
  });
});

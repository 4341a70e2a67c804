/**
 * The UsbPort contract against a real (or emulated) device, through libusb.
 *
 *   USBMS_TEST_DEVICE=46f4:0001 npx vitest run --config hw-tests/vitest.config.ts hw-tests/usb-port.hw.test.ts
 *
 * USBMS_TEST_DEVICE   vid:pid[:serial] or bus:address of a Bulk-Only mass-storage device (read-only use).
 * USBMS_TEST_KERNEL_DRIVER=1   usb-storage is bound to it: check the BUSY error, detach, and re-attach on close.
 * USBMS_TEST_OVERFLOW=1        the device babbles into a too-small IN buffer (real hardware, dummy_hcd).
 * QEMU usb-storage (vendor 46f4) stalls a bulk-IN read with no command pending; the suite knows that.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLibusbPort } from '../src/usb/libusb/index.js';
import { LibusbBackend } from '../src/usb/libusb/backend.js';
import { parseDeviceSelector } from '../src/usb/selector.js';
import { UsbError } from '../src/usb/errors.js';
import { describePortContract } from '../test/usb/port-contract.js';
import { BotWire, cdbs } from '../test/usb/bot-wire.js';
import { findUnderTest } from './support/device.js';

const dev = process.env.USBMS_TEST_DEVICE ?? '';
const kernelDriver = process.env.USBMS_TEST_KERNEL_DRIVER === '1';
const QEMU_VENDOR_ID = 0x46f4;
const sel = dev === '' ? undefined : parseDeviceSelector(dev);
// The VID from the selector, or (a port path, usbip:HOST:BUSID) from the listing of the device it names.
const vendorId = sel === undefined ? undefined : sel.kind === 'ids' ? sel.vendorId : (await findUnderTest())?.vendorId;
const isQemu = vendorId === QEMU_VENDOR_ID;

// The contract talks Bulk-Only on the wire (test/usb/bot-wire.ts): a device running UAS is skipped.
const portSkip = dev === '' ? 'set USBMS_TEST_DEVICE=vid:pid or bus:address to run'
  : process.env.USBMS_TEST_EXPECT === 'uas' ? 'USBMS_TEST_EXPECT=uas: the port contract speaks Bulk-Only on the wire' : undefined;

describe.skipIf(portSkip !== undefined)(`libusb port on USBMS_TEST_DEVICE${portSkip === undefined ? '' : ` [skipped: ${portSkip}]`}`, () => {
  describePortContract(`libusb ${dev}`, async () => {
    const port = await openLibusbPort(dev, { detachKernelDriver: kernelDriver, closeTimeoutMs: 1000 });
    return { port, cleanup: () => port.close() };
  }, { idleBulkInStalls: isQemu, overflowOnSmallBuffer: process.env.USBMS_TEST_OVERFLOW === '1' });

  /**
   * Is usb-storage bound to interface `ifnum` of THIS device (bus + address, not just the bus: two sticks may
   * share one)? sysfs names the device `<bus>-<ports>` and its interfaces `<bus>-<ports>:<config>.<interface>`.
   */
  function usbStorageBound(bus: number, address: number, ifnum: number): boolean {
    const root = '/sys/bus/usb/devices';
    const read = (p: string): string => { try { return readFileSync(p, 'utf8').trim(); } catch { return ''; } };
    const name = readdirSync(root).find((n) => !n.includes(':') && read(`${root}/${n}/busnum`) === String(bus)
      && read(`${root}/${n}/devnum`) === String(address));
    if (name === undefined) return false;
    const iface = readdirSync(root).find((n) => n.startsWith(`${name}:`) && n.endsWith(`.${ifnum}`));
    if (iface === undefined) return false;
    try {
      return basename(readlinkSync(`${root}/${iface}/driver`)) === 'usb-storage';
    } catch {
      return false;
    }
  }

  it('lists the device among the mass-storage devices, with what the open port reports', async () => {
    const port = await openLibusbPort(dev, { detachKernelDriver: kernelDriver });
    const { info } = port;
    await port.close();
    const found = (await new LibusbBackend().list()).filter((d) =>
      d.busNumber === info.busNumber && d.deviceAddress === info.deviceAddress);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      vendorId: info.vendorId, productId: info.productId, serialNumber: info.serialNumber, product: info.product,
      speed: info.speed, interfaceNumber: info.interfaceNumber, protocol: 'BOT', hasBotAltSetting: true,
      accessDenied: false, kernelDriverActive: kernelDriver,
    });
  });

  it.runIf(kernelDriver)(`refuses a kernel-bound interface with BUSY, detaches on request, re-attaches on close${
    kernelDriver ? '' : ' [skipped: set USBMS_TEST_KERNEL_DRIVER=1 with usb-storage bound to the device]'}`, async () => {
    const err = await openLibusbPort(dev).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UsbError);
    expect((err as UsbError).code).toBe('USB_BUSY');
    expect((err as Error).message).toContain('--detach-kernel-driver');

    const port = await openLibusbPort(dev, { detachKernelDriver: true });
    const { busNumber, deviceAddress, interfaceNumber } = port.info;
    try {
      expect(usbStorageBound(busNumber, deviceAddress, interfaceNumber)).toBe(false);
      const wire = new BotWire(port);
      expect((await wire.command(cdbs.inquiry(36), Buffer.alloc(36))).csw.status).toBe(0);
    } finally {
      // Closing re-attaches usb-storage; a failed check above must not leave the stick detached.
      await port.close();
    }
    let bound = false;
    for (let i = 0; i < 40 && !bound; i++) {
      bound = usbStorageBound(busNumber, deviceAddress, interfaceNumber);
      if (!bound) await new Promise((r) => setTimeout(r, 50));
    }
    expect(bound).toBe(true);
  });
});

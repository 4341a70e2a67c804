/**
 * Opening the device under test through the real stack (openUsbms: libusb port -> BOT engine -> SCSA HBA), and
 * the facts about it that decide which cases may run (kernel driver bound, serial, mounted filesystems).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { mountedFilesystemsOf, openUsbms, type UsbmsSession } from '../../src/open.js';
import type { DeviceListing as MassStorageDeviceInfo } from '../../src/usb/backend.js';
import { LibusbBackend } from '../../src/usb/libusb/backend.js';
import { matchesSelector, parseDeviceSelector } from '../../src/usb/selector.js';
import { hw } from './env.js';

/** The mass-storage interface USBMS_TEST_DEVICE names, as `usbms list` sees it (undefined when absent). */
export async function findUnderTest(): Promise<MassStorageDeviceInfo | undefined> {
  if (hw.device === undefined) return undefined;
  const sel = parseDeviceSelector(hw.device);
  const all = await new LibusbBackend().list();
  return all.find((d) => matchesSelector(sel, d));
}

let sessions = 0;
/** USBMS_TEST_PCAP=DIR/NAME.pcap: the capture of the next session, DIR/NAME.<pid>.<n>.pcap (one per session). */
export function nextPcap(): { file: string } | undefined {
  if (hw.pcap === undefined) return undefined;
  sessions += 1;
  return { file: hw.pcap.replace(/(\.pcap)?$/, `.${process.pid}.${sessions}.pcap`) };
}

/** A session on the device under test; a bound usb-storage is detached (openUsbms refuses if it is mounted). */
export function openUnderTest(): Promise<UsbmsSession> {
  if (hw.device === undefined) throw new Error('openUnderTest without USBMS_TEST_DEVICE');
  return openUsbms({ device: hw.device, detachKernelDriver: true, pcap: nextPcap() });
}

/**
 * Why the write checks may not run on this device (undefined: they may). Decided before the device is opened:
 * the serial must be the one USBMS_DESTRUCTIVE_OK names, and the kernel must have nothing of it mounted.
 */
export async function destructiveRefusal(): Promise<string | undefined> {
  if (hw.destructiveSerial === undefined) return 'read-only run: set USBMS_DESTRUCTIVE_OK=<serial of the device>';
  const dev = await findUnderTest();
  if (dev === undefined) return `device ${hw.device ?? '?'} not found`;
  if (dev.serialNumber !== hw.destructiveSerial) {
    return `USBMS_DESTRUCTIVE_OK names serial '${hw.destructiveSerial}', the device's is '${dev.serialNumber ?? '(none)'}'`;
  }
  const mounted = mountedFilesystemsOf(dev);
  if (mounted.length > 0) return `the kernel has filesystems of this disk mounted (${mounted.join(', ')})`;
  return undefined;
}

/** `length` bytes of the image file behind `lun` at byte `offset` (undefined when no image was named). */
export function imageBytes(lun: number, offset: bigint, length: number): Buffer | undefined {
  const path = hw.images[lun];
  if (path === undefined) return undefined;
  const out = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, Number(offset) + done);
      if (n === 0) break;
      done += n;
    }
    return out.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/**
 * USB/IP beside libusb: libusb sees a device attached through vhci-hcd as an ordinary device on a vhci bus, and a
 * device this host exports as an ordinary device too. This adds what the kernel knows of each (src/usb/usbip.ts) to
 * the listing rows, matched by port path (the sysfs bus id libusb's port path equals), and refuses an exported
 * device unless forced.
 */
import type { DeviceListing } from '../backend.js';
import { UsbipExportedError } from '../device-errors.js';
import { LINUX_USBIP_ROOTS, readUsbipExports, readUsbipImports, type UsbipRoots } from '../usbip.js';

/** `rows` with `usbip` on each device attached through vhci and `exported` on each bound to usbip-host. */
export function withUsbip(rows: readonly DeviceListing[], roots: UsbipRoots = LINUX_USBIP_ROOTS): DeviceListing[] {
  const imports = readUsbipImports(roots);
  const exports = readUsbipExports(roots);
  if (imports.size === 0 && exports.size === 0) return [...rows];
  return rows.map((r) => {
    const usbip = imports.get(r.portPath);
    const exported = exports.get(r.portPath);
    if (usbip === undefined && exported === undefined) return r;
    return { ...r, ...(usbip === undefined ? {} : { usbip }), ...(exported === undefined ? {} : { exported }) };
  });
}

/** @throws UsbipExportedError when `row` is exported through usbip-host and `force` is not given. */
export function refuseExported(row: DeviceListing, force: boolean | undefined): void {
  if (row.exported !== undefined && force !== true) throw new UsbipExportedError(row, row.exported);
}

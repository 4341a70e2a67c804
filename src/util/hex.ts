/** The one hex formatter for USB ids: four lower-case digits, as `lsusb` and usb-storage.quirks write them. */
export function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** `vid:pid` of a device, e.g. `46f4:0001`. */
export function vidPid(vendorId: number, productId: number): string {
  return `${hex4(vendorId)}:${hex4(productId)}`;
}

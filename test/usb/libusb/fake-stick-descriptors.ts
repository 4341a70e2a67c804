/** The descriptors the fake node-usb Devices of test/usb report: a full-speed Bulk-Only stick, 46f4:0001. */
export const FAKE_STICK_DEVICE_DESCRIPTOR = { idVendor: 0x46f4, idProduct: 0x0001, iManufacturer: 1, iProduct: 2,
  iSerialNumber: 3, bDeviceClass: 0, bcdUSB: 0x0200 } as const;

/** One interface: mass storage (08), SCSI transparent (06), Bulk-Only (0x50), bulk IN 0x81 and OUT 0x02. */
export const FAKE_STICK_CONFIG_DESCRIPTOR = { interfaces: [[{ bInterfaceNumber: 0, bAlternateSetting: 0, bInterfaceClass: 8,
  bInterfaceSubClass: 6, bInterfaceProtocol: 0x50, endpoints: [
    { bEndpointAddress: 0x81, bmAttributes: 2, wMaxPacketSize: 64 },
    { bEndpointAddress: 0x02, bmAttributes: 2, wMaxPacketSize: 64 }] }]] };

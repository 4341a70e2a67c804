/**
 * The Bulk-Only Transport 1.0 wire format, declared once: signatures, lengths, field offsets, flags, status
 * values and class requests. The host engine (src/bot), the software disk (src/mock) and the test hosts
 * (test/mock/host.ts, test/usb/bot-wire.ts) all take their numbers from here. They share the declarations only:
 * each keeps its own logic for building and checking wrappers, so a bug in one is caught by the others.
 * No imports: any layer may use this module.
 */

/** dCBWSignature, "USBC" little-endian (BOT 1.0 §5.1). */
export const CBW_SIGNATURE = 0x43425355;
/** A CBW is exactly 31 bytes. */
export const CBW_LENGTH = 31;
/** CBWCB holds up to 16 CDB bytes, zero padded. */
export const CBW_CB_LENGTH = 16;
/** bmCBWFlags bit 7: data-in (device to host); 0 = data-out or no data. */
export const CBW_FLAG_DATA_IN = 0x80;

/** Byte offsets of the CBW fields (all little-endian). */
export const CBW_OFFSET = {
  /** dCBWSignature, u32. */
  signature: 0,
  /** dCBWTag, u32, echoed in the CSW. */
  tag: 4,
  /** dCBWDataTransferLength, u32: bytes the host expects to move. */
  dataTransferLength: 8,
  /** bmCBWFlags, u8. */
  flags: 12,
  /** bCBWLUN, u8 (bits 3:0). */
  lun: 13,
  /** bCBWCBLength, u8 (bits 4:0, 1..16). */
  cbLength: 14,
  /** CBWCB, 16 bytes. */
  cb: 15,
} as const;

/** dCSWSignature, "USBS" little-endian (BOT 1.0 §5.2). */
export const CSW_SIGNATURE = 0x53425355;
/** A CSW is exactly 13 bytes. */
export const CSW_LENGTH = 13;

/** Byte offsets of the CSW fields (all little-endian). */
export const CSW_OFFSET = {
  /** dCSWSignature, u32. */
  signature: 0,
  /** dCSWTag, u32: must equal the CBW's. */
  tag: 4,
  /** dCSWDataResidue, u32: expected minus processed. */
  residue: 8,
  /** bCSWStatus, u8. */
  status: 12,
} as const;

/** bCSWStatus values. */
export const CSW_STATUS = {
  /** Command passed. */
  PASSED: 0,
  /** Command failed: ask REQUEST SENSE. */
  FAILED: 1,
  /** Phase error: the host does Reset Recovery. */
  PHASE_ERROR: 2,
} as const;

/** bRequest of the class-specific requests on the control pipe (interface recipient, wIndex = interface). */
export const BOT_REQUEST = {
  /** Bulk-Only Mass Storage Reset: bmRequestType 0x21, wValue 0, wLength 0. */
  MASS_STORAGE_RESET: 0xff,
  /** Get Max LUN: bmRequestType 0xA1, wValue 0, wLength 1. */
  GET_MAX_LUN: 0xfe,
} as const;

/** bmRequestType of the class requests: class, interface recipient, by direction. */
export const BOT_REQUEST_TYPE = {
  /** Host to device (Mass Storage Reset). */
  OUT: 0x21,
  /** Device to host (Get Max LUN). */
  IN: 0xa1,
} as const;

/** The highest LUN Get Max LUN may report. */
export const BOT_MAX_LUN = 15;

/** USB interface class, subclass and protocol of a SCSI Bulk-Only mass-storage interface. */
export const BOT_INTERFACE = {
  /** bInterfaceClass: Mass Storage. */
  CLASS: 0x08,
  /** bInterfaceSubClass: SCSI transparent command set. */
  SUBCLASS_SCSI: 0x06,
  /** bInterfaceProtocol: Bulk-Only Transport. */
  PROTOCOL_BOT: 0x50,
} as const;

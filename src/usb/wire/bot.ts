/**
 * The Bulk-Only Transport 1.0 wire format, declared once: the CBW and CSW structures (field names, sizes and so
 * offsets, from one `buffer-layout` declaration each), signatures, flags, status values, class requests and the
 * interface codes. The host engine (src/bot), the software disk (src/mock), traces and replay (src/usb/trace,
 * src/mock/replay), the bare loop (tools/bench/bare-loop.ts) and the test hosts take their numbers from here.
 * They share the declarations only: each keeps its own logic for building and checking wrappers, so a bug in one
 * is caught by the others.
 */
import { blob, Struct, u8, u32 } from '../../util/layout.js';

/** dCBWSignature, "USBC" little-endian (BOT 1.0 §5.1). */
export const CBW_SIGNATURE = 0x43425355;
/** CBWCB holds up to 16 CDB bytes, zero padded. */
export const CBW_CB_LENGTH = 16;
/** bmCBWFlags bit 7: data-in (device to host); 0 = data-out or no data. */
export const CBW_FLAG_DATA_IN = 0x80;

/** The Command Block Wrapper (BOT 1.0 §5.1), all fields little-endian. */
export const CbwLayout = new Struct({
  /** dCBWSignature, `CBW_SIGNATURE`. */
  signature: u32,
  /** dCBWTag, echoed in the CSW. */
  tag: u32,
  /** dCBWDataTransferLength: bytes the host expects to move. */
  dataTransferLength: u32,
  /** bmCBWFlags (`CBW_FLAG_DATA_IN`). */
  flags: u8,
  /** bCBWLUN (bits 3:0). */
  lun: u8,
  /** bCBWCBLength (bits 4:0, 1..16). */
  cbLength: u8,
  /** CBWCB, the CDB zero padded to 16 bytes. */
  cb: blob(CBW_CB_LENGTH),
});

/** A CBW is exactly 31 bytes. */
export const CBW_LENGTH = CbwLayout.span;
/** Byte offsets of the CBW fields, from {@link CbwLayout}. */
export const CBW_OFFSET = CbwLayout.offsets;

/** dCSWSignature, "USBS" little-endian (BOT 1.0 §5.2). */
export const CSW_SIGNATURE = 0x53425355;

/** The Command Status Wrapper (BOT 1.0 §5.2), all fields little-endian. */
export const CswLayout = new Struct({
  /** dCSWSignature, `CSW_SIGNATURE`. */
  signature: u32,
  /** dCSWTag: must equal the CBW's. */
  tag: u32,
  /** dCSWDataResidue: expected minus processed. */
  dataResidue: u32,
  /** bCSWStatus (`CSW_STATUS`). */
  status: u8,
});

/** A CSW is exactly 13 bytes. */
export const CSW_LENGTH = CswLayout.span;
/** Byte offsets of the CSW fields, from {@link CswLayout}. */
export const CSW_OFFSET = CswLayout.offsets;

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

/**
 * USB Attached SCSI (T10 UAS-2; USB-IF UASP 1.0) on the wire, declared once: the information units (IUs) that
 * travel on the command and status pipes, their codes, and the Pipe Usage descriptor that names the four pipes.
 * The host transport (src/uas), the software disk's UAS function (src/mock/uas) and the trace layer (src/trace)
 * take their layouts and numbers from here; each keeps its own logic for building and checking IUs, so a bug in
 * one is caught by the others. Multi-byte IU fields are big-endian (SCSI byte order), unlike BOT's wrappers.
 * Only the layout wrapper is imported: any layer may use this module.
 */
import { Struct, blob, u16be, u24be, u8 } from '../../util/layout.js';

/** bInterfaceProtocol of a UAS alternate setting (class 08, subclass 06). */
export const UAS_INTERFACE_PROTOCOL = 0x62;

/** IU ID, the first byte of every IU. */
export const IU_ID = {
  /** Host to device on the command pipe: one SCSI command. */
  COMMAND: 0x01,
  /** Device to host on the status pipe: the status of a command, with its sense data. */
  SENSE: 0x03,
  /** Device to host on the status pipe: the answer to a task management function (or a refused IU). */
  RESPONSE: 0x04,
  /** Host to device on the command pipe: ABORT TASK, LOGICAL UNIT RESET ... */
  TASK_MANAGEMENT: 0x05,
  /** Device to host on the status pipe: the data-in phase of the tagged command may start now. */
  READ_READY: 0x06,
  /** Device to host on the status pipe: the data-out phase of the tagged command may start now. */
  WRITE_READY: 0x07,
} as const;

/** The four bytes every IU starts with. The tag (1..0xFFFF) names the command or task management function. */
export const IuHeader = new Struct({ iuId: u8, reserved: u8, tag: u16be });

/** READ READY and WRITE READY are the bare header. */
export const READY_IU_LENGTH = IuHeader.span;

/**
 * COMMAND IU: 32 bytes for a CDB of up to 16 bytes (a longer CDB continues after byte 32, `additionalCdbLength`
 * dwords of it; usbms sends at most 16). `lun` is the 8-byte SAM LUN: single-level addressing puts LUN n < 256 in
 * byte 1 (byte 0 = 0), as Linux's int_to_scsilun does and QEMU's usb-uas reads it.
 */
export const CommandIu = new Struct({
  iuId: u8, reserved: u8, tag: u16be,
  /** Bits 6:3 command priority, 2:0 task attribute ({@link TASK_ATTRIBUTE}). */
  priorityAttribute: u8,
  reserved2: u8,
  /** Bits 7:2: additional CDB length in dwords (0 for CDBs up to 16 bytes). */
  additionalCdbLength: u8,
  reserved3: u8,
  lun: blob(8),
  cdb: blob(16),
});

/** Task attribute values (SAM-5): bits 2:0 of priorityAttribute. */
export const TASK_ATTRIBUTE = { SIMPLE: 0, HEAD_OF_QUEUE: 1, ORDERED: 2, ACA: 4 } as const;

/**
 * SENSE IU: 16 bytes of header, then `senseLength` bytes of sense data. Ends a command: `status` is the SCSI
 * status byte (GOOD, CHECK CONDITION, BUSY, TASK SET FULL ...).
 */
export const SenseIu = new Struct({
  iuId: u8, reserved: u8, tag: u16be,
  statusQualifier: u16be,
  status: u8,
  reserved2: blob(7),
  senseLength: u16be,
});

/** Most sense data a SENSE IU can carry (SPC: 252 bytes). */
export const MAX_SENSE_DATA = 252;

/** RESPONSE IU: 8 bytes. Answers a task management function, or refuses an IU the device could not take. */
export const ResponseIu = new Struct({
  iuId: u8, reserved: u8, tag: u16be,
  additionalInfo: u24be,
  responseCode: u8,
});

/** Response codes of a RESPONSE IU (UAS-2 table 17). */
export const RESPONSE_CODE = {
  /** The task management function completed (QEMU's usb-uas answers this one). */
  TMF_COMPLETE: 0x00,
  /** The IU was malformed (bad length, unknown IU ID, invalid tag). */
  INVALID_IU: 0x02,
  /** The device does not implement this task management function. */
  TMF_NOT_SUPPORTED: 0x04,
  /** The task management function failed. */
  TMF_FAILED: 0x05,
  /** The task management function succeeded. */
  TMF_SUCCEEDED: 0x08,
  /** The LUN of the IU does not exist. */
  INCORRECT_LUN: 0x09,
  /** The tag is already in use by a command or task management function in the task set. */
  OVERLAPPED_TAG: 0x0a,
} as const;

/** TASK MANAGEMENT IU: 16 bytes. `managedTag` names the task of ABORT TASK and QUERY TASK. */
export const TaskManagementIu = new Struct({
  iuId: u8, reserved: u8, tag: u16be,
  function: u8,
  reserved2: u8,
  managedTag: u16be,
  lun: blob(8),
});

/** Task management functions (UAS-2 table 15, SAM-5). */
export const TMF = {
  ABORT_TASK: 0x01,
  ABORT_TASK_SET: 0x02,
  CLEAR_TASK_SET: 0x04,
  LOGICAL_UNIT_RESET: 0x08,
  I_T_NEXUS_RESET: 0x10,
  CLEAR_ACA: 0x40,
  QUERY_TASK: 0x80,
  QUERY_TASK_SET: 0x81,
  QUERY_ASYNC_EVENT: 0x82,
} as const;

/**
 * Pipe Usage class-specific descriptor (UAS-2 §5.3.3.2), one among each endpoint's extra descriptors:
 * `04 24 ID 00`.
 */
export const PipeUsageDescriptor = new Struct({ bLength: u8, bDescriptorType: u8, bPipeId: u8, reserved: u8 });

/** bDescriptorType of a Pipe Usage descriptor. */
export const PIPE_USAGE_DESCRIPTOR_TYPE = 0x24;

/** bPipeID values: what each of the four bulk pipes carries. */
export const PIPE_ID = { COMMAND: 1, STATUS: 2, DATA_IN: 3, DATA_OUT: 4 } as const;

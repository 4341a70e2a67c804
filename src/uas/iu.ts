/**
 * The host's side of the IUs: encoding COMMAND and TASK MANAGEMENT IUs into buffers the transport owns (field by
 * field at the offsets the declarations give: no allocation per command), and reading the status pipe's IUs.
 * The layouts are src/usb/wire/uas.ts's; the software disk keeps its own code for the same bytes.
 */
import { CommandIu, IU_ID, IuHeader, ResponseIu, SenseIu, TASK_ATTRIBUTE, TaskManagementIu } from '../usb/wire/uas.js';

const C = CommandIu.offsets;
const T = TaskManagementIu.offsets;
const S = SenseIu.offsets;
const R = ResponseIu.offsets;
const H = IuHeader.offsets;

/** The 8-byte SAM LUN at `at`: single-level addressing (LUN < 256 in byte 1) or flat (01b in bits 7:6), as Linux. */
function writeLun(buf: Buffer, at: number, lun: number): void {
  buf.fill(0, at, at + 8);
  buf[at] = lun < 256 ? 0 : 0x40 | ((lun >> 8) & 0x3f);
  buf[at + 1] = lun & 0xff;
}

/** A COMMAND IU with a SIMPLE task attribute and a CDB of up to 16 bytes (zero padded) into `buf` (32 bytes). */
export function encodeCommandIu(buf: Buffer, tag: number, lun: number, cdb: Uint8Array, cdbLength: number): number {
  buf[C.iuId] = IU_ID.COMMAND;
  buf[C.reserved] = 0;
  buf.writeUInt16BE(tag, C.tag);
  buf[C.priorityAttribute] = TASK_ATTRIBUTE.SIMPLE;
  buf[C.reserved2] = 0;
  buf[C.additionalCdbLength] = 0;
  buf[C.reserved3] = 0;
  writeLun(buf, C.lun, lun);
  for (let i = 0; i < 16; i++) buf[C.cdb + i] = i < cdbLength ? (cdb[i] ?? 0) : 0;
  return CommandIu.span;
}

/** A TASK MANAGEMENT IU into `buf` (16 bytes). */
export function encodeTmfIu(buf: Buffer, tag: number, fn: number, managedTag: number, lun: number): number {
  buf[T.iuId] = IU_ID.TASK_MANAGEMENT;
  buf[T.reserved] = 0;
  buf.writeUInt16BE(tag, T.tag);
  buf[T.function] = fn;
  buf[T.reserved2] = 0;
  buf.writeUInt16BE(managedTag, T.managedTag);
  writeLun(buf, T.lun, lun);
  return TaskManagementIu.span;
}

/** Bytes an IU needs to name its kind and tag. */
export const IU_HEADER_LENGTH = IuHeader.span;
/** The IU ID of a status-pipe IU (at least IU_HEADER_LENGTH bytes). */
export function iuId(buf: Buffer): number { return buf[H.iuId] ?? 0; }
/** The tag of a status-pipe IU (at least IU_HEADER_LENGTH bytes). */
export function iuTag(buf: Buffer): number { return buf.readUInt16BE(H.tag); }

export const SENSE_IU_HEADER = SenseIu.span;
export const RESPONSE_IU_LENGTH = ResponseIu.span;

export function senseStatus(buf: Buffer): number { return buf[S.status] ?? 0; }
export function senseLengthField(buf: Buffer): number { return buf.readUInt16BE(S.senseLength); }
export function responseCode(buf: Buffer): number { return buf[R.responseCode] ?? 0; }

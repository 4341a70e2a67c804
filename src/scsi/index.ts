/**
 * usbms SCSI layer: pure codecs for CDBs, data-in payloads and sense data (SPC-5, SBC-4). No I/O.
 *
 * Each command is one CommandSpec (see spec.ts) declared as a field table; `commands.read10.encodeCdb(...)`,
 * `.decodeCdb(cdb)`, `.dataLength(p, blockSize)`, `.decodeData(buf, len)` and `.encodeData(value)` all come
 * from it. LBAs are BigInt everywhere; values that do not fit a field throw ScsiParamError (code
 * ARG_INVALID, reason 'SCSI_PARAM_RANGE'), never truncate. Device payloads that cannot be trusted throw ScsiDataError; sense
 * decoding never throws.
 */
export { ScsiDataError, ScsiParamError, type ScsiDataErrorCode, type ScsiParamErrorCode } from './errors.js';
export { BitLayout, type FieldDef, type FieldValue } from './fields.js';
export { defineCommand, type CommandSpec, type ControlParam, type DataCommandSpec, type Direction } from './spec.js';
export { commandByOpcode, commands, describeCdb, type AnyCommandSpec } from './commands.js';

export type { BlockCommandSpec, RW6Params, ReadParams, VerifyParams, WriteParams } from './rw.js';
export { writeBlockCdb } from './rw.js';
export {
  decodeUnmapList, encodeUnmapList, UNMAP_DESCRIPTOR_LENGTH, UNMAP_HEADER_LENGTH,
  type UnmapDescriptor, type UnmapParams, type WriteSameParams,
} from './provisioning.js';
export {
  decodeReportLuns, encodeReportLuns,
  type PreventAllowParams, type ReportLunsData, type ReportLunsParams, type ReportedLun, type RequestSenseParams,
  type StartStopUnitParams, type SynchronizeCacheParams, type TestUnitReadyParams,
} from './misc.js';
export {
  decodeReadFormatCapacities, encodeReadFormatCapacities, READ_CAPACITY16_DATA_LENGTH,
  type CapacityDescriptorType, type ReadCapacity10Data, type ReadCapacity10Params, type ReadCapacity16Data,
  type ReadCapacity16Params, type ReadFormatCapacitiesData, type ReadFormatCapacitiesParams,
} from './capacity.js';
export {
  decodeStandardInquiry, encodeStandardInquiry, PERIPHERAL_DEVICE_TYPES, STANDARD_INQUIRY_LENGTH,
  type InquiryParams, type StandardInquiryData,
} from './inquiry.js';
export {
  decodeVpdPage, encodeVpdPage,
  type BlockDeviceCharacteristics, type BlockLimits, type Designator, type LogicalBlockProvisioning, type VpdPage,
} from './vpd.js';
export {
  ALL_PAGES, CACHING_PAGE, cachingPage, decodeModeSense10, decodeModeSense6,
  type BlockDescriptor, type CachingPage, type ModePage, type ModeParameterData, type ModeSense10Params,
  type ModeSense6Params, type PageControl,
} from './mode-sense.js';
export { ascDescription, SENSE_KEY_NAMES, SenseKey, senseKeyName } from './asc.js';
export {
  decodeSense, decodeSenseKeySpecific, formatSense, type SenseData, type SenseDescriptor, type SenseKeySpecific,
} from './sense.js';
export { encodeDescriptorSense, encodeFixedSense, type SenseInput } from './sense-encode.js';
export { ExitStatus, exitStatusForSense, exitStatusForStatus, ScsiStatus, statusName } from './status.js';

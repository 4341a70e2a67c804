/** The disk target driver (src/disk): a block device on the SCSA entry points. */
export { Disk } from './disk.js';
export type { DiskOpenOptions, DiskQuirks } from './disk.js';
export type { RawOptions, RawResult } from './unit-commands.js';
export type { Capacity, InquiryInfo } from './identify.js';
export type { Provisioning } from './provisioning.js';
export type { RetryPolicy } from './retry.js';
export * from './errors.js';
export { decodeDiskSense, SENSE_KEY } from './sense.js';
export { readPartitionTable, formatGuid } from './partitions.js';
export type { Partition, PartitionTable, BlockReader } from './partitions.js';
export { createDiskReadStream, createDiskWriteStream, defaultChunkBlocks, forEachChunk } from './streams.js';
export type { BlockDevice, DiskReadStreamOptions, DiskWriteStreamOptions } from './streams.js';
export { forEachWrite, type WriteRange } from './write-chunks.js';

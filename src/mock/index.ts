/**
 * The software USB disk: a USB Bulk-Only mass-storage device with a SCSI block target behind it, fault
 * injection, and a {@link MockUsbPort} that implements the same `UsbPort` contract as the libusb port.
 *
 * ```ts
 * const dev = new MockUsbDevice({ luns: [{ blocks: 131072 }] });
 * const port = dev.open();            // hand this to the BOT engine
 * dev.faults.inject({ match: { opcode: 0x28 }, fault: { kind: 'stall', phase: 'data' } });
 * ```
 *
 * @packageDocumentation
 * @module usbms/mock
 */
export type {
  MediaStore, MockBlockSize, MockLunOptions, MockProvisioning, MockDeviceOptions, MockDeviceQuirks, Fault, FaultKind, FaultPhase,
  FaultRule, RandomFaultOptions, DeviceEvent, PersonalityName, MockDeviceStats,
} from './types.js';
export { MemoryMedia, FileMedia, WrappingMedia } from './media.js';
export { CachingMedia } from './cache-media.js';
export type { CachingMediaOptions } from './cache-media.js';
export type { FileMediaOptions } from './media.js';
export { FaultController } from './faults.js';
export { MockLun } from './lun.js';
export { MockUsbDevice } from './device.js';
export { MockUsbPort } from './port.js';
export { createPersonality, PERSONALITY_IDS, PERSONALITY_QUIRKS } from './personalities.js';
export type { PersonalityOptions } from './personalities.js';
export { createDemoDisk, DEMO_LAYOUT } from './demo.js';
export { MockBackend, type MockBackendOptions } from './backend.js';
export { MockHub, type MockHubOptions } from './hub.js';
export { WedgeController, WedgeConfigError } from './wedge.js';
export type { HangArea, DropOut, WedgeReset } from './wedge.js';
export { applyWedgeSpec } from './wedge-spec.js';
// A recorded device (a usbmon/usbms pcap) replayed behind the same port: src/mock/replay.
export { ReplayUsbDevice, replayDivergenceOf, type ReplayStats } from './replay/device.js';
export { ReplayDivergenceError } from './replay/errors.js';

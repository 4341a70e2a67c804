/**
 * The keys of the software disk's options types, one list each, checked against the interfaces by the compiler
 * (src/util/options.ts): MockUsbDevice, its LUNs and quirks, fault rules and faults, hang areas and drop-outs.
 * An unknown key in any of them (from a program or a `--mock=DEVICE.json`) is refused, never ignored.
 */
import type { KnownKeys } from '../util/options.js';
import type {
  Fault, FaultKind, FaultRule, MockDeviceOptions, MockDeviceQuirks, MockLunOptions, MockUasOptions, RandomFaultOptions,
} from './types.js';

export const MOCK_DEVICE_KEYS = {
  vendorId: true, productId: true, serialNumber: true, manufacturer: true, product: true, speed: true,
  maxPacketSize: true, luns: true, getMaxLunStalls: true, seed: true, latencyMs: true, shortDataPolicy: true,
  powerOnUnitAttention: true, quirks: true, hostQuirks: true, logLimit: true, transports: true, uas: true, uasScsi: true,
} as const satisfies KnownKeys<MockDeviceOptions>;

export const MOCK_UAS_KEYS = { queueDepth: true, order: true, itNexusReset: true, tmfAnswer: true } as const satisfies KnownKeys<MockUasOptions>;

export const MOCK_DEVICE_QUIRK_KEYS = {
  residue: true, maxSectors: true, noReadCapacity16: true, capacityOffByOne: true, ghostLuns: true,
  commandDelayMs: true, padVpdToAllocation: true, senseOnLun0Only: true,
} as const satisfies KnownKeys<MockDeviceQuirks>;

export const MOCK_LUN_KEYS = {
  blocks: true, blockSize: true, media: true, removable: true, writeProtected: true, present: true, vendor: true,
  product: true, revision: true, serial: true, deviceType: true, dpofua: true, provisioning: true,
} as const satisfies KnownKeys<MockLunOptions>;

export const FAULT_RULE_KEYS = { match: true, times: true, fault: true } as const satisfies KnownKeys<FaultRule>;
export const FAULT_MATCH_KEYS = { opcode: true, lun: true, nth: true } as const satisfies KnownKeys<NonNullable<FaultRule['match']>>;
export const RANDOM_FAULT_KEYS = { seed: true, probability: true, kinds: true } as const satisfies KnownKeys<RandomFaultOptions>;

/** Every fault kind with the keys of its fault object. */
export const FAULT_KEYS: { readonly [K in FaultKind]: KnownKeys<Extract<Fault, { kind: K }>> } = {
  'stall': { kind: true, phase: true, afterBytes: true },
  'no-response': { kind: true, phase: true },
  'short-data': { kind: true, bytes: true },
  'babble': { kind: true, extraBytes: true },
  'csw-signature': { kind: true },
  'csw-tag': { kind: true },
  'csw-length': { kind: true, length: true },
  'csw-status': { kind: true, status: true },
  'csw-residue': { kind: true, residue: true },
  'lost-csw': { kind: true },
  'phase-error': { kind: true },
  'delay': { kind: true, phase: true, ms: true },
  'disconnect': { kind: true, phase: true, afterBytes: true },
  'no-sense-corrupt': { kind: true },
  'medium-error': { kind: true, lbas: true },
  'capacity-off-by-one': { kind: true },
  'get-max-lun-stall': { kind: true },
};


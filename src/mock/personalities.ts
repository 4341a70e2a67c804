/**
 * Quirky devices: each personality has the misbehaviour that a Linux unusual_devs entry or a scsa2usb
 * blacklist entry exists for, and its own VID:PID (VID 0xF055, not assigned to any vendor). The quirk a host needs
 * for it is not in the production quirks table: the device carries it (`hostQuirks`), in the override syntax a
 * user gives `--quirks`, and whoever opens it registers it as an override (src/open.ts, MockBackend).
 */
import { vidPid } from '../util/hex.js';
import { CachingMedia } from './cache-media.js';
import { MemoryMedia, WrappingMedia } from './media.js';
import { MockUsbDevice } from './device.js';
import type { MockDeviceOptions, MockLunOptions, PersonalityName } from './types.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';
import { MOCK_DEVICE_KEYS } from './option-keys.js';

export const PERSONALITY_VENDOR_ID = 0xf055;

/** VID:PID of each personality. */
export const PERSONALITY_IDS: Readonly<Record<PersonalityName, { vendorId: number; productId: number }>> = {
  'good': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b00 },
  'ignore-residue': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b01 },
  'fix-capacity': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b02 },
  'no-get-max-lun': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b03 },
  'single-lun': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b04 },
  'max-sectors-64': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b05 },
  'no-read-capacity-16': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b06 },
  'slow': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b07 },
  'counterfeit': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b08 },
  'multi-lun': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b09 },
  'cached-counterfeit': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b0a },
  'uas-enclosure': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b10 },
  'uas-only': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b11 },
  'uas-small-queue': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b12 },
  'uas-broken': { vendorId: PERSONALITY_VENDOR_ID, productId: 0x5b13 },
};

/**
 * The quirk each misbehaving personality needs, as the flags a user would give `--quirks VID:PID:FLAGS` for the
 * product it imitates (src/quirks/table.ts declares them).
 */
export const PERSONALITY_QUIRKS: Readonly<Partial<Record<PersonalityName, string>>> = {
  'ignore-residue': 'IGNORE_RESIDUE', // reports dCBWDataTransferLength as residue on every command
  'fix-capacity': 'FIX_CAPACITY', // READ CAPACITY returns the block count instead of the last LBA
  'no-get-max-lun': 'NO_GET_MAX_LUN', // stalls Get Max LUN
  'single-lun': 'SINGLE_LUN', // claims a second LUN that mirrors LUN 0
  'max-sectors-64': 'MAX_SECTORS_64', // phase error on READ/WRITE over 64 blocks
  'no-read-capacity-16': 'NO_READ_CAPACITY_16', // stalls and answers phase error to READ CAPACITY(16)
  'slow': 'GO_SLOW', // 20 ms per command plus transfer latency
  'uas-broken': 'IGNORE_UAS', // its UAS never answers a READ: Bulk-Only works (Linux's unusual_uas.h letter u)
};

/** Options of createPersonality: the device's own, and the sizes and delays some personalities take. */
export interface PersonalityOptions extends MockDeviceOptions {
  /** counterfeit, cached-counterfeit: the real capacity in bytes (default 16 MiB); it claims four times that. */
  realBytes?: number;
  /** cached-counterfeit: blocks its controller answers from RAM until a reset or power loss (default 1024). */
  cacheBlocks?: number;
  /** slow: per-command delay in ms (default 20) and per-transfer latency (default 2). */
  commandDelayMs?: number;
}

/** The keys of PersonalityOptions (src/util/options.ts). */
export const PERSONALITY_KEYS = {
  ...MOCK_DEVICE_KEYS, realBytes: true, cacheBlocks: true, commandDelayMs: true,
} as const satisfies KnownKeys<PersonalityOptions>;

const MIB = 1024 * 1024;

function disk(blocks: number, product: string): MockLunOptions {
  return { blocks, vendor: 'USBMS', product };
}

/** A software device that behaves like a known kind of real one (a counterfeit stick, a phase-error bridge ...). */
export function createPersonality(name: PersonalityName, opts: PersonalityOptions = {}): MockUsbDevice {
  rejectUnknownKeys(opts, PERSONALITY_KEYS, 'createPersonality options');
  const { realBytes, commandDelayMs, cacheBlocks, ...rest } = opts;
  const id = PERSONALITY_IDS[name];
  const flags = PERSONALITY_QUIRKS[name];
  const base: MockDeviceOptions = {
    ...id,
    product: `usbms ${name}`,
    serialNumber: `USBMS-${name.toUpperCase()}`,
    ...(flags === undefined ? {} : { hostQuirks: `${vidPid(id.vendorId, id.productId)}:${flags}` }),
  };
  const blocks64M = (64 * MIB) / 512;
  let own: MockDeviceOptions;
  switch (name) {
    case 'good': own = { luns: [disk(blocks64M, 'Good Disk')] }; break;
    case 'ignore-residue': own = { luns: [disk(blocks64M, 'Residue Liar')], quirks: { residue: 'garbage' } }; break;
    case 'fix-capacity': own = { luns: [disk(blocks64M, 'Capacity +1')], quirks: { capacityOffByOne: true } }; break;
    case 'no-get-max-lun': own = { luns: [disk(blocks64M, 'No Max LUN')], getMaxLunStalls: true }; break;
    case 'single-lun': own = { luns: [disk(blocks64M, 'Ghost LUN')], quirks: { ghostLuns: 1 } }; break;
    case 'max-sectors-64': own = { luns: [disk(blocks64M, 'Max 64 Sectors')], quirks: { maxSectors: 64 } }; break;
    case 'no-read-capacity-16': own = { luns: [disk(blocks64M, 'No RC16')], quirks: { noReadCapacity16: true } }; break;
    case 'slow':
      own = { luns: [disk(blocks64M, 'Slow Disk')], latencyMs: 2, quirks: { commandDelayMs: commandDelayMs ?? 20 } };
      break;
    case 'counterfeit': {
      const real = realBytes ?? 16 * MIB;
      const claimed = real * 4;
      own = { luns: [{ ...disk(claimed / 512, 'Huge Cheap Drive'), media: new WrappingMedia(new MemoryMedia(real), claimed) }] };
      break;
    }
    case 'cached-counterfeit': {
      // The counterfeit above, behind a RAM cache of the last blocks written: only a reset between writing and
      // reading back shows the wrap-around.
      const real = realBytes ?? 16 * MIB;
      const claimed = real * 4;
      const media = new CachingMedia(new WrappingMedia(new MemoryMedia(real), claimed), { cacheBlocks: cacheBlocks ?? 1024 });
      own = { luns: [{ ...disk(claimed / 512, 'Cached Cheap Drive'), media }] };
      break;
    }
    // UAS devices (docs/uas.md). At high speed (their default) UAS runs; at SuperSpeed the Bulk-Only setting.
    case 'uas-enclosure':
      // A USB 3 SSD enclosure: Bulk-Only (setting 0) and UAS (setting 1), 32 commands in its task set, TMF
      // SUCCEEDED, I_T NEXUS RESET, data phases announced in its own order.
      own = { luns: [disk(blocks64M, 'UAS Enclosure')], transports: 'bot+uas',
        uas: { queueDepth: 32, order: 'random', itNexusReset: true, tmfAnswer: 'succeeded' } };
      break;
    case 'uas-only':
      // What QEMU's usb-uas is: one setting, UAS; TMF COMPLETE, no I_T NEXUS RESET.
      own = { luns: [disk(blocks64M, 'UAS Only')], transports: 'uas', uas: { queueDepth: 32 } };
      break;
    case 'uas-small-queue':
      // A bridge with a task set of 4: the fifth command in flight is answered TASK SET FULL, which the disk driver
      // retries.
      own = { luns: [disk(blocks64M, 'UAS Small Queue')], transports: 'bot+uas', uas: { queueDepth: 4, order: 'lifo' } };
      break;
    case 'uas-broken':
      // A bridge whose UAS firmware is broken (Linux keeps such bridges on usb-storage with the letter u): taken
      // READs never get their status. The device carries IGNORE_UAS, so it is opened over Bulk-Only.
      own = { luns: [disk(blocks64M, 'UAS Broken')], transports: 'bot+uas' };
      break;
    case 'multi-lun':
      own = {
        luns: [
          disk(blocks64M, 'Combo Disk'),
          { blocks: (32 * MIB) / 2048, blockSize: 2048, deviceType: 5, removable: true, writeProtected: true, product: 'Combo CD-ROM' },
        ],
      };
      break;
  }
  const dev = new MockUsbDevice({ ...base, ...own, ...rest, quirks: { ...own.quirks, ...rest.quirks } });
  if (name === 'uas-broken') dev.uasFaults.inject({ match: { opcode: 0x28 }, times: Number.MAX_SAFE_INTEGER, fault: { kind: 'no-status' } });
  return dev;
}

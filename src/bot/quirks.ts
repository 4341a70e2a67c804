/**
 * Device quirks as data: a table of VID:PID (+ optional bcdDevice range) -> named flags, each entry saying why,
 * plus user overrides in the style of Linux `usb-storage.quirks=VID:PID:flags`. The engine reads the transport
 * flags; the SCSI-level flags (FIX_CAPACITY, NO_READ_CAPACITY_16, NO_SYNCHRONIZE_CACHE) are only carried, for
 * the HBA and the disk driver to read from `transport.quirks`.
 */
import type { UsbSpeed } from '../usb/port.js';
import { logger } from '../util/log.js';
import { UsbmsArgumentError } from '../util/errors.js';

const log = logger('quirks');

/** Every quirk flag the engine and the disk driver know, as in Linux usb-storage (see the README for each). */
export const QUIRK_FLAGS = [
  'IGNORE_RESIDUE', // dCSWDataResidue is garbage: use only what the host counted
  'MAX_SECTORS_64', // the bridge fails commands over 64 sectors: cap a command at 32 KiB
  'MAX_TRANSFER_BYTES', // cap a command at n bytes (MAX_TRANSFER_BYTES=n)
  'SINGLE_LUN', // only LUN 0 exists or works: do not ask Get Max LUN, use 0
  'NO_GET_MAX_LUN', // Get Max LUN hangs or crashes the device: do not send it
  'FIX_CAPACITY', // READ CAPACITY reports the number of blocks, not the last LBA (SCSI layer subtracts one)
  'NO_READ_CAPACITY_16', // READ CAPACITY(16) confuses the device (SCSI layer uses only (10))
  'GO_SLOW', // slow bridge: four times longer CBW/data/CSW timeouts
  'RESET_DELAY', // wait after Mass Storage Reset before clearing halts (RESET_DELAY=ms, default 100)
  'NO_SYNCHRONIZE_CACHE', // SYNCHRONIZE CACHE fails or hangs (disk layer skips it)
  'NO_CSW_PIPELINING', // the CSW read only after the data, data-IN one transfer at a time (QEMU xHCI loses it)
  'QUEUED_CSW_OUT_MAX', // ... except that a data-OUT of at most n bytes keeps its CSW read queued (=n; QEMU xHCI)
  'NO_EARLY_IN', // an IN only when the device is due to send: data-IN after the CBW, CSW after the CBW and data-OUT
  'NO_EARLY_DATA_OUT', // submit the data-OUT only once the CBW is through (else queued right behind it)
  'SENSE_LUN0_ONLY', // REQUEST SENSE on LUN >= 1 answers for the target, not the LUN (HBA: sense unavailable)
] as const;
/** One of QUIRK_FLAGS. */
export type QuirkFlag = (typeof QUIRK_FLAGS)[number];

/** Resolved quirks of one device, as the layers read them. */
export interface Quirks {
  readonly flags: readonly QuirkFlag[];
  readonly ignoreResidue: boolean;
  readonly singleLun: boolean;
  readonly noGetMaxLun: boolean;
  readonly fixCapacity: boolean;
  readonly noReadCapacity16: boolean;
  readonly goSlow: boolean;
  readonly noSynchronizeCache: boolean;
  readonly noCswPipelining: boolean;
  /**
   * With noCswPipelining: a data-OUT command of at most this many bytes still has its CSW read queued with the
   * CBW and the data (0 = none). QEMU's usb-storage takes up to 128 KiB of OUT data the moment it arrives (its
   * SCSI layer's buffer), so behind xHCI, which hands the device each transfer as it is submitted, all of a small
   * WRITE's data is in before the CSW read gets there; a larger one is still due, and the read is stalled.
   */
  readonly queuedCswOutMax: number;
  /**
   * Submit an IN transfer only when the device is due to answer it: the data-IN once the CBW is through, the CSW
   * read once the CBW and any data-OUT are (else both go on the wire with the CBW).
   */
  readonly noEarlyIn: boolean;
  /** Never queue the data-OUT behind a CBW still in flight. */
  readonly noEarlyDataOut: boolean;
  /** Sense from REQUEST SENSE on LUN >= 1 is not that LUN's (5/25/00 instead): report it unavailable. */
  readonly senseLun0Only: boolean;
  /** Cap on bytes per command from MAX_SECTORS_64 / MAX_TRANSFER_BYTES; undefined = no quirk cap. */
  readonly maxTransferBytes: number | undefined;
  /** Pause after Mass Storage Reset (0 unless RESET_DELAY). */
  readonly resetDelayMs: number;
  /** Where the flags came from. */
  readonly source: 'none' | 'table' | 'override';
}

/** One row of the quirks table: a VID:PID (and bcdDevice range), its flags and why. */
export interface QuirkEntry {
  readonly vendorId: number;
  readonly productId: number;
  /** Inclusive bcdDevice range; absent = every revision. */
  readonly bcd?: readonly [number, number];
  /**
   * Only at these bus speeds (the same emulated stick behaves differently behind QEMU's xHCI and its EHCI);
   * absent = any speed. An unknown speed matches every speed-limited entry (the safe side).
   */
  readonly speeds?: readonly UsbSpeed[];
  /** Flag names, parameterised ones as NAME=value. */
  readonly quirks: readonly string[];
  readonly why: string;
}

/** Bytes per command under MAX_SECTORS_64: 64 blocks of 512 bytes. */
export const MAX_SECTORS_64_BYTES = 64 * 512;
const DEFAULT_RESET_DELAY_MS = 100;

/** Known devices. Linux entries are from drivers/usb/storage/unusual_devs.h (bcd ranges as there). */
export const QUIRK_TABLE: readonly QuirkEntry[] = [
  { vendorId: 0x46f4, productId: 0x0001, quirks: ['SENSE_LUN0_ONLY'],
    why: 'QEMU usb-storage/usb-bot: REQUEST SENSE on LUN >= 1 with sense pending is routed to the SCSI target, '
      + 'which answers LOGICAL UNIT NOT SUPPORTED (5/25/00) instead of the LUN\'s sense (lab README quirk 4)' },
  { vendorId: 0x46f4, productId: 0x0001, speeds: ['super', 'super-plus'], quirks: ['NO_CSW_PIPELINING'],
    why: 'QEMU usb-storage behind qemu-xhci (SuperSpeed): a CSW read queued while a 1 MiB data read is pending '
      + 'never completes, and one queued while a 1 MiB data-OUT is still due is stalled (bench-lab fastpath; lab '
      + 'README quirk 2), so data-IN segments go one at a time and the CSW is read only after the data. The '
      + 'data submitted with the CBW is taken, in and out, at every size tried (4 KiB .. 1 MiB). Through USB/IP '
      + '(usbip-host replays the URBs on the exporting host\'s xHCI) the same modes fail and the same are taken '
      + '(bench-lab usbip, docs/rigs-usbip.md): the entry holds for the stick attached through vhci too' },
  { vendorId: 0x46f4, productId: 0x0001, speeds: ['super', 'super-plus'], quirks: ['QUEUED_CSW_OUT_MAX=122880'],
    why: 'QEMU usb-storage behind qemu-xhci: CBW, data-OUT and CSW read submitted together are taken at 4 KiB and '
      + '120 KiB in all seven bench-lab fastpath runs (2026-12-01) and stalled at 1 MiB in all seven: its SCSI layer '
      + 'takes 128 KiB of OUT data at once (hw/scsi/scsi-disk.c SCSI_DMA_BUF_SIZE), and an IN that arrives while '
      + 'OUT data is still due is stalled (hw/usb/dev-storage.c). 120 KiB is the largest size measured' },
  { vendorId: 0x46f4, productId: 0x0001, speeds: ['high', 'full', 'low'], quirks: ['NO_EARLY_IN', 'NO_CSW_PIPELINING'],
    why: 'QEMU usb-storage behind EHCI/UHCI: an IN that arrives before the device is due to send is answered '
      + 'with a STALL: a data-IN submitted with the CBW, and a CSW read queued while data-OUT is still due, at every '
      + 'size tried (4 KiB .. 1 MiB; facts 5, bench-lab fastpath). A data-OUT queued behind the CBW is taken. A CSW '
      + 'read queued behind the data-IN is taken too, but from the third session of a process on it made 4 KiB '
      + 'READs take 0.6-1.5 s each (four sessions, EHCI guest; 20-29 ms with NO_CSW_PIPELINING)' },
  // The software device's personalities (src/mock/personalities.ts, VID 0xF055): each misbehaves like a real
  // product, and needs its quirk for the same reason that product does.
  { vendorId: 0xf055, productId: 0x5b01, quirks: ['IGNORE_RESIDUE'],
    why: 'mock "ignore-residue": reports dCBWDataTransferLength as residue on every command' },
  { vendorId: 0xf055, productId: 0x5b02, quirks: ['FIX_CAPACITY'],
    why: 'mock "fix-capacity": READ CAPACITY returns the block count instead of the last LBA' },
  { vendorId: 0xf055, productId: 0x5b03, quirks: ['NO_GET_MAX_LUN'],
    why: 'mock "no-get-max-lun": stalls Get Max LUN' },
  { vendorId: 0xf055, productId: 0x5b04, quirks: ['SINGLE_LUN'],
    why: 'mock "single-lun": claims a second LUN that mirrors LUN 0' },
  { vendorId: 0xf055, productId: 0x5b05, quirks: ['MAX_SECTORS_64'],
    why: 'mock "max-sectors-64": phase error on READ/WRITE over 64 blocks' },
  { vendorId: 0xf055, productId: 0x5b06, quirks: ['NO_READ_CAPACITY_16'],
    why: 'mock "no-read-capacity-16": stalls and answers phase error to READ CAPACITY(16)' },
  { vendorId: 0xf055, productId: 0x5b07, quirks: ['GO_SLOW'],
    why: 'mock "slow": 20 ms per command plus transfer latency' },
  { vendorId: 0x03eb, productId: 0x2002, bcd: [0x0100, 0x0100], quirks: ['IGNORE_RESIDUE'],
    why: 'ATMEL SND1 Storage: reports bogus residue (unusual_devs.h)' },
  { vendorId: 0x03ee, productId: 0x6901, bcd: [0x0000, 0x0200], quirks: ['SINGLE_LUN'],
    why: 'Mitsumi USB FDD: only LUN 0 answers (unusual_devs.h)' },
  { vendorId: 0x0409, productId: 0x0040, quirks: ['SINGLE_LUN'],
    why: 'NEC USB UF000x floppies need single-LUN enforcement (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x0019, bcd: [0x0592, 0x0592], quirks: ['MAX_SECTORS_64'],
    why: 'Nokia 6288: fails transfers over 64 sectors (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x047c, bcd: [0x0370, 0x0610], quirks: ['MAX_SECTORS_64'],
    why: 'Nokia 6131: fails transfers over 64 sectors (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x005d, bcd: [0x0001, 0x0600], quirks: ['FIX_CAPACITY'],
    why: 'Nokia 3110c: READ CAPACITY returns the block count instead of the last LBA (unusual_devs.h)' },
  { vendorId: 0x0421, productId: 0x0433, bcd: [0x0100, 0x0100], quirks: ['IGNORE_RESIDUE', 'FIX_CAPACITY'],
    why: 'Nokia E70: bogus residue and off-by-one capacity (unusual_devs.h)' },
  { vendorId: 0x0424, productId: 0x0fdc, bcd: [0x0210, 0x0210], quirks: ['SINGLE_LUN'],
    why: 'SMSC FDC GOLD-2.30: only LUN 0 answers (unusual_devs.h)' },
  { vendorId: 0x04b0, productId: 0x0405, bcd: [0x0100, 0x0100], quirks: ['FIX_CAPACITY'],
    why: 'Nikon DSC D70: off-by-one capacity (unusual_devs.h)' },
];

/** A quirk override string that cannot be parsed: a caller's mistake (code ARG_INVALID). */
export class QuirkParseError extends UsbmsArgumentError {
  override readonly name = 'QuirkParseError';
}

/** One user override: replaces the table's flags for that VID:PID (like Linux usb-storage.quirks). */
export interface QuirkOverride {
  readonly vendorId: number;
  readonly productId: number;
  readonly quirks: readonly string[];
}

/** Linux usb-storage.quirks letters usbms acts on. */
const LINUX_LETTERS: Readonly<Record<string, QuirkFlag>> = {
  c: 'FIX_CAPACITY', e: 'NO_READ_CAPACITY_16', m: 'MAX_SECTORS_64', r: 'IGNORE_RESIDUE', s: 'SINGLE_LUN',
};
/** Valid Linux letters for behaviour usbms does not have (sense sizes, UAS, locking ...): accepted, ignored. */
const LINUX_LETTERS_IGNORED = new Set('abdfghijklnoptuwy');

function parseHexId(text: string, what: string, item: string): number {
  if (!/^[0-9a-fA-F]{1,4}$/.test(text)) throw new QuirkParseError(`bad ${what} "${text}" in "${item}" (want 1-4 hex digits)`);
  return parseInt(text, 16);
}

/**
 * Parse "vid:pid:flags[,vid:pid:flags...]". flags is either Linux letters ("rm") or flag names joined by '+' or
 * '|' ("IGNORE_RESIDUE+MAX_TRANSFER_BYTES=65536"); empty flags clear the table's quirks for that device.
 */
export function parseQuirkOverrides(text: string): QuirkOverride[] {
  const out: QuirkOverride[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const parts = item.split(':');
    if (parts.length !== 3) throw new QuirkParseError(`"${item}" is not vid:pid:flags`);
    const [vidText = '', pidText = '', flagText = ''] = parts;
    const vendorId = parseHexId(vidText, 'vendor id', item);
    const productId = parseHexId(pidText, 'product id', item);
    const quirks: string[] = [];
    if (/^[a-z]*$/.test(flagText)) {
      for (const letter of flagText) {
        const flag = LINUX_LETTERS[letter];
        if (flag !== undefined) quirks.push(flag);
        else if (LINUX_LETTERS_IGNORED.has(letter)) log('%s: Linux quirk letter %s has no effect in usbms', item, letter);
        else throw new QuirkParseError(`unknown quirk letter "${letter}" in "${item}"`);
      }
    } else {
      for (const name of flagText.split(/[+|]/)) {
        parseQuirkName(name.trim(), item); // validates
        quirks.push(name.trim());
      }
    }
    out.push({ vendorId, productId, quirks });
  }
  return out;
}

interface ParsedQuirk { flag: QuirkFlag; value: number | undefined }

function parseQuirkName(token: string, where: string): ParsedQuirk {
  const m = /^([A-Z0-9_]+)(?:=(\d+))?$/.exec(token);
  const name = m?.[1];
  if (m === null || name === undefined || !(QUIRK_FLAGS as readonly string[]).includes(name)) {
    throw new QuirkParseError(`unknown quirk "${token}" in "${where}" (known: ${QUIRK_FLAGS.join(', ')})`);
  }
  const flag = name as QuirkFlag;
  const value = m[2] === undefined ? undefined : Number(m[2]);
  if (flag === 'MAX_TRANSFER_BYTES' && (value === undefined || value < 512)) {
    throw new QuirkParseError(`MAX_TRANSFER_BYTES needs a value >= 512 in "${where}"`);
  }
  if (flag === 'QUEUED_CSW_OUT_MAX' && (value === undefined || value < 1)) {
    throw new QuirkParseError(`QUEUED_CSW_OUT_MAX needs a value >= 1 (bytes) in "${where}"`);
  }
  if (value !== undefined && flag !== 'MAX_TRANSFER_BYTES' && flag !== 'RESET_DELAY' && flag !== 'QUEUED_CSW_OUT_MAX') {
    throw new QuirkParseError(`quirk ${flag} takes no value in "${where}"`);
  }
  return { flag, value };
}

/** The resolved quirks of a device in no table row and without overrides. */
export const NO_QUIRKS: Quirks = buildQuirks([], 'none');

function buildQuirks(tokens: readonly string[], source: Quirks['source']): Quirks {
  const flags = new Set<QuirkFlag>();
  let maxTransferBytes: number | undefined;
  let resetDelayMs = 0;
  let queuedCswOutMax = 0;
  const cap = (n: number): void => { maxTransferBytes = maxTransferBytes === undefined ? n : Math.min(maxTransferBytes, n); };
  for (const token of tokens) {
    const { flag, value } = parseQuirkName(token, 'quirk table');
    flags.add(flag);
    if (flag === 'MAX_SECTORS_64') cap(MAX_SECTORS_64_BYTES);
    if (flag === 'MAX_TRANSFER_BYTES' && value !== undefined) cap(value);
    if (flag === 'RESET_DELAY') resetDelayMs = value ?? DEFAULT_RESET_DELAY_MS;
    if (flag === 'QUEUED_CSW_OUT_MAX' && value !== undefined) queuedCswOutMax = Math.max(queuedCswOutMax, value);
  }
  const has = (f: QuirkFlag): boolean => flags.has(f);
  return {
    flags: [...flags], source, maxTransferBytes, resetDelayMs, queuedCswOutMax,
    ignoreResidue: has('IGNORE_RESIDUE'), singleLun: has('SINGLE_LUN'), noGetMaxLun: has('NO_GET_MAX_LUN'),
    fixCapacity: has('FIX_CAPACITY'), noReadCapacity16: has('NO_READ_CAPACITY_16'), goSlow: has('GO_SLOW'),
    noSynchronizeCache: has('NO_SYNCHRONIZE_CACHE'), noCswPipelining: has('NO_CSW_PIPELINING'),
    senseLun0Only: has('SENSE_LUN0_ONLY'), noEarlyIn: has('NO_EARLY_IN'),
    noEarlyDataOut: has('NO_EARLY_DATA_OUT'),
  };
}

/** What resolveQuirks needs to know of a device. */
export interface QuirkLookup {
  readonly vendorId: number;
  readonly productId: number;
  /** Unknown (undefined) matches only entries without a bcd range. */
  readonly bcdDevice?: number | undefined;
  /** Unknown (undefined) matches every entry, speed-limited or not. */
  readonly speed?: UsbSpeed | undefined;
}

/** The quirks of one device: a user override for its VID:PID wins over the table; table entries add up. */
export function resolveQuirks(dev: QuirkLookup, overrides: readonly QuirkOverride[] = [],
  table: readonly QuirkEntry[] = QUIRK_TABLE): Quirks {
  const id = `${hex4(dev.vendorId)}:${hex4(dev.productId)}`;
  const override = overrides.find((o) => o.vendorId === dev.vendorId && o.productId === dev.productId);
  if (override !== undefined) {
    log('%s: user override %s', id, override.quirks.join('+') || '(none)');
    return buildQuirks(override.quirks, 'override');
  }
  const hits = table.filter((e) => e.vendorId === dev.vendorId && e.productId === dev.productId
    && (e.bcd === undefined || (dev.bcdDevice !== undefined && dev.bcdDevice >= e.bcd[0] && dev.bcdDevice <= e.bcd[1]))
    && (e.speeds === undefined || dev.speed === undefined || dev.speed === 'unknown' || e.speeds.includes(dev.speed)));
  if (hits.length === 0) return NO_QUIRKS;
  for (const e of hits) log('%s: %s (%s)', id, e.quirks.join('+'), e.why);
  return buildQuirks(hits.flatMap((e) => e.quirks), 'table');
}

export function hex4(n: number): string { return n.toString(16).padStart(4, '0'); }

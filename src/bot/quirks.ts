/**
 * Device quirks as data: one declaration per flag (what it means, which layer acts on it, the field that layer
 * reads), a table of VID:PID (+ optional bcdDevice range, bus speed) -> flags, each entry saying why, and user
 * overrides in the style of Linux `usb-storage.quirks=VID:PID:flags`. {@link quirkParts} hands each layer its part:
 * the transport reads its flags from `transport.quirks`, the HBA and the disk driver get theirs when a session is
 * composed (src/open.ts).
 */
import type { UsbSpeed } from '../usb/port.js';
import { vidPid } from '../util/hex.js';
import { logger } from '../util/log.js';
import { UsbmsArgumentError } from '../util/errors.js';
import type { KnownKeys } from '../util/options.js';

const log = logger('quirks');

/** The layer that acts on a quirk: the wire protocol (BOT), the HBA (src/scsa), the disk driver (src/disk). */
export type QuirkLayer = 'transport' | 'hba' | 'disk';

/** Bytes per command under MAX_SECTORS_64: 64 blocks of 512 bytes. */
export const MAX_SECTORS_64_BYTES = 64 * 512;
const DEFAULT_RESET_DELAY_MS = 100;

/**
 * Every quirk flag usbms knows (the names are Linux usb-storage's where Linux has one), declared once:
 *  - `layer` and `field`: who acts on it, and the field of the resolved quirks that layer reads;
 *  - a flag with `value` takes `NAME=n` (at least `min`; `default` when given without one) and a flag with `sets`
 *    stands for that value; `fold` says how several values for one field combine (`min`: the tightest cap wins);
 *    `unset` is the field's value when no flag sets it. Without either, the field is a boolean.
 */
export const QUIRK_DECLARATIONS = {
  IGNORE_RESIDUE: { layer: 'transport', field: 'ignoreResidue',
    why: 'dCSWDataResidue is garbage: use only what the host counted' },
  MAX_SECTORS_64: { layer: 'transport', field: 'maxTransferBytes', sets: MAX_SECTORS_64_BYTES, fold: 'min',
    unset: undefined, why: 'the bridge fails commands over 64 sectors: cap a command at 32 KiB' },
  MAX_TRANSFER_BYTES: { layer: 'transport', field: 'maxTransferBytes', value: { min: 512 }, fold: 'min',
    unset: undefined, why: 'cap a command at n bytes (MAX_TRANSFER_BYTES=n)' },
  SINGLE_LUN: { layer: 'transport', field: 'singleLun',
    why: 'only LUN 0 exists or works: do not ask Get Max LUN, use 0' },
  NO_GET_MAX_LUN: { layer: 'transport', field: 'noGetMaxLun',
    why: 'Get Max LUN hangs or crashes the device: do not send it' },
  FIX_CAPACITY: { layer: 'disk', field: 'fixCapacity',
    why: 'READ CAPACITY reports the number of blocks, not the last LBA (the disk driver subtracts one)' },
  NO_READ_CAPACITY_16: { layer: 'disk', field: 'noReadCapacity16',
    why: 'READ CAPACITY(16) confuses the device (the disk driver uses only (10))' },
  GO_SLOW: { layer: 'transport', field: 'goSlow', why: 'slow bridge: four times longer CBW/data/CSW timeouts' },
  RESET_DELAY: { layer: 'transport', field: 'resetDelayMs', value: { min: 0, default: DEFAULT_RESET_DELAY_MS },
    fold: 'max', unset: 0,
    why: 'wait after Mass Storage Reset before clearing halts (RESET_DELAY=ms, default 100)' },
  NO_SYNCHRONIZE_CACHE: { layer: 'disk', field: 'noSynchronizeCache',
    why: 'SYNCHRONIZE CACHE fails or hangs (the disk driver skips it)' },
  NO_CSW_PIPELINING: { layer: 'transport', field: 'noCswPipelining',
    why: 'the CSW read only after the data, data-IN one transfer at a time (QEMU xHCI loses it)' },
  QUEUED_CSW_OUT_MAX: { layer: 'transport', field: 'queuedCswOutMax', value: { min: 1 }, fold: 'max', unset: 0,
    why: '... except that a data-OUT of at most n bytes keeps its CSW read queued (=n; QEMU xHCI)' },
  NO_EARLY_IN: { layer: 'transport', field: 'noEarlyIn',
    why: 'an IN only when the device is due to send: data-IN after the CBW, CSW after the CBW and data-OUT' },
  NO_EARLY_DATA_OUT: { layer: 'transport', field: 'noEarlyDataOut',
    why: 'submit the data-OUT only once the CBW is through (else queued right behind it)' },
  SENSE_LUN0_ONLY: { layer: 'hba', field: 'senseLun0Only',
    why: 'REQUEST SENSE on LUN >= 1 answers for the target, not the LUN (the HBA reports sense unavailable)' },
  IGNORE_UAS: { layer: 'transport', field: 'ignoreUas',
    why: 'run Bulk-Only even where the device offers UAS (Linux US_FL_IGNORE_UAS; the transport choice reads it)' },
} as const satisfies Readonly<Record<string, QuirkDeclaration>>;

/** What {@link QUIRK_DECLARATIONS} says of one flag. */
export interface QuirkDeclaration {
  readonly layer: QuirkLayer;
  readonly field: string;
  readonly why: string;
  /** NAME=n: the least n, and n when the name comes alone (else a value is required). */
  readonly value?: { readonly min: number; readonly default?: number };
  /** The flag alone stands for this value of its field. */
  readonly sets?: number;
  readonly fold?: 'min' | 'max';
  readonly unset?: number | undefined;
}

type Declarations = typeof QUIRK_DECLARATIONS;
/** One of QUIRK_FLAGS. */
export type QuirkFlag = keyof Declarations;
/** Every quirk flag, in declaration order. */
export const QUIRK_FLAGS = Object.keys(QUIRK_DECLARATIONS) as readonly QuirkFlag[];

/** The field a flag sets: a boolean for a plain flag, a number (or its `unset`) for a valued one. */
type FieldValue<F extends QuirkFlag> = Declarations[F] extends { readonly unset: infer U } ? number | U : boolean;
/** The resolved quirks one layer reads: a field per flag of that layer. */
export type LayerQuirks<L extends QuirkLayer> = {
  readonly [F in QuirkFlag as Declarations[F]['layer'] extends L ? Declarations[F]['field'] : never]: FieldValue<F>;
};

/** Resolved quirks of one device, as the layers read them: every layer's fields, the flags and where they came from. */
export type Quirks = LayerQuirks<QuirkLayer> & {
  readonly flags: readonly QuirkFlag[];
  /** Where the flags came from. */
  readonly source: 'none' | 'table' | 'override';
};

/** Each layer's part of a device's quirks: what the composition root hands the transport, the HBA and the disk. */
export interface QuirkParts {
  readonly transport: LayerQuirks<'transport'>;
  readonly hba: LayerQuirks<'hba'>;
  readonly disk: LayerQuirks<'disk'>;
}

/** The one function that splits a device's quirks by layer (from the declarations; no field is named twice). */
export function quirkParts(q: Quirks): QuirkParts {
  const parts: Record<QuirkLayer, Record<string, unknown>> = { transport: {}, hba: {}, disk: {} };
  const all = q as unknown as Record<string, unknown>;
  for (const flag of QUIRK_FLAGS) {
    const d: QuirkDeclaration = QUIRK_DECLARATIONS[flag];
    parts[d.layer][d.field] = all[d.field];
  }
  return parts as unknown as QuirkParts;
}

/** The keys of Quirks and of QuirkOverride (src/util/options.ts). */
export const QUIRKS_KEYS = {
  flags: true, ignoreResidue: true, singleLun: true, noGetMaxLun: true, fixCapacity: true, noReadCapacity16: true,
  goSlow: true, noSynchronizeCache: true, noCswPipelining: true, queuedCswOutMax: true, noEarlyIn: true,
  noEarlyDataOut: true, senseLun0Only: true, maxTransferBytes: true, resetDelayMs: true, ignoreUas: true, source: true,
} as const satisfies KnownKeys<Quirks>;

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

/**
 * Known devices. Linux entries are from drivers/usb/storage/unusual_devs.h (bcd ranges as there). The software
 * disk's personalities are not here: they bring their quirks as overrides, the way a user would (src/mock).
 */
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

export const QUIRK_OVERRIDE_KEYS = { vendorId: true, productId: true, quirks: true } as const satisfies KnownKeys<QuirkOverride>;

/** Linux usb-storage.quirks letters usbms acts on. */
const LINUX_LETTERS: Readonly<Record<string, QuirkFlag>> = {
  c: 'FIX_CAPACITY', e: 'NO_READ_CAPACITY_16', m: 'MAX_SECTORS_64', r: 'IGNORE_RESIDUE', s: 'SINGLE_LUN',
  u: 'IGNORE_UAS',
};
/** Valid Linux letters for behaviour usbms does not have (sense sizes, locking ...): accepted, ignored. */
const LINUX_LETTERS_IGNORED = new Set('abdfghijklnoptwy');

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
  if (m === null || name === undefined || !Object.hasOwn(QUIRK_DECLARATIONS, name)) {
    throw new QuirkParseError(`unknown quirk "${token}" in "${where}" (known: ${QUIRK_FLAGS.join(', ')})`);
  }
  const flag = name as QuirkFlag;
  const d: QuirkDeclaration = QUIRK_DECLARATIONS[flag];
  const given = m[2] === undefined ? undefined : Number(m[2]);
  if (d.value === undefined) {
    if (given !== undefined) throw new QuirkParseError(`quirk ${flag} takes no value in "${where}"`);
    return { flag, value: d.sets };
  }
  const value = given ?? d.value.default;
  if (value === undefined || value < d.value.min) {
    throw new QuirkParseError(`${flag} needs a value >= ${d.value.min} in "${where}"`);
  }
  return { flag, value };
}

/** The resolved quirks of a device in no table row and without overrides. */
export const NO_QUIRKS: Quirks = buildQuirks([], 'none');

function buildQuirks(tokens: readonly string[], source: Quirks['source']): Quirks {
  const flags = new Set<QuirkFlag>();
  const q: Record<string, unknown> = {};
  for (const flag of QUIRK_FLAGS) {
    const d: QuirkDeclaration = QUIRK_DECLARATIONS[flag];
    q[d.field] = d.value === undefined && d.sets === undefined ? false : d.unset;
  }
  for (const token of tokens) {
    const { flag, value } = parseQuirkName(token, 'quirk table');
    flags.add(flag);
    const d: QuirkDeclaration = QUIRK_DECLARATIONS[flag];
    if (value === undefined) { q[d.field] = true; continue; }
    const old = q[d.field];
    q[d.field] = typeof old !== 'number' ? value : d.fold === 'min' ? Math.min(old, value) : Math.max(old, value);
  }
  return { ...q, flags: [...flags], source } as unknown as Quirks;
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
  const id = vidPid(dev.vendorId, dev.productId);
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


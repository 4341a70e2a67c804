/**
 * Device quirks, declared once: each flag says what it means, which layer acts on it and the field that layer reads.
 * {@link quirkParts} hands each layer its part: the transport (Bulk-Only or UAS, and the choice between them) reads
 * `transport`, the HBA and the disk driver get theirs when a session is composed (src/open.ts). The quirks belong to
 * the device, not to one wire protocol, so they sit below both protocol engines.
 */
import type { KnownKeys } from '../util/options.js';

/** The layer that acts on a quirk: the wire protocol (Bulk-Only or UAS), the HBA (src/scsa), the disk driver (src/disk). */
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

/**
 * User overrides in the style of Linux `usb-storage.quirks=VID:PID:flags` (Linux letters or usbms flag names).
 */
import { logger } from '../util/log.js';
import { UsbmsArgumentError } from '../util/errors.js';
import type { KnownKeys } from '../util/options.js';
import { QUIRK_DECLARATIONS, QUIRK_FLAGS, type QuirkDeclaration, type QuirkFlag } from './declarations.js';

const log = logger('quirks');

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

/** The keys of a QuirkOverride (unknown keys are refused, src/util/options.ts). */
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

/** One flag of an override or a table row, with its value. */
export interface ParsedQuirk { flag: QuirkFlag; value: number | undefined }

/** Parse one flag name (NAME or NAME=n) against the declarations; `where` names the string it came from. */
export function parseQuirkName(token: string, where: string): ParsedQuirk {
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

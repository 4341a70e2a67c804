/**
 * Resolving one device's quirks: a user override for its VID:PID wins over the table; table entries add up.
 */
import type { UsbSpeed } from '../usb/port.js';
import { vidPid } from '../util/hex.js';
import { logger } from '../util/log.js';
import { QUIRK_DECLARATIONS, QUIRK_FLAGS, type QuirkDeclaration, type QuirkFlag, type Quirks } from './declarations.js';
import { parseQuirkName, type QuirkOverride } from './overrides.js';
import { QUIRK_TABLE, type QuirkEntry } from './table.js';

const log = logger('quirks');

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

/**
 * Which slots a run covers: `--device SEL` (repeatable; any selector form, resolved to its slot) or `--all`,
 * optionally narrowed by `--match VID:PID[:serial],...`. `--all` keeps only Bulk-Only mass storage; naming a
 * device that does not speak Bulk-Only is an error, not a silent skip. A device this host exports through
 * usbip-host belongs to the host that imports it: `--all` leaves it out (so a stick exported and attached back here
 * counts once, as its USB/IP import), and naming it is refused unless `forceExported`.
 */
import { UsbmsArgumentError } from '../../util/errors.js';
import { UsbError } from '../../open.js';
import { matchesSelector, parseDeviceSelector, selectOne, type DeviceSelector } from '../../api.js';
import type { BackendRigDevice } from './backend-rig.js';
import { describeKey } from './device.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

/** A device selection (--all, --match) that picks nothing usable: a caller's mistake (code ARG_INVALID). */
export class RigSelectError extends UsbmsArgumentError {
  override readonly name = 'RigSelectError';
}

/** What to select: `--device` names, or `--all`, narrowed by `--match`. */
export interface Selection {
  devices?: readonly string[];
  all?: boolean;
  /** `VID:PID[:serial]` entries, comma-separated in one string or repeated. */
  match?: readonly string[];
  /** Allow devices exported through usbip-host (`--force-exported`). */
  forceExported?: boolean;
}

const SELECTION_KEYS = { devices: true, all: true, match: true, forceExported: true } as const satisfies KnownKeys<Selection>;

/** What {@link selectRigDevices} chose. */
export interface Selected {
  devices: BackendRigDevice[];
  /** Present but left out by --all (not Bulk-Only), with why: for a line on stderr. */
  excluded: string[];
}

function parseMatch(text: string): DeviceSelector {
  const sel = parseDeviceSelector(text);
  if (sel.kind !== 'ids') throw new RigSelectError(`--match ${text}: expected VID:PID[:serial] (hex), e.g. 0781:5567`);
  return sel;
}

/**
 * Choose the slots a run covers from those present.
 * @throws RigSelectError for a selection that is contradictory or picks nothing usable; UsbError NOT_FOUND for a
 *   `--device` that names nothing present
 */
export function selectRigDevices(present: readonly BackendRigDevice[], s: Selection): Selected {
  rejectUnknownKeys(s, SELECTION_KEYS, 'selectRigDevices selection');
  const names = s.devices ?? [];
  if (s.all === true && names.length > 0) throw new RigSelectError('give --all or --device, not both');
  if (s.all !== true && names.length === 0) throw new RigSelectError('name the devices: --device SEL (repeatable) or --all');
  const matches = (s.match ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter((m) => m !== '').map(parseMatch);
  const excluded: string[] = [];
  let chosen: BackendRigDevice[];
  if (s.all === true) {
    chosen = present.filter((d) => {
      if (d.exported && s.forceExported !== true) {
        excluded.push(`${describeKey(d.key)}: exported through usbip-host (another host uses it), left out`);
        return false;
      }
      if (d.bulkOnly) return true;
      excluded.push(`${describeKey(d.key)}: not Bulk-Only mass storage (${d.listing.protocol}), left out`);
      return false;
    });
  } else {
    chosen = [];
    for (const name of names) {
      const sel = parseDeviceSelector(name);
      const row = selectOne(sel, present.map((d) => d.listing));
      const d = present.find((p) => p.listing === row);
      if (d === undefined) throw new UsbError('NOT_FOUND', `no slot for ${name}`);
      if (!d.bulkOnly) throw new RigSelectError(`${name} (${describeKey(d.key)}) is not Bulk-Only mass storage`);
      if (d.exported && s.forceExported !== true) {
        throw new RigSelectError(`${name} (${describeKey(d.key)}) is exported through usbip-host: another host uses ` +
          'it; validate it on the host that attached it, or pass --force-exported');
      }
      if (chosen.includes(d)) throw new RigSelectError(`${name} names ${describeKey(d.key)} a second time`);
      chosen.push(d);
    }
  }
  if (matches.length > 0) {
    chosen = chosen.filter((d) => {
      if (matches.some((m) => matchesSelector(m, d.listing))) return true;
      excluded.push(`${describeKey(d.key)}: does not match --match, left out`);
      return false;
    });
  }
  if (chosen.length === 0) throw new RigSelectError(`no device to validate${excluded.length > 0 ? ` (${excluded.join('; ')})` : ''}`);
  return { devices: chosen, excluded };
}

/**
 * The command registry: every supported command by name, lookup by CDB opcode (for `raw` and logs), and a
 * one-line description of any CDB.
 */
import { readCapacity10, readCapacity16, readFormatCapacities } from './capacity.js';
import { ScsiParamError } from './errors.js';
import { inquiry } from './inquiry.js';
import { preventAllowMediumRemoval, reportLuns, requestSense, startStopUnit, synchronizeCache10, synchronizeCache16,
  testUnitReady } from './misc.js';
import { modeSense10, modeSense6 } from './mode-sense.js';
import { unmap, writeSame16 } from './provisioning.js';
import { read10, read12, read16, read6, verify10, verify16, write10, write12, write16, write6 } from './rw.js';
import { hex2, type CommandSpec } from './spec.js';

/** Every command spec by name (inquiry, read10, modeSense6 ...). */
export const commands = {
  inquiry, testUnitReady, requestSense, readCapacity10, readCapacity16, read6, read10, read12, read16,
  write6, write10, write12, write16, verify10, verify16, modeSense6, modeSense10, startStopUnit,
  preventAllowMediumRemoval, synchronizeCache10, synchronizeCache16, reportLuns, readFormatCapacities, unmap,
  writeSame16,
} as const;

/** A command spec of any parameters and data. */
export type AnyCommandSpec = CommandSpec<unknown, unknown>;

const byOpcode = new Map<number, AnyCommandSpec[]>();
for (const spec of Object.values(commands) as unknown as AnyCommandSpec[]) {
  byOpcode.set(spec.opcode, [...(byOpcode.get(spec.opcode) ?? []), spec]);
}

/** The spec for a CDB's opcode (and service action for 0x9E), or undefined for commands this module lacks. */
export function commandByOpcode(cdb: Uint8Array): AnyCommandSpec | undefined {
  const candidates = byOpcode.get(cdb[0] ?? -1);
  return candidates?.find((c) => c.serviceAction === undefined || c.serviceAction === ((cdb[1] ?? 0) & 0x1f));
}

/** "READ(10) lba=2048 blocks=8"; never throws (a malformed or unknown CDB is described as such). */
export function describeCdb(cdb: Uint8Array): string {
  const hex = Buffer.from(cdb.buffer, cdb.byteOffset, cdb.length).toString('hex');
  const spec = commandByOpcode(cdb);
  if (spec === undefined) return `opcode 0x${hex2(cdb[0] ?? 0)} (unknown) cdb=${hex}`;
  try {
    return spec.describe(spec.decodeCdb(cdb));
  } catch (e) {
    if (e instanceof ScsiParamError) return `${spec.name} (malformed: ${e.message}) cdb=${hex}`;
    throw e;
  }
}

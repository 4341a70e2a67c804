/**
 * The `hangs` and `dropouts` keys of a `--mock=DEVICE.json` description (src/sources/mock-spec.ts), checked into the
 * WedgeController of a device:
 *
 * ```json
 * "hangs":    [{ "lba": 2048, "blocks": 8, "clearedBy": "port-reset", "times": 1 }],
 * "dropouts": [{ "lba": 30000, "reconnectAfterMs": 500 }]
 * ```
 */
import type { MockUsbDevice } from './device.js';
import { rejectUnknownKeys } from '../util/options.js';
import { DROP_OUT_KEYS, HANG_AREA_KEYS, WedgeConfigError, type WedgeReset } from './wedge.js';

const RESETS: readonly WedgeReset[] = ['bot-reset', 'port-reset', 'power'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function lbaOf(v: unknown, where: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  throw new WedgeConfigError(`${where}: ${JSON.stringify(v)} is not a non-negative integer`);
}

function optionalCount(v: unknown, where: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
  throw new WedgeConfigError(`${where}: ${JSON.stringify(v)} is not a positive integer`);
}

function list(v: unknown, key: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new WedgeConfigError(`"${key}" is not a list`);
  return v;
}

/** Apply the `hangs` and `dropouts` of a JSON device description (--mock=DEVICE.json). */
export function applyWedgeSpec(dev: MockUsbDevice, hangs: unknown, dropouts: unknown): void {
  list(hangs, 'hangs').forEach((h, i) => {
    if (!isObject(h)) throw new WedgeConfigError(`hangs[${i}] is not an object`);
    rejectUnknownKeys(h, HANG_AREA_KEYS, `hangs[${i}]`);
    const clearedBy = h.clearedBy ?? 'bot-reset';
    if (typeof clearedBy !== 'string' || !RESETS.includes(clearedBy as WedgeReset)) {
      throw new WedgeConfigError(`hangs[${i}].clearedBy ${JSON.stringify(clearedBy)} is not one of ${RESETS.join(', ')}`);
    }
    const times = optionalCount(h.times, `hangs[${i}].times`);
    const lun = h.lun === undefined ? undefined : Number(lbaOf(h.lun, `hangs[${i}].lun`));
    dev.faults.wedge.hang({
      lba: lbaOf(h.lba, `hangs[${i}].lba`), blocks: optionalCount(h.blocks, `hangs[${i}].blocks`) ?? 1,
      clearedBy: clearedBy as WedgeReset, ...(times === undefined ? {} : { times }), ...(lun === undefined ? {} : { lun }),
    });
  });
  list(dropouts, 'dropouts').forEach((d, i) => {
    if (!isObject(d)) throw new WedgeConfigError(`dropouts[${i}] is not an object`);
    rejectUnknownKeys(d, DROP_OUT_KEYS, `dropouts[${i}]`);
    const after = d.reconnectAfterMs;
    if (after !== undefined && !(typeof after === 'number' && after >= 0)) {
      throw new WedgeConfigError(`dropouts[${i}].reconnectAfterMs ${JSON.stringify(after)} is not a number of ms`);
    }
    const times = optionalCount(d.times, `dropouts[${i}].times`);
    dev.faults.wedge.dropOut({ lba: lbaOf(d.lba, `dropouts[${i}].lba`), reconnectAfterMs: after,
      ...(times === undefined ? {} : { times }) });
  });
}

/**
 * Options a program passes are never silently ignored. An options object (or a JSON description usbms reads) with
 * a key its function does not know — a typo, an option that was renamed, such as `timeoutS` after the timeouts
 * became milliseconds — is refused with a {@link UsbmsArgumentError} naming the key and the known ones, before
 * anything is done. Without this, a misspelt deadline quietly becomes the default one.
 *
 * Each options type keeps its keys in one list next to its interface, written as
 * `{ a: true, b: true } as const satisfies KnownKeys<Options>`: the compiler fails the build when the list and
 * the interface drift apart (a key missing from the list, or one the interface does not have).
 */
import { UsbmsArgumentError } from './errors.js';

/** Every key of `T`, each mapped to `true`: the one list of an options type's keys. */
export type KnownKeys<T> = { readonly [K in keyof T]-?: true };

/** Edit distance, for "did you mean" (keys are short: no need for anything clever). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The known key closest to `key`, when one is close enough to be a likely typo (or `key` begins it). */
function closest(key: string, known: readonly string[]): string | undefined {
  const longer = key.length >= 4 ? known.filter((k) => k.startsWith(key)) : [];
  if (longer.length === 1) return longer[0];
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestDistance) { best = k; bestDistance = d; }
  }
  return best;
}

/**
 * Refuse `options` when it has a key that `known` does not list, or is not an object at all. `undefined` (no
 * options given) passes. `where` names the options in the message: "Disk.open options", "luns[0]".
 */
export function rejectUnknownKeys(options: unknown, known: Readonly<Record<string, true>>, where: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new UsbmsArgumentError(`${where} must be an object, not ${Array.isArray(options) ? 'a list' : JSON.stringify(options) ?? typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(known, key)) continue;
    const names = Object.keys(known);
    const near = closest(key, names);
    throw new UsbmsArgumentError(`${where}: unknown key '${key}'${near === undefined ? '' : ` (did you mean '${near}'?)`}; ` +
      `known keys: ${names.join(', ')}`, { argument: key });
  }
}

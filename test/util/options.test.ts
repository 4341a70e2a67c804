/** rejectUnknownKeys: options a program passes are never silently ignored (issue 20). */
import { describe, expect, it } from 'vitest';
import { UsbmsArgumentError } from '../../src/util/errors.js';
import { rejectUnknownKeys } from '../../src/util/options.js';

const KNOWN = { timeoutMs: true, retries: true, allowWrite: true } as const;

describe('rejectUnknownKeys', () => {
  it('passes known keys, an empty object and no options at all', () => {
    expect(() => { rejectUnknownKeys({ timeoutMs: 300, retries: 1 }, KNOWN, 'x'); }).not.toThrow();
    expect(() => { rejectUnknownKeys({}, KNOWN, 'x'); }).not.toThrow();
    expect(() => { rejectUnknownKeys(undefined, KNOWN, 'x'); }).not.toThrow();
  });
  it('refuses an unknown key: UsbmsArgumentError (ARG_INVALID) naming it, the likely one and every known one', () => {
    let caught: unknown;
    try { rejectUnknownKeys({ timeoutS: 0.3 }, KNOWN, 'Disk.open options'); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(UsbmsArgumentError);
    expect(caught).toMatchObject({ code: 'ARG_INVALID', argument: 'timeoutS' });
    expect((caught as Error).message).toBe(
      "Disk.open options: unknown key 'timeoutS' (did you mean 'timeoutMs'?); known keys: timeoutMs, retries, allowWrite");
  });
  it('a key with the value undefined is still a key the caller wrote', () => {
    expect(() => { rejectUnknownKeys({ retires: undefined }, KNOWN, 'x'); }).toThrow(/unknown key 'retires' \(did you mean 'retries'\?\)/);
  });
  it('no suggestion when nothing is close', () => {
    expect(() => { rejectUnknownKeys({ colour: 'red' }, KNOWN, 'x'); }).toThrow(/unknown key 'colour'; known keys/);
  });
  it('options that are not an object at all are refused', () => {
    expect(() => { rejectUnknownKeys(null, KNOWN, 'x'); }).toThrow(/x must be an object, not null/);
    expect(() => { rejectUnknownKeys([], KNOWN, 'x'); }).toThrow(/not a list/);
    expect(() => { rejectUnknownKeys(30, KNOWN, 'x'); }).toThrow(UsbmsArgumentError);
  });
  it('keys inherited from the prototype are not known keys', () => {
    expect(() => { rejectUnknownKeys({ toString: 1 }, KNOWN, 'x'); }).toThrow(/unknown key 'toString'/);
  });
});

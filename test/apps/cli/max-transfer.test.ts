import { describe, expect, it } from 'vitest';
import { parseMaxTransfer } from '../../../src/apps/cli/context.js';
import { CliError } from '../../../src/apps/cli/exit.js';
import { parseByteSize } from '../../../src/util/size.js';

describe('--max-transfer SIZE', () => {
  it('reads bytes and K/M/KiB/MiB suffixes as powers of 1024, case-insensitive', () => {
    expect(parseByteSize('4096')).toBe(4096);
    expect(parseByteSize('120K')).toBe(120 * 1024);
    expect(parseByteSize('120kib')).toBe(120 * 1024);
    expect(parseByteSize('1M')).toBe(1024 * 1024);
    expect(parseByteSize('4MiB')).toBe(4 * 1024 * 1024);
    expect(parseMaxTransfer('8M')).toBe(8 * 1024 * 1024);
    expect(parseMaxTransfer(undefined)).toBeUndefined();
  });

  it('refuses what is not a size, not whole sectors, or outside 512 B .. 16 MiB, with a CLI error', () => {
    for (const bad of ['', 'abc', '1.5M', '-4K', '4 GB', '100', '1000', '17M', '32MiB']) {
      expect(() => parseMaxTransfer(bad), bad).toThrow(CliError);
    }
    expect(parseMaxTransfer('512')).toBe(512);
    expect(parseMaxTransfer('16MiB')).toBe(16 * 1024 * 1024);
  });
});

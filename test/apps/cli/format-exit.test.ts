import { describe, it, expect } from 'vitest';
import { Progress } from '../../../src/apps/cli/format.js';
import { CliError, exitStatusFor } from '../../../src/apps/cli/exit.js';
import { decodeDiskSense } from '../../../src/disk/sense.js';
import {
  DiskError, DiskGoneError, DiskMediumError, DiskNoMediumError, DiskRangeError, DiskReadOnlyError, DiskTimeoutError,
} from '../../../src/disk/index.js';
import { UsbmsOpenError } from '../../../src/open.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('progress (stderr, only on a terminal)', () => {
  it('draws a bar with percentage, rate and ETA on a TTY, and ends the line', () => {
    const { stream, written } = fakeStream(true);
    const p = new Progress(1000n, 'image', stream);
    p.update(1000n);
    p.finish();
    expect(written[0]).toMatch(/^\rimage \[#{30}\] 100\.0% 1000 B .*\/s ETA /);
    expect(written.at(-1)).toBe('\n');
  });

  it('writes nothing at all when the stream is not a TTY (pipes and logs stay clean)', () => {
    const { stream, written } = fakeStream(false);
    const p = new Progress(1000n, 'image', stream);
    p.update(500n);
    p.update(1000n);
    p.finish();
    expect(written).toEqual([]);
  });
});

const sense = (hex: string): ReturnType<typeof decodeDiskSense> => decodeDiskSense(Buffer.from(hex.replace(/ /g, ''), 'hex'));
const fixed = (key: number, asc: number, ascq: number): ReturnType<typeof decodeDiskSense> =>
  sense(`70 00 0${key.toString(16)} 00000000 0a 00000000 ${asc.toString(16).padStart(2, '0')} ${ascq.toString(16).padStart(2, '0')} 00 000000`);

describe('exit statuses (sg3_utils)', () => {
  it('a CHECK CONDITION exits by its sense, as sg_* tools do', () => {
    const cases: [number, number, number, number][] = [
      [0x2, 0x04, 0x01, 2], [0x3, 0x11, 0x00, 3], [0x4, 0x44, 0x00, 3], [0x5, 0x24, 0x00, 5], [0x5, 0x20, 0x00, 9],
      [0x5, 0x21, 0x00, 22], [0x6, 0x28, 0x00, 6], [0x7, 0x27, 0x00, 7], [0xb, 0x47, 0x00, 11], [0xe, 0x1d, 0x00, 14],
      [0x0, 0x00, 0x00, 20], [0x1, 0x17, 0x01, 21],
    ];
    for (const [key, asc, ascq, code] of cases) {
      const e = new DiskError('check-condition', 'x', { sense: fixed(key, asc, ascq) });
      expect(exitStatusFor(e), `${key}/${asc}/${ascq}`).toEqual({ code, known: true });
    }
  });

  it('errors without sense map by kind; unknown errors are 99 and flagged for a stack trace', () => {
    expect(exitStatusFor(new DiskRangeError('past the end', 10n)).code).toBe(22);
    expect(exitStatusFor(new DiskNoMediumError()).code).toBe(2);
    expect(exitStatusFor(new DiskMediumError('bad', { lba: 5n })).code).toBe(3);
    expect(exitStatusFor(new DiskTimeoutError('slow')).code).toBe(33);
    expect(exitStatusFor(new DiskGoneError()).code).toBe(35);
    expect(exitStatusFor(new DiskReadOnlyError()).code).toBe(1);
    expect(exitStatusFor(new CliError('bad usage')).code).toBe(1);
    expect(exitStatusFor(new UsbmsOpenError('MOUNTED', 'mounted')).code).toBe(15);
    expect(exitStatusFor(new UsbmsOpenError('MOCK_SPEC', 'bad json')).code).toBe(15);
    expect(exitStatusFor(Object.assign(new Error('no such file'), { code: 'ENOENT' })).code).toBe(15);
    expect(exitStatusFor(new TypeError('bug'))).toEqual({ code: 99, known: false });
  });
});

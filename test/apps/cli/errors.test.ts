/**
 * One error convention (issue 10): every error class has `name`, a `code` from the one set in src/util/errors.ts,
 * `cause` when it wraps another and its context; a caller's mistake is ARG_INVALID at every layer (one class,
 * UsbmsArgumentError); every code has an sg3_utils exit status in the CLI's one table, and docs/errors.md lists that
 * table as it is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CbwEncoder, BotError } from '../../../src/bot/index.js';
import { QuirkParseError, parseQuirkOverrides } from '../../../src/quirks/index.js';
import { CliError, EXIT, EXIT_STATUS_BY_CODE, exitStatusFor } from '../../../src/apps/cli/exit.js';
import {
  DiskArgumentError, DiskError, DiskGoneError, DiskMediumError, DiskRangeError, DiskReadOnlyError, DiskTransportError,
  decodeDiskSense,
} from '../../../src/disk/index.js';
import { MemoryMedia, MockUsbDevice } from '../../../src/mock/index.js';
import { mockFromSpec } from '../../../src/sources/mock-spec.js';
import { UsbmsOpenError } from '../../../src/open.js';
import { ScsaError, scsi_init_pkt, NULL_FUNC } from '../../../src/scsa/index.js';
import { commands, ExitStatus, ScsiDataError, ScsiParamError } from '../../../src/scsi/index.js';
import {
  UsbCancelledError, UsbClosedError, UsbDeviceGoneError, UsbError, UsbOverflowError, UsbStallError, UsbTimeoutError,
} from '../../../src/usb/errors.js';
import { ERROR_CODES, isArgumentError, isUsbmsError, UsbmsArgumentError, type UsbmsErrorCode } from '../../../src/util/errors.js';
import { RigError } from '../../../src/apps/rig/index.js';
import { TraceFormatError } from '../../../src/usb/trace/pcap-reader.js';
import { rig } from '../../disk/helpers.js';
import { ServeError } from '../../../src/apps/serve/index.js';
import { ROOT } from './build.js';
import { closing } from '../../support/session.js';

const codes = Object.keys(ERROR_CODES) as UsbmsErrorCode[];
const cause = new Error('the error underneath');
const sense = (key: number, asc: number, ascq: number): ReturnType<typeof decodeDiskSense> =>
  decodeDiskSense(Buffer.from([0x70, 0, key, 0, 0, 0, 0x20, 0x0a, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0]));
const caught = (fn: () => unknown): unknown => { try { fn(); } catch (e) { return e; } return undefined; };

describe('the code set and the exit table', () => {
  it('codes are namespaced by layer and each has a meaning', () => {
    for (const c of codes) {
      expect(c).toMatch(/^(ARG|INTERNAL|USB|BOT|UAS|SCSA|SCSI|DISK|OPEN|MOCK|TRACE|RESCUE|RIG|SERVE|CLI)_[A-Z0-9_]+$/);
      expect(ERROR_CODES[c].length).toBeGreaterThan(10);
    }
  });

  it('every code maps to one of sg3_utils\' exit statuses, and the table holds nothing else', () => {
    const statuses = new Set<number>(Object.values(ExitStatus));
    expect(Object.keys(EXIT_STATUS_BY_CODE).sort()).toEqual([...codes].sort());
    for (const c of codes) {
      const status = EXIT_STATUS_BY_CODE[c];
      expect(statuses.has(status), `${c} -> ${status}`).toBe(true);
      expect(status, c).not.toBe(EXIT.OK);
    }
  });

  it('docs/errors.md lists every code with its exit status, as the table says', () => {
    const section = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const rows = new Map([...section.matchAll(/^\| `([A-Z0-9_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect([...rows.keys()].sort()).toEqual([...codes].sort());
    for (const c of codes) expect(rows.get(c), c).toBe(EXIT_STATUS_BY_CODE[c]);
  });
});

describe('every error class: name, code, cause, context', () => {
  const cases: [string, unknown, UsbmsErrorCode][] = [
    ['UsbError', new UsbError('IO', 'x', { cause, pipe: 'in', actualLength: 5, errno: -1 }), 'USB_IO'],
    ['UsbStallError', new UsbStallError(undefined, { cause }), 'USB_STALL'],
    ['UsbTimeoutError', new UsbTimeoutError(undefined, { cause }), 'USB_TIMEOUT'],
    ['UsbOverflowError', new UsbOverflowError(undefined, { cause }), 'USB_OVERFLOW'],
    ['UsbDeviceGoneError', new UsbDeviceGoneError(undefined, { cause }), 'USB_NO_DEVICE'],
    ['UsbCancelledError', new UsbCancelledError(undefined, { cause }), 'USB_CANCELLED'],
    ['UsbClosedError', new UsbClosedError(undefined, { cause }), 'USB_CLOSED'],
    ['BotError', new BotError('phase-error', 'csw', 'x', { cause, recovered: true, tag: 7 }), 'BOT_PHASE_ERROR'],
    ['ScsaError', new ScsaError('DETACHED', 'x', { cause }), 'SCSA_DETACHED'],
    ['ScsiDataError', new ScsiDataError('SCSI_DATA_SHORT', 'x', { cause }), 'SCSI_DATA_SHORT'],
    ['DiskError', new DiskError('timeout', 'x', { cause }), 'DISK_TIMEOUT'],
    ['DiskTransportError', new DiskTransportError('x', { cause }), 'DISK_TRANSPORT'],
    ['DiskGoneError', new DiskGoneError(undefined, { cause }), 'DISK_GONE'],
    ['UsbmsOpenError', new UsbmsOpenError('MOCK_SPEC', 'x', { cause }), 'OPEN_MOCK_SPEC'],
    ['CliError', new CliError('x', 'CLI_FILE', { cause }), 'CLI_FILE'],
    ['UsbmsArgumentError', new UsbmsArgumentError('x', { cause, argument: 'lun' }), 'ARG_INVALID'],
    ['RigError', new RigError('TIMEOUT', 'x', { cause }), 'RIG_TIMEOUT'],
    ['TraceFormatError', new TraceFormatError('x', { cause }), 'TRACE_FORMAT'],
    ['ServeError', new ServeError('SERVE_LISTEN', 'x', { cause }), 'SERVE_LISTEN'],
  ];
  for (const [name, e, code] of cases) {
    it(`${name}: name ${name}, code ${code}, cause kept, a known exit status`, () => {
      expect(e).toBeInstanceOf(Error);
      expect((e as Error).name).toBe(name);
      expect((e as { code: unknown }).code).toBe(code);
      expect((e as Error).cause).toBe(cause);
      expect(isUsbmsError(e, code)).toBe(true);
      expect(exitStatusFor(e)).toEqual({ code: EXIT_STATUS_BY_CODE[code], known: true });
    });
  }

  it('keep the context a script needs: USB pipe and bytes, BOT phase and recovery, disk LBA and sense', () => {
    const u = new UsbError('STALL', 'x', { pipe: 'in', actualLength: 512, errno: 4 });
    expect(u).toMatchObject({ kind: 'STALL', code: 'USB_STALL', pipe: 'in', actualLength: 512, errno: 4 });
    const b = new BotError('invalid-csw', 'csw', 'x', { recovered: true, transferred: 64, tag: 9 });
    expect(b).toMatchObject({ kind: 'invalid-csw', phase: 'csw', recovered: true, transferred: 64, tag: 9, code: 'BOT_INVALID_CSW' });
    const d = new DiskMediumError('bad block', { lba: 1234n, sense: sense(3, 0x11, 0), status: 2 });
    expect(d).toMatchObject({ kind: 'medium', code: 'DISK_MEDIUM', lba: 1234n, status: 2 });
    expect(d.sense?.key).toBe(3);
  });

  it('a CHECK CONDITION takes its code from the sense, with sg3_utils\' distinctions', () => {
    const cases: [number, number, number, UsbmsErrorCode][] = [
      [2, 0x04, 0x01, 'DISK_NOT_READY'], [2, 0x3a, 0, 'DISK_NO_MEDIUM'], [3, 0x11, 0, 'DISK_MEDIUM'],
      [4, 0x44, 0, 'DISK_HARDWARE'], [5, 0x24, 0, 'DISK_ILLEGAL_REQUEST'], [5, 0x20, 0, 'DISK_INVALID_OPCODE'],
      [5, 0x21, 0, 'DISK_LBA_OUT_OF_RANGE'], [6, 0x28, 0, 'DISK_UNIT_ATTENTION'], [7, 0x27, 0, 'DISK_DATA_PROTECT'],
      [0xb, 0x47, 0, 'DISK_ABORTED'], [0xb, 0x10, 1, 'DISK_PROTECTION'], [0xe, 0x1d, 0, 'DISK_MISCOMPARE'],
      [0, 0, 0, 'DISK_NO_SENSE'], [1, 0x17, 1, 'DISK_RECOVERED'], [0xa, 0, 0, 'DISK_COPY_ABORTED'],
      [9, 0, 0, 'DISK_CHECK_CONDITION'],
    ];
    for (const [key, asc, ascq, code] of cases) {
      expect(new DiskError('check-condition', 'x', { sense: sense(key, asc, ascq) }).code, `${key}/${asc}/${ascq}`).toBe(code);
    }
    // Errors that are not a CHECK CONDITION keep the code of their kind.
    expect(new DiskRangeError('past the end', 10n).code).toBe('DISK_LBA_OUT_OF_RANGE');
    expect(new DiskReadOnlyError().code).toBe('DISK_READ_ONLY');
  });
});

describe('a caller\'s mistake is ARG_INVALID at every layer', () => {
  function expectArgumentError(e: unknown, name: string): void {
    expect(e, name).toBeInstanceOf(UsbmsArgumentError);
    expect(e).toBeInstanceOf(RangeError);
    expect((e as Error).name).toBe(name);
    expect(isArgumentError(e)).toBe(true);
    expect(exitStatusFor(e)).toEqual({ code: EXIT.SYNTAX_ERROR, known: true });
  }

  it('BOT: a CBW for LUN 16', () => {
    const enc = new CbwEncoder();
    expectArgumentError(caught(() => enc.encode({ tag: 1, dataTransferLength: 0, direction: 'none', lun: 16,
      cdbLength: 6, cdb: new Uint8Array(6) })), 'UsbmsArgumentError');
  });

  it('BOT: a quirk override that does not parse', () => {
    const e = caught(() => parseQuirkOverrides('0781:5567:NO_SUCH_QUIRK'));
    expect(e).toBeInstanceOf(QuirkParseError);
    expectArgumentError(e, 'QuirkParseError');
  });

  it('SCSI: a READ(10) LBA that does not fit 32 bits', () => {
    const e = caught(() => commands.read10.encodeCdb({ lba: 1n << 32n, blocks: 1 }));
    expect(e).toBeInstanceOf(ScsiParamError);
    expectArgumentError(e, 'ScsiParamError');
    expect((e as ScsiParamError).reason).toBe('SCSI_PARAM_RANGE');
  });

  it('SCSA, disk: scsi_init_pkt with an impossible CDB length, a read at a negative LBA', async () => {
    await using held = closing(await rig({ blocks: 2048 }));
    const { session, disk } = held;
    expectArgumentError(caught(() => scsi_init_pkt(session.hba.address(0), null, null, -1, 32, 0, 0, NULL_FUNC)),
      'UsbmsArgumentError');
    const e = await disk.read(-1n, 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DiskArgumentError);
    expectArgumentError(e, 'DiskArgumentError');
  });

  it('the software disk: bad LUN options, bad fault rules, media access past the end, a bad JSON spec', () => {
    expectArgumentError(caught(() => new MockUsbDevice({ luns: [{ blocks: -5 }] })), 'LunConfigError');
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    expectArgumentError(caught(() => dev.faults.inject({ times: 0, fault: { kind: 'lost-csw' } })), 'FaultConfigError');
    expectArgumentError(caught(() => new MemoryMedia(1024n).read(2048n, Buffer.alloc(512))), 'MediaRangeError');
    expectArgumentError(caught(() => mockFromSpec(join(ROOT, 'no-such-device.json'))), 'MockSpecError');
  });

  it('USB: a transfer submitted while in flight is a UsbmsArgumentError, not a USB failure', async () => {
    const dev = new MockUsbDevice({ luns: [{ blocks: 64 }] });
    const port = dev.open();
    const t = port.createTransfer('in');
    const first = t.submit(Buffer.alloc(13), 50).catch((x: unknown) => x);
    const second = await t.submit(Buffer.alloc(13), 50).catch((x: unknown) => x);
    expect(second).toBeInstanceOf(UsbmsArgumentError);
    expect(second).toMatchObject({ name: 'UsbmsArgumentError', code: 'ARG_INVALID' });
    expect(isArgumentError(second)).toBe(true);
    await first;
    await port.close();
  });
});

describe('exit statuses of errors from outside the set', () => {
  it('Node file errors exit 15, anything else 99 and flagged for a stack trace', () => {
    expect(exitStatusFor(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toEqual({ code: 15, known: true });
    expect(exitStatusFor(new TypeError('bug'))).toEqual({ code: 99, known: false });
    expect(exitStatusFor('a string')).toEqual({ code: 99, known: false });
  });
});

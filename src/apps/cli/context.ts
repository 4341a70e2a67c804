/**
 * What every command shares: the global options, opening a session and a disk from them, printing (data and
 * JSON on stdout, everything else on stderr), and turning any error into one "usbms: ..." line and an exit
 * status (the stack only with DEBUG=usbms:*).
 */
import type { Argv } from 'yargs';
import { DiskNoMediumError, type Disk, type DiskOpenOptions } from '../../disk/index.js';
import {
  openSource, openUsbms, replayDivergenceOf, sourceSpecOf, type DeviceSource, type OpenUsbmsOptions, type UsbmsSession,
} from '../../open.js';
import { logger } from '../../util/log.js';
import { CliError, EXIT, exitStatusFor } from './exit.js';
import { maxTransferProblem, parseByteSize } from '../../util/size.js';
import { stderrLine, toJson } from './format.js';
import { printRecovery } from './recovery.js';

const log = logger('cli');

export interface GlobalArgs {
  device?: string | undefined;
  /** '' when given without an image (the demo disk). */
  mock?: string | undefined;
  lun: number;
  json: boolean;
  /** Seconds. */
  timeout?: number | undefined;
  'detach-kernel-driver': boolean;
  force: boolean;
  /** Use a device exported through usbip-host. */
  'force-exported': boolean;
  quirks?: string | undefined;
  /** Write a usbmon pcap of the session (src/usb/trace). */
  pcap?: string | undefined;
  'pcap-snaplen'?: number | undefined;
  /** Replay a capture as the device (src/mock/replay). */
  replay?: string | undefined;
  /** Bytes per BOT command: bytes or K/M/KiB/MiB (parsed by parseMaxTransfer). */
  'max-transfer'?: string | undefined;
  /** bot, uas or auto (default): the wire protocol (src/open-transport.ts). */
  transport?: string | undefined;
}

export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('device', { alias: 'd', type: 'string', describe: 'USB device: vid:pid[:serial] (hex), bus:address, a port path (1-2.3, see usbms list) or usbip:HOST:BUSID', global: true })
    .option('mock', { type: 'string', describe: 'use the built-in emulated disk (in memory); --mock=IMAGE serves a raw image file (make one: truncate -s 64M disk.img), --mock=DEVICE.json a described device', global: true })
    .option('lun', { type: 'number', default: 0, describe: 'logical unit', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable JSON on stdout', global: true })
    .option('timeout', { type: 'number', describe: 'command timeout in seconds', global: true })
    .option('detach-kernel-driver', { type: 'boolean', default: false, describe: 'detach usb-storage (refused while mounted)', global: true })
    .option('force', { type: 'boolean', default: false, describe: 'detach even when a filesystem is mounted; rescue: resume a mapfile of another device', global: true })
    .option('force-exported', { type: 'boolean', default: false, describe: 'use a device this host exports through usbip-host (another host uses it)', global: true })
    .option('quirks', { type: 'string', describe: 'quirk overrides: FLAG[+FLAG] or vid:pid:flags[,...]', global: true })
    .option('pcap', { type: 'string', describe: 'write a usbmon pcap of the USB traffic to FILE (Wireshark, tshark)', global: true })
    .option('pcap-snaplen', { type: 'number', describe: 'keep at most N data bytes per transfer in the pcap', global: true })
    .option('replay', { type: 'string', describe: 'replay a usbmon capture (pcap/pcapng) as the device', global: true })
    .option('max-transfer', { type: 'string', describe: 'bytes per command: N, NK, NM, NKiB, NMiB (see usbms tune)', global: true })
    .option('transport', { type: 'string', choices: ['auto', 'bot', 'uas'], describe: 'wire protocol: auto (UAS at high speed where offered, else Bulk-Only), bot or uas', global: true });
}

/** The --mock option as openUsbms and the source factory take it ('' is the demo disk). */
export function mockArg(a: GlobalArgs): string | true | undefined {
  return a.mock === undefined ? undefined : a.mock === '' ? true : a.mock;
}

/**
 * The device source the global options name (--mock, --replay, else libusb) for the commands that list, switch or
 * follow devices rather than open one session; `--device` stays theirs to interpret.
 */
export function sourceOf(a: GlobalArgs): Promise<DeviceSource> {
  return openSource(sourceSpecOf({ mock: mockArg(a), replay: a.replay }));
}

/** `extra` overrides what the global options say (rescue: tighter BOT timeouts, re-opening a known device). */
export function openSession(a: GlobalArgs, extra: Partial<OpenUsbmsOptions> = {}): Promise<UsbmsSession> {
  if (a.timeout !== undefined && (!Number.isFinite(a.timeout) || a.timeout <= 0)) {
    throw new CliError(`--timeout ${a.timeout} is not a positive number of seconds`);
  }
  return openUsbms({
    device: a.device,
    mock: mockArg(a),
    detachKernelDriver: a['detach-kernel-driver'], force: a.force, forceExported: a['force-exported'], quirks: a.quirks,
    timeoutMs: a.timeout === undefined ? undefined : a.timeout * 1000,
    pcap: pcapOption(a),
    replay: a.replay,
    maxTransferBytes: parseMaxTransfer(a['max-transfer']),
    transport: a.transport,
    onRecovery: printRecovery, // a hanging device is talked about as it is being recovered, not after
    ...extra,
  });
}

/** --max-transfer SIZE: whole 512-byte sectors, 512 bytes to 16 MiB (src/util/size.ts, MAX_TRANSFER_LIMIT). */
export function parseMaxTransfer(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let n: number;
  try { n = parseByteSize(text); } catch (e) { throw new CliError(`--max-transfer: ${(e as Error).message}`); }
  const why = maxTransferProblem(n);
  if (why !== undefined) throw new CliError(`--max-transfer ${text}: ${why}`);
  return n;
}

function pcapOption(a: GlobalArgs): { file: string; snaplen: number | undefined } | undefined {
  const snaplen = a['pcap-snaplen'];
  if (snaplen !== undefined && (!Number.isSafeInteger(snaplen) || snaplen < 0)) {
    throw new CliError(`--pcap-snaplen ${snaplen} is not a non-negative number of bytes`);
  }
  if (a.pcap === undefined || a.pcap === '') {
    if (snaplen !== undefined) throw new CliError('--pcap-snaplen needs --pcap FILE');
    return undefined;
  }
  return { file: a.pcap, snaplen };
}

/** Open the session and the LUN, run `fn`, close everything whatever happens. */
export async function withDisk(a: GlobalArgs, opts: DiskOpenOptions,
  fn: (disk: Disk, session: UsbmsSession) => Promise<number | void>): Promise<number> {
  const session = await openSession(a);
  try {
    const disk = await session.openDisk(checkLun(a.lun), opts);
    const status = (await fn(disk, session)) ?? EXIT.OK;
    if (opts.allowWrite === true && a.mock === '') {
      info('usbms: the built-in disk lives in memory: what this command wrote is gone when usbms exits ' +
        '(--mock=IMAGE serves an image file, which keeps it)');
    }
    return status;
  } catch (e) {
    throw replayDivergenceOf(session.port) ?? e; // a replay that diverged: say where, not "device disconnected"
  } finally {
    await session.close().catch((e: unknown) => { log('close: %s', (e as Error).message); });
  }
}

export async function withSession(a: GlobalArgs, fn: (session: UsbmsSession) => Promise<number | void>): Promise<number> {
  const session = await openSession(a);
  try {
    return (await fn(session)) ?? EXIT.OK;
  } catch (e) {
    throw replayDivergenceOf(session.port) ?? e;
  } finally {
    await session.close().catch((e: unknown) => { log('close: %s', (e as Error).message); });
  }
}

function checkLun(lun: number): number {
  if (!Number.isInteger(lun) || lun < 0 || lun > 15) throw new CliError(`--lun ${lun} is not 0..15`);
  return lun;
}

export function out(text: string): void { process.stdout.write(text.endsWith('\n') ? text : `${text}\n`); }
export function info(text: string): void { stderrLine(text); }
export function printJson(value: unknown): void { out(toJson(value)); }

/** Parse an LBA given in decimal or 0x hex, exactly (BigInt). */
export function parseLba(text: string | number, what = 'LBA'): bigint {
  const s = String(text).trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(s)) throw new CliError(`${what} '${s}' is not a non-negative integer`);
  return BigInt(s);
}

export function parseCount(text: string | number | undefined, what: string, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new CliError(`${what} '${String(text)}' is not a positive integer`);
  return n;
}

/** Whole-disk commands on a removable LUN without a medium: NOT READY (exit 2), not an empty result. */
export function requireMedium(disk: Disk): void {
  if (!disk.mediumPresent) throw new DiskNoMediumError(`LUN ${disk.lun}: medium not present`);
}

export function requireWrite(write: boolean | undefined, what: string): void {
  if (write !== true) throw new CliError(`${what} changes data on the disk: add --write to confirm`);
}

/** Run a command handler: its exit status, or the exit status of its error after one line on stderr. */
export async function run(fn: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await fn()) ?? EXIT.OK;
  } catch (e) {
    if ((e as { code?: unknown } | null)?.code === 'EPIPE') {
      // The reader of our output went away (`| head`): the command is over, quietly (as in ../main.ts).
      process.exitCode = EXIT.OK;
      return;
    }
    const { code, known } = exitStatusFor(e);
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`usbms: ${known ? '' : 'internal error: '}${message}\n`);
    if (log.enabled) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
    process.exitCode = code;
  }
}

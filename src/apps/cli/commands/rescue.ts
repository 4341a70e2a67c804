/**
 * `usbms rescue`: image a failing device the way GNU ddrescue does (copy, trim, scrape, retry; its mapfile
 * format, so ddrescue, ddrescuelog and ddrescueview read the map and a ddrescue map resumes here), with short
 * command timeouts and the USB recovery ladder ddrescue cannot climb (src/apps/rescue/).
 *
 * Read-only on the source: the disk is opened without allowWrite and the engine has no write path to it. The
 * image is sparse; the mapfile is saved atomically every couple of seconds, on every failed read and escalation,
 * and on exit, SIGINT and SIGTERM. Exit status: 0 all rescued, 3 finished with unreadable areas (or stopped by
 * --max-errors), 35 the device was lost, 130/143 interrupted by SIGINT/SIGTERM (mapfile saved: resume by running
 * the same command again).
 */
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { DiskNoMediumError } from '../../../disk/index.js';
import type { OpenUsbmsOptions, UsbmsSession } from '../../../open.js';
import {
  formatMapfile, loadMapfile, mapDeviceMismatch, mapFromMapfile, RescueEngine, RescueImage, RescueMap, saveMapfileAtomic,
  SessionRescueDevice, findSlot, slotSource, type MapDevice, type MapfileState, type ParsedMapfile, type RescueEvent,
  type RescueCounts, type RescueOutcome,
} from '../../rescue/index.js';
import type { RecoveryEvent } from '../../../util/recovery.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { formatBytes, formatDuration } from '../format.js';
import { openSession, run, sourceOf, type GlobalArgs } from '../context.js';
import { recoveryFields, recoveryText } from '../recovery.js';

interface RescueArgs extends GlobalArgs {
  out?: string | undefined;
  map?: string | undefined;
  retries: number;
  reverse: boolean;
  'block-size': number;
  'max-errors'?: number | undefined;
  'wait-device': number;
  'save-interval': number;
}

const DEFAULT_TIMEOUT_S = 5;

/** One NDJSON line: BigInt as a number while exact (as toJson does), as a decimal string beyond 2^53. */
function ndjson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v !== 'bigint' ? v
    : v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()));
}

function check(a: RescueArgs): void {
  if (a.out === undefined || a.map === undefined) throw new CliError('rescue needs --out IMAGE and --map MAPFILE');
  if (resolve(a.out) === resolve(a.map)) throw new CliError('--out and --map must be different files');
  if (!Number.isInteger(a.retries) || a.retries < 0) throw new CliError(`--retries ${a.retries} is not a non-negative integer`);
  if (!Number.isInteger(a['block-size']) || a['block-size'] < 512) {
    throw new CliError(`--block-size ${a['block-size']} is not an integer of at least 512 bytes`);
  }
  const me = a['max-errors'];
  if (me !== undefined && (!Number.isInteger(me) || me < 0)) throw new CliError(`--max-errors ${me} is not a non-negative integer`);
  if (!(a['wait-device'] > 0)) throw new CliError(`--wait-device ${a['wait-device']} is not a positive number of seconds`);
  if (!(a['save-interval'] > 0)) throw new CliError(`--save-interval ${a['save-interval']} is not a positive number of seconds`);
}

/** Where a rescue's events and the USB recovery steps of its sessions go: NDJSON on stdout, or lines for people. */
interface Reporter {
  event(e: RescueEvent): void;
  recovery(e: RecoveryEvent): void;
}

function reporter(json: boolean): Reporter {
  if (json) {
    return {
      event: (e) => { process.stdout.write(`${ndjson(e)}\n`); },
      recovery: (e) => { process.stdout.write(`${ndjson({ type: 'recovery', ...recoveryFields(e) })}\n`); },
    };
  }
  return humanReporter();
}

/** One line on stderr for people: a redrawn status line on a terminal, events as lines otherwise. */
function humanReporter(): Reporter {
  const tty = process.stderr.isTTY;
  let drawn = false;
  const line = (text: string): void => {
    if (drawn) process.stderr.write('\r\x1b[K');
    drawn = false;
    process.stderr.write(`${text}\n`);
  };
  return { recovery: (e) => { line(`usbms: ${recoveryText(e)}`); }, event: (e) => {
    switch (e.type) {
      case 'start':
        line(`rescue: ${e.device}, ${formatBytes(e.size)} in ${e.blockSize}-byte blocks, ${e.copyBytes}-byte copy reads` +
          `${e.resumed ? `, resuming at ${e.phase} pass ${e.pass} position 0x${e.pos.toString(16)}` : ''}`);
        break;
      case 'phase':
        line(`rescue: ${e.phase}${e.phase === 'copy' || e.phase === 'retry' ? ` pass ${e.pass}` : ''} (${e.direction})`);
        break;
      case 'escalation':
        line(`rescue: device trouble at 0x${e.pos.toString(16)} (${e.reason}): ${e.step} ${e.ok ? 'recovered it' : 'did not help'} (${e.detail}, ${e.ms} ms)`);
        break;
      case 'read-error':
        if (!tty) line(`rescue: read of 0x${e.pos.toString(16)}+${e.size} failed (${e.failure}): ${e.message}`);
        break;
      case 'progress':
        if (!tty) break;
        process.stderr.write(`\r${e.phase} ${e.pass} pos 0x${e.pos.toString(16)} rescued ${formatBytes(e.rescued)} ` +
          `(${(Number(e.rescued) * 100 / Math.max(1, Number(e.size))).toFixed(2)}%) bad areas ${e.badAreas} ` +
          `errors ${e.readErrors} ${formatBytes(e.bytesPerSecond)}/s\x1b[K`);
        drawn = true;
        break;
      case 'summary':
        if (e.result === 'nothing-left') {
          line(`rescue: ${e.message}; image ${e.image}`);
          break;
        }
        line(`rescue: ${e.message}\n  rescued ${e.rescued} of ${e.size} bytes (${formatBytes(e.rescued)}), bad areas ${e.badAreas} ` +
          `(non-trimmed ${e.nonTrimmed}, non-scraped ${e.nonScraped}, bad ${e.badSectors} bytes), non-tried ` +
          `${e.nonTried} bytes, ${e.readErrors} failed reads, ${e.escalations.length} escalations, ` +
          `${formatDuration(e.elapsedS)} at ${formatBytes(e.bytesPerSecond)}/s\n  map ${e.mapfile}, image ${e.image}`);
        for (const x of e.escalations) {
          process.stderr.write(`  escalation at 0x${x.pos.toString(16)}: ${x.step} ${x.ok ? 'ok' : 'failed'} - ${x.detail}\n`);
        }
        break;
    }
  } };
}

function exitFor(o: RescueOutcome, signal: NodeJS.Signals | undefined): number {
  if (o.result === 'interrupted') return signal === 'SIGTERM' ? 143 : 130;
  if (o.result === 'device-lost') return EXIT.TRANSPORT_ERROR;
  if (o.result === 'too-many-bad-areas') return EXIT.MEDIUM_HARD;
  return o.counts.rescued === o.counts.size ? EXIT.OK : EXIT.MEDIUM_HARD;
}

async function rescueCmd(a: RescueArgs): Promise<number> {
  check(a);
  const outPath = a.out!;
  const mapPath = a.map!;
  const timeoutMs = (a.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
  // Every phase bounded by the command timeout: a wedged stick is noticed in seconds (BOT defaults are 6 s each).
  const report = reporter(a.json);
  const extra: Partial<OpenUsbmsOptions> = {
    timeoutMs, botTimeouts: { cbwMs: timeoutMs, cswMs: timeoutMs, controlMs: Math.max(1000, timeoutMs) },
    onRecovery: (e) => { report.recovery(e); },
  };
  const parsed = loadMapfile(mapPath);
  // The device is known by its slot (port path + VID:PID + serial) on one backend for the whole run, so that it
  // is found again, and only it, after a reset, a power cycle or a re-plug gives it a new address.
  const { backend, selector } = await sourceOf(a);
  const device = a.device ?? selector;
  if (device === undefined) throw new CliError('rescue needs --device (see `usbms list`) or --mock');
  const slot = await findSlot(backend, device);
  const openIn = (): Promise<UsbmsSession> => openSession({ ...a, device: undefined, mock: undefined },
    { ...extra, backend, device: slot.selector, expect: slot.identity });
  const first = await openIn();
  let dev: SessionRescueDevice;
  try {
    dev = await SessionRescueDevice.open(first, a.lun, { retries: 0, readyTimeoutMs: 5000 }, slotSource(slot, openIn),
      a['wait-device'] * 1000);
  } catch (e) {
    await first.close().catch(() => undefined);
    throw e;
  }
  try {
    if (!dev.mediumPresent) throw new DiskNoMediumError(`LUN ${a.lun}: medium not present`);
    if (a['block-size'] % dev.blockSize !== 0) {
      throw new CliError(`--block-size ${a['block-size']} is not a multiple of the device's ${dev.blockSize}-byte blocks`);
    }
    const size = dev.blocks * BigInt(dev.blockSize);
    const device: MapDevice = { vendorId: slot.identity.vendorId, productId: slot.identity.productId,
      serial: slot.identity.serialNumber ?? null, bytes: size };
    checkMapDevice(parsed, device, mapPath, a.force);
    const map = parsed === undefined || parsed.empty ? new RescueMap(size) : mapFromMapfile(parsed, size);
    const misaligned = map.list().find((x) => x.pos % BigInt(dev.blockSize) !== 0n);
    if (misaligned !== undefined) {
      throw new CliError(`${mapPath}: block at 0x${misaligned.pos.toString(16)} is not on a ${dev.blockSize}-byte block boundary`);
    }
    const done = nothingLeft(map, a.retries);
    if (done !== undefined) {
      report.event({ type: 'summary', result: 'nothing-left', message: `nothing left to do: ${mapPath} ${done}`, elapsedS: 0,
        bytesPerSecond: 0, escalations: [], mapfile: mapPath, image: outPath, ...countsOf(map) });
      return map.totals()['-'] === 0n ? EXIT.OK : EXIT.MEDIUM_HARD;
    }
    return await runRescue(a, dev, map, parsed === undefined || parsed.empty ? undefined : parsed, outPath, mapPath,
      device, report);
  } finally {
    await dev.close();
  }
}

/**
 * A mapfile written for another device (its device line names other VID:PID, serial or size) is refused unless
 * --force: resumed on this device, it would leave blocks never read here marked rescued. A mapfile without a
 * device line (GNU ddrescue's own) cannot be checked, so it is taken as before.
 */
function checkMapDevice(parsed: ParsedMapfile | undefined, device: MapDevice, mapPath: string, force: boolean): void {
  if (parsed?.device === undefined) return;
  const why = mapDeviceMismatch(parsed.device, device);
  if (why === undefined) return;
  if (force) {
    process.stderr.write(`usbms: ${mapPath}: ${why}; resuming anyway (--force)\n`);
    return;
  }
  throw new CliError(`${mapPath} is the mapfile of another device: ${why}. Resuming it here would mark blocks ` +
    'rescued that were never read from this device: give another --map, or --force to resume it anyway', 'RESCUE_MAPFILE');
}

/** Why a map has nothing left for this run (every byte rescued, or only bad sectors and no --retries), or undefined. */
function nothingLeft(map: RescueMap, retries: number): string | undefined {
  const t = map.totals();
  if (t['?'] + t['*'] + t['/'] > 0n) return undefined;
  if (t['-'] === 0n) return `is finished: all ${map.size} bytes are rescued`;
  if (retries > 0) return undefined;
  return `is finished but for ${t['-']} bytes in ${map.badAreas()} bad areas (--retries N reads them again)`;
}

function countsOf(map: RescueMap): RescueCounts {
  const t = map.totals();
  return { size: map.size, rescued: t['+'], nonTried: t['?'], nonTrimmed: t['*'], nonScraped: t['/'],
    badSectors: t['-'], badAreas: map.badAreas(), readErrors: 0 };
}

async function runRescue(a: RescueArgs, dev: SessionRescueDevice, map: RescueMap, resume: MapfileState | undefined,
  outPath: string, mapPath: string, device: MapDevice, report: Reporter): Promise<number> {
  const image = RescueImage.open(outPath, map.size);
  const startTime = new Date();
  const commandLine = ['usbms', ...process.argv.slice(2)].join(' ');
  const checkpoint = (m: RescueMap, state: MapfileState, message: string): void => {
    image.sync();
    saveMapfileAtomic(mapPath, formatMapfile(m, state, { creator: 'usbms rescue (GNU ddrescue mapfile format)',
      commandLine, startTime, currentTime: new Date(), message, device }));
  };
  const emit = (e: RescueEvent): void => { report.event(e); };
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals): void => {
    if (signal !== undefined) {
      // A second signal: the mapfile was saved after the last read; leave now.
      process.stderr.write(`usbms: ${s} again, leaving at once (mapfile as last saved)\n`);
      process.exit(s === 'SIGTERM' ? 143 : 130);
    }
    signal = s;
    process.stderr.write(`\nusbms: ${s}: stopping after the read in progress, saving the mapfile\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const engine = new RescueEngine(dev, image, map, resume, {
      copyBytes: a['block-size'], retries: a.retries, reverse: a.reverse, maxBadAreas: a['max-errors'],
      waitDeviceMs: a['wait-device'] * 1000, saveIntervalMs: a['save-interval'] * 1000,
      progressIntervalMs: a.json ? 1000 : 200, onEvent: emit, stopRequested: () => signal !== undefined,
    }, checkpoint);
    const o = await engine.run();
    emit({ type: 'summary', result: o.result, message: o.message, elapsedS: o.elapsedS, bytesPerSecond: o.bytesPerSecond,
      escalations: o.escalations, mapfile: mapPath, image: outPath, ...o.counts });
    return exitFor(o, signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    image.close();
  }
}

export function registerRescueCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('rescue', 'image a failing device as GNU ddrescue does (its mapfile format), with USB resets and re-plug recovery',
    (b) => withExamples(b, 'rescue')
      .option('out', { type: 'string', describe: 'output image (sparse; created, never truncated)' })
      .option('map', { type: 'string', describe: 'GNU ddrescue mapfile: resumed when it exists' })
      .option('retries', { type: 'number', default: 0, describe: 'retry passes over the bad blocks' })
      .option('reverse', { type: 'boolean', default: false, describe: 'read backwards (every pass)' })
      .option('block-size', { type: 'number', default: 65536, describe: 'bytes per copy-phase read (trim, scrape and retry read single blocks)' })
      .option('max-errors', { type: 'number', describe: 'stop when there are more bad areas than this' })
      .option('wait-device', { type: 'number', default: 60, describe: 'seconds to wait for the device to come back after it vanished' })
      .option('save-interval', { type: 'number', default: 2, describe: 'longest seconds between mapfile saves' }),
    (a) => run(() => rescueCmd(a as unknown as RescueArgs)));
}


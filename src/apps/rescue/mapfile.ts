/**
 * GNU ddrescue's mapfile format (ddrescue manual, "Mapfile structure"), read and written exactly:
 *
 * ```
 * # Mapfile. Created by GNU ddrescue version 1.27       <- heading comments: for people only
 * # current_pos  current_status  current_pass
 * 0x00120000     ?               1                      <- status line: position, phase char, pass (optional)
 * #      pos        size  status
 * 0x00000000  0x00117000  +                             <- data blocks: contiguous, non-overlapping
 * ```
 *
 * '#' at the start of a line or after whitespace begins a comment. Numbers are read as C's strtoull with base 0
 * does (0x hex, leading-0 octal, decimal), as ddrescue reads them; they are written in hex as ddrescue writes
 * them. Versions before 1.20 (then called "logfile") wrote no current_pass; it is optional here.
 */
import { UsbmsError } from '../../util/errors.js';
import { RescueMap, hex, type Area, type AreaStatus } from './map.js';

/** The phase the status line names. */
export type MapPhase =
  | '?' // copying non-tried blocks
  | '*' // trimming non-trimmed blocks
  | '/' // scraping non-scraped blocks
  | '-' // retrying bad sectors
  | 'F' // filling (ddrescue --fill-mode)
  | 'G' // generating an approximate mapfile (ddrescue --generate-mode)
  | '+'; // finished

const PHASES = new Set<string>(['?', '*', '/', '-', 'F', 'G', '+']);
const STATUSES = new Set<string>(['?', '*', '/', '-', '+']);

export interface MapfileState {
  /** current_pos: start of the block being tried (forward pass) or its end (backward pass). */
  readonly currentPos: bigint;
  readonly currentStatus: MapPhase;
  /** current_pass, 1-based; 1 when the file predates it. */
  readonly currentPass: number;
}

/**
 * The device a mapfile was written for, kept in a comment line of its own (ddrescue and ddrescuelog skip every
 * comment, so the file stays theirs): `# Device: f055:5b00 serial "USBMS-DEMO" 67108864 bytes`.
 */
export interface MapDevice {
  readonly vendorId: number;
  readonly productId: number;
  /** The USB serial number string; null when the device has none. */
  readonly serial: string | null;
  /** Capacity in bytes. */
  readonly bytes: bigint;
}

export interface ParsedMapfile extends MapfileState {
  /** The data blocks, as listed (contiguous; possibly not starting at 0 and not reaching the device's end). */
  readonly areas: readonly Area[];
  /** No status line at all: a mapfile with comments only, which ddrescue treats as a new rescue. */
  readonly empty: boolean;
  /** The device line usbms writes; undefined in a mapfile without one (GNU ddrescue's own, or hand-made). */
  readonly device?: MapDevice | undefined;
}

const DEVICE_LINE = /^#\s*Device:\s+([0-9a-f]{4}):([0-9a-f]{4})\s+serial\s+(none|"(?:[^"\\]|\\.)*")\s+(\d+)\s+bytes\s*$/i;

/** The comment line that names `d`. */
export function formatMapDevice(d: MapDevice): string {
  const id = (n: number): string => n.toString(16).padStart(4, '0');
  return `# Device: ${id(d.vendorId)}:${id(d.productId)} serial ${d.serial === null ? 'none' : JSON.stringify(d.serial)} ${d.bytes} bytes`;
}

/** The device a comment line names, or undefined when it is not a device line (or a malformed one). */
export function parseMapDevice(line: string): MapDevice | undefined {
  const m = DEVICE_LINE.exec(line.trim());
  if (m === null) return undefined;
  let serial: string | null = null;
  if (m[3] !== 'none') {
    try { serial = JSON.parse(m[3] ?? '') as string; } catch { return undefined; }
  }
  return { vendorId: parseInt(m[1] ?? '', 16), productId: parseInt(m[2] ?? '', 16), serial, bytes: BigInt(m[4] ?? '0') };
}

/** How `found` differs from `expected`, in words ("serial B instead of A"), or undefined when it is the same device. */
export function mapDeviceMismatch(expected: MapDevice, found: MapDevice): string | undefined {
  const id = (d: MapDevice): string => formatMapDevice(d).replace(/^# Device: /, '');
  const same = expected.vendorId === found.vendorId && expected.productId === found.productId &&
    expected.serial === found.serial && expected.bytes === found.bytes;
  return same ? undefined : `it was written for ${id(expected)}, and this device is ${id(found)}`;
}

/** A mapfile that cannot be read: `line` is 1-based. */
export class MapfileError extends UsbmsError {
  override readonly name = 'MapfileError';
  constructor(message: string, readonly line?: number) {
    super('RESCUE_MAPFILE', line === undefined ? message : `line ${line}: ${message}`);
  }
}

/** strtoull(text, 0) without the silent wrap-around: 0x.. hex, 0.. octal, else decimal. */
export function parseMapNumber(text: string, line?: number): bigint {
  const t = text.trim();
  let ok: boolean;
  if (/^0[xX]/.test(t)) ok = /^0[xX][0-9a-fA-F]+$/.test(t);
  else if (/^0[0-7]+$/.test(t)) return BigInt(`0o${t.slice(1)}`);
  else ok = /^\d+$/.test(t);
  if (!ok) throw new MapfileError(`'${text}' is not a non-negative integer`, line);
  return BigInt(t);
}

function stripComment(line: string): string {
  // '#' starts a comment at the start of the line or after whitespace (ddrescue's rule; "a#b" is not one).
  const m = /(^|\s)#/.exec(line);
  return (m === null ? line : line.slice(0, m.index)).trim();
}

export function parseMapfile(text: string): ParsedMapfile {
  const lines = text.split(/\r?\n/);
  let state: MapfileState | undefined;
  let device: MapDevice | undefined;
  const areas: Area[] = [];
  lines.forEach((raw, i) => {
    const n = i + 1;
    device ??= parseMapDevice(raw);
    const body = stripComment(raw);
    if (body === '') return;
    const fields = body.split(/\s+/);
    if (state === undefined) {
      if (fields.length < 2 || fields.length > 3) {
        throw new MapfileError(`status line needs "current_pos current_status [current_pass]", got '${body}'`, n);
      }
      const [pos = '', status = '', pass] = fields;
      if (!PHASES.has(status)) throw new MapfileError(`'${status}' is not a ddrescue status (? * / - F G +)`, n);
      let currentPass = 1;
      if (pass !== undefined) {
        if (!/^\d+$/.test(pass) || Number(pass) < 1) throw new MapfileError(`current_pass '${pass}' is not a positive integer`, n);
        currentPass = Number(pass);
      }
      state = { currentPos: parseMapNumber(pos, n), currentStatus: status as MapPhase, currentPass };
      return;
    }
    if (fields.length !== 3) throw new MapfileError(`data block needs "pos size status", got '${body}'`, n);
    const [p = '', s = '', st = ''] = fields;
    if (!STATUSES.has(st)) throw new MapfileError(`'${st}' is not a block status (? * / - +)`, n);
    const pos = parseMapNumber(p, n);
    const size = parseMapNumber(s, n);
    if (size === 0n) throw new MapfileError(`block at ${hex(pos)} has size 0`, n);
    const prev = areas[areas.length - 1];
    if (prev !== undefined && prev.pos + prev.size !== pos) {
      throw new MapfileError(`block at ${hex(pos)} is not contiguous with the previous one (which ends at ` +
        `${hex(prev.pos + prev.size)})`, n);
    }
    areas.push({ pos, size, status: st as AreaStatus });
  });
  if (state === undefined) return { currentPos: 0n, currentStatus: '?', currentPass: 1, areas: [], empty: true, device };
  return { ...state, areas, empty: false, device };
}

/**
 * The map of a device of `size` bytes from a parsed mapfile: blocks before the first listed one and after the
 * last are non-tried (ddrescue's domain may have been restricted with -i/-s); a listing that runs past the
 * device's end is refused (a mapfile of another device).
 */
export function mapFromMapfile(parsed: ParsedMapfile, size: bigint): RescueMap {
  const map = new RescueMap(size);
  if (parsed.areas.length === 0) return map;
  const last = parsed.areas[parsed.areas.length - 1];
  if (last !== undefined && last.pos + last.size > size) {
    throw new MapfileError(`the mapfile describes ${last.pos + last.size} bytes but the device has ${size}: ` +
      'is it the mapfile of another device?');
  }
  for (const a of parsed.areas) map.set(a.pos, a.size, a.status);
  return map;
}

export interface MapfileHeader {
  /** e.g. "usbms 0.1.0". */
  readonly creator: string;
  readonly commandLine: string;
  readonly startTime: Date;
  readonly currentTime: Date;
  /** The status message, e.g. "Copying non-tried blocks... Pass 1 (forwards)". */
  readonly message: string;
  /** The device rescued, written as a comment line of its own ({@link formatMapDevice}). */
  readonly device?: MapDevice | undefined;
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** ddrescue's "0x%08llX". */
function hex8(n: bigint): string { return `0x${n.toString(16).toUpperCase().padStart(8, '0')}`; }

/** The mapfile text, laid out as ddrescue 1.2x writes it (so ddrescuelog, ddrescueview and diff all agree). */
export function formatMapfile(map: RescueMap, state: MapfileState, header: MapfileHeader): string {
  const lines = [
    `# Mapfile. Created by ${header.creator}`,
    `# Command line: ${header.commandLine.replace(/[\r\n]+/g, ' ')}`,
    `# Start time:   ${stamp(header.startTime)}`,
    `# Current time: ${stamp(header.currentTime)}`,
    ...(header.device === undefined ? [] : [formatMapDevice(header.device)]),
    `# ${header.message}`,
    '# current_pos  current_status  current_pass',
    `${hex8(state.currentPos)}     ${state.currentStatus}               ${state.currentPass}`,
    '#      pos        size  status',
  ];
  for (const a of map.list()) lines.push(`${hex8(a.pos)}  ${hex8(a.size)}  ${a.status}`);
  return `${lines.join('\n')}\n`;
}

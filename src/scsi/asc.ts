/**
 * Sense key names and ASC/ASCQ descriptions (SPC-5 4.4). Never throws: unknown codes get a description that
 * says so, the way sg_decode_sense prints them.
 */
import { ASC_ENTRIES, ASC_RANGES } from './asc-table.js';
import { hex2 } from './spec.js';

/** Sense key names as sg3_utils prints them (SPC-5 table 49). */
export const SENSE_KEY_NAMES: readonly string[] = [
  'No Sense', 'Recovered Error', 'Not Ready', 'Medium Error', 'Hardware Error', 'Illegal Request',
  'Unit Attention', 'Data Protect', 'Blank Check', 'Vendor specific(9)', 'Copy Aborted', 'Aborted Command',
  'Equal', 'Volume Overflow', 'Miscompare', 'Completed',
];

/** The sense keys (SPC-5 4.4.8). */
export const SenseKey = {
  NO_SENSE: 0x0, RECOVERED_ERROR: 0x1, NOT_READY: 0x2, MEDIUM_ERROR: 0x3, HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5, UNIT_ATTENTION: 0x6, DATA_PROTECT: 0x7, BLANK_CHECK: 0x8, VENDOR_SPECIFIC: 0x9,
  COPY_ABORTED: 0xa, ABORTED_COMMAND: 0xb, EQUAL: 0xc, VOLUME_OVERFLOW: 0xd, MISCOMPARE: 0xe, COMPLETED: 0xf,
} as const;

/** The name of a sense key, e.g. "MEDIUM ERROR". */
export function senseKeyName(key: number): string {
  return SENSE_KEY_NAMES[key] ?? `invalid sense key 0x${key.toString(16)}`;
}

const table = new Map<number, string>(ASC_ENTRIES);

/** The T10 description of an ASC/ASCQ pair, by table, then by assigned range, then by rule. */
export function ascDescription(asc: number, ascq: number): string {
  const exact = table.get((asc << 8) | ascq);
  if (exact !== undefined) return exact;
  for (const r of ASC_RANGES) {
    if (r.asc === asc && ascq >= r.ascqMin && ascq <= r.ascqMax) return r.text.replace('%s', `0x${hex2(ascq)}`);
  }
  // SPC-5 reserves ASC 0x80-0xFF, and ASCQ 0x80-0xFF under any ASC, for vendors.
  if (asc >= 0x80) return `vendor specific ASC=0x${hex2(asc)}, ASCQ=0x${hex2(ascq)} (hex)`;
  if (ascq >= 0x80) return `ASC=0x${hex2(asc)} vendor specific qualification ASCQ=0x${hex2(ascq)} (hex)`;
  return `ASC 0x${hex2(asc)} ASCQ 0x${hex2(ascq)} (unknown)`;
}

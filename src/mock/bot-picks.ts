/**
 * Helpers of the Bulk-Only device function: the BOT §6.7 case table, and the per-command fault picks
 * flattened out of the fault rules.
 */
import type { Fault } from './types.js';

import { CSW_LENGTH } from '../usb/wire/bot.js';

/** A CSW is 13 bytes (the shared wire declaration). */
export { CSW_LENGTH };

/** Per-command fault picks, flattened so the command path reads them cheaply. */
export interface Picks {
  stallCbw: boolean;
  cbwHang: boolean;
  dataStall: number | undefined;
  dataHang: boolean;
  dataDelay: number;
  dataDisconnect: number | undefined;
  shortData: number | undefined;
  babble: number;
  cswStall: boolean;
  cswHang: boolean;
  cswDelay: number;
  cswDisconnect: boolean;
  lostCsw: boolean;
  phaseError: boolean;
  cswSignature: boolean;
  cswTag: boolean;
  cswLength: number;
  cswStatus: number | undefined;
  cswResidue: number | undefined;
  /** CHECK CONDITION, NO SENSE, and the data corrupted in the same command. */
  noSenseCorrupt: boolean;
}

/** BOT §6.7: the case number from host expectation (length, direction) and device intent. */
export function botCase(expected: number, hostDir: 'in' | 'out', intent: 'none' | 'in' | 'out', length: number): number {
  const d = intent === 'none' || length === 0 ? 'none' : intent;
  if (expected === 0) return d === 'none' ? 1 : d === 'in' ? 2 : 3;
  if (hostDir === 'in') {
    if (d === 'none') return 4;
    if (d === 'out') return 8;
    return length < expected ? 5 : length === expected ? 6 : 7;
  }
  if (d === 'none') return 9;
  if (d === 'in') return 10;
  return length < expected ? 11 : length === expected ? 12 : 13;
}

export function freshPicks(): Picks {
  return {
    stallCbw: false, cbwHang: false, dataStall: undefined, dataHang: false, dataDelay: 0, dataDisconnect: undefined,
    shortData: undefined, babble: 0, cswStall: false, cswHang: false, cswDelay: 0, cswDisconnect: false,
    lostCsw: false, phaseError: false, cswSignature: false, cswTag: false, cswLength: CSW_LENGTH, cswStatus: undefined, cswResidue: undefined,
    noSenseCorrupt: false,
  };
}

export function applyPick(p: Picks, f: Fault): void {
  switch (f.kind) {
    case 'stall':
      if (f.phase === 'cbw') p.stallCbw = true;
      else if (f.phase === 'data') p.dataStall = f.afterBytes ?? 0;
      else p.cswStall = true;
      break;
    case 'no-response':
      if (f.phase === 'cbw') p.cbwHang = true;
      else if (f.phase === 'data') p.dataHang = true;
      else p.cswHang = true;
      break;
    case 'short-data': p.shortData = f.bytes; break;
    case 'babble': p.babble = f.extraBytes; break;
    case 'csw-signature': p.cswSignature = true; break;
    case 'csw-tag': p.cswTag = true; break;
    case 'csw-length': p.cswLength = f.length; break;
    case 'csw-status': p.cswStatus = f.status; break;
    case 'csw-residue': p.cswResidue = f.residue; break;
    case 'lost-csw': p.lostCsw = true; break;
    case 'phase-error': p.phaseError = true; break;
    case 'no-sense-corrupt': p.noSenseCorrupt = true; break;
    case 'delay': if (f.phase === 'data') p.dataDelay = f.ms; else p.cswDelay = f.ms; break;
    case 'disconnect': if (f.phase === 'data') p.dataDisconnect = f.afterBytes ?? 0; else p.cswDisconnect = true; break;
    case 'medium-error': case 'capacity-off-by-one': case 'get-max-lun-stall': break;
  }
}

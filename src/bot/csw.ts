/**
 * Command Status Wrapper (BOT 1.0 §5.2): 13 bytes. Validity (length, signature, tag) and meaningfulness (status
 * and residue) are checked here, so the engine only decides what to do with the verdict.
 */
import { CSW_LENGTH, CSW_SIGNATURE, CSW_STATUS, CswLayout } from '../usb/wire/bot.js';

// The wire declarations live in src/usb/wire/bot.ts (shared with the software disk, traces and the test hosts).
export { CSW_LENGTH, CSW_SIGNATURE, CswLayout } from '../usb/wire/bot.js';

/** A decoded CSW: the fields CswLayout declares. */
export type Csw = ReturnType<typeof CswLayout.decode>;

/** Encode a CSW into `buf` at `offset`; returns its length (13). */
export function encodeCsw(csw: Csw, buf: Uint8Array, offset = 0): number {
  return CswLayout.encode({ signature: csw.signature, tag: csw.tag, dataResidue: csw.dataResidue, status: csw.status },
    buf, offset);
}

/** checkCsw's answer: valid and meaningful, or why not (BOT 1.0 §6.3). */
export type CswVerdict =
  | { ok: true; csw: Csw }
  | { ok: false; reason: 'length' | 'signature' | 'tag' | 'status' | 'residue'; detail: string; csw?: Csw };

/**
 * Check `received` bytes of `buf` as the CSW of the command tagged `tag` with `expected` data bytes.
 * `ignoreResidue` (quirk) skips the residue <= expected test, because such devices report garbage there.
 */
export function checkCsw(buf: Uint8Array, received: number, tag: number, expected: number,
  ignoreResidue: boolean): CswVerdict {
  if (received !== CSW_LENGTH) return { ok: false, reason: 'length', detail: `CSW of ${received} bytes, not 13` };
  const csw: Csw = CswLayout.decode(buf);
  if (csw.signature !== CSW_SIGNATURE) {
    return { ok: false, reason: 'signature', detail: `CSW signature 0x${csw.signature.toString(16)}`, csw };
  }
  if (csw.tag !== tag) return { ok: false, reason: 'tag', detail: `CSW tag ${csw.tag}, expected ${tag}`, csw };
  if (csw.status === CSW_STATUS.PHASE_ERROR) return { ok: true, csw };
  if (csw.status !== CSW_STATUS.PASSED && csw.status !== CSW_STATUS.FAILED) {
    return { ok: false, reason: 'status', detail: `CSW status ${csw.status} is not 0, 1 or 2`, csw };
  }
  if (!ignoreResidue && csw.dataResidue > expected) {
    return { ok: false, reason: 'residue', detail: `CSW residue ${csw.dataResidue} > expected ${expected}`, csw };
  }
  return { ok: true, csw };
}

/**
 * The residue the host believes. The host counted what it moved; the device may claim MORE was left over (it
 * padded an IN phase, or accepted OUT data it did not process) and that is kept, but a device residue smaller
 * than what the host saw missing can never make missing data look present. With IGNORE_RESIDUE only the host's
 * count is used.
 */
export function hostResidue(expected: number, transferred: number, deviceResidue: number,
  ignoreResidue: boolean): number {
  const counted = expected - transferred;
  if (ignoreResidue || deviceResidue > expected) return counted;
  return Math.max(counted, deviceResidue);
}

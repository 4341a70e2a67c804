/**
 * Sense data as the disk driver needs it (key, ASC/ASCQ, INFORMATION) and the mapping from sense to a typed
 * DiskError. Decoding and the text come from the SCSI codec layer (src/scsi), so `usbms sense` and an error
 * message say the same thing as `sg_decode_sense`.
 */
import { decodeSense, formatSense } from '../scsi/index.js';
import {
  DiskError, DiskIllegalRequestError, DiskMediumError, DiskNoMediumError, DiskNotReadyError,
  DiskWriteProtectedError, type DiskSense,
} from './errors.js';

/** The sense keys the disk driver branches on. */
export const SENSE_KEY = {
  NO_SENSE: 0x0, RECOVERED_ERROR: 0x1, NOT_READY: 0x2, MEDIUM_ERROR: 0x3, HARDWARE_ERROR: 0x4,
  ILLEGAL_REQUEST: 0x5, UNIT_ATTENTION: 0x6, DATA_PROTECT: 0x7, BLANK_CHECK: 0x8, ABORTED_COMMAND: 0xb,
  MISCOMPARE: 0xe,
} as const;

/** Normalise fixed or descriptor sense. `raw` is kept as given (callers pass a copy they own). */
export function decodeDiskSense(raw: Buffer): DiskSense {
  const s = decodeSense(raw);
  return {
    key: s.senseKey, asc: s.asc, ascq: s.ascq,
    information: s.valid ? s.information : undefined,
    // One line: error messages and logs print it after a colon.
    raw, text: formatSense(s).trim().replace(/\s*\n\s*/g, '; '), decoded: s,
  };
}

/** The typed error for a CHECK CONDITION that is not retried (or whose retries ran out). */
export function errorForSense(sense: DiskSense, command: string, lba: bigint | undefined): DiskError {
  const message = `${command}${lba === undefined ? '' : ` at LBA ${lba}`}: ${sense.text}`;
  const opts = { sense, lba, status: 0x02 };
  switch (sense.key) {
    case SENSE_KEY.NOT_READY:
      return sense.asc === 0x3a ? new DiskNoMediumError(message, opts) : new DiskNotReadyError(message, opts);
    case SENSE_KEY.MEDIUM_ERROR:
      // The device names the failing block in INFORMATION; without it, the best we know is the command's LBA.
      return new DiskMediumError(message, { ...opts, lba: sense.information ?? lba });
    case SENSE_KEY.HARDWARE_ERROR:
      return new DiskError('hardware', message, { ...opts, lba: sense.information ?? lba });
    case SENSE_KEY.ILLEGAL_REQUEST:
      return new DiskIllegalRequestError(message, opts);
    case SENSE_KEY.DATA_PROTECT:
      return new DiskWriteProtectedError(message, opts);
    case SENSE_KEY.UNIT_ATTENTION:
      return new DiskError('unit-attention', message, opts);
    case SENSE_KEY.ABORTED_COMMAND:
      return new DiskError('aborted', message, opts);
    default:
      return new DiskError('check-condition', message, opts);
  }
}

/**
 * Why these sense bytes cannot be trusted as a verdict (undefined: they can). Sense is trusted only when its own
 * RESPONSE CODE says current sense (0x70 fixed, 0x72 descriptor; deferred 0x71/0x73 speaks of an earlier command)
 * and its ADDITIONAL SENSE LENGTH holds together with the bytes that really arrived: enough of them to carry the
 * sense key and ASC/ASCQ (fixed: 14 bytes, with ADDITIONAL SENSE LENGTH >= 6; descriptor: the 8-byte header).
 */
export function untrustedSense(sense: DiskSense): string | undefined {
  const d = sense.decoded;
  const raw = sense.raw;
  if (d.malformed) return `not sense data (response code 0x${(raw[0] ?? 0).toString(16)}, ${raw.length} bytes)`;
  if (d.deferred) return 'deferred sense (it reports an earlier command)';
  if (d.format === 'fixed') {
    const additional = raw[7];
    if (raw.length < 14 || additional === undefined || additional < 6) {
      return `fixed-format sense too short to hold ASC/ASCQ (${raw.length} bytes, additional length ${additional ?? 'missing'})`;
    }
    if (raw.length < 8 + Math.min(additional, 10)) {
      return `sense shorter (${raw.length} bytes) than its additional length ${additional} says`;
    }
    return undefined;
  }
  if (raw.length < 8) return `descriptor-format sense of ${raw.length} bytes (at least 8)`;
  if (d.truncated) return `sense shorter (${raw.length} bytes) than its additional length ${raw[7] ?? 0} says`;
  return undefined;
}

/**
 * The sense rule: a CHECK CONDITION is nonetheless success only when valid sense (see untrustedSense) says
 * RECOVERED ERROR about this command with nothing missing: for a command on blocks `range`, INFORMATION (when
 * valid) must name one of them (otherwise the sense is stale), and `resid`, the bytes of the data phase that did
 * not move, must be 0 (illumos sd_sense_key_recoverable_error). NO SENSE is never success: after a CHECK
 * CONDITION it means an unknown amount of data moved (Linux sd_done: "a false check condition"), with or without
 * FILEMARK, EOM, ILI or an ASC. Returns why not, or undefined when it is success.
 */
export function notSuccess(sense: DiskSense, range?: { lba: bigint; blocks: number }, resid = 0): string | undefined {
  const why = untrustedSense(sense);
  if (why !== undefined) return why;
  if (sense.key === SENSE_KEY.NO_SENSE) return `NO SENSE after CHECK CONDITION (${sense.text}): an unknown amount of data moved`;
  if (sense.key !== SENSE_KEY.RECOVERED_ERROR) return `sense key ${sense.key}`;
  if (range !== undefined && sense.information !== undefined
    && (sense.information < range.lba || sense.information >= range.lba + BigInt(range.blocks))) {
    return `RECOVERED ERROR names LBA ${sense.information}, outside the command's ${range.lba}..${range.lba + BigInt(range.blocks) - 1n}`;
  }
  if (resid > 0) return `RECOVERED ERROR with ${resid} bytes of the data phase not moved`;
  return undefined;
}

/**
 * tran_getcap(9E) / tran_setcap(9E) for a USB mass-storage HBA, after scsa2usb: getcap returns the value or
 * -1 when the capability is not defined; setcap returns 1 (set), 0 (defined but not settable, or an
 * unacceptable value) or -1 (undefined). sector-size and total-sectors are set by the target driver once it has
 * read the capacity, so that geometry (and the HBA's READ/WRITE splitting) can use them.
 */
import { INTERCONNECT_USB } from './types.js';

/** SCSI_VERSION_2 as scsa2usb reports it. */
export const SCSI_VERSION_2 = 2;
/** The largest CDB a CBW carries (and the HBA takes, whatever its transport). */
export const MAX_CDB_LENGTH = 16;

export class LunCaps {
  autoRqsense = true;
  /** 0 until the target driver sets it. */
  sectorSize = 0;
  totalSectors = 0;
}

export interface CapsContext {
  readonly lunCaps: readonly LunCaps[];
  /** dma-max: bytes one transport command may move. */
  readonly dmaMax: number;
  /** dma-max-arch: the same ceiling as the hardware (transport plus quirks) imposes it. */
  readonly dmaMaxArch: number;
  /** Commands the transport keeps on the wire at once (its queueDepth: BOT 1). */
  readonly wireDepth: number;
  qfullRetries: number;
  qfullRetryInterval: number;
}

/** Read-only capabilities with a fixed value: a USB pipe has no SCSI bus, so the bus features are off. */
const FIXED: Readonly<Record<string, number>> = {
  'msg-out': 0, 'disconnect': 0, 'synchronous': 0, 'wide-xfer': 0, 'parity': 0, 'linked-cmds': 0,
  'reset-notification': 0, 'tran-layer-retries': 0,
  'lun-reset': 1, // RESET_LUN is the transport's reset('lun') (BOT: Reset Recovery)
  'max-cdb-length': MAX_CDB_LENGTH, 'scsi-version': SCSI_VERSION_2, 'interconnect-type': INTERCONNECT_USB,
};

/** Defined, but with no meaning for USB: getcap -1, setcap 0. */
const UNDEFINED_VALUE = new Set(['initiator-id']);

/** ((heads << 16) | sectors-per-track), the geometry HBAs derive from the capacity. */
export function geometryOf(totalSectors: number): number {
  if (totalSectors <= 0) return -1;
  return totalSectors <= 0x200000 ? (64 << 16) | 32 : (255 << 16) | 63;
}

export function getcap(ctx: CapsContext, lun: number, cap: string): number {
  const lc = ctx.lunCaps[lun];
  if (lc === undefined) return -1;
  const fixed = FIXED[cap];
  if (fixed !== undefined) return fixed;
  switch (cap) {
    case 'dma-max': return ctx.dmaMax;
    case 'dma-max-arch': return ctx.dmaMaxArch;
    // Tagged queueing is what a transport that keeps several commands on the wire does (UAS: one tag each);
    // a depth-1 transport (BOT) has untagged queueing only: one command at a time, the rest queued by the HBA.
    case 'tagged-qing': return ctx.wireDepth > 1 ? 1 : 0;
    case 'untagged-qing': return ctx.wireDepth > 1 ? 0 : 1;
    case 'auto-rqsense': return lc.autoRqsense ? 1 : 0;
    case 'sector-size': return lc.sectorSize > 0 ? lc.sectorSize : -1;
    case 'total-sectors': return lc.totalSectors > 0 ? lc.totalSectors : -1;
    case 'geometry': return geometryOf(lc.totalSectors);
    case 'qfull-retries': return ctx.qfullRetries;
    case 'qfull-retry-interval': return ctx.qfullRetryInterval;
    default: return -1;
  }
}

/** whom = 0 applies a per-LUN setting to every LUN of the HBA, otherwise to the addressed LUN only. */
export function setcap(ctx: CapsContext, lun: number, cap: string, value: number, whom: number): number {
  const target = whom === 0 ? ctx.lunCaps : ctx.lunCaps.slice(lun, lun + 1);
  if (ctx.lunCaps[lun] === undefined) return -1;
  if (FIXED[cap] !== undefined || UNDEFINED_VALUE.has(cap)) return 0;
  const intValue = Number.isInteger(value) && value >= 0;
  switch (cap) {
    case 'dma-max': case 'dma-max-arch': case 'geometry': case 'tagged-qing': case 'untagged-qing': return 0;
    case 'auto-rqsense':
      for (const lc of target) lc.autoRqsense = value !== 0;
      return 1;
    case 'sector-size':
      // A logical block is a whole number of 512-byte units in every SBC device this HBA can meet.
      if (!intValue || value === 0 || value % 512 !== 0) return 0;
      for (const lc of target) lc.sectorSize = value;
      return 1;
    case 'total-sectors':
      if (!intValue || value === 0) return 0;
      for (const lc of target) lc.totalSectors = value;
      return 1;
    case 'qfull-retries':
      if (!intValue || value > 255) return 0;
      ctx.qfullRetries = value;
      return 1;
    case 'qfull-retry-interval':
      if (!intValue || value > 0xffff) return 0;
      ctx.qfullRetryInterval = value;
      return 1;
    default: return -1;
  }
}

/**
 * Typed errors of the SCSA layer. Entry points return the DDI codes (TRAN_*, null, -1) for the conditions
 * their man pages describe; a caller's mistake that no retry can cure (a packet used after scsi_destroy_pkt or
 * while in transport, a buffer no DMA attributes can map) throws one of these instead of hanging or pretending to
 * succeed, before it has changed anything. A bad argument (lengths, flags, capability values, a dmatoken that is
 * not a buf(9S)) is a UsbmsArgumentError (code ARG_INVALID), as at every layer.
 */
import { UsbmsError, type UsbmsErrorCode } from '../util/errors.js';

/** What went wrong, in SCSA terms (the constructor argument; `code` is `SCSA_` + kind). */
export type ScsaErrorKind =
  | 'PKT_IN_TRANSPORT' // the packet is owned by the HBA until it completes
  | 'PKT_FREED' // the packet was already destroyed
  | 'PKT_NOT_IN_TRANSPORT' // an HBA completed a packet it does not hold (twice, or never started)
  | 'DMA_TOOBIG' // the buffer needs more than one DMA window and PKT_DMA_PARTIAL was not given
  | 'DMA_NOMAPPING' // the DMA attributes cannot describe this buffer at all
  | 'DMA_NO_WINDOW' // PKT_DMA_PARTIAL: every window has already been handed out
  | 'NO_RESOURCES' // waiting would never end: larger than the whole budget, or refused with nothing left to release
  | 'DETACHED'; // the HBA instance is gone

/** @deprecated The old name of {@link ScsaErrorKind}; `ScsaError.code` is now the namespaced code. */
export type ScsaErrorCode = ScsaErrorKind;

const CODES: Readonly<Record<ScsaErrorKind, UsbmsErrorCode>> = {
  PKT_IN_TRANSPORT: 'SCSA_PKT_IN_TRANSPORT', PKT_FREED: 'SCSA_PKT_FREED',
  PKT_NOT_IN_TRANSPORT: 'SCSA_PKT_NOT_IN_TRANSPORT', DMA_TOOBIG: 'SCSA_DMA_TOOBIG',
  DMA_NOMAPPING: 'SCSA_DMA_NOMAPPING', DMA_NO_WINDOW: 'SCSA_DMA_NO_WINDOW', NO_RESOURCES: 'SCSA_NO_RESOURCES',
  DETACHED: 'SCSA_DETACHED',
};

/** A request the SCSA layer cannot honour, whatever the retry (`code` SCSA_*). */
export class ScsaError extends UsbmsError {
  override readonly name = 'ScsaError';
  constructor(readonly kind: ScsaErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(CODES[kind], message, options);
  }
}

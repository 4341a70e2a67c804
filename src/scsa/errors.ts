/**
 * Typed errors of the SCSA layer. Entry points return the DDI codes (TRAN_*, null, -1) for the conditions
 * their man pages describe; a caller's mistake that no retry can cure (a packet destroyed while in transport,
 * a buffer no DMA attributes can map) throws one of these instead of hanging or pretending to succeed.
 */
export type ScsaErrorCode =
  | 'EINVAL' // bad argument (lengths, flags, capability value)
  | 'PKT_IN_TRANSPORT' // the packet is owned by the HBA until it completes
  | 'PKT_FREED' // the packet was already destroyed
  | 'DMA_TOOBIG' // the buffer needs more than one DMA window and PKT_DMA_PARTIAL was not given
  | 'DMA_NOMAPPING' // the DMA attributes cannot describe this buffer at all
  | 'DMA_NO_WINDOW' // PKT_DMA_PARTIAL: every window has already been handed out
  | 'NO_RESOURCES' // the request is larger than the HBA's whole resource budget: waiting would never end
  | 'DETACHED'; // the HBA instance is gone

export class ScsaError extends Error {
  override readonly name = 'ScsaError';
  constructor(readonly code: ScsaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

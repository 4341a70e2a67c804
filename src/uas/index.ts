/** USB Attached SCSI at high speed: the second Transport under the HBA (see transport.ts). */
export { UasTransport, type UasStats } from './transport.js';
export { openUasTransport, uasSpeedProblem, uasAltSetting } from './open.js';
export { UasError, isUasError, UAS_ERROR_CODES } from './errors.js';
export type { UasErrorKind, UasPhase, UasRecovery, UasErrorOptions } from './errors.js';
export { findUasPipes, pipeIdOf, type UasPipesVerdict } from './pipes.js';
export {
  DEFAULT_UAS_TIMEOUTS, DEFAULT_UAS_QUEUE_DEPTH, DEFAULT_UAS_MAX_TRANSFER, TAG_SPACE, UAS_OPTION_KEYS, UAS_TIMEOUT_KEYS,
} from './options.js';
export type { UasOptions, UasTimeouts } from './options.js';
export { highestReportedLun, MAX_UAS_LUNS } from './lun-scan.js';

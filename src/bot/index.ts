/** The Bulk-Only Transport engine: a Transport (src/transport/) for the HBA, and its wire structures for tools. */
export { BOT_TIMEOUT_KEYS, BotTransport, DEFAULT_TIMEOUTS, GO_SLOW_FACTOR } from './transport.js';
export type { BotOptions, BotTimeouts } from './transport.js';
export type { BotResult } from './run.js';
export { BotError, isBotError } from './errors.js';
export type { BotErrorKind, BotPhase, BotErrorOptions } from './errors.js';
export { CbwEncoder, CbwLayout, TagCounter, decodeCbw, CBW_LENGTH, CBW_SIGNATURE } from './cbw.js';
export { CswLayout, checkCsw, encodeCsw, hostResidue, CSW_LENGTH, CSW_SIGNATURE } from './csw.js';
export type { Csw, CswVerdict } from './csw.js';

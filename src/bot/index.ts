/** The Bulk-Only Transport engine: public entry points for the HBA and tools. */
export * from './api.js';
export { BOT_TIMEOUT_KEYS, BotTransport, DEFAULT_TIMEOUTS, GO_SLOW_FACTOR } from './transport.js';
export type { BotOptions, BotTimeouts } from './transport.js';
export { BotError, isBotError } from './errors.js';
export type { BotPhase, BotErrorOptions } from './errors.js';
export { CbwEncoder, CbwLayout, TagCounter, decodeCbw, CBW_LENGTH, CBW_SIGNATURE } from './cbw.js';
export { CswLayout, checkCsw, encodeCsw, hostResidue, CSW_LENGTH, CSW_SIGNATURE } from './csw.js';
export type { Csw, CswVerdict } from './csw.js';
export {
  QUIRK_FLAGS, QUIRK_TABLE, NO_QUIRKS, QuirkParseError, parseQuirkOverrides, resolveQuirks, MAX_SECTORS_64_BYTES,
} from './quirks.js';
export type { Quirks, QuirkFlag, QuirkEntry, QuirkOverride, QuirkLookup } from './quirks.js';

/**
 * Device quirks as data (the device's, not one protocol's): the declarations, the table of known devices, user
 * overrides and their resolution. Bulk-Only, UAS, the transport choice, the HBA and the disk driver each read their part.
 */
export {
  MAX_SECTORS_64_BYTES, QUIRK_DECLARATIONS, QUIRK_FLAGS, QUIRKS_KEYS, quirkParts,
  type LayerQuirks, type QuirkDeclaration, type QuirkFlag, type QuirkLayer, type QuirkParts, type Quirks,
} from './declarations.js';
export { QUIRK_TABLE, type QuirkEntry } from './table.js';
export {
  QUIRK_OVERRIDE_KEYS, QuirkParseError, parseQuirkOverrides, type QuirkOverride,
} from './overrides.js';
export { NO_QUIRKS, resolveQuirks, type QuirkLookup } from './resolve.js';

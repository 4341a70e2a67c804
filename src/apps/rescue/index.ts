/**
 * `usbms rescue`: GNU ddrescue's algorithm and mapfile over a usbms session, with the USB recovery ladder.
 * map.ts (the areas), mapfile.ts (the format), plan.ts (the passes), engine.ts (running them),
 * escalation.ts (the ladder), device.ts (what the engine needs of a device), session-device.ts and sources.ts
 * (that, over openUsbms, for USB devices and the software disk).
 */
export { RescueMap, MapRangeError, AREA_STATUSES, hex, type Area, type AreaStatus } from './map.js';
export {
  parseMapfile, formatMapfile, mapFromMapfile, parseMapNumber, MapfileError, formatMapDevice, parseMapDevice,
  mapDeviceMismatch, type MapDevice, type MapfileHeader, type MapfileState, type MapPhase, type ParsedMapfile,
} from './mapfile.js';
export { loadMapfile, saveMapfileAtomic } from './mapfile-io.js';
export { RescueImage, RescueImageError } from './image.js';
export { buildPlan, resumePoint, stepMessage, COPY_PASSES, type Step } from './plan.js';
export { RescueEngine, type EngineOptions, type RescueOutcome, type RescueSink, type Checkpoint } from './engine.js';
export { escalate, RescueDeviceLostError, RescueInterruptedError, type LadderOptions } from './escalation.js';
export { classifyReadFailure, type RescueDevice, type ReadFailure } from './device.js';
export { SessionRescueDevice, type SessionSource } from './session-device.js';
export { slotSource, findSlot } from './sources.js';
export type {
  RescueEvent, RescueCounts, RescueResult, RescuePhase, EscalationRecord, EscalationStep, Direction,
} from './events.js';

/**
 * Validation rigs (issue 11): many devices at once, by physical port, with plans, power control and results
 * machines read. The CLI front end is src/apps/cli/commands/validate.ts.
 */
export { BackendRigDevice, rigDevicesOf, type BackendRigOptions } from './backend-rig.js';
export { probeDisk, probeLbas, RESET_TYPES, type ProbeOptions, type ProbeResult, type ResetType } from './counterfeit.js';
export { describeKey, keyFileName, type DeviceKey, type RigDevice } from './device.js';
export { deviceRef, type DeviceRef, type RigEvent, type EventSink } from './events.js';
export { DeviceHandle, RigError, type RigErrorCode, type RigErrorKind } from './handle.js';
export { DeviceJournal, JournalError } from './journal.js';
export { BUILTIN_PLANS, resolvePlan } from './plan/builtin.js';
export { loadPlanFile, parsePlan, PlanError, STEP_KINDS } from './plan/parse.js';
export { isDestructive, type Plan, type Step, type StepKind, type StepParams, type Thresholds } from './plan/types.js';
export { junitXml, xmlEscape } from './report/junit.js';
export { eventLine, SlotTable } from './report/text.js';
export { runRig, type DeviceResult, type RigResult, type RunOptions, type StepResult } from './runner.js';
export { RigSelectError, selectRigDevices, type Selected, type Selection } from './select.js';
export { deviceStatus, worse, worstOf, type StepStatus } from './verdict.js';

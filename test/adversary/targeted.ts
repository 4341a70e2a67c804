/**
 * Hand-made schedules for the regression tests: one lie, armed where it must strike (a READ for data-in lies,
 * a WRITE for data-out ones, a Reset Recovery for control ones), on a quiet device, then the usual checks.
 */
import type { DeviceConfig } from './device.js';
import { COMMAND_FAULTS, type CommandFault, type ControlFault, type FaultKind } from './faults.js';
import type { HostConfig } from './host.js';
import type { Schedule, Step } from './schedule.js';

export const QUIET_DEVICE: DeviceConfig = {
  lunBlocks: [256], speed: 'high', mps: 512, padShort: false, stallAfterShort: false, uaOnReset: false,
  descriptorSense: false, osTimeoutMs: 25, goneListenersFirst: true, seed: 0xadadad,
};

export const TEST_HOST: HostConfig = {
  cbwMs: 15, cswMs: 15, commandMs: 30, controlMs: 15, retries: 3, readyPollMs: 2, readyTimeoutMs: 40,
  maxTransferBytes: 8192,
};

export function schedule(id: string, steps: Step[], device: Partial<DeviceConfig> = {}, host: Partial<HostConfig> = {}): Schedule {
  return {
    id, device: { ...QUIET_DEVICE, ...device }, host: { ...TEST_HOST, ...host },
    plan: { commands: new Map(), controls: new Map() }, steps, opBoundMs: 5000,
  };
}

/** Control lies need a Reset Recovery to strike: a phase error makes one; a failed reset makes a port reset. */
function controlArm(kind: ControlFault): Step['arm'] {
  if (kind.startsWith('reset-')) return { commands: ['csw-phase-error'], controls: ['ctl-stall', kind] };
  return { commands: ['csw-phase-error'], controls: [kind] };
}

/** The steps of every targeted schedule (Bulk-Only and UAS): write, read (Disk), read (SCSA packet), write, read back all. */
export function targetedSteps(): Step[] {
  return [
    { ops: [{ k: 'write', lun: 0, lba: 8, blocks: 16, id: 1 }] },
    { ops: [{ k: 'read', lun: 0, lba: 8, blocks: 16 }] },
    { ops: [{ k: 'pkt-read', lun: 0, lba: 4, blocks: 16, head: false }] },
    { ops: [{ k: 'write', lun: 0, lba: 20, blocks: 16, id: 2 }] },
    { ops: [{ k: 'read', lun: 0, lba: 0, blocks: 40 }] },
  ];
}

/** A targeted schedule for `kind`: the targeted steps, the fault armed on the step it concerns. */
export function targeted(kind: FaultKind): { schedule: Schedule; armBeforeOpen: ControlFault | undefined } {
  const base = targetedSteps();
  let armBeforeOpen: ControlFault | undefined;
  if (kind === 'unplug') {
    base[1]!.arm = { unplug: 'data' };
  } else if (kind === 'maxlun-bogus' || kind === 'maxlun-empty') {
    armBeforeOpen = kind;
  } else if (kind in COMMAND_FAULTS) {
    const k = kind as CommandFault;
    const at = COMMAND_FAULTS[k].phase === 'data-out' ? [0, 3] : [1, 2];
    for (const i of at) base[i]!.arm = { commands: [k] };
  } else {
    base[1]!.arm = controlArm(kind as ControlFault);
  }
  return { schedule: schedule(`targeted:${kind}`, base), armBeforeOpen };
}

/**
 * Hand-made UAS schedules for the regression tests: one lie of the UAS adversary, armed where it must strike (a
 * READ for data-in lies, a WRITE for data-out ones, a hung command for the task management and reset ones).
 */
import type { Schedule, Step } from './schedule.js';
import { schedule, targetedSteps } from './targeted.js';
import { UAS_COMMAND_FAULTS, type UasCommandFault, type UasControlFault, type UasFaultKind } from './uas-faults.js';

export const UAS_DEVICE = { queueDepth: 32, nexusReset: false };

/** A UAS schedule: the quiet device of targeted.ts, speaking UAS. */
export function uasSchedule(id: string, steps: Step[], device: Parameters<typeof schedule>[2] = {}): Schedule {
  return { ...schedule(id, steps, device), uas: { device: UAS_DEVICE, plan: { commands: new Map(), controls: new Map() } } };
}

/** A targeted UAS schedule for `kind`: write, read (Disk), read (SCSA packet), write, read back all. */
export function uasTargeted(kind: UasFaultKind): Schedule {
  const base = targetedSteps();
  if (kind === 'unplug') {
    base[1]!.arm = { unplug: 'data' };
  } else if (kind in UAS_COMMAND_FAULTS) {
    const k = kind as UasCommandFault;
    const at = UAS_COMMAND_FAULTS[k].phase === 'data-out' ? [0, 3] : [1, 2];
    for (const i of at) base[i]!.arm = { commands: [k] };
  } else {
    // Task management and reset lies strike the recovery of a command whose status never comes.
    const c = kind as UasControlFault;
    const commands: UasCommandFault[] = ['status-hang'];
    const controls: UasControlFault[] = c.startsWith('reset-') ? ['tmf-hang', 'tmf-hang', c] : c.startsWith('clear-') ? [c] : [c];
    base[1]!.arm = { commands, controls };
    if (c.startsWith('clear-')) base[1]!.arm = { commands: ['in-stall'], controls: [c] };
  }
  return uasSchedule(`uas-targeted:${kind}`, base);
}

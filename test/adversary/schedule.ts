/**
 * Seeded schedules: a device configuration, host options, a fault plan and a list of host steps, all drawn
 * from Rng.forSchedule(SEED, INDEX), so `SEED:INDEX` names one schedule and replays it exactly.
 */
import type { DeviceConfig } from './device.js';
import {
  COMMAND_FAULT_KINDS, CONTROL_FAULT_KINDS, type CommandFault, type ControlFault, type FaultPlan,
} from './faults.js';
import type { HostConfig } from './host.js';
import { Rng } from './prng.js';
import type { UasDeviceConfig } from './uas-device.js';
import {
  UAS_COMMAND_FAULT_KINDS, UAS_CONTROL_FAULT_KINDS, type UasCommandFault, type UasControlFault, type UasFaultPlan,
} from './uas-faults.js';

export type Op =
  | { k: 'read'; lun: number; lba: number; blocks: number }
  | { k: 'write'; lun: number; lba: number; blocks: number; id: number }
  /** READ(10) straight through scsi_init_pkt/scsi_transport (optionally FLAG_HEAD): no disk retry policy. */
  | { k: 'pkt-read'; lun: number; lba: number; blocks: number; head: boolean }
  | { k: 'sync'; lun: number };

export type Disruption = 'abort-all' | 'abort-one' | 'reset-lun' | 'reset-target' | 'reset-bus' | 'unplug' | 'close';

export interface Step {
  /** Started together: concurrent callers on one HBA, across LUNs. */
  ops: Op[];
  /** Something done to the stack while the ops are in flight, after `afterTicks` macrotasks. */
  disrupt?: { k: Disruption; lun: number; afterTicks: number } | undefined;
  /** Targeted tests: lies armed when the step starts (they strike the first command that fits). */
  arm?: { commands?: (CommandFault | UasCommandFault)[]; controls?: (ControlFault | UasControlFault)[];
    unplug?: 'cbw' | 'data' | 'csw' } | undefined;
}

export interface Schedule {
  readonly id: string;
  readonly device: DeviceConfig;
  readonly host: HostConfig;
  readonly plan: FaultPlan;
  /** A UAS schedule: the device speaks UAS (uas-device.ts) with this plan instead of `plan`. */
  readonly uas?: { readonly device: UasDeviceConfig; readonly plan: UasFaultPlan } | undefined;
  readonly steps: Step[];
  /** A bound on one operation (after all its timeouts and retries): beyond it, it is a HANG. */
  readonly opBoundMs: number;
}

export type Profile = 'test' | 'soak';

/** Timeouts per profile: short, so that hangs cost little; the soak runs tighter to fit 100,000 schedules. */
const TIMING: Record<Profile, { cbw: number; csw: number; command: number; control: number; os: number }> = {
  test: { cbw: 15, csw: 15, command: 30, control: 15, os: 25 },
  soak: { cbw: 10, csw: 10, command: 20, control: 10, os: 15 },
};

export function parseId(id: string): { seed: number; index: number; protocol: Protocol } {
  const m = /^(uas:)?(\d+):(\d+)$/.exec(id.trim());
  if (m === null) throw new Error(`schedule id "${id}" is not [uas:]SEED:INDEX`);
  return { seed: Number(m[2]), index: Number(m[3]), protocol: m[1] === undefined ? 'bot' : 'uas' };
}

/** Which device a schedule runs against: the Bulk-Only adversary, or the UAS one. */
export type Protocol = 'bot' | 'uas';

export function makeSchedule(seed: number, index: number, profile: Profile = 'test', protocol: Protocol = 'bot'): Schedule {
  // A UAS schedule draws from another stream of the same seed, so SEED:INDEX names one schedule per protocol.
  const r = Rng.forSchedule(protocol === 'uas' ? (seed ^ 0x5a5a5a5a) >>> 0 : seed, index);
  const t = TIMING[profile];
  const lunCount = r.chance(0.2) ? 2 : 1;
  const full = r.chance(0.15);
  const device: DeviceConfig = {
    lunBlocks: Array.from({ length: lunCount }, () => r.int(64, 1024)),
    speed: full ? 'full' : 'high',
    mps: full ? 64 : 512,
    padShort: r.chance(0.2),
    stallAfterShort: r.chance(0.3),
    uaOnReset: r.chance(0.5),
    descriptorSense: r.chance(0.15),
    osTimeoutMs: t.os,
    goneListenersFirst: r.chance(0.5),
    seed: r.u32(),
  };
  const host: HostConfig = {
    cbwMs: t.cbw, cswMs: t.csw, commandMs: t.command, controlMs: t.control, retries: 3,
    readyPollMs: 2, readyTimeoutMs: 40,
    maxTransferBytes: r.pick([4096, 8192, 16384, 65536, 122880]),
  };
  const commands = new Map<number, CommandFault>();
  const nFaults = r.chance(0.1) ? 0 : r.int(1, 4);
  for (let i = 0; i < nFaults; i++) commands.set(r.int(0, 40), r.pick(COMMAND_FAULT_KINDS));
  const controls = new Map<number, ControlFault>();
  const nControl = r.chance(0.6) ? 0 : r.int(1, 2);
  for (let i = 0; i < nControl; i++) controls.set(r.int(0, 8), r.pick(CONTROL_FAULT_KINDS));
  const plan: FaultPlan = {
    commands, controls,
    unplug: r.chance(0.05) ? { at: r.int(0, 30), phase: r.pick(['cbw', 'data', 'csw'] as const) } : undefined,
  };
  let uas: Schedule['uas'];
  if (protocol === 'uas') {
    const uCommands = new Map<number, UasCommandFault>();
    for (const [at] of commands) uCommands.set(at, r.pick(UAS_COMMAND_FAULT_KINDS));
    const uControls = new Map<number, UasControlFault>();
    for (const [at] of controls) uControls.set(at, r.pick(UAS_CONTROL_FAULT_KINDS));
    uas = { device: { queueDepth: r.chance(0.2) ? r.int(2, 8) : 32, nexusReset: r.chance(0.5) },
      plan: { commands: uCommands, controls: uControls, unplug: plan.unplug } };
  }
  let writeId = 1;
  const op = (): Op => {
    const lun = r.int(0, lunCount - 1);
    const blocks = device.lunBlocks[lun]!;
    const n = r.chance(0.6) ? r.int(1, 8) : r.int(1, Math.min(64, blocks));
    const lba = r.int(0, blocks - n);
    const x = r.next();
    if (x < 0.45) return { k: 'read', lun, lba, blocks: n };
    if (x < 0.8) return { k: 'write', lun, lba, blocks: n, id: writeId++ };
    if (x < 0.95) return { k: 'pkt-read', lun, lba, blocks: n, head: r.chance(0.5) };
    return { k: 'sync', lun };
  };
  const steps: Step[] = [];
  const nSteps = r.int(2, profile === 'soak' ? 6 : 8);
  for (let s = 0; s < nSteps; s++) {
    const ops = Array.from({ length: r.chance(0.5) ? 1 : r.int(2, 5) }, op);
    const disrupt = r.chance(0.15) ? {
      k: r.pick(['abort-all', 'abort-one', 'reset-lun', 'reset-target', 'reset-bus', 'reset-target', 'unplug', 'close'] as const),
      lun: r.int(0, lunCount - 1), afterTicks: r.int(0, 12),
    } : undefined;
    steps.push({ ops, disrupt });
  }
  // Worst legal time for one command attempt: its pkt_time, then Reset Recovery whose every step may hang
  // (control timeout, two clear-halts and a port reset the OS gives up on), then the same again for ARQ.
  const attempt = 2 * (host.commandMs + host.controlMs + 3 * device.osTimeoutMs + host.cbwMs + host.cswMs);
  const pieces = Math.ceil((64 * 512) / Math.min(host.maxTransferBytes, 64 * 512)) + 1;
  const opBoundMs = 2000 + pieces * (host.retries + 1 + 8) * attempt + host.readyTimeoutMs * 4;
  return { id: `${protocol === 'uas' ? 'uas:' : ''}${seed}:${index}`, device, host, plan, uas, steps, opBoundMs };
}

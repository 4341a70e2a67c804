/**
 * `usbms validate`: a plan (quick, full, endurance, or a plan file) on every selected device at once, one
 * session per device, each device keyed by port path and serial, or by remote host and bus id for a device
 * attached through USB/IP (src/apps/rig). NDJSON events with --json, a live
 * table on a terminal or plain lines otherwise, JUnit XML with --junit; exit 0 when every device passed, else
 * the worst device's status.
 */
import { writeFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { openSource, RigSpecError, type SourceSpec } from '../../../open.js';
import type { UsbBackend } from '../../../api.js';
import {
  describeKey, eventLine, isDestructive, junitXml, PlanError, resolvePlan,
  RESET_TYPES, rigDevicesOf, RigSelectError, runRig, selectRigDevices, SlotTable,
  deviceRef, type DeviceKey, type Plan, type ResetType, type RigEvent,
} from '../../rig/index.js';
import type { RecoveryEvent } from '../../../util/recovery.js';
import { recoveryFields, recoveryText } from '../recovery.js';
import { CliError, exitStatusFor } from '../exit.js';
import { withExamples } from '../examples.js';
import { info, out, parseMaxTransfer, run, type GlobalArgs } from '../context.js';

interface ValidateArgs extends Omit<GlobalArgs, 'device' | 'mock'> {
  device?: string | string[] | undefined;
  mock?: string | string[] | undefined;
  all: boolean;
  match?: string | string[] | undefined;
  plan: string;
  write: boolean;
  restore: boolean;
  junit?: string | undefined;
  journal?: string | undefined;
  'backup-dir'?: string | undefined;
  rig?: string | undefined;
  seed?: number | undefined;
  'return-timeout': number;
  cycles?: number | undefined;
  'power-cycle'?: boolean | undefined;
  'cool-down'?: number | undefined;
  'reset-type'?: string | undefined;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Command-line overrides of the plan's endurance and counterfeit steps. */
function withOverrides(plan: Plan, a: ValidateArgs): Plan {
  const endurance = {
    ...(a.cycles === undefined ? {} : { cycles: a.cycles }),
    ...(a['power-cycle'] === undefined ? {} : { powerCycle: a['power-cycle'] }),
    ...(a['cool-down'] === undefined ? {} : { coolDownS: a['cool-down'] }),
  };
  const reset = a['reset-type'];
  if (reset !== undefined && !RESET_TYPES.includes(reset as ResetType)) {
    throw new CliError(`--reset-type ${reset} is not one of ${RESET_TYPES.join(', ')}`);
  }
  if (a.cycles !== undefined && (!Number.isSafeInteger(a.cycles) || a.cycles < 1)) throw new CliError(`--cycles ${a.cycles} is not a positive integer`);
  return { ...plan, steps: plan.steps.map((s) => {
    if (s.step === 'endurance') return { ...s, params: { ...s.params, ...endurance } };
    if (s.step === 'counterfeit' && reset !== undefined) return { ...s, params: { ...s.params, resetType: reset as ResetType } };
    return s;
  }) };
}

/** The devices --rig or --mock (one software disk each, '' the demo disk) name, else libusb's. */
function sourceSpec(a: ValidateArgs): SourceSpec {
  const mocks = list(a.mock);
  if (a.rig !== undefined && mocks.length > 0) throw new CliError('give --rig or --mock, not both');
  if (a.rig !== undefined) return { kind: 'rig', file: a.rig };
  if (mocks.length > 1 && mocks.includes('')) {
    throw new CliError(`--mock without a file (the built-in disk) cannot stand beside --mock FILE: give each --mock a ` +
      `device .json or image file (${mocks.filter((m) => m !== '').join(', ')}), or --mock alone for the built-in disk`);
  }
  if (mocks.length > 0) return { kind: 'mock', devices: mocks.map((m) => (m === '' ? 'demo' : { file: m })) };
  return { kind: 'libusb' };
}

interface Reporter {
  onEvent: (e: RigEvent) => void;
  table: SlotTable | undefined;
  /** A recovery step of a device's session: an NDJSON event with --json, else a line on stderr (none under the live table). */
  onRecovery: ((device: DeviceKey, e: RecoveryEvent) => void) | undefined;
}

function reporter(json: boolean): Reporter {
  if (json) {
    // A recovery event names the plan step it happened in, as every event of the run does; its own step is `recovery`.
    const running = new Map<string, string | null>();
    return {
      onEvent: (e) => {
        if (e.event === 'step-start' || e.event === 'step') running.set(e.device.port, e.event === 'step-start' ? e.step : null);
        out(JSON.stringify(e));
      },
      table: undefined,
      onRecovery: (device, e) => {
        const { step: recovery, ...fields } = recoveryFields(e);
        out(JSON.stringify({ time: new Date().toISOString(), device: deviceRef(device), step: running.get(device.port) ?? null,
          event: 'recovery', recovery, ...fields }));
      },
    };
  }
  if (process.stderr.isTTY) {
    // The table redraws its lines in place on stderr; a line between them would tear it. It shows each step's fate.
    const table = new SlotTable(process.stderr);
    return { onEvent: (e) => { table.update(e); }, table, onRecovery: undefined };
  }
  return { onEvent: (e) => { const line = eventLine(e); if (line !== undefined) out(line); }, table: undefined,
    onRecovery: (device, e) => { info(`usbms: ${describeKey(device)}: ${recoveryText(e)}`); } };
}

function exitCodeOf(e: unknown): number {
  // RigError codes (RIG_*) are in the one exit table like every other code.
  return exitStatusFor(e).code;
}

async function validate(a: ValidateArgs): Promise<number> {
  let plan: Plan;
  let backend: UsbBackend;
  let mock: boolean;
  try {
    plan = withOverrides(resolvePlan(a.plan), a);
    const spec = sourceSpec(a);
    ({ backend } = await openSource(spec));
    mock = spec.kind !== 'libusb';
  } catch (e) {
    if (e instanceof PlanError) throw new CliError(e.message);
    if (e instanceof RigSpecError) throw new CliError(e.message, 'CLI_FILE', { cause: e });
    throw e;
  }
  if (isDestructive(plan) && !a.write) {
    throw new CliError(`plan ${plan.name} writes to the devices (${plan.steps.filter((s) => ['counterfeit', 'write-verify',
      'sequential-write', 'random-write', 'endurance'].includes(s.step)).map((s) => s.name).join(', ')}): add --write to confirm`);
  }
  const seed = a.seed ?? (Date.now() & 0x7fffffff);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new CliError(`--seed ${seed} is not a non-negative integer`);
  const { onEvent, table, onRecovery } = reporter(a.json);
  const present = await rigDevicesOf(backend, { detachKernelDriver: a['detach-kernel-driver'],
    timeoutMs: a.timeout === undefined ? undefined : a.timeout * 1000, quirks: a.quirks,
    maxTransferBytes: parseMaxTransfer(a['max-transfer']), onRecovery, forceExported: a['force-exported'] });
  const names = list(a.device);
  let selected;
  try {
    selected = selectRigDevices(present, { devices: names, all: a.all || (mock && names.length === 0), match: list(a.match),
      forceExported: a['force-exported'] });
  } catch (e) {
    if (e instanceof RigSelectError) throw new CliError(e.message);
    throw e;
  }
  for (const x of selected.excluded) info(`usbms: ${x}`);
  // Over USB/IP the hub is on the exporting host: say so before a plan counts on port power.
  for (const d of selected.devices) if (d.powerOutOfReach !== undefined) info(`usbms: ${describeKey(d.key)}: ${d.powerOutOfReach}`);
  const result = await runRig(selected.devices, {
    plan, write: a.write, restore: a.restore, seed, journalDir: a.journal, backupDir: a['backup-dir'],
    returnTimeoutMs: a['return-timeout'] * 1000, exitCodeOf, onEvent,
  });
  table?.draw();
  if (!a.json && table !== undefined) {
    // The table went to stderr; the verdicts are the data, on stdout.
    for (const d of result.devices) {
      out(`${describeKey(d.device.key)}: ${d.status.toUpperCase()} (exit ${d.exitCode})${d.reason === null ? '' : ` - ${d.reason}`}`);
    }
  }
  if (a.junit !== undefined) {
    try {
      writeFileSync(a.junit, junitXml(result, plan.name));
    } catch (e) {
      throw new CliError(`--junit ${a.junit}: ${(e as Error).message}`, 'CLI_FILE', { cause: e });
    }
  }
  return result.exitCode;
}

export function registerValidateCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('validate', 'run a validation plan on many devices at once (quick, full, endurance, or FILE)', (b) => withExamples(b, 'validate')
    .option('plan', { type: 'string', demandOption: true, describe: 'quick | full | endurance | a plan .json file' })
    .option('all', { type: 'boolean', default: false, describe: 'every Bulk-Only mass-storage device present' })
    .option('match', { type: 'string', describe: 'with --all: only VID:PID[:serial][,...]' })
    .option('write', { type: 'boolean', default: false, describe: 'confirm a plan that writes (full, endurance)' })
    .option('restore', { type: 'boolean', default: false, describe: 'save what the devices hold and put it back at the end' })
    .option('junit', { type: 'string', describe: 'write JUnit XML: a testsuite per device, a testcase per step' })
    .option('journal', { type: 'string', describe: 'DIR of per-device journals: resume a stopped run' })
    .option('backup-dir', { type: 'string', describe: 'DIR for whole-device backups (default: memory up to 64 MiB, else /tmp)' })
    .option('rig', { type: 'string', describe: 'a JSON rig of software disks at port paths (see README)' })
    .option('seed', { type: 'number', describe: 'seed of stamps and random positions (default: from the clock)' })
    .option('return-timeout', { type: 'number', default: 30, describe: 'seconds a vanished device is waited for' })
    .option('cycles', { type: 'number', describe: 'endurance: write/verify cycles' })
    .option('power-cycle', { type: 'boolean', describe: 'endurance: power-cycle the port between writing and reading' })
    .option('cool-down', { type: 'number', describe: 'endurance: seconds between writing and reading back' })
    .option('reset-type', { type: 'string', describe: 'counterfeit step: none | bot | port | power' }),
  (a) => run(() => validate(a as unknown as ValidateArgs)));
}

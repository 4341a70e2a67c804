/**
 * `usbms probe`: an f3probe-style check for counterfeit flash that claims more capacity than it has, cache-proof
 * (src/apps/rig/counterfeit.ts): between writing the stamps and reading them back the device is reset
 * (`--reset-type`: none, bot = Bulk-Only reset recovery, port = USB port reset (default), power = power cycle of
 * its hub port), so a controller that answers from a RAM cache is caught. The data is restored.
 */
import type { Argv } from 'yargs';
import type { Disk } from '../../../disk/index.js';
import {
  BackendRigDevice, DeviceHandle, probeDisk as probeWith, RESET_TYPES, type ProbeResult, type ResetType,
} from '../../rig/index.js';
import { parseDeviceSelector, selectOne } from '../../../api.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { formatBytes } from '../format.js';
import { printRecovery } from '../recovery.js';
import {
  info, out, parseCount, parseMaxTransfer, printJson, requireMedium, requireWrite, run, sourceOf, type GlobalArgs,
} from '../context.js';

export { probeLbas, type ProbeResult } from '../../rig/index.js';

/** The probe without a reset in between (the API of earlier versions). */
export function probeDisk(disk: Disk, seed: number, random: number): Promise<ProbeResult> {
  return probeWith(disk, { seed, random });
}

interface ProbeArgs extends GlobalArgs { write: boolean; seed?: number | undefined; random: number; 'reset-type': string; 'off-ms': number }

function resetTypeOf(text: string): ResetType {
  if (!RESET_TYPES.includes(text as ResetType)) throw new CliError(`--reset-type ${text} is not one of ${RESET_TYPES.join(', ')}`);
  return text as ResetType;
}

/** The probed device as a rig slot, so a reset or a power cycle finds the same device again. */
async function slotFor(a: ProbeArgs): Promise<DeviceHandle> {
  const source = await sourceOf(a);
  const selector = a.device === undefined ? source.selector : parseDeviceSelector(a.device);
  if (selector === undefined) {
    throw new CliError('no device selected: pass --device vid:pid[:serial], bus:address or a port path, or --mock');
  }
  if (a.device !== undefined && a.mock !== undefined) throw new CliError('give either --device or --mock, not both');
  const row = selectOne(selector, await source.backend.list());
  const device = new BackendRigDevice(source.backend, row, { detachKernelDriver: a['detach-kernel-driver'],
    timeoutMs: a.timeout === undefined ? undefined : a.timeout * 1000, quirks: a.quirks,
    maxTransferBytes: parseMaxTransfer(a['max-transfer']), forceExported: a['force-exported'],
    onRecovery: (_device, e) => { printRecovery(e); } });
  return new DeviceHandle(device, { allowWrite: true, lun: a.lun });
}

async function probeCmd(a: ProbeArgs): Promise<number> {
  requireWrite(a.write, 'probe (it stamps blocks, then restores them)');
  const seed = a.seed === undefined ? Date.now() & 0x7fffffff : parseCount(a.seed, '--seed', 1);
  const random = a.random === 0 ? 0 : parseCount(a.random, '--random', 16);
  const resetType = resetTypeOf(a['reset-type']);
  const handle = await slotFor(a);
  try {
    const disk = await handle.open();
    requireMedium(disk);
    const r = await probeWith(disk, { seed, random, resetType, reset: () => handle.reset(resetType, a['off-ms']),
      warn: (m) => { info(`usbms: ${m}`); } });
    if (a.json) printJson({ ...r, seed });
    else {
      out(`claimed: ${r.claimedBlocks} blocks (${formatBytes(r.claimedBlocks * BigInt(r.blockSize))}), ` +
        `tested ${r.testedBlocks} blocks, seed ${seed}, reset between writing and reading: ${resetType}`);
      if (r.genuine) out('result: every tested block kept its own data: the capacity looks genuine');
      else {
        out(`result: COUNTERFEIT or damaged: usable ${r.usableBlocks} blocks ` +
          `(${formatBytes(r.usableBlocks * BigInt(r.blockSize))}); ${r.failed.length} tested blocks failed`);
        if (r.wrapsAt !== null) out(`wrap-around: LBA ${r.wrapsAt} reads back the data of LBA ${r.wrapsTo}`);
      }
      if (resetType === 'none') info('usbms: without a reset a drive that answers from a RAM cache can pass (--reset-type port)');
    }
    return r.genuine ? EXIT.OK : EXIT.MISCOMPARE;
  } finally {
    await handle.close();
  }
}

export function registerProbeCommand<T>(y: Argv<T>): Argv<T> {
  return y.command('probe', 'check for fake capacity (f3probe-style, cache-proof); restores the data; needs --write', (b) => withExamples(b, 'probe')
    .option('write', { type: 'boolean', default: false, describe: 'confirm that blocks are stamped (and restored)' })
    .option('seed', { type: 'number', describe: 'stamp seed (default: from the clock)' })
    .option('random', { type: 'number', default: 16, describe: 'extra random blocks to test' })
    .option('reset-type', { type: 'string', default: 'port', choices: [...RESET_TYPES],
      describe: 'reset between writing and reading back: none, bot (Bulk-Only reset), port (USB port reset), power (hub port power cycle)' })
    .option('off-ms', { type: 'number', default: 1000, describe: 'with --reset-type power: ms the port stays off' }),
  (a) => run(() => probeCmd(a as unknown as ProbeArgs)));
}

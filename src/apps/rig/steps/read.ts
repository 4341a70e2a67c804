/** Read-only steps: identify, capacity, unit ready, reads at the first, middle and last LBA. */
import { isDiskError } from '../../../disk/index.js';
import { EXIT } from '../verdict.js';
import { below, disk, verdict, type StepRunner } from './context.js';

export const identify: StepRunner = async (ctx) => {
  const d = disk(ctx);
  const i = d.info;
  const k = ctx.handle.device.key;
  return { status: 'pass', figures: {
    vendor: i.vendor, product: i.product, revision: i.revision, removable: i.removable, deviceType: i.deviceType,
    usbProduct: ctx.handle.device.product ?? null, serial: k.serial ?? null,
  } };
};

export const capacity: StepRunner = async (ctx) => {
  const d = disk(ctx);
  if (!d.mediumPresent) return { status: 'fail', figures: { mediumPresent: false }, reason: 'no medium', exitCode: EXIT.NOT_READY };
  const bytes = d.capacityBytes;
  const figures = { blocks: Number(d.blocks), blockSize: d.blockSize, bytes: Number(bytes), writeProtected: d.writeProtected };
  const min = ctx.step.thresholds.minBytes;
  return verdict(figures, [below(Number(bytes), min, 'capacity', 'bytes')]);
};

export const unitReady: StepRunner = async (ctx) => {
  const t0 = Date.now();
  await disk(ctx).testUnitReady();
  return { status: 'pass', figures: { ms: Date.now() - t0 } };
};

export const readPoints: StepRunner = async (ctx) => {
  const d = disk(ctx);
  const last = d.blocks - 1n;
  const points: [string, bigint][] = [['first', 0n], ['middle', d.blocks / 2n], ['last', last]];
  const failed: string[] = [];
  const figures: Record<string, number> = {};
  for (const [name, lba] of points) {
    figures[`${name}Lba`] = Number(lba);
    try {
      await d.read(lba, 1);
    } catch (e) {
      if (!isDiskError(e, 'medium') && !isDiskError(e, 'hardware')) throw e;
      failed.push(`${name} LBA ${lba}: ${(e as Error).message}`);
    }
  }
  return failed.length === 0 ? { status: 'pass', figures }
    : { status: 'fail', figures, reason: `unreadable: ${failed.join('; ')}`, exitCode: EXIT.MEDIUM_HARD };
};

/**
 * The software disk's own SCSI target and LUNs as the UAS function's backend: the same command set, media and
 * sense the Bulk-Only function serves, with the sense of a CHECK CONDITION handed out with the status (UAS) instead
 * of kept for REQUEST SENSE (BOT).
 */
import type { MockLun } from '../lun.js';
import { writeFixedSense } from '../scsi-data.js';
import type { CommandPlan, ScsiTarget } from '../scsi-target.js';
import type { UasPlan, UasScsiBackend } from './backend.js';
import { UsbmsInternalError } from '../../util/errors.js';

const STATUS_GOOD = 0x00;
const STATUS_CHECK_CONDITION = 0x02;

export function targetBackend(target: ScsiTarget, maxLun: number, lunAt: (n: number) => MockLun | undefined): UasScsiBackend {
  const plan: CommandPlan = { direction: 'none', length: 0, data: Buffer.alloc(0), status: 0, sink: undefined };
  const lunOf = (n: number): MockLun => {
    const lun = lunAt(n);
    if (lun === undefined) throw new UsbmsInternalError(`no LUN object for LUN ${n}`);
    return lun;
  };
  return {
    maxLun,
    execute(n: number, cdb: Buffer, out: UasPlan): void {
      target.execute(lunOf(n), n, cdb, plan);
      out.direction = plan.direction;
      out.length = plan.length;
      out.data = plan.data;
      out.status = plan.status === 0 ? STATUS_GOOD : STATUS_CHECK_CONDITION;
      out.sink = plan.sink;
      out.hang = false;
    },
    takeSense(n: number, dst: Buffer): number {
      const lun = lunOf(n);
      const length = writeFixedSense(dst, lun.sense);
      lun.clearSense();
      return length;
    },
    writeCut(n: number): void { lunOf(n).setSense('invalidFieldInCdb'); },
    resetLun(n: number): void { lunAt(n)?.resetState(); },
  };
}

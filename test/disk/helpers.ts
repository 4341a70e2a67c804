/** Test helpers: a session on a software disk, and a way to make a LUN report chosen sense once per command. */
import { MockUsbDevice, type MockLunOptions, type MockDeviceOptions } from '../../src/mock/index.js';
import { openUsbms, type UsbmsSession } from '../../src/open.js';
import type { Disk, DiskOpenOptions } from '../../src/disk/index.js';

export interface Rig { dev: MockUsbDevice; session: UsbmsSession; disk: Disk }

export async function rig(lun: MockLunOptions, diskOpts: DiskOpenOptions = {}, devOpts: MockDeviceOptions = {},
  before?: (dev: MockUsbDevice) => void): Promise<Rig> {
  const dev = new MockUsbDevice({ ...devOpts, luns: [lun] });
  before?.(dev);
  const session = await openUsbms({ mock: dev });
  try {
    const disk = await session.openDisk(0, { readyPollMs: 10, ...diskOpts });
    return { dev, session, disk };
  } catch (e) {
    await session.close();
    throw e;
  }
}

type Sense = { key: number; asc: number; ascq: number };

/**
 * The next commands of LUN 0 fail with these senses, one each (a CHECK CONDITION the way a unit attention is
 * reported). The REQUEST SENSE that auto request sense sends in between must not consume an entry.
 */
export function failNextCommands(dev: MockUsbDevice, senses: Sense[]): void {
  const lun = dev.luns[0]!;
  const original = lun.takeUnitAttention.bind(lun);
  let reportNext = true;
  lun.takeUnitAttention = () => {
    if (!reportNext) { reportNext = true; return undefined; }
    const s = senses.shift();
    if (s === undefined) return original();
    reportNext = false;
    return { ...s, info: undefined };
  };
}

export function opcodesSent(dev: MockUsbDevice): number[] {
  return dev.log.flatMap((e) => (e.type === 'cbw' ? [e.opcode] : []));
}

/**
 * A fixed file order for the hardware suite. The kernel-driver hand-over checks must see the device as the
 * system left it (usb-storage bound), before any other file has claimed and released it; the write checks run
 * last, after every read-only check has looked at the untouched data. The rest follow by name.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const FIRST = ['enumerate.hw.test.ts'];
const LAST = ['destructive.hw.test.ts'];

function rank(moduleId: string): number {
  const name = moduleId.slice(moduleId.lastIndexOf('/') + 1);
  if (FIRST.includes(name)) return 0;
  if (LAST.includes(name)) return 2;
  return 1;
}

export class HardwareFileOrder extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve([...files].sort((a, b) =>
      rank(a.moduleId) - rank(b.moduleId) || a.moduleId.localeCompare(b.moduleId)));
  }
}

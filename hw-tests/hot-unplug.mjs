#!/usr/bin/env node
// hot-unplug.mjs [DEVICE] - surprise removal in the middle of a transfer loop, on the compiled stack (dist/).
// Three read loops run on LUN 0 of DEVICE (default $USBMS_TEST_DEVICE); after some reads have completed, the
// device is unplugged by $USBMS_UNPLUG_CMD (default, in the lab guest: "$USB_VM_QMP 'device_del usbdev0'"; on
// real hardware, unplug it by hand when asked). Every read in flight must fail with a device-gone error, later
// calls too, close() must resolve, and the process must then exit by itself with status 0 (nothing left
// running). Prints "ok - ..." / "not ok - ..." lines; run-lab.sh checks them and the exit status.
import { execFile } from 'node:child_process';
import { openUsbms } from '../dist/open.js';
import { isDiskError } from '../dist/disk/index.js';

const device = process.argv[2] ?? process.env.USBMS_TEST_DEVICE;
if (!device) { console.error('usage: hot-unplug.mjs vid:pid[:serial] (or set USBMS_TEST_DEVICE)'); process.exit(2); }
const unplug = process.env.USBMS_UNPLUG_CMD ??
  (process.env.USB_VM_QMP ? `${process.env.USB_VM_QMP} 'device_del usbdev0'` : undefined);
let failed = 0;
const check = (ok, what, extra = '') => { if (!ok) failed++; console.log(`${ok ? 'ok' : 'not ok'} - ${what}${extra ? ` # ${extra}` : ''}`); };
// If anything hangs, say so and fail instead of hanging the lab (this timer is the only forced exit).
const guard = setTimeout(() => { console.log('not ok - everything settled within 60 s (something hangs)'); process.exit(1); }, 60_000);

const session = await openUsbms({ device, detachKernelDriver: true });
const disk = await session.openDisk(0);
const blocks = Math.max(1, Math.floor(65536 / disk.blockSize));
let completed = 0, unplugged = false;
const span = disk.blocks - BigInt(blocks);
async function readLoop(id) {
  for (let i = 0; ; i++) {
    try {
      await disk.read((BigInt(id * 7919 + i * 104729) * BigInt(blocks)) % span, blocks);
      completed++;
    } catch (e) {
      return e;
    }
    if (completed >= 12 && !unplugged) {
      unplugged = true;
      if (unplug === undefined) console.log('# unplug the device now');
      else execFile('sh', ['-c', unplug], (err, out) => console.log(`# unplug: ${err ? err.message : out.trim() || 'done'}`));
    }
  }
}
const t0 = performance.now();
const ends = await Promise.all([0, 1, 2].map(readLoop));
const kinds = ends.map((e) => (isDiskError(e) ? e.kind : `${e?.name}: ${e?.message}`));
check(ends.every((e) => isDiskError(e, 'device-gone')), 'every read in flight ended with device-gone',
  `${completed} reads before, loops ended with [${kinds.join(', ')}] ${(performance.now() - t0).toFixed(0)} ms after start`);
const after = await disk.read(0n, 1).then(() => undefined, (e) => e);
check(isDiskError(after, 'device-gone'), 'a read after the unplug fails typed at once',
  after === undefined ? 'it succeeded' : `${after.name} ${after.kind ?? ''}`);
const closeError = await session.close().then(() => undefined, (e) => e);
check(closeError === undefined, 'session closed after the device left', closeError === undefined ? '' : String(closeError));
clearTimeout(guard);
console.log(`${failed === 0 ? 'all' : failed} ${failed === 0 ? 'checks passed' : 'failed'}; exiting without process.exit()`);
process.exitCode = failed === 0 ? 0 : 1;

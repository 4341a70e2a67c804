/**
 * Which devices a run covers (--all keeps Bulk-Only only, --match narrows, --device resolves slots) and the
 * refusal of a destructive plan on a disk the kernel has mounted.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendRigDevice, resolvePlan, runRig, selectRigDevices } from '../../../src/apps/rig/index.js';
import type { DeviceListing } from '../../../src/usb/backend.js';
import { stick, testRig, type TestRig } from './helpers.js';

let rig: TestRig | undefined;
afterEach(() => { rig?.backend.dispose(); rig = undefined; });

/** A listing row as the libusb backend would give it for a UAS-only device (no Bulk-Only alternate setting). */
function uasOnly(base: DeviceListing): DeviceListing {
  return { ...base, portPath: '0-1.7', portNumbers: [1, 7], deviceAddress: 99, protocol: 'UAS', protocolCode: 0x62,
    hasBotAltSetting: false, serialNumber: 'UAS1' };
}

describe('selecting the devices of a run', () => {
  it('--all keeps the Bulk-Only devices and names the others; --match narrows by VID:PID[:serial]', async () => {
    rig = await testRig({ '0-1.1': stick('A'), '0-1.2': stick('B'), '0-1.3': stick('C', 2, { vendorId: 0x0781, productId: 0x5567 }) });
    const uas = new BackendRigDevice(rig.backend, uasOnly(rig.devices[0]!.listing));
    const present = [...rig.devices, uas];
    const all = selectRigDevices(present, { all: true });
    expect(all.devices.map((d) => d.key.port)).toEqual(['0-1.1', '0-1.2', '0-1.3']);
    expect(all.excluded).toEqual([expect.stringMatching(/^0-1\.7 f055:5b00 UAS1: not Bulk-Only mass storage \(UAS\)/) as unknown]);
    expect(selectRigDevices(present, { all: true, match: ['0781:5567'] }).devices.map((d) => d.key.serial)).toEqual(['C']);
    expect(selectRigDevices(present, { all: true, match: ['f055:5b00:B,0781:5567'] }).devices.map((d) => d.key.serial)).toEqual(['B', 'C']);
    expect(() => selectRigDevices(present, { all: true, match: ['0-1.2'] })).toThrow(/expected VID:PID\[:serial\]/);
  });

  it('--device takes port paths (and other selectors), refuses a non-Bulk-Only device and a device named twice', async () => {
    rig = await testRig({ '0-1.1': stick('A'), '0-1.2': stick('B') });
    const uas = new BackendRigDevice(rig.backend, uasOnly(rig.devices[0]!.listing));
    const present = [...rig.devices, uas];
    expect(selectRigDevices(present, { devices: ['0-1.2', 'f055:5b00:A'] }).devices.map((d) => d.key.port)).toEqual(['0-1.2', '0-1.1']);
    expect(() => selectRigDevices(present, { devices: ['0-1.7'] })).toThrow(/not Bulk-Only/);
    expect(() => selectRigDevices(present, { devices: ['0-1.1', 'f055:5b00:A'] })).toThrow(/a second time/);
    expect(() => selectRigDevices(present, { devices: ['0-1.5'] })).toThrow(/no USB mass-storage device matches 0-1\.5/);
    expect(() => selectRigDevices(present, {})).toThrow(/--device SEL .* or --all/);
    expect(() => selectRigDevices(present, { all: true, devices: ['0-1.1'] })).toThrow(/not both/);
  });
});

describe('a destructive plan on a mounted disk', () => {
  it('is refused for that device (exit 15), the others run', async () => {
    rig = await testRig({ '0-1.1': stick('MOUNTED', 1), '0-1.2': stick('FREE', 1) });
    const sys = mkdtempSync(join(tmpdir(), 'usbms-sys-'));
    mkdirSync(join(sys, '0-1.1:1.0/host3/target3:0:0/3:0:0:0/block/sdq'), { recursive: true });
    const mounts = join(sys, 'mounts');
    writeFileSync(mounts, '/dev/sdq /media/stick vfat rw 0 0\n');
    const opts = { sysRoot: sys, mountsFile: mounts };
    const devices = rig.devices.map((d) => new BackendRigDevice(rig!.backend, d.listing, opts));
    expect(devices[0]!.mounted()).toEqual(['/dev/sdq on /media/stick']);
    const r = await runRig(devices, { plan: resolvePlan('full'), write: true, seed: 1, readyPollMs: 5 });
    expect(r.devices[0]).toMatchObject({ status: 'error', exitCode: 15, reason: expect.stringMatching(/mounted \(\/dev\/sdq on \/media\/stick\)/) as unknown });
    expect(r.devices[0]!.steps.every((s) => s.status === 'skip')).toBe(true);
    expect(r.devices[1]).toMatchObject({ status: 'pass', exitCode: 0 });
    // a read-only plan is not refused: reading a mounted disk through usbms would need the driver detached anyway
    const q = await runRig([devices[0]!], { plan: resolvePlan('quick'), write: false, seed: 1, readyPollMs: 5 });
    expect(q.devices[0]).toMatchObject({ status: 'pass' });
  });
});

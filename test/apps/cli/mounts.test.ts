import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detachRefusal, mountedFilesystemsOf, openUsbms, UsbmsOpenError } from '../../../src/open.js';
import type { DeviceListing as MassStorageDeviceInfo } from '../../../src/usb/backend.js';

describe('mounted-filesystem check before detaching the kernel driver', () => {
  const root = mkdtempSync(join(tmpdir(), 'usbms-sys-'));
  const sys = join(root, 'devices');
  const disk = join(sys, '1-2.3:1.0', 'host4', 'target4:0:0', '4:0:0:0', 'block', 'sdx');
  mkdirSync(join(disk, 'sdx1'), { recursive: true });
  writeFileSync(join(disk, 'sdx1', 'partition'), '1\n');
  mkdirSync(join(disk, 'queue'), { recursive: true });
  const mounts = join(root, 'mounts');
  const where = { busNumber: 1, portNumbers: [2, 3], interfaceNumber: 0 };

  it('finds a mounted partition of the interface', () => {
    writeFileSync(mounts, 'proc /proc proc rw 0 0\n/dev/sdx1 /media/my\\040stick vfat rw 0 0\n/dev/sda1 / ext4 rw 0 0\n');
    expect(mountedFilesystemsOf(where, sys, mounts)).toEqual(['/dev/sdx1 on /media/my stick']);
  });

  it('finds nothing when only other disks are mounted, or for another interface', () => {
    writeFileSync(mounts, '/dev/sda1 / ext4 rw 0 0\n/dev/sdx10 /x ext4 rw 0 0\n');
    expect(mountedFilesystemsOf(where, sys, mounts)).toEqual([]);
    writeFileSync(mounts, '/dev/sdx /y ext4 rw 0 0\n');
    expect(mountedFilesystemsOf({ ...where, interfaceNumber: 1 }, sys, mounts)).toEqual([]);
    expect(mountedFilesystemsOf(where, sys, mounts)).toEqual(['/dev/sdx on /y']);
  });

  it('--detach-kernel-driver is refused for the device whose filesystem is mounted, named any way', () => {
    writeFileSync(mounts, '/dev/sdx1 /media/stick vfat rw 0 0\n');
    const stick = { vendorId: 0x0781, productId: 0x5567, busNumber: 1, deviceAddress: 9, portNumbers: [2, 3],
      interfaceNumber: 0, serialNumber: 'S1' } as MassStorageDeviceInfo;
    const other = { ...stick, deviceAddress: 10, portNumbers: [4], serialNumber: 'S2' };
    for (const sel of [{ kind: 'ids', vendorId: 0x0781, productId: 0x5567 }, { kind: 'location', busNumber: 1, deviceAddress: 9 },
      { kind: 'ids', vendorId: 0x0781, productId: 0x5567, serialNumber: 'S1' }] as const) {
      expect(detachRefusal(sel, [other, stick], sys, mounts)).toMatch(
        /^refusing to detach the kernel driver of .*: it has mounted filesystems \(\/dev\/sdx1 on \/media\/stick\); unmount them first \(or pass --force/);
    }
    expect(detachRefusal({ kind: 'ids', vendorId: 0x0781, productId: 0x5567, serialNumber: 'S2' }, [other, stick], sys, mounts))
      .toBeUndefined();
    expect(detachRefusal({ kind: 'location', busNumber: 1, deviceAddress: 10 }, [other, stick], sys, mounts)).toBeUndefined();
    writeFileSync(mounts, '/dev/sda1 / ext4 rw 0 0\n');
    expect(detachRefusal({ kind: 'location', busNumber: 1, deviceAddress: 9 }, [other, stick], sys, mounts)).toBeUndefined();
  });

  it('openUsbms refuses to guess a device', async () => {
    await expect(openUsbms({})).rejects.toBeInstanceOf(UsbmsOpenError);
    await expect(openUsbms({ device: '1:2', mock: true })).rejects.toMatchObject({ code: 'OPEN_BOTH_SELECTED', kind: 'BOTH_SELECTED' });
  });
});

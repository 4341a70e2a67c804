/**
 * Behaviour the emulated-hardware lab found on real device models, reproduced on the software disk so that a
 * regression shows up in the unit tests too.
 */
import { describe, expect, it } from 'vitest';
import { DiskGoneError } from '../../src/disk/index.js';
import { MockUsbDevice } from '../../src/mock/index.js';
import { openUsbms } from '../../src/open.js';
import { rig } from './helpers.js';
import { closing } from '../support/session.js';

/** A two-LUN device with QEMU usb-bot's REQUEST SENSE behaviour, under QEMU's VID:PID. */
function qemuUsbBot(): MockUsbDevice {
  return new MockUsbDevice({ vendorId: 0x46f4, productId: 0x0001, luns: [{ blocks: 64 }, { blocks: 32 }],
    quirks: { senseOnLun0Only: true } });
}

/** READ(10) of the block just past the end, sent as is: CHECK CONDITION on every device. */
function readPastEnd(blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x28;
  cdb.writeUInt32BE(blocks, 2);
  cdb.writeUInt16BE(1, 7);
  return cdb;
}

describe('lab findings', () => {
  it('cuts a VPD page padded to the allocation length (QEMU) to 4 + PAGE LENGTH', async () => {
    await using held = closing(await rig({ blocks: 1024, serial: 'SER123' }, {}, {
      quirks: { padVpdToAllocation: true },
    }));
    const { dev, disk } = held;
    const page = await disk.inquiry(0x80);
    expect(page.readUInt16BE(2)).toBe('SER123'.length);
    expect(page.length).toBe(4 + 'SER123'.length);
    expect(page.subarray(4).toString('latin1')).toBe('SER123');
    // The device really sent the padding: the trim is the driver's, not the mock's.
    expect(dev.stats.bytesIn).toBeGreaterThan(252);
    const supported = await disk.inquiry(0x00);
    expect(supported.length).toBe(4 + supported.readUInt16BE(2));
    expect([...supported.subarray(4)]).toContain(0x80);
  });

  it('reports device-gone, not a transport error, for commands after a disconnect', async () => {
    await using held = closing(await rig({ blocks: 1024 }));
    const { dev, disk } = held;
    dev.disconnect();
    await expect(disk.read(0n, 1)).rejects.toBeInstanceOf(DiskGoneError);
    // The HBA now knows the device is gone: tran_start refuses with TRAN_FATAL_ERROR + CMD_DEV_GONE.
    await expect(disk.read(1n, 1)).rejects.toBeInstanceOf(DiskGoneError);
    await expect(disk.testUnitReady()).rejects.toBeInstanceOf(DiskGoneError);
  });

  it('SENSE_LUN0_ONLY (QEMU usb-bot): LUN >= 1 reports sense unavailable instead of a wrong 5/25/00', async () => {
    await using session = closing(await openUsbms({ mock: qemuUsbBot() }));
    expect(session.quirks.senseLun0Only).toBe(true);
    const lun0 = await session.openDisk(0);
    const r0 = await lun0.raw(readPastEnd(64), { dataIn: 512 });
    expect(r0.status).toBe(2);
    expect([r0.sense?.key, r0.sense?.asc, r0.sense?.ascq]).toEqual([5, 0x21, 0]);
    const lun1 = await session.openDisk(1);
    const r1 = await lun1.raw(readPastEnd(32), { dataIn: 512 });
    expect(r1.status).toBe(2);
    expect(r1.sense).toBeUndefined();
  });

  it('without the quirk the same device passes the wrong sense on (what the quirk exists for)', async () => {
    await using session = closing(await openUsbms({ mock: qemuUsbBot(), quirks: '46f4:0001:' }));
    expect(session.quirks.senseLun0Only).toBe(false);
    const lun1 = await session.openDisk(1);
    const r1 = await lun1.raw(readPastEnd(32), { dataIn: 512 });
    expect([r1.sense?.key, r1.sense?.asc]).toEqual([5, 0x25]);
  });
});

import { describe, it, expect } from 'vitest';
import { DiskMediumError, DiskNotReadyError, isDiskError } from '../../src/disk/index.js';
import { failNextCommands, opcodesSent, rig } from './helpers.js';
import { closing } from '../support/session.js';

describe('Disk.open policy', () => {
  it('identifies the unit and reads its capacity', async () => {
    await using held = closing(await rig({ blocks: 2048, vendor: 'ACME', product: 'Stick', revision: '2.01' }));
    const { disk } = held;
    expect(disk.info.vendor).toBe('ACME');
    expect(disk.info.product).toBe('Stick');
    expect(disk.info.revision).toBe('2.01');
    expect(disk.blocks).toBe(2048n);
    expect(disk.blockSize).toBe(512);
    expect(disk.capacityBytes).toBe(2048n * 512n);
    expect(disk.mediumPresent).toBe(true);
    expect(disk.writeProtected).toBe(false);
    expect(disk.capacity?.source).toBe('READ CAPACITY(10)');
  });

  it('retries through the power-on UNIT ATTENTION', async () => {
    await using held = closing(await rig({ blocks: 1024 }, {}, { powerOnUnitAttention: true }));
    const { disk, dev } = held;
    expect(disk.blocks).toBe(1024n);
    // TEST UNIT READY went out twice: once answered by the unit attention, once for real.
    expect(opcodesSent(dev).filter((op) => op === 0x00).length).toBeGreaterThanOrEqual(2);
  });

  it('with probe: false sends INQUIRY only, leaves a pending UNIT ATTENTION to the caller, probes on first read', async () => {
    await using held = closing(await rig({ blocks: 1024 }, { probe: false }, { powerOnUnitAttention: true }));
    const { disk, dev } = held;
    expect(opcodesSent(dev)).toEqual([0x12]);
    expect(disk.mediumPresent).toBe(false);
    const s = await disk.requestSense();
    expect([s.key, s.asc]).toEqual([6, 0x29]); // power on, reset, or bus device reset occurred
    expect((await disk.read(1023n, 1)).length).toBe(512);
    expect(disk.blocks).toBe(1024n);
  });

  it('waits while NOT READY 04/01 (becoming ready), then opens', async () => {
    const becoming = { key: 2, asc: 4, ascq: 1 };
    await using held = closing(await rig({ blocks: 1024 }, {}, {},
      (d) => { failNextCommands(d, [becoming, becoming, becoming]); }));
    const { disk, dev } = held;
    expect(disk.blocks).toBe(1024n);
    expect(opcodesSent(dev).filter((op) => op === 0x00).length).toBe(4);
  });

  it('gives up on NOT READY becoming ready after readyTimeoutMs, with the sense', async () => {
    const becoming = { key: 2, asc: 4, ascq: 1 };
    const started = Date.now();
    const err = await rig({ blocks: 1024 }, { readyTimeoutMs: 150, readyPollMs: 20 }, {},
      (d) => { failNextCommands(d, Array.from({ length: 1000 }, () => becoming)); }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskNotReadyError);
    expect((err as DiskNotReadyError).sense?.asc).toBe(4);
    expect((err as DiskNotReadyError).sense?.ascq).toBe(1);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends START STOP UNIT on NOT READY 04/02 (initializing command required)', async () => {
    await using held = closing(await rig({ blocks: 1024 }, {}, {},
      (d) => { failNextCommands(d, [{ key: 2, asc: 4, ascq: 2 }]); }));
    const { dev } = held;
    const ops = opcodesSent(dev);
    const start = ops.indexOf(0x1b);
    expect(start).toBeGreaterThan(ops.indexOf(0x00));
    expect(ops.slice(start)).toContain(0x25); // capacity read after the start
  });

  it('opens a removable unit without a medium with mediumPresent false', async () => {
    await using held = closing(await rig({ blocks: 1024, removable: true, present: false }));
    const { disk } = held;
    expect(disk.mediumPresent).toBe(false);
    expect(disk.blocks).toBe(0n);
    const err = await disk.read(0n, 1).catch((e: unknown) => e);
    expect(isDiskError(err, 'no-medium')).toBe(true);
  });

  it('fails to open a fixed disk that reports no medium', async () => {
    const err = await rig({ blocks: 1024, removable: false }, {}, {},
      (d) => { failNextCommands(d, [{ key: 2, asc: 0x3a, ascq: 0 }]); }).catch((e: unknown) => e);
    expect(isDiskError(err, 'no-medium')).toBe(true);
  });

  it('reports a medium error from a read with the failing LBA', async () => {
    await using held = closing(await rig({ blocks: 4096 }, { retries: 0 }));
    const { disk, dev } = held;
    dev.faults.inject({ fault: { kind: 'medium-error', lbas: [1234n] } });
    const err = await disk.read(1200n, 64).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskMediumError);
    expect((err as DiskMediumError).lba).toBe(1234n);
    expect((err as DiskMediumError).sense?.key).toBe(3);
    await expect(disk.read(1000n, 8)).resolves.toHaveLength(8 * 512);
  });
});

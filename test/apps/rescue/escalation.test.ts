/**
 * The escalation ladder against software devices that fail the way dying sticks do: a block range that wedges
 * the controller until a BOT reset, a port reset or only a power cycle; a device that falls off the bus and
 * comes back (re-enumerated, same serial), or never does. Timeouts are 1 s so each hang costs a second or two.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMapfile } from '../../../src/apps/rescue/index.js';
import { blocksWith, makeDisk, rescue, wrongRescuedBlocks } from './helpers.js';

const steps = (r: Awaited<ReturnType<typeof rescue>>): string[] => r.outcome.escalations.map((e) => `${e.step}:${e.ok ? 'ok' : 'failed'}`);

describe('rescue: a hang area', () => {
  it('wedged until a BOT reset, every time: recovered by Reset Recovery, the area ends bad, nothing else lost', async () => {
    const disk = await makeDisk(1024);
    disk.device.faults.wedge.hang({ lba: 300n, blocks: 2, clearedBy: 'bot-reset' });
    const r = await rescue(disk);
    expect(r.outcome.result).toBe('finished');
    expect(blocksWith(r.map, '-')).toEqual([300n, 301n]);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
    expect(r.outcome.counts.rescued).toBe(BigInt((1024 - 2) * 512));
    // One hang in the copy pass, one per block in trim: each climbed one rung only.
    expect(steps(r)).toEqual(['bot-reset:ok', 'bot-reset:ok', 'bot-reset:ok']);
    expect(r.events.filter((e) => e.type === 'read-error').every((e) => e.type === 'read-error' && e.failure === 'device')).toBe(true);
  }, 30_000);

  it('wedged until a port reset, once: the BOT reset does not help, the port reset does, and the data is rescued', async () => {
    const disk = await makeDisk(1024);
    disk.device.faults.wedge.hang({ lba: 500n, blocks: 4, clearedBy: 'port-reset', times: 1 });
    const r = await rescue(disk);
    expect(steps(r)).toEqual(['bot-reset:failed', 'port-reset:ok']);
    expect(r.outcome.escalations[0]?.reason).toMatch(/timed out|transport|READ/);
    expect(r.outcome.escalations[1]?.pos).toBe(384n * 512n); // the copy read holding LBA 500 (blocks 384..511)
    // The marginal area read fine in the trim pass: everything is rescued.
    expect(r.outcome.counts.rescued).toBe(1024n * 512n);
    expect(r.image.equals(disk.data)).toBe(true);
    expect(disk.device.faults.wedge.counts).toMatchObject({ hangs: 1, unwedged: 1 });
    expect(disk.device.stats.portResets).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('wedged until power is cycled: BOT reset and port reset fail, the hub port power cycle brings it back', async () => {
    const disk = await makeDisk(1024);
    disk.device.faults.wedge.hang({ lba: 10n, blocks: 1, clearedBy: 'power', times: 1 });
    const r = await rescue(disk);
    expect(steps(r)).toEqual(['bot-reset:failed', 'port-reset:failed', 'power-cycle:ok']);
    expect(r.outcome.escalations[2]?.detail).toMatch(/re-opened/);
    expect(disk.backend.hubAt('0-1')?.isPowered(1)).toBe(true);
    expect(r.image.equals(disk.data)).toBe(true);
    expect(r.outcome.result).toBe('finished');
  }, 30_000);

  it('behind a hub that cannot switch power, the power rung says so and the run ends "device-lost" with the map saved', async () => {
    const disk = await makeDisk(1024, { powerSwitching: 'none' });
    disk.device.faults.wedge.hang({ lba: 600n, blocks: 1, clearedBy: 'power' });
    const r = await rescue(disk, { waitDeviceMs: 300 });
    expect(r.outcome.result).toBe('device-lost');
    expect(steps(r)).toEqual(['bot-reset:failed', 'port-reset:failed', 'power-cycle:failed', 'wait-reconnect:failed']);
    expect(r.outcome.escalations[2]?.detail).toMatch(/refused to switch the port power/);
    expect(r.outcome.message).toMatch(/stopped answering/);
    // What was read before is in the saved mapfile, and correct.
    const saved = parseMapfile(r.mapfile);
    expect(saved.areas.some((a) => a.status === '+')).toBe(true);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
    expect(blocksWith(r.map, '+').every((b) => b < 576n)).toBe(true);
  }, 30_000);
});

describe('rescue: the device leaves the bus', () => {
  it('drops off mid-run and comes back by itself (hub without power control): waited for, re-opened, finished', async () => {
    const disk = await makeDisk(2048, { powerSwitching: 'none' });
    disk.device.faults.wedge.dropOut({ lba: 1000n, reconnectAfterMs: 300 });
    const r = await rescue(disk);
    expect(steps(r)).toEqual(['power-cycle:failed', 'wait-reconnect:ok']);
    expect(r.outcome.escalations[1]?.detail).toMatch(/same device is back/);
    expect(r.outcome.result).toBe('finished');
    expect(r.image.equals(disk.data)).toBe(true);
    expect(disk.device.faults.wedge.counts.drops).toBe(1);
  }, 30_000);

  it('drops off behind a switchable hub: a power cycle brings it back', async () => {
    const disk = await makeDisk(2048);
    disk.device.faults.wedge.dropOut({ lba: 1500n, reconnectAfterMs: 5000 });
    const r = await rescue(disk);
    expect(steps(r)).toEqual(['power-cycle:ok']);
    expect(r.image.equals(disk.data)).toBe(true);
  }, 30_000);

  it('a device that never comes back ends the run as device-lost, mapfile saved up to the last good read', async () => {
    const disk = await makeDisk(2048);
    disk.device.faults.wedge.dropOut({ lba: 1024n });
    const r = await rescue(disk, { waitDeviceMs: 300 });
    expect(r.outcome.result).toBe('device-lost');
    expect(steps(r)).toEqual(['power-cycle:failed', 'wait-reconnect:failed']);
    expect(blocksWith(r.map, '+')).toEqual(Array.from({ length: 1024 }, (_, i) => BigInt(i)));
    expect(parseMapfile(r.mapfile).areas[0]).toEqual({ pos: 0n, size: 1024n * 512n, status: '+' });
  }, 30_000);
});

describe('rescue: resuming a mapfile GNU ddrescue wrote', () => {
  it('continues copy pass 1 at current_pos, keeps its finished and non-trimmed areas, and completes the map', async () => {
    const disk = await makeDisk(2048); // 1 MiB, as the fixture
    disk.device.faults.inject({ fault: { kind: 'medium-error', lbas: [150n, 1500n] } });
    const text = readFileSync(join(import.meta.dirname, 'fixtures', 'ddrescue-1.27-copying.map'), 'utf8');
    const image = Buffer.alloc(disk.data.length);
    disk.data.copy(image, 0, 0, 0x10000); // what ddrescue had rescued: the '+' area
    const r = await rescue(disk, { mapfile: text, image });
    // Nothing ddrescue rescued is read again; pass 1 starts at current_pos 0x30000 (LBA 384).
    expect(r.reads.every(([lba]) => lba >= 128n)).toBe(true);
    expect(r.reads[0]).toEqual([384n, 128]);
    expect(blocksWith(r.map, '-')).toEqual([150n, 1500n]);
    expect(wrongRescuedBlocks(r.map, r.image, disk.data)).toEqual([]);
    expect(r.outcome.counts.rescued).toBe(BigInt((2048 - 2) * 512));
  });
});

/**
 * Bytes per command in a rig (`usbms validate --max-transfer`, `usbms probe --max-transfer`): the slots' sessions
 * take `maxTransferBytes`, and a step without `chunkKiB` sends what the device takes per command, as the streams do.
 */
import { describe, expect, it } from 'vitest';
import { parsePlan, rigDevicesOf, runRig } from '../../../src/index.js';
import { MockBackend, MockUsbDevice } from '../../../src/mock/index.js';

const READ10 = 0x28;
const KIB = 1024;

/** One 4 MiB stick; the longest READ(10) a sequential read of 2 MiB sent to it, in bytes. */
async function longestRead(opts: { maxTransferBytes?: number; chunkKiB?: number }): Promise<{ longest: number; reads: number }> {
  const backend = new MockBackend({ enumerationDelayMs: 1 });
  const device = new MockUsbDevice({ luns: [{ blocks: 8192 }], serialNumber: 'MT1' });
  await backend.plug('0-1', device);
  const [slot] = await rigDevicesOf(backend, { maxTransferBytes: opts.maxTransferBytes });
  const plan = parsePlan({ name: 'seq', steps: [
    { step: 'sequential-read', params: { sizeMiB: 2, ...(opts.chunkKiB === undefined ? {} : { chunkKiB: opts.chunkKiB }) } },
  ] });
  const result = await runRig([slot!], { plan, write: false, seed: 1, readyPollMs: 5 });
  expect(result.exitCode).toBe(0);
  const reads = device.log.flatMap((e) => (e.type === 'cbw' && e.opcode === READ10 ? [e.length] : []));
  return { longest: Math.max(...reads), reads: reads.filter((n) => n >= 64 * KIB).length };
}

describe('rig bytes per command', () => {
  it('maxTransferBytes reaches the sessions: 64 KiB READs, 32 of them for 2 MiB', async () => {
    expect(await longestRead({ maxTransferBytes: 64 * KIB })).toEqual({ longest: 64 * KIB, reads: 32 });
  });

  it('a larger maxTransferBytes is what a step without chunkKiB sends (not a fixed 1 MiB)', async () => {
    expect((await longestRead({ maxTransferBytes: 2048 * KIB })).longest).toBe(2048 * KIB);
  });

  it('an explicit chunkKiB still sets the command size, within the device limit', async () => {
    expect((await longestRead({ maxTransferBytes: 2048 * KIB, chunkKiB: 256 })).longest).toBe(256 * KIB);
    expect((await longestRead({ maxTransferBytes: 64 * KIB, chunkKiB: 256 })).longest).toBe(64 * KIB);
  });
});

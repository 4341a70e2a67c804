/**
 * A rescue over the whole stack on a software disk: MockUsbDevice (random data, chosen faults) in a software hub
 * -> openUsbms -> SessionRescueDevice -> RescueEngine, with the image in memory and every mapfile save kept.
 */
import { randomBytes } from 'node:crypto';
import { MockBackend } from '../../../src/mock/backend.js';
import { MemoryMedia, MockUsbDevice, type MockDeviceOptions } from '../../../src/mock/index.js';
import { openUsbms } from '../../../src/open.js';
import {
  findSlot, formatMapfile, mapFromMapfile, parseMapfile, RescueEngine, RescueMap, SessionRescueDevice, slotSource,
  type EngineOptions, type MapfileState, type RescueDevice, type RescueEvent, type RescueOutcome,
} from '../../../src/apps/rescue/index.js';

export const BS = 512;

export interface Disk {
  readonly device: MockUsbDevice;
  readonly data: Buffer;
  readonly backend: MockBackend;
}

/** A device of `blocks` random blocks in port 0-1.1 of a hub that switches port power (or not). */
export async function makeDisk(blocks: number, opts: { powerSwitching?: 'individual' | 'none'; device?: MockDeviceOptions } = {})
  : Promise<Disk> {
  const data = randomBytes(blocks * BS);
  const media = new MemoryMedia(BigInt(data.length));
  media.write(0n, data);
  const device = new MockUsbDevice({ serialNumber: 'RESCUE-T', ...opts.device, luns: [{ blocks, media }] });
  const backend = new MockBackend({ enumerationDelayMs: 5 });
  backend.addHub('0-1', { ports: 4, powerSwitching: opts.powerSwitching ?? 'individual' });
  await backend.plug('0-1.1', device);
  return { device, data, backend };
}

export interface RunResult {
  readonly outcome: RescueOutcome;
  readonly map: RescueMap;
  readonly image: Buffer;
  readonly events: RescueEvent[];
  /** The last mapfile text saved. */
  readonly mapfile: string;
  readonly saves: number;
  /** Every read the engine issued: [lba, blocks]. */
  readonly reads: [bigint, number][];
}

export interface RunOptions extends Partial<Omit<EngineOptions, 'onEvent'>> {
  /** Resume from this mapfile text (and this image). */
  readonly mapfile?: string;
  readonly image?: Buffer;
  readonly timeoutMs?: number;
  /** Stop after this many reads (a simulated interruption). */
  readonly stopAfterReads?: number;
}

export async function rescue(disk: Disk, o: RunOptions = {}): Promise<RunResult> {
  // Short enough that a hang costs about a second, long enough that a loaded machine does not time out good reads.
  const timeoutMs = o.timeoutMs ?? 1000;
  const slot = await findSlot(disk.backend, '0-1.1');
  const open = () => openUsbms({ backend: disk.backend, device: slot.selector, expect: slot.identity, timeoutMs,
    botTimeouts: { cbwMs: timeoutMs, cswMs: timeoutMs, controlMs: 1000 } });
  const session = await open();
  const dev = await SessionRescueDevice.open(session, 0, { retries: 0, readyTimeoutMs: 2000 }, slotSource(slot, open, 20),
    o.waitDeviceMs ?? 3000);
  const reads: [bigint, number][] = [];
  const recorded: RescueDevice = {
    blockSize: dev.blockSize, blocks: dev.blocks, description: dev.description, powerCycle: dev.powerCycle,
    read: (lba, n, into) => { reads.push([lba, n]); return dev.read(lba, n, into); },
    testUnitReady: () => dev.testUnitReady(), resetTarget: () => dev.resetTarget(), resetBus: () => dev.resetBus(),
    reopen: (ms) => dev.reopen(ms), close: () => dev.close(),
  };
  const size = dev.blocks * BigInt(BS);
  const image = o.image ?? Buffer.alloc(Number(size));
  const parsed = o.mapfile === undefined ? undefined : parseMapfile(o.mapfile);
  const map = parsed === undefined ? new RescueMap(size) : mapFromMapfile(parsed, size);
  const events: RescueEvent[] = [];
  let mapfile = '';
  let saves = 0;
  const engine = new RescueEngine(recorded, { write: (off, d) => { d.copy(image, Number(off)); } }, map,
    parsed === undefined || parsed.empty ? undefined : parsed, {
      copyBytes: o.copyBytes ?? 64 * 1024, retries: o.retries ?? 0, reverse: o.reverse ?? false,
      maxBadAreas: o.maxBadAreas, waitDeviceMs: o.waitDeviceMs ?? 3000, saveIntervalMs: o.saveIntervalMs ?? 1000,
      progressIntervalMs: 1000, onEvent: (e) => events.push(e),
      stopRequested: o.stopRequested ?? (() => o.stopAfterReads !== undefined && reads.length >= o.stopAfterReads),
    }, (m: RescueMap, s: MapfileState, message: string) => {
      saves += 1;
      mapfile = formatMapfile(m, s, { creator: 'usbms test', commandLine: 'test', startTime: new Date(), currentTime: new Date(), message });
    });
  try {
    const outcome = await engine.run();
    return { outcome, map, image, events, mapfile, saves, reads };
  } finally {
    await dev.close();
  }
}

/** Per-block statuses of a map, for comparing with what was injected. */
export function blocksWith(map: RescueMap, status: string): bigint[] {
  const out: bigint[] = [];
  for (const a of map.list()) {
    if (a.status !== status) continue;
    for (let p = a.pos; p < a.pos + a.size; p += BigInt(BS)) out.push(p / BigInt(BS));
  }
  return out;
}

/** Blocks where the image differs from the medium although the map says '+'. */
export function wrongRescuedBlocks(map: RescueMap, image: Buffer, data: Buffer): bigint[] {
  const wrong: bigint[] = [];
  for (const lba of blocksWith(map, '+')) {
    const o = Number(lba) * BS;
    if (!image.subarray(o, o + BS).equals(data.subarray(o, o + BS))) wrong.push(lba);
  }
  return wrong;
}

/** Shared set-up for the BOT engine tests against the software USB disk. */
import { MockUsbDevice, createPersonality } from '../../src/mock/index.js';
import type { MockDeviceOptions, PersonalityName } from '../../src/mock/index.js';
import type { DataDirection, TransportCommand, TransportSlot } from '../../src/transport/index.js';
import { BotTransport } from '../../src/bot/transport.js';
import { parseQuirkOverrides } from '../../src/quirks/index.js';
import type { BotOptions } from '../../src/bot/transport.js';
import type { UsbPort } from '../../src/usb/port.js';

export interface Rig {
  dev: MockUsbDevice;
  port: UsbPort;
  bot: BotTransport;
  slot: TransportSlot;
}

/** Short timeouts so that fault tests finish fast; tests that need others pass their own. */
export const FAST: BotOptions = { timeouts: { cbwMs: 200, cswMs: 200, dataMs: 200, controlMs: 200 } };

export async function rig(opts: MockDeviceOptions = {}, botOpts: BotOptions = FAST): Promise<Rig> {
  return rigOn(new MockUsbDevice(opts), botOpts);
}

/** A personality, with the quirk overrides it brings registered as a user's would be (as openUsbms does). */
export async function personality(name: PersonalityName, botOpts: BotOptions = FAST): Promise<Rig> {
  const dev = createPersonality(name);
  const overrides = dev.hostQuirks === undefined ? [] : parseQuirkOverrides(dev.hostQuirks);
  return rigOn(dev, { ...botOpts, quirkOverrides: [...(botOpts.quirkOverrides ?? []), ...overrides] });
}

export async function rigOn(dev: MockUsbDevice, botOpts: BotOptions = FAST, wrap?: (p: UsbPort) => UsbPort): Promise<Rig> {
  const raw = dev.open();
  const port = wrap ? wrap(raw) : raw;
  const bot = await BotTransport.open(port, botOpts);
  return { dev, port, bot, slot: bot.allocSlot(8) };
}

export function request(cdb: number[], direction: DataDirection, segments: Buffer[] = [], lun = 0,
  dataTimeoutMs = 0): TransportCommand {
  return { lun, cdb: Uint8Array.from(cdb), cdbLength: cdb.length, direction, segments, segmentCount: segments.length,
    dataTimeoutMs, sense: Buffer.alloc(0) };
}

export const tur = (): number[] => [0x00, 0, 0, 0, 0, 0];
export const inquiry = (alloc: number): number[] => [0x12, 0, 0, alloc >> 8, alloc & 0xff, 0];
export const read10 = (lba: number, blocks: number): number[] =>
  [0x28, 0, (lba >>> 24) & 0xff, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, 0, blocks >> 8, blocks & 0xff, 0];
export const write10 = (lba: number, blocks: number): number[] => {
  const c = read10(lba, blocks);
  c[0] = 0x2a;
  return c;
};

/** The recovery-related wire events after index `from`, as short strings. */
export function recoveryTrail(dev: MockUsbDevice, from = 0): string[] {
  const out: string[] = [];
  for (const e of dev.log.slice(from)) {
    if (e.type === 'mass-storage-reset') out.push('bomsr');
    else if (e.type === 'clear-halt') out.push(`clear-${e.pipe}`);
    else if (e.type === 'port-reset') out.push('port-reset');
  }
  return out;
}

/** A following command works: the device is usable again. */
export async function stillWorks(r: Rig): Promise<void> {
  const buf = Buffer.alloc(36);
  const res = await r.bot.execute(r.slot, request(inquiry(36), 'in', [buf]));
  if (res.status !== 0 || res.transferred !== 36 || buf.subarray(8, 13).toString() === '\0\0\0\0\0') {
    throw new Error(`device not usable after recovery: ${JSON.stringify(res)}`);
  }
}

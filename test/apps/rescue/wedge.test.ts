/** The software faults rescue is proven against (src/mock/wedge.ts) and their JSON form (src/mock/wedge-spec.ts). */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WedgeConfigError, WedgeController } from '../../../src/mock/index.js';
import { readRange } from '../../../src/mock/wedge.js';
import { mockFromSpec } from '../../../src/sources/mock-spec.js';

const read10 = (lba: number, blocks: number): Buffer => {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x28; cdb.writeUInt32BE(lba, 2); cdb.writeUInt16BE(blocks, 7);
  return cdb;
};
const read16 = (lba: bigint, blocks: number): Buffer => {
  const cdb = Buffer.alloc(16);
  cdb[0] = 0x88; cdb.writeBigUInt64BE(lba, 2); cdb.writeUInt32BE(blocks, 10);
  return cdb;
};
const tur = Buffer.alloc(16);

describe('WedgeController', () => {
  it('a read touching the area wedges every later command until a strong enough reset', () => {
    const w = new WedgeController();
    w.hang({ lba: 100n, blocks: 4, clearedBy: 'port-reset' });
    expect(w.onCommand(0, read10(0, 100))).toBeUndefined(); // ends just before the area
    expect(w.onCommand(0, read10(96, 8))).toBe('hang');
    expect(w.onCommand(0, tur)).toBe('hang'); // everything, not only reads
    w.onReset('bot-reset');
    expect(w.wedged).toBe(true); // too mild
    w.onReset('port-reset');
    expect(w.wedged).toBe(false);
    expect(w.onCommand(0, read10(103, 1))).toBe('hang'); // every read of it, by default
    w.onReset('power');
    expect(w.counts).toEqual({ hangs: 2, drops: 0, unwedged: 2 });
  });

  it('times bounds the hangs; READ(16) LBAs past 2^32 are matched', () => {
    const w = new WedgeController();
    w.hang({ lba: 5_000_000_000n, blocks: 1, times: 1 });
    expect(readRange(read16(5_000_000_000n, 8))).toEqual({ lba: 5_000_000_000n, blocks: 8 });
    expect(w.onCommand(0, read16(4_999_999_999n, 2))).toBe('hang');
    w.onReset('bot-reset');
    expect(w.onCommand(0, read16(5_000_000_000n, 1))).toBeUndefined();
  });

  it('a drop-out fires once; without reconnectAfterMs the device is dead', () => {
    const w = new WedgeController();
    let replugs = 0;
    w.attach(() => { replugs += 1; });
    w.dropOut({ lba: 10n });
    expect(w.onCommand(0, read10(8, 4))).toBe('drop');
    expect(w.dead).toBe(true);
    expect(w.onCommand(0, read10(8, 4))).toBeUndefined();
    expect(replugs).toBe(0);
    w.clear();
    expect(w.dead).toBe(false);
  });

  it('refuses nonsense', () => {
    const w = new WedgeController();
    expect(() => w.hang({ lba: 1n, blocks: 0 })).toThrow(WedgeConfigError);
    expect(() => w.hang({ lba: 1n, blocks: 1, times: 0 })).toThrow(WedgeConfigError);
    expect(() => w.dropOut({ lba: 1n, reconnectAfterMs: -1 })).toThrow(WedgeConfigError);
  });
});

describe('hangs and dropouts in a --mock=DEVICE.json description', () => {
  const spec = (body: unknown): string => {
    const file = join(mkdtempSync(join(tmpdir(), 'usbms-wedge-')), 'dev.json');
    writeFileSync(file, JSON.stringify(body));
    return file;
  };

  it('are loaded into the device', () => {
    const dev = mockFromSpec(spec({ luns: [{ blocks: 1024 }], hangs: [{ lba: 10, blocks: 2, clearedBy: 'power', times: 1 }],
      dropouts: [{ lba: '500', reconnectAfterMs: 100 }] }));
    expect(dev.faults.wedge.onCommand(0, read10(11, 1))).toBe('hang');
    dev.faults.wedge.onReset('port-reset');
    expect(dev.faults.wedge.wedged).toBe(true);
    dev.faults.clear();
  });

  it.each([
    [{ hangs: [{ lba: 1, clearedBy: 'kick' }] }, /clearedBy "kick" is not one of bot-reset, port-reset, power/],
    [{ hangs: {} }, /"hangs" is not a list/],
    [{ hangs: [{ lba: -1 }] }, /hangs\[0\]\.lba/],
    [{ dropouts: [{ lba: 1, reconnectAfterMs: 'soon' }] }, /reconnectAfterMs "soon"/],
  ])('refuses %j with the key named', (body, why) => {
    expect(() => mockFromSpec(spec({ luns: [{ blocks: 64 }], ...body }))).toThrow(why);
  });
});

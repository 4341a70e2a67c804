/**
 * A usbms capture of a UAS session replays: the same commands get the recorded data, status and sense under the
 * host's own tags, in whatever order the host sends them; a command the recording does not hold ends the replay
 * with a typed divergence.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { ReplayUasDevice, replayDivergenceOf } from '../../../src/mock/replay/index.js';
import type { UsbPort } from '../../../src/usb/port.js';

const openReplayPort = (file: string): UsbPort => ReplayUasDevice.fromFile(file).open();
import { tracePort } from '../../../src/usb/trace/index.js';
import { openUasTransport, type UasTransport } from '../../../src/uas/index.js';
import { command, inquiry, pattern, read10, settle, write10 } from '../../uas/helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-uas-replay-'));

async function session(tr: UasTransport): Promise<Buffer[]> {
  const slots = Array.from({ length: 4 }, () => tr.allocSlot(1));
  const out: Buffer[] = [];
  const inq = Buffer.alloc(36);
  await tr.execute(slots[0]!, command(inquiry(), 'in', inq));
  out.push(inq);
  const bufs = slots.map(() => Buffer.alloc(2048));
  await Promise.all(slots.map((s, i) => tr.execute(s, command(read10(i * 4, 4), 'in', bufs[i]))));
  out.push(...bufs);
  const c = command(read10(1 << 22, 1), 'in', Buffer.alloc(512));
  const r = await tr.execute(slots[0]!, c);
  out.push(Buffer.from([r.status, r.senseLength]), c.sense.subarray(0, r.senseLength));
  return out;
}

describe('UAS replay', () => {
  const file = join(tmp, 'uas.pcap');
  let recorded: Buffer[] = [];

  it('records a session, then answers the same session from the capture byte for byte', async () => {
    const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 8192 }] });
    const setup = await openUasTransport(dev.open());
    await Promise.all([0, 1, 2, 3].map((i) => setup.execute(setup.allocSlot(1), command(write10(i * 4, 4), 'out', pattern(2048, i)))));
    await setup.close();
    const tr = await openUasTransport(tracePort(dev.open(), { file }));
    recorded = await session(tr);
    await tr.close();
    expect(recorded[1]!.equals(pattern(2048, 0))).toBe(true);

    const replayed = await openUasTransport(openReplayPort(file));
    const again = await session(replayed);
    await replayed.close();
    expect(again.map((b) => b.toString('hex'))).toEqual(recorded.map((b) => b.toString('hex')));
  });

  it('a command the recording does not hold ends the replay: device gone, and the divergence says why', async () => {
    const port = openReplayPort(file);
    const tr = await openUasTransport(port);
    const e = await settle(tr.execute(tr.allocSlot(1), command(read10(4000, 1), 'in', Buffer.alloc(512))));
    expect(e).toMatchObject({ code: 'UAS_DEVICE_GONE' });
    expect(replayDivergenceOf(port)?.message).toMatch(/READ\(10\).*4000|lba=4000/);
    await tr.close();
  });
});

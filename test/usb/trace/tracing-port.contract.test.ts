// A TracingPort keeps the port contract of the port it wraps (test/usb/port-contract.ts): the layers above cannot
// tell a traced session from an untraced one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUsbDevice } from '../../../src/mock/index.js';
import { PcapWriter, TracingPort } from '../../../src/usb/trace/index.js';
import { describePortContract } from '../port-contract.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-trace-contract-'));
let n = 0;

describePortContract('TracingPort around the software USB disk', async () => {
  const device = new MockUsbDevice({ luns: [{ blocks: 2048 }], powerOnUnitAttention: true });
  const port = new TracingPort(device.open(), PcapWriter.open(join(tmp, `c${n++}.pcap`), { snaplen: 64 }));
  return { port, cleanup: () => port.close(), disconnect: () => device.disconnect() };
}, { canDisconnect: true, overflowOnSmallBuffer: true });

// UasTransport keeps the Transport contract (test/transport/contract.ts) on the software disk's UAS function: at
// high speed (512-byte packets) and at full speed (64) with 4096-byte blocks, in the order it announces data phases
// ('lifo' and 'random' too: UAS allows any), with short phase timeouts so that the hung-command cases are quick.
import { MockUsbDevice, type MockBlockSize, type MockDeviceOptions } from '../../src/mock/index.js';
import { openUasTransport } from '../../src/uas/index.js';
import { CountingPort } from './counting-port.js';
import { transportContract, type TransportFixture } from './contract.js';

const TIMEOUT_MS = 150;

async function uasOnSoftwareDisk(opts: MockDeviceOptions, blockSize: MockBlockSize = 512): Promise<TransportFixture> {
  const dev = new MockUsbDevice({ transports: 'uas', luns: [{ blocks: 2048, blockSize }], ...opts });
  const port = new CountingPort(dev.open());
  const transport = await openUasTransport(port, {
    timeouts: { commandMs: TIMEOUT_MS, dataMs: TIMEOUT_MS, statusMs: TIMEOUT_MS, tmfMs: TIMEOUT_MS, controlMs: TIMEOUT_MS },
  });
  return {
    transport,
    timeoutMs: TIMEOUT_MS,
    wireOps: () => port.ops,
    // The device takes the command and never sends its status, until ABORT TASK or a reset ends the task.
    hangNext: (count) => { dev.uasFaults.inject({ fault: { kind: 'no-status' }, times: count }); },
    unplug: () => { dev.disconnect(); },
    dispose: async () => { await port.close(); },
  };
}

transportContract('UasTransport on the software disk, high speed', () => uasOnSoftwareDisk({ speed: 'high' }),
  { hangs: true, unplugs: true, writable: true });
transportContract('UasTransport on the software disk, full speed, 4096-byte blocks', () =>
  uasOnSoftwareDisk({ speed: 'full', maxPacketSize: 64 }, 4096), { hangs: true, unplugs: true, writable: true });
transportContract('UasTransport on the software disk, data phases announced newest first', () =>
  uasOnSoftwareDisk({ uas: { order: 'lifo' } }), { hangs: true, unplugs: true, writable: true });
transportContract('UasTransport on the software disk, data phases announced in random order', () =>
  uasOnSoftwareDisk({ uas: { order: 'random' }, seed: 11 }), { hangs: true, unplugs: true, writable: true });

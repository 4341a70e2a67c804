// BotTransport keeps the Transport contract (test/transport/contract.ts) on the software disk: at high speed
// (512-byte packets), at SuperSpeed (1024) and at full speed (64) with 4096-byte blocks, with short phase
// timeouts so that the hung-command cases are quick.
import { BotTransport } from '../../src/bot/index.js';
import { MockUsbDevice, type MockBlockSize, type MockDeviceOptions } from '../../src/mock/index.js';
import { CountingPort } from './counting-port.js';
import { transportContract, type TransportFixture } from './contract.js';

const TIMEOUT_MS = 150;

async function botOnSoftwareDisk(opts: MockDeviceOptions, blockSize: MockBlockSize = 512): Promise<TransportFixture> {
  const dev = new MockUsbDevice({ luns: [{ blocks: 2048, blockSize }], ...opts });
  const port = new CountingPort(dev.open());
  const transport = await BotTransport.open(port, {
    timeouts: { cbwMs: TIMEOUT_MS, cswMs: TIMEOUT_MS, dataMs: TIMEOUT_MS, controlMs: TIMEOUT_MS },
  });
  return {
    transport,
    timeoutMs: TIMEOUT_MS,
    wireOps: () => port.ops,
    // The device takes the CBW (and the data) and never sends its CSW, until Reset Recovery.
    hangNext: (count) => { dev.faults.inject({ fault: { kind: 'no-response', phase: 'csw' }, times: count }); },
    unplug: () => { dev.disconnect(); },
    dispose: async () => { await port.close(); },
  };
}

transportContract('BotTransport on the software disk, high speed', () => botOnSoftwareDisk({ speed: 'high' }),
  { hangs: true, unplugs: true, writable: true });
transportContract('BotTransport on the software disk, SuperSpeed', () =>
  botOnSoftwareDisk({ speed: 'super', maxPacketSize: 1024 }), { hangs: true, unplugs: true, writable: true });
transportContract('BotTransport on the software disk, full speed, 4096-byte blocks', () =>
  botOnSoftwareDisk({ speed: 'full', maxPacketSize: 64 }, 4096), { hangs: true, unplugs: true, writable: true });

// The software USB disk must keep the same port contract as libusb (test/usb/port-contract.ts).
import { MockUsbDevice } from '../../src/mock/index.js';
import { describePortContract } from '../usb/port-contract.js';

describePortContract('MockUsbPort (software USB disk)', async () => {
  const device = new MockUsbDevice({ luns: [{ blocks: 2048 }], powerOnUnitAttention: true });
  const port = device.open();
  return { port, cleanup: () => port.close(), disconnect: () => device.disconnect() };
}, { canDisconnect: true, overflowOnSmallBuffer: true });

describePortContract('MockUsbPort, full speed with Get Max LUN stalling', async () => {
  const device = new MockUsbDevice({ speed: 'full', maxPacketSize: 64, getMaxLunStalls: true, shortDataPolicy: 'pad' });
  const port = device.open();
  return { port, cleanup: () => port.close() };
});

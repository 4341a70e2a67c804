// For the guest experiments (split-read.mjs, phase-delay.mjs): open the QEMU stick (46f4:0001) with usb@2 directly,
// claim its mass-storage interface, and make reusable one-transfer "phases" that resolve with the bytes moved.
// Like tools/bench/bare-loop.ts, it shares no code with usbms on purpose.
import usb from 'usb';

export function openStick() {
  const dev = usb.findByIds(0x46f4, 0x0001);
  if (dev === undefined) throw new Error('no 46f4:0001');
  dev.open();
  const iface = dev.interfaces.find((i) => i.descriptor.bInterfaceClass === 8);
  if (iface.isKernelDriverActive()) iface.detachKernelDriver();
  iface.claim();
  return {
    inEp: iface.endpoints.find((e) => e.direction === 'in'),
    outEp: iface.endpoints.find((e) => e.direction === 'out'),
    close: () => iface.release(true, () => dev.close()),
  };
}

/** One reusable transfer on `ep`: go(buf) submits it and resolves with the bytes moved. */
export function phase(ep, timeoutMs) {
  const st = { settle: undefined };
  st.t = ep.makeTransfer(timeoutMs, (e, _b, n) => { const s = st.settle; st.settle = undefined; s(e, n); });
  st.go = (buf) => new Promise((resolve, reject) => { st.settle = (e, n) => (e ? reject(e) : resolve(n)); st.t.submit(buf); });
  return st;
}

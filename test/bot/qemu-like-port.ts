/**
 * A port wrapper that misbehaves like QEMU's usb-storage does behind its two controllers, as the lab measured it
 * (bench-lab fastpath, facts 5), so that the round-trip quirks can be tested where nothing else can show them:
 *  - 'ehci': an IN submitted while the device is not due to send (before the CBW has completed, or while data-OUT
 *    is still pending) is answered with a STALL, and the pipe stays halted until clearHalt('in');
 *  - 'xhci': an IN submitted while another IN is in flight never completes (only a cancel ends it), and one
 *    submitted while more data-OUT is still due than the device takes at once (128 KiB: QEMU's SCSI buffer) is
 *    answered with a STALL (seen at 1 MiB writes; 4 and 120 KiB writes take the CSW read queued with them).
 * `violations` counts how often the engine did what the device cannot take.
 */
import { UsbCancelledError, UsbStallError } from '../../src/usb/errors.js';
import type { Pipe, UsbPort, UsbTransfer } from '../../src/usb/port.js';

/** QEMU usb-storage takes this much data-OUT the moment it arrives (hw/scsi/scsi-disk.c SCSI_DMA_BUF_SIZE). */
const XHCI_OUT_TAKEN_AT_ONCE = 128 * 1024;

export interface QemuLike { port: UsbPort; violations: number }

export function qemuLike(inner: UsbPort, model: 'ehci' | 'xhci'): QemuLike {
  const state = { cbwInFlight: 0, outInFlight: 0, outBytesInFlight: 0, inInFlight: 0, inHalted: false };
  const me: QemuLike = { port: inner, violations: 0 };
  const wrapTransfer = (pipe: Pipe, t: UsbTransfer): UsbTransfer => {
    let lost: { reject: (e: unknown) => void } | undefined;
    return {
      pipe,
      get inFlight() { return t.inFlight || lost !== undefined; },
      submit(buffer: Buffer, timeoutMs: number): Promise<number> {
        if (pipe === 'out') {
          const cbw = buffer.length === 31 && buffer.readUInt32LE(0) === 0x43425355;
          if (cbw) state.cbwInFlight++;
          else { state.outInFlight++; state.outBytesInFlight += buffer.length; }
          return t.submit(buffer, timeoutMs).finally(() => {
            if (cbw) state.cbwInFlight--;
            else { state.outInFlight--; state.outBytesInFlight -= buffer.length; }
          });
        }
        if (model === 'ehci' && (state.inHalted || state.cbwInFlight > 0 || state.outInFlight > 0)) {
          if (!state.inHalted) me.violations++;
          state.inHalted = true;
          return Promise.reject(new UsbStallError('early IN stalled (QEMU EHCI)', { pipe: 'in', actualLength: 0 }));
        }
        if (model === 'xhci' && (state.inHalted || state.outBytesInFlight > XHCI_OUT_TAKEN_AT_ONCE)) {
          if (!state.inHalted) me.violations++;
          state.inHalted = true;
          return Promise.reject(new UsbStallError('IN during data-OUT stalled (QEMU xHCI)', { pipe: 'in', actualLength: 0 }));
        }
        if (model === 'xhci' && state.inInFlight > 0) {
          me.violations++;
          return new Promise<number>((_resolve, reject) => { lost = { reject }; });
        }
        state.inInFlight++;
        return t.submit(buffer, timeoutMs).finally(() => { state.inInFlight--; });
      },
      cancel(): void {
        if (lost !== undefined) {
          const l = lost;
          lost = undefined;
          l.reject(new UsbCancelledError('cancelled', { pipe }));
        }
        t.cancel();
      },
    };
  };
  me.port = {
    get info() { return inner.info; },
    get closed() { return inner.closed; },
    createTransfer: (pipe) => wrapTransfer(pipe, inner.createTransfer(pipe)),
    controlIn: (s, l, ms) => inner.controlIn(s, l, ms),
    controlOut: (s, d, ms) => inner.controlOut(s, d, ms),
    clearHalt: async (pipe) => {
      if (pipe === 'in') state.inHalted = false;
      await inner.clearHalt(pipe);
    },
    resetDevice: () => inner.resetDevice(),
    close: () => inner.close(),
    onDisconnect: (l) => inner.onDisconnect(l),
  };
  return me;
}

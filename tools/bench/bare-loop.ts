/**
 * The reference: the least work any driver over node-usb can do for one BOT command. One reusable libusb
 * transfer per phase (CBW out, data, CSW in), the three awaited in turn, one data buffer reused, no recovery, no
 * checks beyond the CSW's status. usbms's per-command cost is measured against this (`npm run bench:lab`).
 *
 * It talks to usb@2 directly on purpose: it must not share a line of code with the stack it is the yardstick of.
 * It shares the declarations of the wire format only (src/usb/wire/bot.ts), never behaviour.
 */
import type { Device, InEndpoint, Interface, LibUSBException, OutEndpoint, Transfer } from 'usb';
import { formatPortPath } from '../../src/usb/selector.js';
import {
  BOT_INTERFACE, BOT_REQUEST, BOT_REQUEST_TYPE, CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE, CSW_LENGTH,
  CSW_OFFSET, CSW_STATUS,
} from '../../src/usb/wire/bot.js';
import { UsbError } from '../../src/usb/errors.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

/**
 * The two round-trip savers, to find out in the lab which device takes which: `earlyData` submits the data
 * transfer right behind the CBW without waiting for it, `queuedCsw` the CSW read right behind the data.
 */
export interface BareMode { earlyData: boolean; queuedCsw: boolean }
export const PLAIN: BareMode = { earlyData: false, queuedCsw: false };

export interface BareLoop {
  readonly maxPacketSize: number;
  /** Run `count` READ(10) (or WRITE(10)) commands of `bytes` each from `lba`, sequentially; returns seconds. */
  run(op: 'read' | 'write', lba: number, bytes: number, count: number, mode?: BareMode): Promise<number>;
  /** Clear both halts and do a Bulk-Only Mass Storage Reset (after a mode the device did not take). */
  recover(): Promise<void>;
  close(): Promise<void>;
}

type Done = (error: LibUSBException | undefined, buffer: Buffer, actual: number) => void;

/** A promise-returning wrapper around one reusable native transfer (one callback for its whole life). */
class Phase {
  private readonly native: Transfer;
  private resolve: (n: number) => void = () => undefined;
  private reject: (e: Error) => void = () => undefined;
  constructor(make: (cb: Done) => Transfer) {
    this.native = make(this.onDone);
  }
  submit(buf: Buffer): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.native.submit(buf);
    });
  }
  private readonly onDone: Done = (error, _b, actual) => {
    if (error !== undefined) this.reject(error);
    else this.resolve(actual);
  };
}

/**
 * `timeoutMs`: each phase's libusb timeout (fastpath.ts shortens it: a lost CSW then costs seconds, not ten).
 * `portPath` (`4-1`): the device with that VID:PID at that port, where one stick is listed twice (exported through
 * usbip-host and attached back through vhci: the same VID:PID on two buses).
 */
export async function openBareLoop(vendorId: number, productId: number, maxBytes: number,
  timeoutMs = 10_000, portPath?: string): Promise<BareLoop> {
  const usb = await import('usb');
  const device: Device | undefined = portPath === undefined ? usb.findByIds(vendorId, productId)
    : usb.getDeviceList().find((d) => d.deviceDescriptor.idVendor === vendorId && d.deviceDescriptor.idProduct === productId &&
      formatPortPath(d) === portPath);
  if (device === undefined) {
    throw new UsbError('NOT_FOUND', `no device ${vendorId.toString(16)}:${productId.toString(16)}${portPath === undefined ? '' : ` at ${portPath}`}`);
  }
  device.open();
  const iface: Interface | undefined = device.interfaces?.find((i) => i.descriptor.bInterfaceClass === BOT_INTERFACE.CLASS
    && i.descriptor.bInterfaceProtocol === BOT_INTERFACE.PROTOCOL_BOT);
  if (iface === undefined) throw new UsbError('NOT_SUPPORTED', 'no Bulk-Only mass-storage interface');
  if (iface.isKernelDriverActive()) iface.detachKernelDriver();
  iface.claim();
  const inEp = iface.endpoints.find((e) => e.direction === 'in' && e.transferType === usb.usb.LIBUSB_TRANSFER_TYPE_BULK) as InEndpoint;
  const outEp = iface.endpoints.find((e) => e.direction === 'out' && e.transferType === usb.usb.LIBUSB_TRANSFER_TYPE_BULK) as OutEndpoint;
  const cbwOut = new Phase((cb) => outEp.makeTransfer(timeoutMs, cb));
  const dataIn = new Phase((cb) => inEp.makeTransfer(timeoutMs * 3, cb));
  const dataOut = new Phase((cb) => outEp.makeTransfer(timeoutMs * 3, cb));
  const cswIn = new Phase((cb) => inEp.makeTransfer(timeoutMs, cb));
  const cbw = Buffer.alloc(CBW_LENGTH);
  const csw = Buffer.alloc(Math.max(64, inEp.descriptor.wMaxPacketSize));
  const data = Buffer.alloc(maxBytes, 0x5a);
  const O = CBW_OFFSET;
  cbw.writeUInt32LE(CBW_SIGNATURE, O.signature);
  let tag = 0;

  async function command(op: 'read' | 'write', lba: number, bytes: number, mode: BareMode): Promise<void> {
    cbw.writeUInt32LE(++tag >>> 0, O.tag);
    cbw.writeUInt32LE(bytes, O.dataTransferLength);
    cbw[O.flags] = op === 'read' ? CBW_FLAG_DATA_IN : 0;
    cbw[O.lun] = 0;
    cbw[O.cbLength] = 10;
    cbw.fill(0, O.cb);
    // READ(10) / WRITE(10): opcode, LBA at CDB bytes 2-5, transfer length in blocks at 7-8.
    cbw[O.cb] = op === 'read' ? 0x28 : 0x2a;
    cbw.writeUInt32BE(lba, O.cb + 2);
    cbw.writeUInt16BE(bytes / 512, O.cb + 7);
    const view = bytes === data.length ? data : data.subarray(0, bytes);
    let moved: number;
    let n: number;
    if (!mode.earlyData && !mode.queuedCsw) {
      await cbwOut.submit(cbw);
      moved = op === 'read' ? await dataIn.submit(view) : await dataOut.submit(view);
      n = await cswIn.submit(csw);
    } else {
      const sent = cbwOut.submit(cbw);
      if (!mode.earlyData) await sent;
      const d = op === 'read' ? dataIn.submit(view) : dataOut.submit(view);
      if (!mode.queuedCsw) await Promise.all([sent, d]);
      const c = cswIn.submit(csw);
      // All three settle before a failure is reported, so recover() never runs under a transfer in flight.
      const [s1, s2, s3] = await Promise.allSettled([sent, d, c]);
      for (const r of [s1, s2, s3]) if (r.status === 'rejected') throw r.reason;
      moved = s2.status === 'fulfilled' ? s2.value : 0;
      n = s3.status === 'fulfilled' ? s3.value : 0;
    }
    const status = csw[CSW_OFFSET.status];
    if (moved !== bytes || n !== CSW_LENGTH || status !== CSW_STATUS.PASSED) {
      throw new UsbError('IO', `bare ${op} of ${bytes} at ${lba}: moved ${moved}, CSW ${n} bytes status ${status}`);
    }
  }

  return {
    maxPacketSize: inEp.descriptor.wMaxPacketSize,
    async run(op, lba, bytes, count, mode = PLAIN): Promise<number> {
      if (bytes > data.length) throw new UsbmsArgumentError(`${bytes} > the loop's buffer of ${data.length}`);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < count; i++) await command(op, lba + (i * bytes) / 512, bytes, mode);
      return Number(process.hrtime.bigint() - t0) / 1e9;
    },
    async recover(): Promise<void> {
      const ctl = (fn: (cb: (e?: unknown) => void) => void): Promise<void> =>
        new Promise((resolve) => { fn(() => resolve()); });
      await ctl((cb) => device.controlTransfer(BOT_REQUEST_TYPE.OUT, BOT_REQUEST.MASS_STORAGE_RESET, 0, iface.interfaceNumber, Buffer.alloc(0), (e) => cb(e)));
      await ctl((cb) => inEp.clearHalt((e) => cb(e)));
      await ctl((cb) => outEp.clearHalt((e) => cb(e)));
    },
    close(): Promise<void> {
      return new Promise((resolve) => iface.release(true, () => {
        try { device.close(); } catch { /* already closed */ }
        resolve();
      }));
    },
  };
}

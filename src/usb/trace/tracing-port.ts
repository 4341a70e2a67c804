/**
 * TracingPort: a `UsbPort` that passes every call to the port it wraps and writes what went over the wire to a
 * pcap file, as Linux usbmon would have seen it: an 'S' record when a transfer is submitted and a 'C' record
 * when it completes (status 0, or -EPIPE for a stall, -ETIMEDOUT, -ECONNRESET for a cancel, -ENOENT for a
 * transfer killed by close, -EOVERFLOW, -ESHUTDOWN for a device that went away), or 'E' when the submission
 * itself was refused. Control requests carry their SETUP packet. OUT data is in the 'S' record, IN data in the 'C' record, both written straight from the
 * caller's buffer (see pcap-writer.ts).
 *
 * The capture opens with synthetic GET_DESCRIPTOR(DEVICE / CONFIGURATION / STRING) exchanges built from
 * `port.info`, the enumeration a kernel capture would begin with: Wireshark needs the interface class (08/06/50)
 * to hand the bulk endpoints to its mass-storage dissector and decode the SCSI inside.
 */
import { isUsbError } from '../errors.js';
import type { AltSettingInfo, ControlSetup, Pipe, PipeBinding, PortInfo, UsbPort, UsbTransfer } from '../port.js';
import { UsbError } from '../errors.js';
import {
  configurationDescriptor, DESC_CONFIGURATION, DESC_DEVICE, DESC_STRING, deviceDescriptor, LANGID_EN_US,
  STRING_INDEX, stringDescriptor,
} from './descriptors.js';
import { PcapWriter } from './pcap-writer.js';
import { DIR_IN, ERRNO, statusForError, XFER_BULK, XFER_CONTROL, type EventType } from './usbmon.js';
import { isArgumentError } from '../../util/errors.js';
import { CBW_LENGTH } from '../wire/bot.js';

/** Bulk records keep at least a whole CBW, so a small snaplen never costs Wireshark the BOT framing. */
const MIN_BULK_CAPTURE = CBW_LENGTH;

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

function setupPacket(s: ControlSetup, wLength: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = s.bmRequestType; b[1] = s.bRequest;
  b.writeUInt16LE(s.wValue, 2); b.writeUInt16LE(s.wIndex, 4); b.writeUInt16LE(wLength, 6);
  return b;
}

/** What one record says about one transfer. */
interface Urb { id: bigint; xferType: number; epnum: number; setup: Buffer | undefined }

class TracingTransfer implements UsbTransfer {
  constructor(private readonly inner: UsbTransfer, private readonly port: TracingPort) {}

  get pipe(): Pipe { return this.inner.pipe; }
  get inFlight(): boolean { return this.inner.inFlight; }

  async submit(buffer: Buffer, timeoutMs: number): Promise<number> {
    const urb = this.port.bulkUrb(this.inner.pipe);
    const isIn = this.inner.pipe === 'in' || this.inner.pipe === 'status'; // the two IN pipes
    this.port.submitted(urb, buffer.length, isIn ? undefined : buffer);
    try {
      const n = await this.inner.submit(buffer, timeoutMs);
      this.port.completed(urb, 'C', 0, n, isIn ? buffer.subarray(0, n) : undefined);
      return n;
    } catch (e) {
      this.port.failed(urb, e, isIn ? buffer : undefined);
      throw e;
    }
  }

  cancel(): void { this.inner.cancel(); }
}

export class TracingPort implements UsbPort {
  private nextId = 1n;
  private closing = false;

  constructor(private readonly inner: UsbPort, private readonly writer: PcapWriter) {
    this.enumerate(inner.info);
  }

  /** The port being traced. */
  get traced(): UsbPort { return this.inner; }
  get altSettings(): readonly AltSettingInfo[] | undefined { return this.inner.altSettings; }

  /** Passed on, with the SET_INTERFACE request it puts on the wire (Wireshark follows the setting by it). */
  async selectAltSetting(alternateSetting: number, binding: PipeBinding, timeoutMs: number): Promise<void> {
    const select = this.inner.selectAltSetting?.bind(this.inner);
    if (select === undefined) throw new UsbError('NOT_SUPPORTED', 'the traced port cannot select an alternate setting');
    const urb = this.controlUrb({ bmRequestType: 0x01, bRequest: 0x0b, wValue: alternateSetting,
      wIndex: this.info.interfaceNumber }, 0, 0);
    this.submitted(urb, 0, undefined);
    try {
      await select(alternateSetting, binding, timeoutMs);
      this.completed(urb, 'C', 0, 0, undefined);
    } catch (e) {
      this.failed(urb, e, undefined);
      throw e;
    }
  }
  get info(): PortInfo { return this.inner.info; }
  get closed(): boolean { return this.inner.closed; }
  /** The first error writing the file (tracing stopped there; the port itself goes on working). */
  get traceError(): Error | undefined { return this.writer.error; }

  createTransfer(pipe: Pipe): UsbTransfer {
    return new TracingTransfer(this.inner.createTransfer(pipe), this);
  }

  async controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer> {
    const urb = this.controlUrb(setup, length, DIR_IN);
    this.submitted(urb, length, undefined);
    try {
      const data = await this.inner.controlIn(setup, length, timeoutMs);
      this.completed(urb, 'C', 0, data.length, data);
      return data;
    } catch (e) {
      this.failed(urb, e, undefined);
      throw e;
    }
  }

  async controlOut(setup: ControlSetup, data: Buffer | undefined, timeoutMs: number): Promise<void> {
    const length = data?.length ?? 0;
    const urb = this.controlUrb(setup, length, 0);
    this.submitted(urb, length, data);
    try {
      await this.inner.controlOut(setup, data, timeoutMs);
      this.completed(urb, 'C', 0, length, undefined);
    } catch (e) {
      this.failed(urb, e, undefined);
      throw e;
    }
  }

  async clearHalt(pipe: Pipe): Promise<void> {
    // What libusb_clear_halt puts on the wire: CLEAR_FEATURE(ENDPOINT_HALT) to the endpoint.
    const urb = this.controlUrb({ bmRequestType: 0x02, bRequest: 0x01, wValue: 0, wIndex: this.info.endpoints[pipe] ?? 0 }, 0, 0);
    this.submitted(urb, 0, undefined);
    try {
      await this.inner.clearHalt(pipe);
      this.completed(urb, 'C', 0, 0, undefined);
    } catch (e) {
      this.failed(urb, e, undefined);
      throw e;
    }
  }

  async resetDevice(): Promise<void> {
    await this.inner.resetDevice();
    // The port reset itself is a hub request, not a transfer to this device; what usbmon then shows on the
    // device is the kernel re-reading its device descriptor to check it is still the same device.
    this.descriptorExchange(DESC_DEVICE, 0, 0, deviceDescriptor(this.info));
  }

  async close(): Promise<void> {
    this.closing = true;
    try {
      await this.inner.close();
    } finally {
      this.writer.close();
    }
  }

  onDisconnect(listener: (error: UsbError) => void): () => void { return this.inner.onDisconnect(listener); }

  // ---------------------------------------------------------------- records (used by TracingTransfer)

  bulkUrb(pipe: Pipe): Urb {
    return { id: this.nextId++, xferType: XFER_BULK, epnum: this.info.endpoints[pipe] ?? 0, setup: undefined };
  }

  submitted(urb: Urb, length: number, outData: Buffer | undefined): void {
    const data = outData === undefined ? undefined : outData.subarray(0, this.capture(urb, outData.length));
    this.record(urb, 'S', ERRNO.EINPROGRESS, length, data);
  }

  completed(urb: Urb, type: EventType, status: number, length: number, inData: Buffer | undefined): void {
    const data = inData === undefined ? undefined : inData.subarray(0, this.capture(urb, inData.length));
    this.record(urb, type, status, length, data);
  }

  failed(urb: Urb, e: unknown, inBuffer: Buffer | undefined): void {
    // A caller's mistake (transfer already in flight, bad timeout) was refused before the wire: -EINVAL at submit.
    if (isArgumentError(e)) { this.completed(urb, 'E', ERRNO.EINVAL, 0, undefined); return; }
    if (!isUsbError(e)) { this.completed(urb, 'C', ERRNO.EPROTO, 0, undefined); return; }
    // Refused before anything reached the wire: usbmon's submission error.
    const refused = e.kind === 'CLOSED';
    // close() kills what is in flight (usb_kill_urb: -ENOENT); cancel() unlinks one transfer (-ECONNRESET)
    const status = e.kind === 'CANCELLED' && this.closing ? ERRNO.ENOENT : statusForError(e.kind, refused ? 'submit' : 'callback');
    const moved = e.actualLength;
    this.completed(urb, refused ? 'E' : 'C', status, moved,
      inBuffer === undefined || refused ? undefined : inBuffer.subarray(0, moved));
  }

  // ---------------------------------------------------------------- internals

  private controlUrb(setup: ControlSetup, wLength: number, dir: number): Urb {
    return { id: this.nextId++, xferType: XFER_CONTROL, epnum: dir, setup: setupPacket(setup, wLength) };
  }

  private capture(urb: Urb, length: number): number {
    if (urb.xferType === XFER_CONTROL) return length;
    return Math.min(length, Math.max(this.writer.snaplen, MIN_BULK_CAPTURE));
  }

  private record(urb: Urb, type: EventType, status: number, length: number, data: Buffer | undefined): void {
    const isIn = (urb.epnum & DIR_IN) !== 0;
    this.writer.record({
      id: urb.id, type, xferType: urb.xferType, epnum: urb.epnum, devnum: this.info.deviceAddress,
      busnum: this.info.busNumber, setup: type === 'S' ? urb.setup : undefined, timeUs: nowUs(), status, length,
      lenCap: data?.length ?? 0,
      // Data follows on an OUT submission and an IN completion (even when it is empty: a zero-length packet).
      hasData: type === 'S' ? !isIn && length > 0 : type === 'C' && isIn,
    }, data);
  }

  private descriptorExchange(type: number, index: number, langId: number, descriptor: Buffer): void {
    const urb = this.controlUrb({ bmRequestType: 0x80, bRequest: 0x06, wValue: (type << 8) | index, wIndex: langId },
      descriptor.length, DIR_IN);
    this.submitted(urb, descriptor.length, undefined);
    this.completed(urb, 'C', 0, descriptor.length, descriptor);
  }

  /** The enumeration a capture starts with (see the file comment). */
  private enumerate(info: PortInfo): void {
    this.descriptorExchange(DESC_DEVICE, 0, 0, deviceDescriptor(info));
    this.descriptorExchange(DESC_CONFIGURATION, 0, 0, configurationDescriptor(info, this.inner.altSettings));
    const strings = [[STRING_INDEX.manufacturer, info.manufacturer], [STRING_INDEX.product, info.product],
      [STRING_INDEX.serialNumber, info.serialNumber]] as const;
    if (strings.some(([, s]) => s !== undefined)) this.descriptorExchange(DESC_STRING, 0, 0, stringDescriptor(undefined));
    for (const [index, text] of strings) {
      if (text !== undefined) this.descriptorExchange(DESC_STRING, index, LANGID_EN_US, stringDescriptor(text));
    }
  }
}

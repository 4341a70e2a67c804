/**
 * From usbmon records to what a mass-storage device did: the Bulk-Only commands it was sent (CBW, the data it
 * moved and how the data phase ended, what happened on the way to the CSW, the CSW) and its answers on the
 * control pipe. URBs are paired by id (a kernel capture reuses ids, so an 'S' pairs with the next 'C' of that
 * id) and read in completion order, which is the order the device answered in.
 *
 * A kernel capture holds every device on the bus: the mass-storage device is the one whose configuration
 * descriptor has a Bulk-Only interface (08/06/50), or, when the capture started after enumeration, the one
 * whose bulk OUT carries CBWs. `select` picks one by bus and address when there are several.
 */
import { UsbmsTraceSelectError } from './errors.js';
import {
  decodeStringDescriptor, DESC_CONFIGURATION, DESC_DEVICE, DESC_STRING, findMassStorageInterface,
  parseDeviceDescriptor, speedOfMaxPacket, type DeviceDescriptorFields, type MassStorageInterface,
} from '../../usb/trace/descriptors.js';
import { readCapture } from '../../usb/trace/pcap-reader.js';
import { DIR_IN, outcomeOfStatus, XFER_BULK, XFER_CONTROL, type RecordedOutcome, type UsbmonRecord } from '../../usb/trace/usbmon.js';
import type { PortInfo } from '../../usb/port.js';
import { BOT_REQUEST, BOT_REQUEST_TYPE, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE } from '../../usb/wire/bot.js';
import { parseCbw } from './cbw.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

/** How the device ended a data phase. */
export type DataEnd = 'complete' | 'short' | 'stall' | 'no-response' | 'overflow' | 'gone' | 'error';
/** What the host met reading the CSW before it got one. */
export type CswEvent = 'stall' | 'zlp' | 'no-response' | 'overflow' | 'gone' | 'error';

export interface RecordedCommand {
  /** 1-based position in the recording, for messages. */
  readonly index: number;
  readonly tag: number;
  readonly dataLength: number;
  readonly direction: 'in' | 'out' | 'none';
  readonly lun: number;
  readonly cdb: Buffer;
  /** How the device took the CBW itself ('ok', or a stall of an invalid one). */
  cbwOutcome: RecordedOutcome;
  /** Data-in bytes in order (bytes a snaplen cut are zeros: see `truncated`). */
  dataIn: Buffer[];
  dataInLength: number;
  /** Data-out bytes the device accepted. */
  dataOut: number;
  dataEnd: DataEnd | undefined;
  truncated: boolean;
  readonly cswEvents: CswEvent[];
  /** The CSW as received (13 bytes if valid); undefined when the command never got one. */
  csw: Buffer | undefined;
}

export interface RecordedControl {
  readonly setup: Buffer;
  readonly outcome: RecordedOutcome;
  readonly data: Buffer;
}

export interface Recording {
  readonly file: string;
  readonly busnum: number;
  readonly devnum: number;
  readonly info: PortInfo;
  readonly commands: readonly RecordedCommand[];
  /** Get Max LUN answers in order (outcome 'stall' when the device refused it). */
  readonly getMaxLun: readonly RecordedControl[];
}

export interface DeviceChoice { readonly busNumber: number; readonly deviceAddress: number }

const key = (r: UsbmonRecord): string => `${r.busnum}.${r.devnum}`;

interface Candidate { bus: number; dev: number; iface: MassStorageInterface | undefined; cbws: number }

function candidates(records: readonly UsbmonRecord[]): Map<string, Candidate> {
  const out = new Map<string, Candidate>();
  const get = (r: UsbmonRecord): Candidate => {
    let c = out.get(key(r));
    if (c === undefined) { c = { bus: r.busnum, dev: r.devnum, iface: undefined, cbws: 0 }; out.set(key(r), c); }
    return c;
  };
  const setups = new Map<bigint, Buffer>();
  for (const r of records) {
    if (r.xferType === XFER_CONTROL && r.type === 'S' && r.setup !== undefined) setups.set(r.id, r.setup);
    if (r.xferType === XFER_CONTROL && r.type === 'C') {
      const s = setups.get(r.id);
      setups.delete(r.id);
      if (s?.[0] === 0x80 && s[1] === 0x06 && s[3] === DESC_CONFIGURATION && r.status === 0) {
        const iface = findMassStorageInterface(r.data);
        if (iface !== undefined) get(r).iface = iface;
      }
    }
    if (r.xferType === XFER_BULK && r.type === 'S' && (r.epnum & DIR_IN) === 0 && r.length === CBW_LENGTH
      && r.data.length >= 4 && r.data.readUInt32LE(CBW_OFFSET.signature) === CBW_SIGNATURE) get(r).cbws += 1;
  }
  return out;
}

function chooseDevice(records: readonly UsbmonRecord[], file: string, select: DeviceChoice | undefined): Candidate {
  const all = [...candidates(records).values()];
  if (select !== undefined) {
    const c = all.find((x) => x.bus === select.busNumber && x.dev === select.deviceAddress);
    if (c === undefined || (c.iface === undefined && c.cbws === 0)) {
      throw new UsbmsTraceSelectError(`${file} holds no mass-storage traffic of device ` +
        `${select.busNumber}:${select.deviceAddress}`);
    }
    return c;
  }
  const ms = all.filter((c) => c.cbws > 0 || c.iface !== undefined);
  const withCbws = ms.filter((c) => c.cbws > 0);
  const pick = withCbws.length > 0 ? withCbws : ms;
  if (pick.length === 1 && pick[0] !== undefined) return pick[0];
  if (pick.length === 0) throw new UsbmsTraceSelectError(`${file} holds no USB mass-storage (Bulk-Only) traffic`);
  throw new UsbmsTraceSelectError(`${file} holds several mass-storage devices (` +
    `${pick.map((c) => `${c.bus}:${c.dev}`).join(', ')}): name one with --device BUS:ADDRESS`);
}

const dataEndOf = (o: RecordedOutcome): DataEnd => (o === 'ok' ? 'complete' : o);
const cswEventOf = (o: RecordedOutcome): CswEvent => (o === 'ok' ? 'zlp' : o);

/** Walks the chosen device's completions and builds the commands. */
class Builder {
  readonly commands: RecordedCommand[] = [];
  readonly getMaxLun: RecordedControl[] = [];
  device: DeviceDescriptorFields | undefined;
  readonly strings = new Map<number, string>();
  private current: RecordedCommand | undefined;
  /** File position of the completion that ended the current data phase (siblings submitted before it). */
  private dataEndedAt = -1;

  constructor(private readonly iface: MassStorageInterface | undefined) {}

  control(s: UsbmonRecord, c: UsbmonRecord): void {
    const setup = s.setup;
    if (setup === undefined) return;
    const outcome = outcomeOfStatus(c.status);
    if (setup[0] === BOT_REQUEST_TYPE.IN && setup[1] === BOT_REQUEST.GET_MAX_LUN) {
      this.getMaxLun.push({ setup: Buffer.from(setup), outcome, data: Buffer.from(c.data) });
    } else if (setup[0] === 0x80 && setup[1] === 0x06 && outcome === 'ok') {
      const type = setup[3];
      if (type === DESC_DEVICE) this.device = parseDeviceDescriptor(c.data) ?? this.device;
      if (type === DESC_STRING && setup[2] !== 0) {
        const text = decodeStringDescriptor(c.data);
        if (text !== undefined) this.strings.set(setup[2] ?? 0, text);
      }
    }
  }

  bulkOut(s: UsbmonRecord, c: UsbmonRecord): void {
    if (this.iface !== undefined && s.epnum !== this.iface.endpoints.out) return;
    const outcome = outcomeOfStatus(c.status);
    const cbw = s.length === CBW_LENGTH ? parseCbw(s.data) : undefined;
    const cmd = this.current;
    if (cbw !== undefined && (cmd === undefined || cmd.dataEnd !== undefined || cmd.direction !== 'out')) {
      this.current = {
        index: this.commands.length + 1, ...cbw, cbwOutcome: outcome, dataIn: [], dataInLength: 0, dataOut: 0,
        dataEnd: cbw.direction === 'none' || outcome !== 'ok' ? 'complete' : undefined, truncated: false,
        cswEvents: [], csw: undefined,
      };
      this.commands.push(this.current);
      return;
    }
    if (cmd === undefined || cmd.direction !== 'out' || cmd.dataEnd !== undefined) return;
    cmd.dataOut += c.length;
    if (outcome !== 'ok') cmd.dataEnd = dataEndOf(outcome);
    else if (cmd.dataOut >= cmd.dataLength) cmd.dataEnd = 'complete';
  }

  bulkIn(s: UsbmonRecord, c: UsbmonRecord, sAt: number, cAt: number): void {
    if (this.iface !== undefined && s.epnum !== this.iface.endpoints.in) return;
    const cmd = this.current;
    if (cmd === undefined || cmd.csw !== undefined) return;
    const outcome = outcomeOfStatus(c.status);
    if (cmd.dataEnd === undefined && cmd.direction === 'in') {
      if (c.length > 0) {
        const bytes = Buffer.alloc(c.length);
        c.data.copy(bytes, 0, 0, Math.min(c.length, c.data.length));
        if (c.data.length < c.length) cmd.truncated = true;
        cmd.dataIn.push(bytes);
        cmd.dataInLength += c.length;
      }
      if (outcome !== 'ok') cmd.dataEnd = dataEndOf(outcome);
      else if (cmd.dataInLength >= cmd.dataLength) cmd.dataEnd = 'complete';
      else if (c.length < s.length) cmd.dataEnd = 'short';
      if (cmd.dataEnd !== undefined) this.dataEndedAt = cAt;
      return;
    }
    if (cmd.dataEnd === undefined) { cmd.dataEnd = 'complete'; this.dataEndedAt = cAt; }
    // A host that queued several data URBs unlinks the rest after a short one: those are not CSW reads.
    if (outcome === 'no-response' && sAt < this.dataEndedAt) return;
    if (outcome === 'ok' && c.length > 0) cmd.csw = Buffer.from(c.data.subarray(0, c.length));
    else cmd.cswEvents.push(cswEventOf(outcome));
  }
}

/** Read `file` and build the recording of its mass-storage device. */
const DEVICE_CHOICE_KEYS = { busNumber: true, deviceAddress: true } as const satisfies KnownKeys<DeviceChoice>;

export function loadRecording(file: string, select?: DeviceChoice): Recording {
  rejectUnknownKeys(select, DEVICE_CHOICE_KEYS, 'loadRecording device choice');
  const records = readCapture(file);
  const dev = chooseDevice(records, file, select);
  const b = new Builder(dev.iface);
  const pending = new Map<bigint, { rec: UsbmonRecord; at: number }>();
  const inEps = new Set<number>();
  const outEps = new Set<number>();
  records.forEach((r, at) => {
    if (r.busnum !== dev.bus || r.devnum !== dev.dev) return;
    if (r.type === 'S') { pending.set(r.id, { rec: r, at }); return; }
    const s = pending.get(r.id);
    pending.delete(r.id);
    if (s === undefined) return; // its submission is before the capture started
    if (r.xferType === XFER_CONTROL) b.control(s.rec, r);
    else if (r.xferType === XFER_BULK) {
      if ((r.epnum & DIR_IN) !== 0) { inEps.add(r.epnum); b.bulkIn(s.rec, r, s.at, at); }
      else { outEps.add(r.epnum); b.bulkOut(s.rec, r); }
    }
  });
  const iface = dev.iface ?? {
    interfaceNumber: 0, alternateSetting: 0,
    endpoints: { in: [...inEps][0] ?? 0x81, out: [...outEps][0] ?? 0x02 }, maxPacketSize: { in: 512, out: 512 },
  };
  const d = b.device;
  const str = (i: number | undefined): string | undefined => (i === undefined || i === 0 ? undefined : b.strings.get(i));
  const info: PortInfo = {
    vendorId: d?.vendorId ?? 0, productId: d?.productId ?? 0,
    serialNumber: str(d?.stringIndex.serialNumber), manufacturer: str(d?.stringIndex.manufacturer),
    product: str(d?.stringIndex.product), busNumber: dev.bus, deviceAddress: dev.dev,
    speed: speedOfMaxPacket(iface.maxPacketSize.in, d?.bcdUsb), interfaceNumber: iface.interfaceNumber,
    alternateSetting: iface.alternateSetting, endpoints: iface.endpoints, maxPacketSize: iface.maxPacketSize,
  };
  return { file, busnum: dev.bus, devnum: dev.dev, info, commands: b.commands, getMaxLun: b.getMaxLun };
}

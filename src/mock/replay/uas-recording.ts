/**
 * From usbmon records to what a UAS device did: each COMMAND IU it was sent (tag, LUN, CDB), the data phase a
 * READ READY or WRITE READY announced for it and what moved on the data pipe, and the SENSE IU (status and sense)
 * or RESPONSE IU that ended it. The device is the one whose configuration descriptor has a UAS setting (08/06/62)
 * with Pipe Usage descriptors, which name its four pipes: a capture that began after enumeration has none and is
 * not a UAS recording. Records are read in completion order, the order the device answered in; the tag ties the
 * IUs of a command together, the last READY on the status pipe ties a data transfer to its command.
 */
import { UsbmsTraceSelectError } from './errors.js';
import {
  decodeStringDescriptor, DESC_CONFIGURATION, DESC_DEVICE, DESC_STRING, massStorageAltSettings, parseDeviceDescriptor,
  speedOfMaxPacket, type DeviceDescriptorFields,
} from '../../usb/trace/descriptors.js';
import { readCapture } from '../../usb/trace/pcap-reader.js';
import { outcomeOfStatus, XFER_BULK, XFER_CONTROL, type UsbmonRecord } from '../../usb/trace/usbmon.js';
import type { AltSettingInfo, PortInfo } from '../../usb/port.js';
import {
  CommandIu, IU_ID, PIPE_ID, PIPE_USAGE_DESCRIPTOR_TYPE, SenseIu, UAS_INTERFACE_PROTOCOL,
} from '../../usb/wire/uas.js';
import type { DeviceChoice } from './recording.js';

/** One recorded UAS command. */
export interface RecordedUasCommand {
  /** 1-based position in the recording, for messages. */
  readonly index: number;
  readonly tag: number;
  readonly lun: number;
  readonly cdb: Buffer;
  /** The data phase its READY announced ('none': no READY came). */
  direction: 'none' | 'in' | 'out';
  /** Data-in bytes, in order. */
  readonly dataIn: Buffer[];
  dataInLength: number;
  /** Data-out bytes the device took. */
  dataOut: number;
  /** The SCSI status of its SENSE IU; undefined when none came (it ended by RESPONSE, or never). */
  status: number | undefined;
  sense: Buffer;
  /** The response code of a RESPONSE IU that ended it instead. */
  response: number | undefined;
}

export interface UasRecording {
  readonly file: string;
  readonly busnum: number;
  readonly devnum: number;
  readonly info: PortInfo;
  /** The interface's alternate settings as the configuration descriptor gave them. */
  readonly altSettings: readonly AltSettingInfo[];
  readonly commands: readonly RecordedUasCommand[];
}

/** The bPipeID an endpoint's extra descriptors name (the recording's own reading of UAS-2 §5.3.3.2). */
function pipeId(extra: Uint8Array): number | undefined {
  for (let at = 0; at + 4 <= extra.length && (extra[at] ?? 0) >= 2; at += extra[at] ?? 0) {
    if (extra[at + 1] === PIPE_USAGE_DESCRIPTOR_TYPE) return extra[at + 2];
  }
  return undefined;
}

interface UasDevice {
  bus: number;
  dev: number;
  interfaceNumber: number;
  alts: AltSettingInfo[];
  pipes: { command: number; status: number; dataIn: number; dataOut: number; mps: number };
}

/** The devices of a capture whose configuration descriptor has a UAS setting with its four pipes named. */
function uasDevices(records: readonly UsbmonRecord[]): UasDevice[] {
  const out = new Map<string, UasDevice>();
  const setups = new Map<bigint, Buffer>();
  for (const r of records) {
    if (r.xferType !== XFER_CONTROL) continue;
    if (r.type === 'S' && r.setup !== undefined) { setups.set(r.id, r.setup); continue; }
    const s = setups.get(r.id);
    setups.delete(r.id);
    if (s?.[0] !== 0x80 || s[1] !== 0x06 || s[3] !== DESC_CONFIGURATION || r.status !== 0) continue;
    const found = massStorageAltSettings(r.data);
    const uas = found?.alts.find((a) => a.interfaceProtocol === UAS_INTERFACE_PROTOCOL);
    if (found === undefined || uas === undefined) continue;
    const by = new Map<number, { address: number; mps: number }>();
    for (const e of uas.endpoints) {
      const id = pipeId(e.extra);
      if (id !== undefined) by.set(id, { address: e.address, mps: e.maxPacketSize });
    }
    const c = by.get(PIPE_ID.COMMAND);
    const st = by.get(PIPE_ID.STATUS);
    const di = by.get(PIPE_ID.DATA_IN);
    const dout = by.get(PIPE_ID.DATA_OUT);
    if (c === undefined || st === undefined || di === undefined || dout === undefined) continue;
    out.set(`${r.busnum}.${r.devnum}`, { bus: r.busnum, dev: r.devnum, interfaceNumber: found.interfaceNumber,
      alts: found.alts, pipes: { command: c.address, status: st.address, dataIn: di.address, dataOut: dout.address, mps: di.mps } });
  }
  return [...out.values()];
}

/** Whether `records` hold a UAS device (so the replay is a UAS one). */
export function holdsUas(records: readonly UsbmonRecord[]): boolean {
  return uasDevices(records).length > 0;
}

function decodeLun(b: Uint8Array): number {
  const b0 = b[0] ?? 0;
  return b0 === 0 ? b[1] ?? 0 : ((b0 & 0x3f) << 8) | (b[1] ?? 0);
}

class UasBuilder {
  readonly commands: RecordedUasCommand[] = [];
  private readonly byTag = new Map<number, RecordedUasCommand>();
  private dataInOwner: RecordedUasCommand | undefined;
  private dataOutOwner: RecordedUasCommand | undefined;
  device: DeviceDescriptorFields | undefined;
  readonly strings = new Map<number, string>();

  constructor(private readonly pipes: UasDevice['pipes']) {}

  control(s: UsbmonRecord, c: UsbmonRecord): void {
    const setup = s.setup;
    if (setup?.[0] !== 0x80 || setup[1] !== 0x06 || outcomeOfStatus(c.status) !== 'ok') return;
    if (setup[3] === DESC_DEVICE) this.device = parseDeviceDescriptor(c.data) ?? this.device;
    if (setup[3] === DESC_STRING && setup[2] !== 0) {
      const text = decodeStringDescriptor(c.data);
      if (text !== undefined) this.strings.set(setup[2] ?? 0, text);
    }
  }

  bulk(s: UsbmonRecord, c: UsbmonRecord): void {
    const ep = s.epnum;
    const ok = outcomeOfStatus(c.status) === 'ok';
    if (ep === this.pipes.command) {
      if (!ok || s.data.length < CommandIu.span || s.data[0] !== IU_ID.COMMAND) return;
      const iu = CommandIu.decode(s.data);
      const cmd: RecordedUasCommand = { index: this.commands.length + 1, tag: iu.tag, lun: decodeLun(iu.lun),
        cdb: Buffer.from(iu.cdb), direction: 'none', dataIn: [], dataInLength: 0, dataOut: 0, status: undefined,
        sense: Buffer.alloc(0), response: undefined };
      this.commands.push(cmd);
      this.byTag.set(iu.tag, cmd);
    } else if (ep === this.pipes.status) {
      if (!ok || c.length < 4) return;
      const id = c.data[0];
      const cmd = this.byTag.get(c.data.readUInt16BE(2));
      if (cmd === undefined) return;
      if (id === IU_ID.READ_READY) { cmd.direction = 'in'; this.dataInOwner = cmd; }
      if (id === IU_ID.WRITE_READY) { cmd.direction = 'out'; this.dataOutOwner = cmd; }
      if (id === IU_ID.SENSE && c.length >= SenseIu.span) {
        cmd.status = c.data[SenseIu.offsets.status] ?? 0;
        cmd.sense = Buffer.from(c.data.subarray(SenseIu.span, c.length));
        this.byTag.delete(cmd.tag);
      }
      if (id === IU_ID.RESPONSE && c.length >= 8) { cmd.response = c.data[7] ?? 0; this.byTag.delete(cmd.tag); }
    } else if (ep === this.pipes.dataIn) {
      const cmd = this.dataInOwner;
      if (cmd === undefined || c.length === 0) return;
      const bytes = Buffer.alloc(c.length);
      c.data.copy(bytes, 0, 0, Math.min(c.length, c.data.length));
      cmd.dataIn.push(bytes);
      cmd.dataInLength += c.length;
    } else if (ep === this.pipes.dataOut) {
      if (this.dataOutOwner !== undefined) this.dataOutOwner.dataOut += c.length;
    }
  }
}

/** Read `file` and build the recording of its UAS device. */
export function loadUasRecording(file: string, select?: DeviceChoice, records = readCapture(file)): UasRecording {
  const all = uasDevices(records);
  const dev = select === undefined ? all[0] : all.find((d) => d.bus === select.busNumber && d.dev === select.deviceAddress);
  if (dev === undefined || (select === undefined && all.length > 1)) {
    throw new UsbmsTraceSelectError(all.length > 1 && select === undefined
      ? `${file} holds several UAS devices (${all.map((d) => `${d.bus}:${d.dev}`).join(', ')}): name one with --device BUS:ADDRESS`
      : `${file} holds no UAS device whose configuration descriptor names its pipes`);
  }
  const b = new UasBuilder(dev.pipes);
  const pending = new Map<bigint, UsbmonRecord>();
  for (const r of records) {
    if (r.busnum !== dev.bus || r.devnum !== dev.dev) continue;
    if (r.type === 'S') { pending.set(r.id, r); continue; }
    const s = pending.get(r.id);
    pending.delete(r.id);
    if (s === undefined) continue;
    if (r.xferType === XFER_CONTROL) b.control(s, r);
    else if (r.xferType === XFER_BULK) b.bulk(s, r);
  }
  const d = b.device;
  const str = (i: number | undefined): string | undefined => (i === undefined || i === 0 ? undefined : b.strings.get(i));
  const first = dev.alts[0];
  const firstIn = first?.endpoints.find((e) => (e.address & 0x80) !== 0)?.address ?? dev.pipes.dataIn;
  const firstOut = first?.endpoints.find((e) => (e.address & 0x80) === 0)?.address ?? dev.pipes.dataOut;
  const info: PortInfo = {
    vendorId: d?.vendorId ?? 0, productId: d?.productId ?? 0, serialNumber: str(d?.stringIndex.serialNumber),
    manufacturer: str(d?.stringIndex.manufacturer), product: str(d?.stringIndex.product), busNumber: dev.bus,
    deviceAddress: dev.dev, speed: speedOfMaxPacket(dev.pipes.mps, d?.bcdUsb), interfaceNumber: dev.interfaceNumber,
    alternateSetting: first?.alternateSetting ?? 0, endpoints: { in: firstIn, out: firstOut },
    maxPacketSize: { in: dev.pipes.mps, out: dev.pipes.mps },
  };
  return { file, busnum: dev.bus, devnum: dev.dev, info, altSettings: dev.alts, commands: b.commands };
}

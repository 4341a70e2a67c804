/** What the composition root calls: wrap a freshly opened port into a tracing one, or open a replayed device. */
import { parseDeviceSelector, type DeviceSelector } from '../usb/selector.js';
import type { UsbPort } from '../usb/port.js';
import { UsbmsTraceSelectError } from './errors.js';
import { PcapWriter } from './pcap-writer.js';
import { ReplayUsbDevice } from './replay-device.js';
import { TracingPort } from './tracing-port.js';
import { rejectUnknownKeys, type KnownKeys } from '../util/options.js';

export interface PcapOptions {
  /** The pcap file to create (truncated if it exists). */
  readonly file: string;
  /** Keep at most this many data bytes per transfer (CBWs and CSWs stay whole). */
  readonly snaplen?: number | undefined;
}

const PCAP_OPTION_KEYS = { file: true, snaplen: true } as const satisfies KnownKeys<PcapOptions>;

/** `port` traced into `pcap.file` (or `port` itself when no capture is asked for). */
export function tracePort(port: UsbPort, pcap: PcapOptions | undefined): UsbPort {
  if (pcap === undefined) return port;
  rejectUnknownKeys(pcap, PCAP_OPTION_KEYS, 'pcap options');
  return new TracingPort(port, PcapWriter.open(pcap.file, { snaplen: pcap.snaplen }));
}

/**
 * A port onto the device recorded in `replay` (a capture file, or a ReplayUsbDevice you built). `device`, when
 * given, picks the device of a capture that holds several, by `bus:address` as the capture names it.
 */
export function openReplayPort(replay: string | ReplayUsbDevice, device?: string | DeviceSelector): UsbPort {
  if (typeof replay !== 'string') return replay.open();
  const sel = typeof device === 'string' ? parseDeviceSelector(device) : device;
  if (sel !== undefined && sel.kind !== 'location') {
    throw new UsbmsTraceSelectError('with --replay, --device names a device of the capture as BUS:ADDRESS');
  }
  const choice = sel === undefined ? undefined : { busNumber: sel.busNumber, deviceAddress: sel.deviceAddress };
  return ReplayUsbDevice.fromFile(replay, choice).open();
}

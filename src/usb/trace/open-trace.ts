/** What the composition root calls: wrap a freshly opened port into a tracing one. */
import type { UsbPort } from '../port.js';
import { PcapWriter } from './pcap-writer.js';
import { TracingPort } from './tracing-port.js';
import { rejectUnknownKeys, type KnownKeys } from '../../util/options.js';

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

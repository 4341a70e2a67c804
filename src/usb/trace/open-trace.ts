/** What the composition root calls: wrap a freshly opened port into a tracing one. */
import type { UsbPort } from '../port.js';
import { PcapWriter } from './pcap-writer.js';
import { TracingPort } from './tracing-port.js';

export interface PcapOptions {
  /** The pcap file to create (truncated if it exists). */
  readonly file: string;
  /** Keep at most this many data bytes per transfer (CBWs and CSWs stay whole). */
  readonly snaplen?: number | undefined;
}

/** `port` traced into `pcap.file` (or `port` itself when no capture is asked for). */
export function tracePort(port: UsbPort, pcap: PcapOptions | undefined): UsbPort {
  if (pcap === undefined) return port;
  return new TracingPort(port, PcapWriter.open(pcap.file, { snaplen: pcap.snaplen }));
}

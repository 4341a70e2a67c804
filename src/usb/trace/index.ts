/**
 * Wire traces: `TracingPort` writes what crosses a `UsbPort` as a usbmon pcap (Wireshark, tshark), and
 * `readCapture` reads such a capture (or the kernel's own usbmon pcap) back. Turning a capture back into a device
 * is the software devices' job (src/mock/replay).
 */
export { TracingPort } from './tracing-port.js';
export { PcapWriter, TraceWriteError, type PcapWriterOptions } from './pcap-writer.js';
export { tracePort, type PcapOptions } from './open-trace.js';
export { readCapture, TraceFormatError } from './pcap-reader.js';
export type { UsbmonRecord } from './usbmon.js';

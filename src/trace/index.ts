/**
 * Wire traces and replays: `TracingPort` writes what crosses a `UsbPort` as a usbmon pcap (Wireshark, tshark),
 * and `ReplayUsbDevice` turns such a capture back into a software device that answers as the recorded one did.
 */
export { TracingPort } from './tracing-port.js';
export { PcapWriter, TraceWriteError, type PcapWriterOptions } from './pcap-writer.js';
export { tracePort, type PcapOptions } from './open-trace.js';
export { openReplayPort } from './open-trace.js';
export { ReplayUsbDevice, replayDivergenceOf, type ReplayStats } from './replay-device.js';
export { loadRecording, type Recording, type RecordedCommand, type DeviceChoice } from './recording.js';
export { readCapture, TraceFormatError } from './pcap-reader.js';
export { ReplayDivergenceError, UsbmsTraceSelectError } from './errors.js';
export type { UsbmonRecord } from './usbmon.js';

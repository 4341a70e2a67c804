/**
 * A UsbPort that counts what the host puts on the wire (bulk transfers submitted, control requests, clear-halts,
 * port resets) and passes everything to the port it wraps: the transport contract's `wireOps`.
 */
import type { UsbError } from '../../src/usb/errors.js';
import type { ControlSetup, Pipe, PortInfo, UsbPort, UsbTransfer } from '../../src/usb/port.js';

export class CountingPort implements UsbPort {
  ops = 0;

  constructor(private readonly inner: UsbPort) {}

  get info(): PortInfo { return this.inner.info; }
  get closed(): boolean { return this.inner.closed; }

  createTransfer(pipe: Pipe): UsbTransfer {
    const t = this.inner.createTransfer(pipe);
    return {
      pipe,
      get inFlight() { return t.inFlight; },
      submit: (buffer, timeoutMs) => { this.ops++; return t.submit(buffer, timeoutMs); },
      cancel: () => { t.cancel(); },
    };
  }

  controlIn(setup: ControlSetup, length: number, timeoutMs: number): Promise<Buffer> {
    this.ops++;
    return this.inner.controlIn(setup, length, timeoutMs);
  }
  controlOut(setup: ControlSetup, data: Buffer | undefined, timeoutMs: number): Promise<void> {
    this.ops++;
    return this.inner.controlOut(setup, data, timeoutMs);
  }
  clearHalt(pipe: Pipe): Promise<void> {
    this.ops++;
    return this.inner.clearHalt(pipe);
  }
  resetDevice(): Promise<void> {
    this.ops++;
    return this.inner.resetDevice();
  }
  close(): Promise<void> { return this.inner.close(); }
  onDisconnect(listener: (error: UsbError) => void): () => void { return this.inner.onDisconnect(listener); }
}

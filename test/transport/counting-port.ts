/**
 * A UsbPort that counts what the host puts on the wire (bulk transfers submitted, control requests, clear-halts,
 * port resets) and passes everything to the port it wraps: the transport contract's `wireOps`.
 */
import type { UsbError } from '../../src/usb/errors.js';
import type {
  AltSettingInfo, ControlSetup, Pipe, PipeBinding, PortInfo, UsbPort, UsbTransfer,
} from '../../src/usb/port.js';

export class CountingPort implements UsbPort {
  ops = 0;

  constructor(private readonly inner: UsbPort) {}

  get info(): PortInfo { return this.inner.info; }
  get closed(): boolean { return this.inner.closed; }
  get altSettings(): readonly AltSettingInfo[] | undefined { return this.inner.altSettings; }

  /** SET_INTERFACE is a control request on the wire too. */
  selectAltSetting(alternateSetting: number, binding: PipeBinding, timeoutMs: number): Promise<void> {
    this.ops++;
    const select = this.inner.selectAltSetting?.bind(this.inner);
    if (select === undefined) return Promise.reject(new Error('the wrapped port cannot select an alternate setting'));
    return select(alternateSetting, binding, timeoutMs);
  }

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

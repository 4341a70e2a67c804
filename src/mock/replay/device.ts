/**
 * ReplayUsbDevice: a recorded mass-storage device (a capture read by recording.ts) as a software device behind
 * the same `MockUsbPort` as the emulated disk, so the whole stack runs on it unchanged.
 *
 * It takes each CBW the host sends, finds the recorded command that answers it (cdb-match.ts; the tag is
 * never compared, the CSW gets the host's tag), and plays the device's side back at the packet level: the
 * recorded data, the data phase ending as recorded (complete, short, stalled, never answered, babble, gone),
 * the stalls and zero-length packets met before the CSW, the CSW. Mass Storage Reset, CLEAR_FEATURE(HALT)
 * and a port reset do what they do to a real device; Get Max LUN gives the recorded answers in order.
 *
 * A CBW the recording cannot answer ends the replay loudly: the host's transfer fails with a
 * ReplayDivergenceError naming what the host asked and what the recording holds next, and the device then
 * behaves as unplugged, so nothing above waits or retries.
 */
import { DeviceAbort, OutEndpoint, type HostXfer } from '../endpoints.js';
import { MockUsbPort, type DeviceWire } from '../port.js';
import {
  UsbCancelledError, UsbDeviceGoneError, UsbError, UsbStallError,
} from '../../usb/errors.js';
import type { ControlSetup, Pipe } from '../../usb/port.js';
import { logger } from '../../util/log.js';
import {
  BOT_REQUEST, BOT_REQUEST_TYPE, CBW_LENGTH, CSW_OFFSET, CSW_SIGNATURE,
} from '../../usb/wire/bot.js';
import { parseCbw } from './cbw.js';
import { describeAsk, exactMatch, hasAllocationLength, sameQuestion, type HostCbw } from './cdb-match.js';
import { ReplayDivergenceError } from './errors.js';
import { loadRecording, type DataEnd, type DeviceChoice, type RecordedCommand, type Recording } from './recording.js';
import { ReplayInEndpoint } from './endpoints.js';

const log = logger('mock', 'replay');

/** What a replay did: commands matched, answered and diverged. */
export interface ReplayStats {
  /** CBWs answered. */
  commands: number;
  exact: number;
  /** Answered by a recorded command asking the same with another allocation length. */
  sameQuestion: number;
  /** Answered by a recorded command already used (the host asked the same thing again). */
  repeated: number;
}

/** The replayed device behind each port it opened, so a caller holding only the port can ask what diverged. */
const devices = new WeakMap<object, { readonly divergence: ReplayDivergenceError | undefined }>();

/** Remember that `port` is a replayed device's (a UAS replay registers its ports here too). */
export function rememberReplayPort(port: object, device: { readonly divergence: ReplayDivergenceError | undefined }): void {
  devices.set(port, device);
}

/**
 * The replay divergence behind `port` (a replayed device's port, or a TracingPort around one), if any. A command
 * that failed because the replay diverged reports "device disconnected"; this says why.
 */
export function replayDivergenceOf(port: object): ReplayDivergenceError | undefined {
  let p: object | undefined = port;
  while (p !== undefined) {
    const dev = devices.get(p);
    if (dev !== undefined) return dev.divergence;
    p = (p as { readonly traced?: object }).traced;
  }
  return undefined;
}

interface Answer { rec: RecordedCommand; how: 'exact' | 'same' }

/** A device that answers from a usbmon capture (--replay), and fails typed when the host diverges from it. */
export class ReplayUsbDevice {
  readonly stats: ReplayStats = { commands: 0, exact: 0, sameQuestion: 0, repeated: 0 };
  private readonly used: boolean[];
  private cursor = 0;
  private getMaxLunAt = 0;
  private readonly inEp: ReplayInEndpoint;
  private readonly outEp: OutEndpoint;
  private port: MockUsbPort | undefined;
  private connected = true;
  private generation = 0;
  private waiters = new Set<(e: Error) => void>();
  private failure: ReplayDivergenceError | undefined;
  private warnedTruncated = false;

  /** Read a capture (see recording.ts for how the device is chosen). */
  static fromFile(file: string, select?: DeviceChoice): ReplayUsbDevice {
    return new ReplayUsbDevice(loadRecording(file, select));
  }

  constructor(readonly recording: Recording) {
    this.used = recording.commands.map(() => false);
    this.inEp = new ReplayInEndpoint(recording.info.maxPacketSize.in, () => undefined);
    this.outEp = new OutEndpoint(recording.info.maxPacketSize.out, () => undefined);
    this.start();
  }

  /** The first divergence, once the host asked for something the recording does not hold. */
  get divergence(): ReplayDivergenceError | undefined { return this.failure; }

  /** A UsbPort onto the replayed interface (one at a time). */
  open(): MockUsbPort {
    if (!this.connected) throw this.failure ?? new UsbDeviceGoneError('replayed device is gone');
    if (this.port !== undefined) throw new UsbError('BUSY', 'interface already claimed by another open port');
    this.port = new MockUsbPort(this.wire, this.recording.info, []);
    devices.set(this.port, this);
    return this.port;
  }

  // ---------------------------------------------------------------- the device's BOT loop

  private start(): void {
    const gen = ++this.generation;
    this.loop(gen).catch((e: unknown) => {
      if (!(e instanceof DeviceAbort)) log('replay loop ended: %s', (e as Error).message);
    });
  }

  private abort(why: string): void {
    this.generation += 1;
    const err = new DeviceAbort(why);
    this.inEp.abortDevice(err);
    this.outEp.abortDevice(err);
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w(err);
  }

  /** A device that never answers: waits until a reset or unplug ends it. */
  private silence(): Promise<never> {
    return new Promise((_, reject) => { this.waiters.add(reject); });
  }

  private async loop(gen: number): Promise<void> {
    while (gen === this.generation && this.connected) {
      const view = await this.outEp.take(CBW_LENGTH, true);
      const cbw = parseCbw(view);
      const answer = cbw === undefined ? undefined : this.match(cbw);
      if (cbw === undefined || answer === undefined) {
        const asked = cbw === undefined ? `a ${view.length}-byte bulk-OUT transfer that is not a CBW` : describeAsk(cbw);
        this.diverge(asked, cbw);
        return;
      }
      if (answer.rec.cbwOutcome === 'stall') { this.outEp.stall(); continue; }
      this.outEp.commitHeld();
      this.stats.commands += 1;
      log('CBW tag %d %s: recorded #%d (%s)', cbw.tag, describeAsk(cbw), answer.rec.index, answer.how);
      await this.dataPhase(cbw, answer);
      if (!(await this.cswPhase(cbw, answer))) return;
    }
  }

  private async dataPhase(cbw: HostCbw, { rec, how }: Answer): Promise<void> {
    if (cbw.direction === 'none' || rec.direction === 'none') return;
    let end: DataEnd = rec.dataEnd ?? 'no-response';
    if (rec.truncated && !this.warnedTruncated) {
      this.warnedTruncated = true;
      log('%s was captured with a snaplen: the bytes it cut are replayed as zeros', this.recording.file);
    }
    if (cbw.direction === 'in') {
      let data = Buffer.concat(rec.dataIn);
      if (how === 'same' && data.length >= cbw.dataLength) { data = data.subarray(0, cbw.dataLength); if (end === 'short') end = 'complete'; }
      else if (how === 'same' && end === 'complete' && data.length < cbw.dataLength) end = 'short';
      if (data.length > 0) await this.inEp.send(data);
      const mps = this.inEp.maxPacketSize;
      if (end === 'short' && data.length % mps === 0) await this.inEp.sendZlp();
      await this.ending(end, 'in');
    } else {
      const target = Math.min(rec.dataOut, cbw.dataLength);
      let accepted = 0;
      while (accepted < target) accepted += (await this.outEp.take(target - accepted)).length;
      await this.ending(end, 'out');
    }
  }

  /** What the device did at the end of a data phase (a complete one, or a short IN, needs nothing more). */
  private async ending(end: DataEnd, pipe: Pipe): Promise<void> {
    const ep = pipe === 'in' ? this.inEp : this.outEp;
    switch (end) {
      case 'complete': case 'short': return;
      case 'stall': ep.stall(); await ep.untilCleared(); return;
      case 'no-response': await this.silence(); return;
      case 'gone': this.unplug(); await this.silence(); return;
      case 'overflow':
        if (pipe === 'in') await this.inEp.send(Buffer.alloc(this.inEp.maxPacketSize));
        return;
      case 'error':
        if (pipe === 'in') await this.inEp.failNext(new UsbError('IO', 'replayed transfer error', { pipe }));
        else ep.failAll(() => new UsbError('IO', 'replayed transfer error', { pipe }));
        return;
    }
  }

  /** False when the device is gone. */
  private async cswPhase(cbw: HostCbw, { rec, how }: Answer): Promise<boolean> {
    for (const ev of rec.cswEvents) {
      if (ev === 'zlp') await this.inEp.sendZlp();
      else if (ev === 'stall') { this.inEp.stall(); await this.inEp.untilCleared(); }
      else await this.ending(ev === 'no-response' ? 'no-response' : ev, 'in');
      if (!this.connected) return false;
    }
    if (rec.csw === undefined) await this.silence();
    const csw = Buffer.from(rec.csw ?? Buffer.alloc(0));
    if (csw.length >= CSW_OFFSET.tag + 4 && csw.readUInt32LE(CSW_OFFSET.signature) === CSW_SIGNATURE
      && csw.readUInt32LE(CSW_OFFSET.tag) === rec.tag) {
      csw.writeUInt32LE(cbw.tag, CSW_OFFSET.tag);
      // A device with an honest residue gives this host's (other) allocation length its own residue.
      const sent = Math.min(rec.dataInLength, cbw.dataLength);
      const residue = CSW_OFFSET.dataResidue;
      if (how === 'same' && csw.length >= residue + 4
        && csw.readUInt32LE(residue) === Math.max(0, rec.dataLength - rec.dataInLength)
        && cbw.direction === 'in' && hasAllocationLength(cbw.cdb)) {
        csw.writeUInt32LE(cbw.dataLength - sent, residue);
      }
    }
    await this.inEp.send(csw);
    return true;
  }

  // ---------------------------------------------------------------- matching

  private match(cbw: HostCbw): Answer | undefined {
    const cmds = this.recording.commands;
    for (const [how, pred] of [['exact', exactMatch], ['same', sameQuestion]] as const) {
      const fresh = (i: number): boolean => !this.used[i] && pred(cbw, cmds[i]!);
      let i = cmds.findIndex((_, j) => j >= this.cursor && fresh(j));
      if (i < 0) i = cmds.findIndex((_, j) => fresh(j));
      if (i >= 0) {
        this.used[i] = true;
        this.cursor = i + 1;
        if (how === 'exact') this.stats.exact += 1; else this.stats.sameQuestion += 1;
        return { rec: cmds[i]!, how };
      }
    }
    // Asked again: the latest recorded answer to the same question.
    for (const [how, pred] of [['exact', exactMatch], ['same', sameQuestion]] as const) {
      for (let i = cmds.length - 1; i >= 0; i--) {
        if (this.used[i] && pred(cbw, cmds[i]!)) {
          this.stats.repeated += 1;
          return { rec: cmds[i]!, how };
        }
      }
    }
    return undefined;
  }

  /** The recorded command due next, and the nearest one of the same opcode when that is another. */
  private nextRecorded(cbw: HostCbw | undefined): string {
    const cmds = this.recording.commands;
    const next = cmds.find((_, i) => i >= this.cursor && !this.used[i]) ?? cmds.find((_, i) => !this.used[i]);
    const same = cbw === undefined ? undefined : cmds.find((c) => c.cdb[0] === cbw.cdb[0] && c.lun === cbw.lun);
    const due = next === undefined ? `nothing more (all ${cmds.length} recorded commands were answered)`
      : `#${next.index}: ${describeAsk(next)}`;
    if (cbw === undefined) return due;
    if (same === undefined) return `${due} (and no command of that opcode)`;
    // The command due is of the host's opcode but asks something else (another LBA, length or page): say that
    // nothing recorded answers the host's question, rather than send the reader looking for an opcode.
    if (same === next) return `${due} (the same opcode, another question: no recorded command answers the host's)`;
    return `${due} (the nearest of that opcode: #${same.index}: ${describeAsk(same)})`;
  }

  private diverge(asked: string, cbw: HostCbw | undefined): void {
    const err = new ReplayDivergenceError(asked, this.nextRecorded(cbw), this.recording.file);
    this.failure ??= err;
    log('%s', err.message);
    // The CBW the host is sending fails with the divergence itself, then the device is gone.
    this.outEp.failAll(() => err);
    this.unplug();
  }

  private unplug(): void {
    if (!this.connected) return;
    this.connected = false;
    this.abort('disconnect');
    const gone = (x: HostXfer): UsbError => this.failure ?? new UsbDeviceGoneError(undefined, { actualLength: x.actual });
    this.inEp.failAll(gone);
    this.outEp.failAll(gone);
    const port = this.port;
    this.port = undefined;
    port?.deviceGone();
  }

  // ---------------------------------------------------------------- control pipe

  private maxLunFromCommands(): number {
    return this.recording.commands.reduce((m, c) => Math.max(m, c.lun), 0);
  }

  private control(setup: ControlSetup, _data: Buffer | undefined, length: number): Buffer | undefined {
    const { bmRequestType: type, bRequest: req, wIndex } = setup;
    const info = this.recording.info;
    if (type === BOT_REQUEST_TYPE.OUT && req === BOT_REQUEST.MASS_STORAGE_RESET) {
      this.abort('mass storage reset');
      this.start();
      return undefined;
    }
    if (type === BOT_REQUEST_TYPE.IN && req === BOT_REQUEST.GET_MAX_LUN) {
      const answers = this.recording.getMaxLun;
      // A capture that began after enumeration has none: the LUNs its commands address are what it shows.
      if (answers.length === 0) return Buffer.from([this.maxLunFromCommands()]).subarray(0, length);
      const a = answers[Math.min(this.getMaxLunAt++, answers.length - 1)]!;
      if (a.outcome === 'stall') throw new UsbStallError('Get Max LUN stalled (as recorded)', { pipe: 'control' });
      return a.data.subarray(0, length);
    }
    const pipe: Pipe | undefined = wIndex === info.endpoints.in ? 'in' : wIndex === info.endpoints.out ? 'out' : undefined;
    if (type === 0x02 && req === 0x01 && pipe !== undefined) { // CLEAR_FEATURE(ENDPOINT_HALT)
      (pipe === 'in' ? this.inEp : this.outEp).clearHalt();
      return undefined;
    }
    if (type === 0x82 && req === 0x00 && pipe !== undefined) { // GET_STATUS(endpoint)
      const halted = (pipe === 'in' ? this.inEp : this.outEp).halted;
      return Buffer.from([halted ? 1 : 0, 0]).subarray(0, length);
    }
    throw new UsbStallError(`control request ${type.toString(16)}/${req.toString(16)} is not in the recording`,
      { pipe: 'control' });
  }

  private endpointAt(address: number): ReplayInEndpoint | OutEndpoint {
    return address === this.recording.info.endpoints.in ? this.inEp : this.outEp;
  }

  private portReset(): void {
    const cancelled = (x: HostXfer): UsbError => new UsbCancelledError('port reset', { actualLength: x.actual });
    this.inEp.failAll(cancelled);
    this.outEp.failAll(cancelled);
    this.abort('port reset');
    this.inEp.clearHalt();
    this.outEp.clearHalt();
    this.start();
  }

  private readonly wire: DeviceWire = {
    connected: () => this.connected,
    submit: (address, x) => this.endpointAt(address).submit(x),
    withdraw: (address, x) => this.endpointAt(address).withdraw(x),
    control: (setup, data, length) => this.control(setup, data, length),
    clearHalt: (address) => this.endpointAt(address).clearHalt(),
    setInterface: () => { throw new UsbStallError('SET_INTERFACE is not in the recording', { pipe: 'control' }); },
    portReset: () => this.portReset(),
    released: (port) => { if (this.port === port) this.port = undefined; },
    schedule: (fn) => { setImmediate(fn); },
  };
}

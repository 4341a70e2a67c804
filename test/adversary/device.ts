/**
 * The adversarial Bulk-Only USB disk: the physical device (LUNs, media, fault plan, counters) and, per plug,
 * the BOT device state behind an {@link AdversaryPort}. Written from BOT 1.0 and SPC-4 alone; it shares no code
 * with src/bot, src/scsa, src/disk or src/mock (only the port types and the USB error classes).
 *
 * The one rule that makes it an oracle: data is wrong only in a command that also signals failure (see
 * faults.ts), so any READ the host resolves as good must hold what the medium held.
 */
import { UsbDeviceGoneError, UsbError, UsbStallError, UsbTimeoutError } from '../../src/usb/errors.js';
import type { ControlSetup, Pipe, UsbSpeed } from '../../src/usb/port.js';
import { COMMAND_FAULTS, type CommandFault, type ControlFault, type FaultKind, type FaultPlan } from './faults.js';
import { AdversaryDisk } from './disk.js';
import { BLOCK, stampBlock } from './medium.js';
import type { AdversaryPort, Pending } from './port.js';
import { fixedSense, Lun, SENSE, descriptorSense, type Sense, type TargetAnswer } from './target.js';
import { buildCsw, CBW_SIG, parseCbw, type Cbw, type CswShape } from './wire.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

export interface DeviceConfig {
  /** Blocks of each LUN (one or two LUNs). */
  lunBlocks: number[];
  speed: UsbSpeed;
  /** wMaxPacketSize of the bulk pipes. */
  mps: number;
  /** Cases 4/5: pad a short IN answer to the host's length (residue says so) instead of a short packet. */
  padShort: boolean;
  /** After a short IN data phase, STALL too (BOT 6.7.2). */
  stallAfterShort: boolean;
  /** UNIT ATTENTION 29/00 after power-on and port reset. */
  uaOnReset: boolean;
  descriptorSense: boolean;
  /** How long the OS waits for a CLEAR_FEATURE or port reset that never answers (scaled down). */
  osTimeoutMs: number;
  /** On removal, the disconnect listeners run before (true) or after the transfers reject. */
  goneListenersFirst: boolean;
  seed: number;
}

type Packet =
  | { k: 'data'; b: Buffer; endsCommand?: boolean }
  | { k: 'stall' }
  | { k: 'unplug' };

interface Command {
  cbw: Cbw;
  lun: Lun;
  answer: TargetAnswer;
  fault: CommandFault | undefined;
  /** OUT: what arrived so far (host length). */
  out?: Buffer;
  outGot: number;
  /** OUT: bytes accepted before `atLimit` happens. */
  outLimit: number;
  atLimit: 'finish' | 'stall' | 'hang' | 'unplug';
  stalledOut: boolean;
}

export interface DeviceCounters {
  commands: number;
  /** By fault kind (the Bulk-Only catalogue's or the UAS one's). */
  faults: Partial<Record<string, number>>;
  massStorageResets: number;
  clearHalts: number;
  portResets: number;
  plugs: number;
  corruptedCommands: number;
}

const isSetup = (s: unknown): s is ControlSetup => typeof s === 'object' && s !== null && 'bRequest' in s;

export class AdversaryDevice extends AdversaryDisk {
  private readonly armed: CommandFault[] = [];
  private readonly armedControls: ControlFault[] = [];
  private controlIndex = 0;
  private leaked: NodeJS.Timeout | undefined;
  private readonly bot = new WeakMap<AdversaryPort, BotState>();

  constructor(config: DeviceConfig, readonly plan: FaultPlan) {
    super(config, 0x5eed);
  }

  /** Plug the device in (again): a new port object, fresh BOT state, power-on unit attention. */
  plug(): AdversaryPort {
    const port = this.plugIn((n) => ({
      vendorId: 0xadad, productId: 0x0bad, serialNumber: `LIAR${this.config.seed.toString(16)}`, manufacturer: 'adversary',
      product: 'BOT liar', busNumber: 9, deviceAddress: n + 1, speed: this.config.speed, interfaceNumber: 0,
      alternateSetting: 0, endpoints: { in: 0x81, out: 0x02 }, maxPacketSize: { in: this.config.mps, out: this.config.mps },
    }));
    if (this.sabotage.leakTimer === true && this.leaked === undefined) this.leaked = setTimeout(() => undefined, 60_000);
    this.bot.set(port, new BotState());
    return port;
  }

  /** Strike the next command that fits `kind` (targeted tests), as if the plan had named it. */
  arm(kind: CommandFault): void { this.armed.push(kind); }
  /** Fail the next control request of the matching sort (ctl-*: class requests, clear-*, reset-*, maxlun-*). */
  armControl(kind: ControlFault): void { this.armedControls.push(kind); }
  /** Vanish during the next command, in the given phase. */
  armUnplug(phase: 'cbw' | 'data' | 'csw'): void {
    this.plan.unplug = { at: this.counters.commands, phase };
  }

  clearSabotage(): void { clearTimeout(this.leaked); this.leaked = undefined; }

  protected override count(k: FaultKind): void { super.count(k); }

  // ------------------------------------------------------------------ control pipe

  async control(port: AdversaryPort, kind: 'in' | 'out' | 'clear' | 'reset', setup: ControlSetup | Pipe | undefined,
    length: number, timeoutMs: number): Promise<Buffer | undefined> {
    const st = this.bot.get(port)!;
    if (this.sabotage.controlNeverAnswers === true && kind === 'out') {
      return new Promise((_, reject) => this.onUnplug.push(() => reject(new UsbDeviceGoneError())));
    }
    const fits = (f: ControlFault): boolean => kind === 'clear' ? f.startsWith('clear-') : kind === 'reset'
      ? f.startsWith('reset-') : f.startsWith('ctl-') || (f.startsWith('maxlun-') && kind === 'in');
    const armedAt = this.faultsOn ? this.armedControls.findIndex(fits) : -1;
    const fault: ControlFault | undefined = armedAt >= 0 ? this.armedControls.splice(armedAt, 1)[0]
      : this.faultsOn ? this.plan.controls.get(this.controlIndex) : undefined;
    this.controlIndex++;
    const hang = async (ms: number): Promise<never> => {
      if (ms <= 0) { this.protocol.push(`${kind} request without a timeout`); ms = this.config.osTimeoutMs * 10; }
      await this.sleep(ms);
      if (port.gone) throw new UsbDeviceGoneError();
      throw new UsbTimeoutError('control transfer timed out', { pipe: 'control' });
    };
    if (kind === 'clear') {
      const pipe = setup as Pipe;
      if (fault === 'clear-hang') { this.count(fault); return hang(this.config.osTimeoutMs); }
      if (fault === 'clear-fail') { this.count(fault); throw new UsbError('IO', 'CLEAR_FEATURE failed', { pipe: 'control' }); }
      this.counters.clearHalts++;
      // After an invalid CBW the device keeps stalling until a Mass Storage Reset (BOT 6.6.1).
      if (!st.needReset) st.halted[pipe as 'in' | 'out'] = false;
      port.kick();
      return undefined;
    }
    if (kind === 'reset') {
      if (fault === 'reset-fail') { this.count(fault); throw new UsbError('IO', 'port reset failed'); }
      if (fault === 'reset-hang') {
        this.count(fault);
        await this.sleep(this.config.osTimeoutMs);
        throw new UsbError('IO', 'port reset timed out');
      }
      if (fault === 'reset-gone') {
        this.count(fault);
        port.disconnect(this.config.goneListenersFirst);
        throw new UsbDeviceGoneError('device re-enumerated after the port reset');
      }
      this.counters.portResets++;
      port.failAll(() => new UsbError('CANCELLED', 'cancelled by port reset'));
      this.bot.set(port, new BotState());
      if (this.config.uaOnReset) for (const l of this.luns) l.unitAttention = true;
      return undefined;
    }
    if (!isSetup(setup)) throw new UsbmsArgumentError('no setup packet');
    if (fault === 'ctl-hang') { this.count(fault); return hang(timeoutMs); }
    if (fault === 'ctl-stall') { this.count(fault); throw new UsbStallError(undefined, { pipe: 'control' }); }
    if (fault === 'ctl-io') { this.count(fault); throw new UsbError('IO', 'control transfer failed', { pipe: 'control' }); }
    if (kind === 'in' && setup.bmRequestType === 0xa1 && setup.bRequest === 0xfe && length >= 1) {
      if (fault === 'maxlun-bogus') { this.count(fault); return Buffer.from([0xa5]); }
      if (fault === 'maxlun-empty') { this.count(fault); return Buffer.alloc(0); }
      return Buffer.from([this.luns.length - 1]);
    }
    if (kind === 'out' && setup.bmRequestType === 0x21 && setup.bRequest === 0xff) {
      this.counters.massStorageResets++;
      st.resetBot();
      port.kick();
      return undefined;
    }
    throw new UsbStallError('unsupported request', { pipe: 'control' });
  }

  // ------------------------------------------------------------------ bulk pipes

  pump(port: AdversaryPort): void {
    const st = this.bot.get(port)!;
    for (let guard = 0; guard < 10_000; guard++) {
      if (port.gone || port.closed) return;
      if (!this.pumpOut(port, st) && !this.pumpIn(port, st)) return;
    }
    throw new Error('adversary pump did not settle');
  }

  private pumpOut(port: AdversaryPort, st: BotState): boolean {
    const x = port.head('out');
    if (x === undefined) return false;
    if (st.halted.out) { port.stall('out'); return true; }
    if (st.phase === 'cbw') { this.onCbw(port, st, x); return true; }
    const cmd = st.cmd;
    if (st.phase !== 'data-out' || cmd === undefined || cmd.out === undefined) return false; // NAK
    const room = x.buf.length - x.filled;
    const n = Math.min(room, cmd.outLimit - cmd.outGot, cmd.out.length - cmd.outGot);
    x.buf.copy(cmd.out, cmd.outGot, x.filled, x.filled + n);
    x.filled += n;
    cmd.outGot += n;
    if (x.filled === x.buf.length) port.complete('out');
    if (cmd.outGot < cmd.outLimit && cmd.outGot < cmd.out.length) return n > 0 || x.filled === x.buf.length;
    if (cmd.atLimit !== 'finish') this.atOutLimit(port, st, cmd);
    else if (cmd.outGot === cmd.out.length) this.finishOut(port, st, cmd);
    return true;
  }

  private pumpIn(port: AdversaryPort, st: BotState): boolean {
    const x = port.head('in');
    if (x === undefined) return false;
    if (st.halted.in) { port.stall('in'); return true; }
    let moved = false;
    for (;;) {
      const p = st.stream[0];
      if (p === undefined) return moved;
      if (p.k === 'unplug') { st.stream.shift(); this.unplug(); return true; }
      if (p.k === 'stall') { st.stream.shift(); st.halted.in = true; port.stall('in'); return true; }
      const room = x.buf.length - x.filled;
      if (p.b.length > room) {
        // Babble: the packet does not fit what is left of the host's buffer.
        p.b.copy(x.buf, x.filled, 0, room);
        x.filled += room;
        st.stream.shift();
        port.overflow();
        return true;
      }
      p.b.copy(x.buf, x.filled);
      x.filled += p.b.length;
      st.stream.shift();
      moved = true;
      if (p.endsCommand === true && st.phase === 'csw') { st.phase = 'cbw'; st.cmd = undefined; }
      if (p.b.length < this.config.mps || x.filled === x.buf.length) { port.complete('in'); return true; }
    }
  }

  // ------------------------------------------------------------------ one command

  private onCbw(port: AdversaryPort, st: BotState, x: Pending): void {
    const buf = x.buf;
    const index = this.counters.commands++;
    if (this.faultsOn) {
      const f = this.plan.commands.get(index);
      if (f !== undefined) this.armed.push(f);
    }
    if (!this.faultsOn && this.sabotage.deadAfterFaults === true) { st.phase = 'stuck'; return; }
    // The plan's removal happens once per schedule (not once per plug: a re-plugged device stays).
    const unplugPhase = this.faultsOn && this.plan.unplug !== undefined && index >= this.plan.unplug.at
      ? this.plan.unplug.phase : undefined;
    if (unplugPhase !== undefined) this.plan.unplug = undefined;
    if (unplugPhase === 'cbw') { this.unplug(); return; }
    const cbw = parseCbw(buf, buf.length, this.luns.length - 1);
    if (typeof cbw === 'string') {
      this.protocol.push(`invalid CBW: ${cbw}`);
      x.filled = buf.length;
      port.complete('out');
      st.halted.in = st.halted.out = true;
      st.needReset = true;
      st.phase = 'stuck';
      return;
    }
    const lun = this.luns[cbw.lun]!;
    const isRs = cbw.cdb[0] === 0x03;
    // A pending REQUEST SENSE lie only ever applies to the REQUEST SENSE that follows on that LUN.
    const senseLie = this.faultsOn && st.senseLie !== undefined && st.senseLie.lun === cbw.lun && isRs
      ? st.senseLie.kind : undefined;
    st.senseLie = undefined;
    const fault = senseLie === undefined && this.faultsOn ? this.takeFault(cbw, isRs) : undefined;
    if (fault === 'cbw-hang') { this.count(fault); st.phase = 'stuck'; return; } // the CBW transfer stays pending
    if (fault === 'cbw-stall') { this.count(fault); st.halted.out = true; port.stall('out'); return; }
    x.filled = buf.length;
    port.complete('out');
    if (fault !== undefined) this.count(fault);
    const answer = lun.answer(cbw.cdb);
    const cmd: Command = { cbw, lun, answer, fault, outGot: 0, outLimit: 0, atLimit: 'finish', stalledOut: false };
    st.cmd = cmd;
    st.phase = 'busy';
    st.unplugPhase = unplugPhase;
    if (senseLie !== undefined) { this.lieAboutSense(port, st, cmd, senseLie); return; }
    if (cbw.dir === 'out') { this.startOut(port, st, cmd); return; }
    this.respondIn(port, st, cmd);
  }

  /** The first armed fault that fits this command (data faults wait for a command with that data phase). */
  private takeFault(cbw: Cbw, isRs: boolean): CommandFault | undefined {
    const i = this.armed.findIndex((f) => {
      const ph = COMMAND_FAULTS[f].phase;
      if (ph === 'data-in') return cbw.dir === 'in';
      if (ph === 'data-out') return cbw.dir === 'out';
      if (ph === 'sense' || ph === 'scsi') return !isRs;
      return true;
    });
    return i < 0 ? undefined : this.armed.splice(i, 1)[0];
  }

  private csw(cmd: Command, status: number, residue: number, extra: Partial<CswShape> = {}): Packet {
    return { k: 'data', b: buildCsw({ tag: cmd.cbw.tag, residue, status, ...extra }), endsCommand: true };
  }

  /** Split `bytes` into max-size packets; `terminate` ends them with a short packet (a ZLP if aligned). */
  private packets(out: Packet[], bytes: Buffer, terminate: boolean): void {
    const mps = this.config.mps;
    for (let o = 0; o < bytes.length; o += mps) out.push({ k: 'data', b: bytes.subarray(o, Math.min(o + mps, bytes.length)) });
    if (terminate && bytes.length % mps === 0) out.push({ k: 'data', b: Buffer.alloc(0) });
  }

  /** A cut point inside [0, limit): half the time on a packet boundary. */
  private cut(limit: number): number {
    if (limit <= 0) return 0;
    const mps = this.config.mps;
    if (this.rng.chance(0.5) && limit > mps) return mps * this.rng.int(0, Math.floor((limit - 1) / mps));
    return this.rng.int(0, limit - 1);
  }

  /** Sense for a CHECK CONDITION the device invents (scsi faults and the "real" sense behind sense lies). */
  private checkSense(f: CommandFault, cmd: Command): Sense {
    const info = cmd.answer.rw?.lba;
    switch (f) {
      case 'chk-hardware': return SENSE.hardware;
      case 'chk-aborted': return SENSE.aborted;
      case 'chk-unit-attention': return SENSE.powerOnReset;
      case 'chk-not-ready': return SENSE.becomingReady;
      case 'chk-recovered': return SENSE.recovered;
      case 'chk-no-sense': case 'chk-no-sense-corrupt': return SENSE.noSense;
      default: return cmd.answer.rw?.write === true ? { ...SENSE.writeError, info } : { ...SENSE.mediumError, info };
    }
  }

  /**
   * The wrong bytes a failing command may carry: flipped bytes, a stale version of a block (a perfectly valid
   * older stamp), a block of another LBA, or zeros. Only ever called for a command that signals failure.
   */
  private corrupt(cmd: Command, data: Buffer): Buffer {
    if (data.length === 0) return data;
    const d = Buffer.from(data);
    const rw = cmd.answer.rw;
    const mode = this.rng.int(0, rw === undefined ? 0 : 3);
    const blocks = Math.floor(d.length / BLOCK);
    const b = blocks > 0 ? this.rng.int(0, blocks - 1) : 0;
    const view = d.subarray(b * BLOCK, Math.min(d.length, (b + 1) * BLOCK));
    if (mode === 0 || rw === undefined || view.length < BLOCK) {
      for (let i = this.rng.int(1, 8); i > 0; i--) { const at = this.rng.int(0, d.length - 1); d[at] = d[at]! ^ (1 + this.rng.int(0, 254)); }
    } else if (mode === 1) {
      const h = cmd.lun.medium.history[rw.lba + b]!;
      const ids = h.filter((_, i) => i % 2 === 1);
      stampBlock(view, cmd.lun.index, rw.lba + b, this.rng.pick(ids.length > 1 ? ids.slice(0, -1) : [0, 0x7777]));
    } else if (mode === 2) {
      stampBlock(view, cmd.lun.index, (rw.lba + b + 1) % cmd.lun.blocks, 0);
    } else {
      view.fill(0);
    }
    this.counters.corruptedCommands++;
    return d;
  }

  /**
   * Only READ data is ever corrupted. An INQUIRY, READ CAPACITY, MODE SENSE or REQUEST SENSE answer may
   * legitimately be shorter than asked, so a residue is no failure signal there: wrong bytes in it would be a
   * lie no host can see through (and a sense lie must not come from a data lie on the REQUEST SENSE).
   */
  private maybeCorrupt(cmd: Command, data: Buffer): Buffer {
    const f = cmd.fault;
    const read = cmd.answer.rw !== undefined && !cmd.answer.rw.write;
    return read && f !== undefined && COMMAND_FAULTS[f].corrupts && this.rng.chance(0.75) ? this.corrupt(cmd, data) : data;
  }

  /** IN and no-data commands: the whole answer goes into the IN stream at once. */
  private respondIn(port: AdversaryPort, st: BotState, cmd: Command): void {
    const { cbw, answer } = cmd;
    const H = cbw.length;
    const f = cmd.fault;
    let status = answer.check ? 1 : 0;
    if (f !== undefined && (COMMAND_FAULTS[f].phase === 'scsi' || COMMAND_FAULTS[f].phase === 'sense')) {
      status = 1;
      cmd.lun.sense = this.checkSense(f, cmd);
      if (COMMAND_FAULTS[f].phase === 'sense') st.senseLie = { lun: cbw.lun, kind: f };
    }
    const s: Packet[] = [];
    const devIn = answer.dir === 'in' ? answer.data ?? Buffer.alloc(0) : undefined;
    if (cbw.dir === 'none') {
      // case 1, or 2/3 (host expects nothing, device wants data): phase error
      s.push(this.csw(cmd, answer.dir === 'none' ? status : 2, 0));
      return this.emit(port, st, cmd, s);
    }
    if (devIn === undefined) {
      // case 4 (device has no data) or 8 (device wants to receive): nothing to send
      s.push({ k: 'stall' });
      s.push(this.csw(cmd, answer.dir === 'out' ? 2 : status, H));
      return this.emit(port, st, cmd, s);
    }
    const D = devIn.length;
    const L = Math.min(D, H);
    let payload = this.maybeCorrupt(cmd, devIn.subarray(0, L));
    if (this.sabotage.silentCorruption === true && f === undefined && answer.rw !== undefined) payload = this.corrupt(cmd, payload);
    const normalData = (): void => {
      if (D >= H) this.packets(s, payload, false);
      else if (this.config.padShort) this.packets(s, Buffer.concat([payload, Buffer.alloc(H - D)]), false);
      else {
        this.packets(s, payload, !this.config.stallAfterShort);
        if (this.config.stallAfterShort) s.push({ k: 'stall' });
      }
    };
    const normalCsw = (): Packet => this.csw(cmd, D > H ? 2 : status, H - L);
    const k = this.cut(L);
    switch (f) {
      case 'in-short-stall':
        this.packets(s, payload.subarray(0, k), false);
        s.push({ k: 'stall' });
        if (this.rng.chance(0.5)) { status = 1; cmd.lun.sense = this.checkSense('chk-medium', cmd); }
        s.push(this.csw(cmd, status, this.rng.chance(0.5) ? H - k : 0));
        break;
      case 'in-short-lying':
        this.packets(s, payload.subarray(0, k), true);
        s.push(this.csw(cmd, 0, 0));
        break;
      case 'in-pad': {
        const pad = Buffer.alloc(H - k);
        if (this.rng.chance(0.5)) fixedSense(SENSE.recovered).copy(pad);
        else if (answer.rw !== undefined) {
          for (let o = 0; o + BLOCK <= pad.length; o += BLOCK) {
            const lba = answer.rw.lba + Math.floor((k + o) / BLOCK);
            if (lba < cmd.lun.blocks) stampBlock(pad.subarray(o, o + BLOCK), cmd.lun.index, lba, 0);
          }
        }
        this.packets(s, Buffer.concat([payload.subarray(0, k), pad]), false);
        s.push(this.csw(cmd, 0, H - k));
        break;
      }
      case 'in-residue':
        this.packets(s, payload, D < H);
        s.push(this.csw(cmd, 0, this.rng.int(1, H)));
        break;
      case 'in-stall-no-csw':
        this.packets(s, payload.subarray(0, k), false);
        s.push({ k: 'stall' });
        st.hung = true;
        break;
      case 'in-hang':
        this.packets(s, payload.subarray(0, k - (k % this.config.mps)), false);
        st.hung = true;
        break;
      case 'in-babble': {
        const junk = this.rng.fill(Buffer.alloc(this.rng.int(1, 2 * this.config.mps)));
        this.packets(s, Buffer.concat([payload, junk]), false);
        s.push(this.csw(cmd, this.rng.chance(0.5) ? 2 : 0, 0));
        break;
      }
      case 'in-csw-early': {
        const at = k - (k % this.config.mps);
        this.packets(s, payload.subarray(0, at), false);
        s.push(this.csw(cmd, this.rng.int(0, 1), this.rng.chance(0.5) ? H - at : 0));
        st.hung = true; // nothing more: the CSW has been spent
        break;
      }
      case 'in-phase-error':
        this.packets(s, payload.subarray(0, this.rng.chance(0.5) ? L : k), true);
        s.push(this.csw(cmd, 2, 0));
        break;
      case 'in-stall-end':
        normalData();
        s.push({ k: 'stall' });
        s.push(normalCsw());
        break;
      default:
        normalData();
        this.shapeCsw(cmd, st, s, normalCsw());
    }
    this.emit(port, st, cmd, s);
  }

  /** The CSW-phase lies, around an otherwise normal command. */
  private shapeCsw(cmd: Command, st: BotState, s: Packet[], good: Packet): void {
    const f = cmd.fault;
    const csw = (good as { b: Buffer }).b;
    const shape = (over: Partial<CswShape>): Packet => ({ k: 'data', endsCommand: true, b: buildCsw({
      tag: csw.readUInt32LE(4), residue: csw.readUInt32LE(8), status: csw[12]!, ...over }) });
    switch (f) {
      case 'csw-hang': st.hung = true; return;
      case 'csw-stall-once': s.push({ k: 'stall' }, good); return;
      case 'csw-stall-twice': s.push({ k: 'stall' }, { k: 'stall' }, good); return;
      case 'csw-zlp': s.push({ k: 'data', b: Buffer.alloc(0) }, good); return;
      case 'csw-zlp-twice': s.push({ k: 'data', b: Buffer.alloc(0) }, { k: 'data', b: Buffer.alloc(0) }, good); return;
      case 'csw-short': s.push(shape({ length: this.rng.int(1, 12) })); return;
      case 'csw-long': s.push(shape({ length: this.rng.int(14, Math.min(64, this.config.mps)) })); return;
      case 'csw-bad-signature': s.push(shape({ signature: this.rng.pick([CBW_SIG, 0, 0x53425356, (this.rng.u32() | 1) >>> 0]) })); return;
      case 'csw-wrong-tag': s.push(shape({ tag: (csw.readUInt32LE(4) ^ (1 + this.rng.int(0, 0xfffe))) >>> 0 })); return;
      case 'csw-residue-over': s.push(shape({ residue: cmd.cbw.length + this.rng.int(1, 4096) })); return;
      case 'csw-bad-status': s.push(shape({ status: this.rng.int(3, 255) })); return;
      case 'csw-phase-error': s.push(shape({ status: 2 })); return;
      case 'csw-duplicate': s.push(good, { k: 'data', b: Buffer.from(csw) }); return;
      default: s.push(good);
    }
  }

  private emit(port: AdversaryPort, st: BotState, cmd: Command, s: Packet[]): void {
    if (st.unplugPhase !== undefined) {
      // Removal inside this command: in the middle of the data, or where the CSW is due.
      const firstCsw = s.findIndex((p) => p.k === 'data' && p.endsCommand === true);
      const at = st.unplugPhase === 'data' && firstCsw > 0 ? Math.floor(firstCsw / 2) : firstCsw < 0 ? s.length : firstCsw;
      s.splice(at, 0, { k: 'unplug' });
    }
    st.stream.push(...s);
    st.phase = st.hung ? 'stuck' : 'csw';
    st.hung = false;
    void cmd;
    port.kick();
  }

  // ------------------------------------------------------------------ data-out

  private startOut(port: AdversaryPort, st: BotState, cmd: Command): void {
    const { cbw, answer } = cmd;
    const H = cbw.length;
    if (answer.dir === 'in') {
      // case 10: the device wants to send, the host to send: stall OUT, phase error
      st.halted.out = true;
      st.stream.push({ k: 'stall' }, this.csw(cmd, 2, H));
      st.phase = 'csw';
      port.kick();
      return;
    }
    cmd.out = Buffer.alloc(H);
    cmd.outLimit = H;
    const f = cmd.fault;
    if (f === 'out-stall' || f === 'out-hang') {
      const k = this.cut(H);
      cmd.outLimit = k - (k % this.config.mps);
      cmd.atLimit = f === 'out-stall' ? 'stall' : 'hang';
    } else if (st.unplugPhase === 'data') {
      cmd.outLimit = Math.floor(H / 2);
      cmd.atLimit = 'unplug';
      st.unplugPhase = undefined;
    }
    st.phase = 'data-out';
    if (cmd.outLimit === 0) this.atOutLimit(port, st, cmd);
    port.kick();
  }

  private atOutLimit(port: AdversaryPort, st: BotState, cmd: Command): void {
    if (cmd.atLimit === 'stall') { st.halted.out = true; cmd.stalledOut = true; this.finishOut(port, st, cmd); }
    else if (cmd.atLimit === 'hang') { this.applyWrite(cmd, this.rng.int(0, Math.floor(cmd.outGot / BLOCK))); st.phase = 'stuck'; }
    else if (cmd.atLimit === 'unplug') this.unplug();
  }

  /** Put `blocks` blocks of the received data on the medium (a write that fails may land in part). */
  private applyWrite(cmd: Command, blocks: number): void {
    const rw = cmd.answer.rw;
    if (rw === undefined || cmd.out === undefined) return;
    this.land(cmd.lun, rw.lba, cmd.out, Math.min(blocks, rw.blocks, Math.floor(cmd.outGot / BLOCK)));
  }

  private finishOut(port: AdversaryPort, st: BotState, cmd: Command): void {
    const { cbw, answer } = cmd;
    const H = cbw.length;
    const f = cmd.fault;
    const blocks = answer.rw?.blocks ?? 0;
    const D = answer.dir === 'out' ? answer.outLength ?? 0 : 0;
    const s: Packet[] = [];
    const prefix = (): number => this.rng.int(0, Math.max(0, blocks - 1));
    const ph = f === undefined ? undefined : COMMAND_FAULTS[f].phase;
    if (answer.dir === 'none' || answer.check) {
      // case 9 (no data wanted) or a command that already failed: accept, process nothing
      s.push(this.csw(cmd, answer.check ? 1 : 0, H));
    } else if (ph === 'scsi' || ph === 'sense') {
      const sense = this.checkSense(f!, cmd);
      const success = !COMMAND_FAULTS[f!].corrupts && (sense.key === 0 || sense.key === 1);
      // A write may have landed in part behind a MEDIUM or HARDWARE ERROR, and behind the false check condition.
      const partial = [0x3, 0x4].includes(sense.key) || f === 'chk-no-sense-corrupt';
      this.applyWrite(cmd, success ? blocks : partial ? prefix() : 0);
      cmd.lun.sense = sense.key === 0x3 ? { ...sense, info: (answer.rw?.lba ?? 0) } : sense;
      if (ph === 'sense') st.senseLie = { lun: cbw.lun, kind: f! };
      s.push(this.csw(cmd, 1, 0));
    } else if (f === 'out-stall') {
      this.applyWrite(cmd, this.rng.int(0, Math.floor(cmd.outGot / BLOCK)));
      const fail = this.rng.chance(0.5);
      if (fail) cmd.lun.sense = { ...SENSE.writeError, info: answer.rw?.lba };
      s.push(this.csw(cmd, fail ? 1 : 0, H - cmd.outGot));
    } else if (f === 'out-residue') {
      const p = prefix();
      this.applyWrite(cmd, p);
      s.push(this.csw(cmd, 0, (blocks - p) * BLOCK));
    } else if (f === 'out-phase-error') {
      this.applyWrite(cmd, this.rng.int(0, blocks));
      s.push(this.csw(cmd, 2, 0));
    } else if (f === 'out-check') {
      const p = prefix();
      this.applyWrite(cmd, p);
      cmd.lun.sense = { ...SENSE.writeError, info: (answer.rw?.lba ?? 0) + p };
      s.push(this.csw(cmd, 1, 0));
    } else {
      const csw = this.csw(cmd, D > H ? 2 : 0, H - Math.min(D, H));
      // A CSW lie that signals failure may hide a write that landed only in part.
      const partial = f !== undefined && COMMAND_FAULTS[f].corrupts && this.rng.chance(0.5);
      this.applyWrite(cmd, D > H ? 0 : partial ? prefix() : blocks);
      this.shapeCsw(cmd, st, s, csw);
    }
    this.emit(port, st, cmd, s);
  }

  // ------------------------------------------------------------------ REQUEST SENSE lies

  private lieAboutSense(port: AdversaryPort, st: BotState, cmd: Command, kind: CommandFault): void {
    const H = cmd.cbw.length;
    const looksRecovered = fixedSense(SENSE.recovered);
    const s: Packet[] = [];
    const send = (b: Buffer, terminate = true): void => this.packets(s, b.subarray(0, Math.min(b.length, H)), terminate && b.length < H);
    const resid = (n: number): number => Math.max(0, H - Math.min(n, H));
    switch (kind) {
      case 'sense-padded': {
        const pad = Buffer.alloc(H);
        for (let o = 0; o + 18 <= H; o += 18) looksRecovered.copy(pad, o);
        send(pad, false);
        s.push(this.csw(cmd, 0, H));
        break;
      }
      case 'sense-padded-honest': {
        const real = this.config.descriptorSense ? descriptorSense(SENSE.mediumError) : fixedSense(SENSE.mediumError);
        const pad = Buffer.alloc(H);
        real.copy(pad);
        for (let o = real.length; o + 18 <= H; o += 18) looksRecovered.copy(pad, o);
        send(pad, false);
        s.push(this.csw(cmd, 0, resid(real.length)));
        break;
      }
      case 'sense-short': send(looksRecovered.subarray(0, 8)); s.push(this.csw(cmd, 0, resid(8))); break;
      case 'sense-stale': send(fixedSense(SENSE.powerOnReset)); s.push(this.csw(cmd, 0, resid(18))); break;
      case 'sense-rs-check':
        send(looksRecovered);
        cmd.lun.sense = SENSE.hardware;
        s.push(this.csw(cmd, 1, resid(18)));
        break;
      case 'sense-rs-phase': send(looksRecovered); s.push(this.csw(cmd, 2, 0)); break;
      case 'sense-rs-stall': s.push({ k: 'stall' }, this.csw(cmd, 0, 0)); break;
      case 'sense-rs-hang': st.hung = true; break;
      case 'sense-rs-bad-csw':
        send(looksRecovered);
        s.push(this.csw(cmd, 0, resid(18), { tag: (cmd.cbw.tag + 1) >>> 0 }));
        break;
      case 'sense-bad-code': {
        const b = Buffer.from(looksRecovered);
        b[0] = 0x00;
        send(b);
        s.push(this.csw(cmd, 0, resid(18)));
        break;
      }
      default: send(Buffer.alloc(0)); s.push(this.csw(cmd, 0, H));
    }
    cmd.lun.sense = undefined;
    this.emit(port, st, cmd, s);
  }
}

/** What one plug of the device remembers about the BOT conversation. */
class BotState {
  phase: 'cbw' | 'busy' | 'data-out' | 'csw' | 'stuck' = 'cbw';
  readonly halted = { in: false, out: false };
  stream: Packet[] = [];
  cmd: Command | undefined;
  needReset = false;
  hung = false;
  senseLie: { lun: number; kind: CommandFault } | undefined;
  unplugPhase: 'cbw' | 'data' | 'csw' | undefined;

  /** Bulk-Only Mass Storage Reset (BOT 3.1): ready for a CBW; halts and toggles stay as they are. */
  resetBot(): void {
    this.phase = 'cbw';
    this.stream = [];
    this.cmd = undefined;
    this.needReset = false;
    this.senseLie = undefined;
  }
}

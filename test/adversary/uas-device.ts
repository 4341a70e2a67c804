/**
 * The adversarial UAS disk (high speed, no streams): the same LUNs, media and oracle rule as the Bulk-Only
 * adversary (device.ts), speaking USB Attached SCSI behind an {@link AdversaryPort} with four pipes. Written from
 * UAS-2 and SAM-5 alone: it shares no code with src/uas or src/mock (only the port types, the USB error classes and
 * the IU byte layouts, which it writes itself).
 *
 * The device keeps a task set; it serves one task at a time, picked in the order its seed says (UAS lets a device
 * announce data phases in any order): READ/WRITE READY on the status pipe, the data on its pipe, then a SENSE IU.
 * The one rule that makes it an oracle: data is wrong only in a command that also signals failure
 * (uas-faults.ts), so any READ the host resolves as good must hold what the medium held.
 */
import { UsbDeviceGoneError, UsbError, UsbStallError, UsbTimeoutError } from '../../src/usb/errors.js';
import type { AltSettingInfo, ControlSetup, Pipe } from '../../src/usb/port.js';
import type { DeviceConfig } from './device.js';
import { AdversaryDisk } from './disk.js';
import { BLOCK, stampBlock } from './medium.js';
import type { AdversaryPort, Pending } from './port.js';
import { descriptorSense, fixedSense, type Lun, SENSE, type Sense, type TargetAnswer } from './target.js';
import {
  UAS_COMMAND_FAULTS, type UasCommandFault, type UasControlFault, type UasFaultKind, type UasFaultPlan,
} from './uas-faults.js';

/** UAS-only knobs of a UAS adversary schedule. */
export interface UasDeviceConfig {
  /** Commands the task set holds; one more is answered TASK SET FULL. */
  queueDepth: number;
  /** I_T NEXUS RESET is implemented. */
  nexusReset: boolean;
}

const IU = { COMMAND: 1, SENSE: 3, RESPONSE: 4, TMF: 5, READ_READY: 6, WRITE_READY: 7 } as const;
const RC = { COMPLETE: 0x00, INVALID: 0x02, NOT_SUPPORTED: 0x04, FAILED: 0x05, INCORRECT_LUN: 0x09, OVERLAPPED: 0x0a } as const;
const EP = { command: 0x01, status: 0x82, in: 0x83, out: 0x04 } as const;

interface Task {
  tag: number;
  lun: Lun;
  cdb: Buffer;
  fault: UasCommandFault | undefined;
  answer?: TargetAnswer;
  /** Data-in packets still to send; data-out: the buffer, what arrived, what the device takes at most. */
  packets: Buffer[];
  out?: Buffer;
  outGot: number;
  outLimit: number;
  /** What ends the data phase: send the status, stall the pipe then the status, hang, unplug. */
  atEnd: 'status' | 'stall' | 'hang' | 'unplug';
  status: number;
  sense: Buffer | undefined;
  /** The SENSE IU's length field when it lies. */
  senseLengthField?: number;
  /** The CHECK CONDITION's sense says RECOVERED ERROR or NO SENSE: the data is intact (a write lands whole). */
  dataIntact: boolean;
}

/** One plug's UAS conversation. */
class UasState {
  readonly tasks = new Map<number, Task>();
  queue: Task[] = [];
  running: Task | undefined;
  /** IUs for the status pipe, one transfer each (`stall`: halt the pipe before the next). */
  status: ({ k: 'iu'; b: Buffer } | { k: 'stall' } | { k: 'unplug' })[] = [];
  readonly halted = { in: false, out: false, status: false, command: false };
  /** The command pipe takes nothing more (an IU hang). */
  commandStuck = false;
  /** Set when SET_INTERFACE selected the UAS setting. */
  selected = false;
  /**
   * Without streams the data carries no tag, so a data phase the device leaves unfinished holds its pipe: a task
   * that hung mid data-in holds data-in until ABORT TASK or a reset drops it; a data-out phase cut short holds
   * data-out while the host's transfer with the rest of that data is still posted (the next WRITE's data would be
   * taken from it: no host can tell, so no fair device does it).
   */
  inHeldBy: Task | undefined;
  outHeldBy: Pending | undefined;
}

export class AdversaryUasDevice extends AdversaryDisk {
  private readonly armed: UasCommandFault[] = [];
  private readonly armedControls: UasControlFault[] = [];
  private controlIndex = 0;
  private readonly states = new WeakMap<AdversaryPort, UasState>();
  private readonly altSettings: AltSettingInfo[];

  constructor(config: DeviceConfig, readonly plan: UasFaultPlan, readonly uas: UasDeviceConfig) {
    super(config, 0x0a5);
    const ep = (address: number, id: number) => ({ address, attributes: 2, maxPacketSize: config.mps, extra: Uint8Array.from([4, 0x24, id, 0]) });
    this.altSettings = [{ alternateSetting: 0, interfaceClass: 8, interfaceSubClass: 6, interfaceProtocol: 0x62,
      endpoints: [ep(EP.command, 1), ep(EP.status, 2), ep(EP.in, 3), ep(EP.out, 4)] }];
  }

  plug(): AdversaryPort {
    const port = this.plugIn((n) => ({
      vendorId: 0xadad, productId: 0x0a5a, serialNumber: `UASLIAR${this.config.seed.toString(16)}`, manufacturer: 'adversary',
      product: 'UAS liar', busNumber: 9, deviceAddress: n + 1, speed: this.config.speed, interfaceNumber: 0,
      alternateSetting: 0, endpoints: { in: EP.status, out: EP.command }, maxPacketSize: { in: this.config.mps, out: this.config.mps },
    }), this.altSettings);
    this.states.set(port, new UasState());
    return port;
  }

  arm(kind: UasCommandFault): void { this.armed.push(kind); }
  armControl(kind: UasControlFault): void { this.armedControls.push(kind); }
  armUnplug(phase: 'cbw' | 'data' | 'csw'): void { this.plan.unplug = { at: this.counters.commands, phase }; }

  clearSabotage(): void { /* nothing kept */ }

  protected override count(k: UasFaultKind): void { super.count(k); }

  // ------------------------------------------------------------------ control pipe

  async control(port: AdversaryPort, kind: 'in' | 'out' | 'clear' | 'reset', setup: ControlSetup | Pipe | undefined,
    _length: number, _timeoutMs: number): Promise<Buffer | undefined> {
    const st = this.states.get(port)!;
    const fits = (f: UasControlFault): boolean => (kind === 'clear' ? f.startsWith('clear-') : kind === 'reset' ? f.startsWith('reset-') : false);
    const at = this.faultsOn ? this.armedControls.findIndex(fits) : -1;
    const planned = this.faultsOn ? this.plan.controls.get(this.controlIndex) : undefined;
    const fault = at >= 0 ? this.armedControls.splice(at, 1)[0] : planned !== undefined && fits(planned) ? planned : undefined;
    if (kind === 'clear' || kind === 'reset') this.controlIndex++;
    if (kind === 'clear') {
      const pipe = setup as Pipe;
      if (fault === 'clear-hang') {
        this.count(fault);
        await this.sleep(this.config.osTimeoutMs);
        if (port.gone) throw new UsbDeviceGoneError();
        throw new UsbTimeoutError('control transfer timed out', { pipe: 'control' });
      }
      if (fault === 'clear-fail') { this.count(fault); throw new UsbError('IO', 'CLEAR_FEATURE failed', { pipe: 'control' }); }
      this.counters.clearHalts++;
      st.halted[pipe] = false;
      port.kick();
      return undefined;
    }
    if (kind === 'reset') {
      if (fault === 'reset-fail') { this.count(fault); throw new UsbError('IO', 'port reset failed'); }
      if (fault === 'reset-gone') {
        this.count(fault);
        port.disconnect(this.config.goneListenersFirst);
        throw new UsbDeviceGoneError('device re-enumerated after the port reset');
      }
      this.counters.portResets++;
      port.failAll(() => new UsbError('CANCELLED', 'cancelled by port reset'));
      // A reset device comes back unconfigured: the host's port puts the UAS setting back (SET_INTERFACE).
      const fresh = new UasState();
      fresh.selected = true;
      this.states.set(port, fresh);
      if (this.config.uaOnReset) for (const l of this.luns) l.unitAttention = true;
      return undefined;
    }
    if (typeof setup === 'object' && setup.bmRequestType === 0x01 && setup.bRequest === 0x0b && setup.wValue === 0) {
      const fresh = new UasState();
      fresh.selected = true;
      this.states.set(port, fresh);
      return undefined;
    }
    throw new UsbStallError('unsupported request', { pipe: 'control' });
  }

  // ------------------------------------------------------------------ the pipes

  pump(port: AdversaryPort): void {
    for (let guard = 0; guard < 10_000; guard++) {
      if (port.gone || port.closed) return;
      const st = this.states.get(port)!;
      if (!this.pumpHalts(port, st) && !this.pumpCommand(port, st) && !this.pumpStatus(port, st) && !this.pumpIn(port, st)
        && !this.pumpOut(port, st) && !this.startNext(port, st)) return;
    }
    throw new Error('adversary pump did not settle');
  }

  /** A halted data pipe stalls whatever the host has posted on it, at once. */
  private pumpHalts(port: AdversaryPort, st: UasState): boolean {
    for (const pipe of ['in', 'out'] as const) {
      if (st.halted[pipe] && port.head(pipe) !== undefined) { port.stall(pipe); return true; }
    }
    return false;
  }

  private pumpCommand(port: AdversaryPort, st: UasState): boolean {
    const x = port.head('command');
    if (x === undefined || st.commandStuck) return false;
    if (st.halted.command) { port.stall('command'); return true; }
    const b = x.buf;
    if (b[0] === IU.TMF) {
      x.filled = b.length;
      port.complete('command');
      this.taskManagement(port, st, b);
      return true;
    }
    if (b[0] !== IU.COMMAND || b.length < 32) {
      this.protocol.push(`IU 0x${(b[0] ?? 0).toString(16)} of ${b.length} bytes on the command pipe`);
      st.halted.command = true;
      port.stall('command');
      return true;
    }
    const index = this.counters.commands++;
    if (this.faultsOn) {
      const f = this.plan.commands.get(index);
      if (f !== undefined) this.armed.push(f);
    }
    const unplugPhase = this.faultsOn && this.plan.unplug !== undefined && index >= this.plan.unplug.at ? this.plan.unplug.phase : undefined;
    if (unplugPhase !== undefined) this.plan.unplug = undefined;
    if (unplugPhase === 'cbw') { this.unplug(); return true; }
    const tag = b.readUInt16BE(2);
    const lunNo = b[8] === 0 ? b[9] ?? 0 : -1;
    const lun = this.luns[lunNo];
    const cdb = Buffer.from(b.subarray(16, 32));
    const fault = this.faultsOn && lun !== undefined ? this.takeFault(cdb) : undefined;
    if (!this.faultsOn && this.sabotage.deadAfterFaults === true) { st.commandStuck = true; return false; }
    if (fault === 'iu-hang') { this.count(fault); st.commandStuck = true; return true; }
    if (fault === 'iu-stall') { this.count(fault); st.halted.command = true; port.stall('command'); return true; }
    x.filled = b.length;
    port.complete('command');
    if (fault !== undefined) this.count(fault);
    if (st.tasks.has(tag) || fault === 'overlapped-tag') { this.respond(st, tag, RC.OVERLAPPED); return true; }
    if (lun === undefined) { this.respond(st, tag, RC.INCORRECT_LUN); return true; }
    if (st.tasks.size >= this.uas.queueDepth || fault === 'task-set-full') { this.sense(st, tag, 0x28, undefined); return true; }
    const task: Task = { tag, lun, cdb, fault, packets: [], outGot: 0, outLimit: 0, atEnd: 'status', status: 0, sense: undefined,
      dataIntact: false };
    if (unplugPhase !== undefined) task.atEnd = 'unplug';
    st.tasks.set(tag, task);
    st.queue.push(task);
    if (fault === 'ready-hang') st.queue.pop(); // taken, never served
    return true;
  }

  /** The first armed fault that fits this command (data faults wait for a READ or a WRITE). */
  private takeFault(cdb: Buffer): UasCommandFault | undefined {
    const op = cdb[0] ?? 0;
    const read = op === 0x28 || op === 0x88;
    const write = op === 0x2a || op === 0x8a;
    const i = this.armed.findIndex((f) => {
      const ph = UAS_COMMAND_FAULTS[f].phase;
      if (ph === 'data-in') return read;
      if (ph === 'data-out') return write;
      if (f === 'status-hang') return read;
      return op !== 0x03;
    });
    return i < 0 ? undefined : this.armed.splice(i, 1)[0];
  }

  private pumpStatus(port: AdversaryPort, st: UasState): boolean {
    const x = port.head('status');
    if (x === undefined) return false;
    if (st.halted.status) { port.stall('status'); return true; }
    const item = st.status.shift();
    if (item === undefined) return false;
    if (item.k === 'unplug') { this.unplug(); return true; }
    if (item.k === 'stall') { st.halted.status = true; port.stall('status'); return true; }
    if (item.b.length > x.buf.length) { item.b.copy(x.buf, 0, 0, x.buf.length); x.filled = x.buf.length; port.overflow('status'); return true; }
    item.b.copy(x.buf);
    x.filled = item.b.length;
    port.complete('status');
    return true;
  }

  private pumpIn(port: AdversaryPort, st: UasState): boolean {
    const t = st.running;
    const x = port.head('in');
    if (x === undefined || t === undefined || t.answer?.dir !== 'in') return false;
    if (st.halted.in) { port.stall('in'); return true; }
    const p = t.packets[0];
    if (p === undefined) { this.endData(port, st, t); return true; }
    const room = x.buf.length - x.filled;
    if (p.length > room) {
      p.copy(x.buf, x.filled, 0, room);
      x.filled += room;
      t.packets.shift();
      port.overflow('in');
      return true;
    }
    p.copy(x.buf, x.filled);
    x.filled += p.length;
    t.packets.shift();
    if (p.length < this.config.mps || x.filled === x.buf.length) port.complete('in');
    if (t.packets.length === 0) this.endData(port, st, t);
    return true;
  }

  private pumpOut(port: AdversaryPort, st: UasState): boolean {
    const t = st.running;
    const x = port.head('out');
    if (x === undefined || t === undefined || t.out === undefined || t.outGot >= t.outLimit) return false;
    if (st.halted.out) { port.stall('out'); return true; }
    const n = Math.min(x.buf.length - x.filled, t.outLimit - t.outGot);
    x.buf.copy(t.out, t.outGot, x.filled, x.filled + n);
    x.filled += n;
    t.outGot += n;
    const whole = x.filled === x.buf.length;
    if (whole) port.complete('out');
    // A data phase cut short ends inside a host transfer (the rest stays posted, NAKed, until the host takes it
    // back): cut where a transfer ends, the host would post the next segment of this command for the next WRITE.
    if (t.outGot >= t.outLimit && whole && t.atEnd === 'status' && t.outLimit < (t.out?.length ?? 0)) {
      t.outLimit = Math.min(t.out.length, t.outLimit + this.config.mps);
      return true;
    }
    if (t.outGot >= t.outLimit) this.endData(port, st, t);
    return n > 0;
  }

  // ------------------------------------------------------------------ one task at a time

  private startNext(port: AdversaryPort, st: UasState): boolean {
    if (st.running !== undefined || st.queue.length === 0) return false;
    if (st.outHeldBy !== undefined && port.head('out') !== st.outHeldBy) st.outHeldBy = undefined;
    const free = st.queue.filter((q) => !(st.inHeldBy !== undefined && movesDataIn(q.cdb)) && !(st.outHeldBy !== undefined && movesDataOut(q.cdb)));
    if (free.length === 0) return false;
    const t = free[this.rng.int(0, free.length - 1)]!;
    st.queue.splice(st.queue.indexOf(t), 1);
    st.running = t;
    // REPORT LUNS (SPC-4 §6.33): a UAS host has no Get Max LUN, it asks this (the target answers it, not a LUN).
    const a = t.cdb[0] === 0xa0 ? this.reportLuns(t.cdb) : t.lun.answer(t.cdb);
    t.answer = a;
    t.status = a.check ? 2 : 0;
    if (a.check) t.sense = this.senseBytes(t.lun.sense ?? SENSE.noSense);
    const f = t.fault;
    if (f !== undefined && (UAS_COMMAND_FAULTS[f].phase === 'scsi' || UAS_COMMAND_FAULTS[f].phase === 'sense')) this.applyCheck(t, f);
    if (f === 'wrong-ready' && a.dir === 'in') {
      this.iu(st, IU.WRITE_READY, t.tag);
      st.running = undefined; // it waits for data that never comes; only ABORT TASK or a reset ends it
      return true;
    }
    if (a.dir === 'in' && a.data !== undefined && a.data.length > 0 && !(a.check && a.rw !== undefined)) {
      this.shapeIn(t, a.data);
      this.iu(st, IU.READ_READY, t.tag);
      if (t.packets.length === 0) this.endData(port, st, t);
      return true;
    }
    if (a.dir === 'out' && !a.check) {
      const len = a.outLength ?? 0;
      t.out = Buffer.alloc(len);
      t.outLimit = len;
      // A cut leaves the rest of a posted host transfer behind (see pumpOut): a one-packet write cannot be cut, its
      // lie is the write error of out-check instead.
      if (f === 'out-cut' && len < 2 * this.config.mps) t.fault = 'out-check';
      else if (f === 'out-stall' || f === 'out-cut') {
        const k = this.rng.int(f === 'out-cut' ? this.config.mps : 0, len - 1);
        t.outLimit = k - (k % this.config.mps);
        t.atEnd = f === 'out-stall' ? 'stall' : 'status';
      }
      if (t.atEnd === 'unplug') t.outLimit = Math.floor(len / 2);
      this.iu(st, IU.WRITE_READY, t.tag);
      if (t.outLimit === 0) this.endData(port, st, t);
      return true;
    }
    this.finish(port, st, t);
    return true;
  }

  /** The data-in packets of a task, cut, stretched or corrupted by its fault. */
  private shapeIn(t: Task, full: Buffer): void {
    const f = t.fault;
    const mps = this.config.mps;
    let data = full;
    const rw = t.answer?.rw;
    const corrupt = rw !== undefined && !rw.write && f !== undefined && UAS_COMMAND_FAULTS[f].corrupts && this.rng.chance(0.75);
    if (corrupt || (this.sabotage.silentCorruption === true && f === undefined && rw !== undefined)) data = this.corrupt(t, data);
    const cutAt = (): number => { const k = this.rng.int(0, Math.max(0, data.length - 1)); return this.rng.chance(0.5) ? k - (k % mps) : k; };
    let terminate = true;
    switch (f) {
      case 'in-short': data = data.subarray(0, cutAt()); break;
      case 'in-short-check': data = data.subarray(0, cutAt()); t.status = 2; t.sense = this.senseBytes({ ...SENSE.mediumError, info: rw?.lba }); break;
      case 'in-stall': data = data.subarray(0, cutAt()); t.atEnd = 'stall'; terminate = false;
        if (this.rng.chance(0.5)) { t.status = 2; t.sense = this.senseBytes({ ...SENSE.mediumError, info: rw?.lba }); }
        break;
      case 'in-hang': data = data.subarray(0, cutAt() - (cutAt() % mps)); t.atEnd = 'hang'; terminate = false; break;
      // Babble is a packet longer than the host's transfer has room for: the last one grows past the packet size
      // (extra packets would wait, NAKed, for the next data-in transfer, another command's: no host could tell).
      case 'in-babble': data = Buffer.concat([data, this.rng.fill(Buffer.alloc(this.rng.int(1, mps)))]); terminate = false; break;
      case 'in-stall-end': t.atEnd = 'stall'; terminate = false; break;
      case 'status-hang': t.atEnd = 'hang'; break;
    }
    if (t.atEnd === 'unplug') data = data.subarray(0, data.length >> 1);
    for (let o = 0; o < data.length; o += mps) t.packets.push(data.subarray(o, Math.min(o + mps, data.length)));
    if (f === 'in-babble' && t.packets.length > 1 && data.length > full.length) {
      const tail = t.packets.pop()!;
      t.packets.push(Buffer.concat([t.packets.pop()!, tail]));
    }
    // A data phase the device ends early ends with a short packet (a zero-length one when it falls on a boundary).
    if (terminate && data.length < full.length && data.length % mps === 0) t.packets.push(Buffer.alloc(0));
  }

  /** The data phase of the running task is over: what its fault says, then the status. */
  private endData(port: AdversaryPort, st: UasState, t: Task): void {
    if (st.running !== t) return;
    if (t.atEnd === 'hang') { // never ends: ABORT TASK or a reset must
      st.running = undefined;
      if (t.answer?.dir === 'in' && t.fault === 'in-hang') st.inHeldBy = t;
      return;
    }
    if (t.atEnd === 'unplug') { st.running = undefined; this.unplug(); return; }
    if (t.atEnd === 'stall') st.halted[t.answer?.dir === 'out' ? 'out' : 'in'] = true;
    if (t.answer?.dir === 'out') {
      const rest = port.head('out');
      if (t.atEnd !== 'stall' && rest !== undefined && rest.filled > 0 && rest.filled < rest.buf.length) st.outHeldBy = rest;
      this.landWrite(t);
    }
    this.finish(port, st, t);
  }

  /** What a write puts on the medium, as its fault allows (a failing one may land in part). */
  private landWrite(t: Task): void {
    const rw = t.answer?.rw;
    if (rw === undefined || t.out === undefined) return;
    const got = Math.floor(t.outGot / BLOCK);
    const f = t.fault;
    let blocks = got;
    if (f === 'out-check') { blocks = this.rng.int(0, Math.max(0, rw.blocks - 1)); t.status = 2; t.sense = this.senseBytes({ ...SENSE.writeError, info: rw.lba + blocks }); }
    else if (f === 'out-stall') { blocks = this.rng.int(0, got); t.status = 2; t.sense = this.senseBytes({ ...SENSE.writeError, info: rw.lba }); }
    else if (f === 'out-cut') blocks = this.rng.int(0, got);
    else if (t.status === 2 && !t.dataIntact) blocks = this.rng.int(0, Math.max(0, rw.blocks - 1));
    this.land(t.lun, rw.lba, t.out, Math.min(blocks, rw.blocks));
  }

  /** The status of a task: its SENSE IU, shaped by its status-phase fault. */
  private finish(port: AdversaryPort, st: UasState, t: Task): void {
    st.running = undefined;
    const f = t.fault;
    if (f === 'status-hang' && t.answer?.dir !== 'in') return;
    if (f === 'status-spurious') {
      let other = (t.tag ^ 0x4000) || 0x4000;
      while (st.tasks.has(other)) other = (other + 1) & 0xffff || 1;
      this.sense(st, other, 0, undefined);
    }
    if (f === 'status-bad-iu') this.iu(st, 0x7e, t.tag);
    if (f === 'status-stall') st.status.push({ k: 'stall' });
    st.tasks.delete(t.tag);
    if (f === 'status-short-iu') {
      const b = Buffer.alloc(this.rng.int(4, 15));
      b[0] = IU.SENSE; b.writeUInt16BE(t.tag, 2);
      st.status.push({ k: 'iu', b });
    } else {
      this.sense(st, t.tag, t.status, t.sense, t.senseLengthField);
    }
    if (f === 'status-dup') this.sense(st, t.tag, t.status, t.sense, t.senseLengthField);
    port.kick();
  }

  private applyCheck(t: Task, f: UasCommandFault): void {
    const info = t.answer?.rw?.lba;
    const looksRecovered = fixedSense(SENSE.recovered);
    t.status = 2;
    const sense = (s: Sense): Buffer => this.senseBytes(s);
    switch (f) {
      case 'chk-hardware': t.sense = sense(SENSE.hardware); break;
      case 'chk-aborted': t.sense = sense(SENSE.aborted); break;
      case 'chk-unit-attention': t.sense = sense(SENSE.powerOnReset); break;
      case 'chk-recovered': t.sense = sense(SENSE.recovered); break;
      case 'chk-no-sense': t.sense = sense(SENSE.noSense); break;
      case 'sense-short': t.sense = looksRecovered.subarray(0, 8); break;
      case 'sense-length-over': t.sense = looksRecovered; t.senseLengthField = 252; break;
      case 'sense-bad-code': { const b = Buffer.from(looksRecovered); b[0] = 0x00; t.sense = b; break; }
      case 'sense-none': t.sense = Buffer.alloc(0); break;
      default: t.sense = sense(t.answer?.rw?.write === true ? { ...SENSE.writeError, info } : { ...SENSE.mediumError, info });
    }
    t.dataIntact = f === 'chk-recovered' || f === 'chk-no-sense';
  }

  private reportLuns(cdb: Buffer): TargetAnswer {
    const b = Buffer.alloc(8 + 8 * this.luns.length);
    b.writeUInt32BE(8 * this.luns.length, 0);
    this.luns.forEach((l) => { b[8 + 8 * l.index + 1] = l.index; });
    return { dir: 'in', data: b.subarray(0, Math.min(b.length, cdb.readUInt32BE(6))), check: false };
  }

  private senseBytes(s: Sense): Buffer { return this.config.descriptorSense ? descriptorSense(s) : fixedSense(s); }

  /** The wrong bytes a failing READ may carry (as device.ts: flips, a stale stamp, another LBA's, zeros). */
  private corrupt(t: Task, data: Buffer): Buffer {
    if (data.length < BLOCK) return data;
    const d = Buffer.from(data);
    const rw = t.answer?.rw;
    const b = this.rng.int(0, Math.floor(d.length / BLOCK) - 1);
    const view = d.subarray(b * BLOCK, (b + 1) * BLOCK);
    const mode = this.rng.int(0, 3);
    if (mode === 0 || rw === undefined) for (let i = this.rng.int(1, 8); i > 0; i--) { const at = this.rng.int(0, d.length - 1); d[at] = d[at]! ^ (1 + this.rng.int(0, 254)); }
    else if (mode === 1) stampBlock(view, t.lun.index, rw.lba + b, 0x7777);
    else if (mode === 2) stampBlock(view, t.lun.index, (rw.lba + b + 1) % t.lun.blocks, 0);
    else view.fill(0);
    this.counters.corruptedCommands++;
    return d;
  }

  // ------------------------------------------------------------------ IUs and task management

  private iu(st: UasState, id: number, tag: number): void {
    const b = Buffer.alloc(4);
    b[0] = id; b.writeUInt16BE(tag, 2);
    st.status.push({ k: 'iu', b });
  }

  private sense(st: UasState, tag: number, status: number, sense: Buffer | undefined, lengthField?: number): void {
    const n = sense?.length ?? 0;
    const b = Buffer.alloc(16 + n);
    b[0] = IU.SENSE; b.writeUInt16BE(tag, 2); b[6] = status; b.writeUInt16BE(lengthField ?? n, 14);
    sense?.copy(b, 16);
    st.status.push({ k: 'iu', b });
  }

  private respond(st: UasState, tag: number, code: number): void {
    const b = Buffer.alloc(8);
    b[0] = IU.RESPONSE; b.writeUInt16BE(tag, 2); b[7] = code;
    st.status.push({ k: 'iu', b });
  }

  private taskManagement(port: AdversaryPort, st: UasState, b: Buffer): void {
    if (b.length < 16) { this.respond(st, b.length >= 4 ? b.readUInt16BE(2) : 0, RC.INVALID); return; }
    const tag = b.readUInt16BE(2);
    const fn = b[4] ?? 0;
    const managed = b.readUInt16BE(6);
    const lun = this.luns[b[8] === 0 ? b[9] ?? 0 : -1];
    const planned = this.faultsOn ? this.plan.controls.get(this.controlIndex) : undefined;
    const at = this.faultsOn ? this.armedControls.findIndex((f) => f.startsWith('tmf-')) : -1;
    const fault = at >= 0 ? this.armedControls.splice(at, 1)[0] : planned?.startsWith('tmf-') === true ? planned : undefined;
    this.controlIndex++;
    if (fault === 'tmf-hang') { this.count(fault); return; }
    if (fault === 'tmf-refuse') { this.count(fault); this.respond(st, tag, RC.FAILED); return; }
    if (fault === 'tmf-unsupported') { this.count(fault); this.respond(st, tag, RC.NOT_SUPPORTED); return; }
    if (st.tasks.has(tag)) { this.respond(st, tag, RC.OVERLAPPED); return; }
    if (lun === undefined) { this.respond(st, tag, RC.INCORRECT_LUN); return; }
    const drop = (t: Task): void => {
      st.tasks.delete(t.tag);
      st.queue = st.queue.filter((q) => q !== t);
      if (st.running === t) st.running = undefined;
      if (st.inHeldBy === t) st.inHeldBy = undefined;
      // No status for an aborted task; an IU already queued for it stays queued (it may race the RESPONSE).
    };
    if (fn === 0x01) { // ABORT TASK
      this.counters.massStorageResets++;
      const t = st.tasks.get(managed);
      if (t !== undefined && t.lun === lun) drop(t);
      this.respond(st, tag, RC.COMPLETE);
    } else if (fn === 0x08 || (fn === 0x10 && this.uas.nexusReset)) { // LOGICAL UNIT RESET, I_T NEXUS RESET
      this.counters.massStorageResets++;
      for (const t of [...st.tasks.values()]) if (fn === 0x10 || t.lun === lun) drop(t);
      for (const l of fn === 0x10 ? this.luns : [lun]) if (this.config.uaOnReset) l.unitAttention = true;
      this.respond(st, tag, RC.COMPLETE);
    } else {
      this.respond(st, tag, RC.NOT_SUPPORTED);
    }
    port.kick();
  }
}

/** Commands that move data to the host (the conservative side: anything not known to be otherwise). */
function movesDataIn(cdb: Buffer): boolean {
  return !NO_DATA_IN.has(cdb[0] ?? 0);
}

const NO_DATA_IN = new Set([0x00, 0x1b, 0x1e, 0x2a, 0x8a, 0x35, 0x91, 0x2f, 0x8f]);
const DATA_OUT = new Set([0x2a, 0x8a, 0x2e, 0x8e, 0x55, 0x15, 0x3b]);

/** Commands that move data to the device. */
function movesDataOut(cdb: Buffer): boolean {
  return DATA_OUT.has(cdb[0] ?? 0);
}

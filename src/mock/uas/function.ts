/**
 * The device side of USB Attached SCSI at high speed (no streams): COMMAND and TASK MANAGEMENT IUs arrive on the
 * command pipe; each command joins the task set (up to the queue depth, then TASK SET FULL); one worker takes the
 * tasks in the chosen order, announces each data phase with READ READY or WRITE READY on the status pipe, moves
 * the data on the data pipe, and ends the command with a SENSE IU. Task management (ABORT TASK, LOGICAL UNIT RESET,
 * I_T NEXUS RESET when enabled, QUERY TASK) is answered with a RESPONSE IU. Faults (./faults.ts) bend this at the
 * documented points.
 *
 * Written apart from the host transport (src/uas): only the IU declarations (src/usb/wire/uas.ts) are shared.
 */
import {
  CommandIu, IU_ID, IuHeader, RESPONSE_CODE, ResponseIu, SenseIu, TaskManagementIu, TMF,
} from '../../usb/wire/uas.js';
import { logger } from '../../util/log.js';
import { DeviceAbort, type InEndpoint, type OutEndpoint } from '../endpoints.js';
import type { UasPlan, UasScsiBackend } from './backend.js';
import type { DeviceEvent, MockDeviceQuirks, MockDeviceStats, MockUasOptions } from '../types.js';
import { seededRandom } from '../faults.js';
import type { UasFault, UasFaultController } from './faults.js';

export type { UasPlan, UasScsiBackend } from './backend.js';

const log = logger('mock', 'uas');

const STATUS_GOOD = 0x00;
const STATUS_CHECK_CONDITION = 0x02;
const STATUS_TASK_SET_FULL = 0x28;
/** An IU ID no UAS revision defines (the bad-iu fault). */
const UNKNOWN_IU_ID = 0x7f;
/** Opcodes whose data goes to the device; the rest that move data send it to the host (for fault matching). */
const DATA_OUT_OPCODES = new Set([0x2a, 0x8a, 0x2e, 0x8e, 0x2f, 0x8f, 0x55, 0x15, 0x3b, 0x42, 0x93]);
const NO_DATA_OPCODES = new Set([0x00, 0x1b, 0x1e, 0x35, 0x91, 0x01]);

/** What the UAS function needs from the device it lives in. */
export interface UasDeviceCore {
  readonly statusEp: InEndpoint;
  readonly commandEp: OutEndpoint;
  readonly inEp: InEndpoint;
  readonly outEp: OutEndpoint;
  readonly scsi: UasScsiBackend;
  readonly faults: UasFaultController;
  readonly stats: MockDeviceStats;
  readonly quirks: MockDeviceQuirks;
  readonly options: MockUasOptions;
  readonly seed: number;
  record(event: DeviceEvent): void;
  /** Surprise removal, started by a fault. */
  pullPlug(): void;
}

/** One command in the task set. */
interface Task {
  readonly tag: number;
  readonly lun: number;
  readonly cdb: Buffer;
  readonly faults: readonly UasFault[];
  /** Taken out of the task set by task management: whatever it awaits ends with a DeviceAbort. */
  aborted: boolean;
  wake: ((e: DeviceAbort) => void) | undefined;
}

/** One IU waiting for the host's next status read. `stallFirst`: halt the status pipe before sending it. */
interface QueuedStatus { readonly tag: number; readonly iu: Buffer; readonly stallFirst: boolean }

const NO_FAULTS: readonly UasFault[] = [];

export class UasFunction {
  private generation = 0;
  /** The task set: every command the device holds (queued, running, or hung by a fault), by tag. */
  private readonly tasks = new Map<number, Task>();
  /** Tasks waiting for the worker. */
  private queue: Task[] = [];
  private statusQueue: QueuedStatus[] = [];
  private sending = false;
  private running: Task | undefined;
  private workerWake: (() => void) | undefined;
  private readonly plan: UasPlan = { direction: 'none', length: 0, data: Buffer.alloc(0), status: 0, sink: undefined, hang: false };
  private readonly senseScratch = Buffer.alloc(260);
  private readonly rand: () => number;
  private readonly queueDepth: number;
  private readonly tmfAnswer: number;
  /** Sleeps of the current generation (delays, hangs) that a reset must end. */
  private readonly sleepers = new Set<(e: DeviceAbort) => void>();

  constructor(private readonly dev: UasDeviceCore) {
    this.rand = seededRandom(dev.seed);
    this.queueDepth = dev.options.queueDepth ?? 32;
    this.tmfAnswer = dev.options.tmfAnswer === 'succeeded' ? RESPONSE_CODE.TMF_SUCCEEDED : RESPONSE_CODE.TMF_COMPLETE;
  }

  /** Commands in the task set. */
  get taskCount(): number { return this.tasks.size; }

  /** Start (or restart after a reset or SET_INTERFACE) taking IUs. */
  start(): void {
    const gen = ++this.generation;
    void this.commandLoop(gen);
    void this.worker(gen);
  }

  /** Stop everything: the task set, the queued status IUs, whatever the device awaited. */
  abort(why: string): void {
    this.generation += 1;
    const err = new DeviceAbort(why);
    for (const ep of [this.dev.statusEp, this.dev.inEp]) ep.abortDevice(err);
    for (const ep of [this.dev.commandEp, this.dev.outEp]) ep.abortDevice(err);
    this.tasks.clear();
    this.queue = [];
    this.statusQueue = [];
    this.sending = false;
    this.running = undefined;
    const wake = this.workerWake;
    this.workerWake = undefined;
    wake?.();
    const sleepers = [...this.sleepers];
    this.sleepers.clear();
    for (const s of sleepers) s(err);
  }

  // ------------------------------------------------------------------ the command pipe

  private async commandLoop(gen: number): Promise<void> {
    try {
      while (gen === this.generation) {
        const raw = await this.dev.commandEp.take(512, true);
        if (gen !== this.generation) return;
        const iu = Buffer.from(raw); // the host's buffer is only lent until the next await
        const id = iu[0];
        if (id === IU_ID.COMMAND) this.command(iu);
        else if (id === IU_ID.TASK_MANAGEMENT) { this.dev.commandEp.commitHeld(); this.taskManagement(iu); }
        else {
          // An IU the device does not know: refused by halting the command pipe (what QEMU's usb-uas does).
          log('unknown IU 0x%s on the command pipe: stall', (id ?? 0).toString(16));
          this.stallPipe('command');
        }
      }
    } catch (e) {
      if (e instanceof DeviceAbort) return;
      log('command pipe failure: %O', e);
    }
  }

  private command(iu: Buffer): void {
    const { dev } = this;
    if (iu.length < CommandIu.span) {
      dev.commandEp.commitHeld();
      this.respond(iu.length >= 4 ? iu.readUInt16BE(2) : 0, RESPONSE_CODE.INVALID_IU);
      return;
    }
    const c = CommandIu.decode(iu);
    const lun = decodeLun(c.lun);
    const opcode = c.cdb[0] ?? 0;
    const faults = dev.faults.take({ opcode, lun: lun ?? 0, direction: intentOf(opcode) });
    const taskFaults = faults.length === 0 ? NO_FAULTS : [...faults];
    if (taskFaults.some((f) => f.kind === 'stall' && f.pipe === 'command')) {
      this.noteFault('stall', c.tag);
      this.stallPipe('command'); // the held IU is refused: the host's transfer stalls, nothing is queued
      return;
    }
    dev.commandEp.commitHeld();
    dev.stats.uas.commands += 1;
    dev.record({ type: 'uas-command', tag: c.tag, lun: lun ?? -1, opcode });
    if (taskFaults.some((f) => f.kind === 'disconnect' && f.phase === 'command')) {
      this.noteFault('disconnect', c.tag);
      this.unplug();
    }
    if (this.tasks.has(c.tag) || taskFaults.some((f) => f.kind === 'overlapped-tag')) {
      if (!this.tasks.has(c.tag)) this.noteFault('overlapped-tag', c.tag);
      this.respond(c.tag, RESPONSE_CODE.OVERLAPPED_TAG);
      return;
    }
    if (c.additionalCdbLength !== 0) { this.respond(c.tag, RESPONSE_CODE.INVALID_IU); return; }
    if (lun === undefined || lun > dev.scsi.maxLun) { this.respond(c.tag, RESPONSE_CODE.INCORRECT_LUN); return; }
    if (this.tasks.size >= this.queueDepth || taskFaults.some((f) => f.kind === 'task-set-full')) {
      if (this.tasks.size < this.queueDepth) this.noteFault('task-set-full', c.tag);
      this.queueSense(c.tag, STATUS_TASK_SET_FULL, 0, undefined, false);
      return;
    }
    const task: Task = { tag: c.tag, lun, cdb: Buffer.from(c.cdb), faults: taskFaults, aborted: false, wake: undefined };
    this.tasks.set(c.tag, task);
    dev.stats.uas.maxTasks = Math.max(dev.stats.uas.maxTasks, this.tasks.size);
    this.queue.push(task);
    const wake = this.workerWake;
    this.workerWake = undefined;
    wake?.();
  }

  private taskManagement(iu: Buffer): void {
    const { dev } = this;
    if (iu.length < TaskManagementIu.span) {
      this.respond(iu.length >= 4 ? iu.readUInt16BE(2) : 0, RESPONSE_CODE.INVALID_IU);
      return;
    }
    const t = TaskManagementIu.decode(iu);
    const lun = decodeLun(t.lun);
    dev.stats.uas.tmfs += 1;
    dev.record({ type: 'uas-tmf', tag: t.tag, fn: t.function, managedTag: t.managedTag, lun: lun ?? -1 });
    if (this.tasks.has(t.tag)) { this.respond(t.tag, RESPONSE_CODE.OVERLAPPED_TAG); return; }
    const fault = dev.faults.takeTmf(t.function);
    if (fault?.kind === 'tmf-no-response') { this.noteFault('tmf-no-response', t.tag); return; }
    if (fault?.kind === 'tmf-refuse') { this.noteFault('tmf-refuse', t.tag); this.respond(t.tag, fault.code); return; }
    if (lun === undefined || lun > dev.scsi.maxLun) { this.respond(t.tag, RESPONSE_CODE.INCORRECT_LUN); return; }
    switch (t.function) {
      case TMF.ABORT_TASK: {
        const task = this.tasks.get(t.managedTag);
        if (task !== undefined && task.lun === lun) this.abortTask(task, 'ABORT TASK');
        this.respond(t.tag, this.tmfAnswer);
        return;
      }
      case TMF.ABORT_TASK_SET:
      case TMF.CLEAR_TASK_SET:
        this.abortLun(lun, 'ABORT TASK SET');
        this.respond(t.tag, this.tmfAnswer);
        return;
      case TMF.LOGICAL_UNIT_RESET:
        this.abortLun(lun, 'LOGICAL UNIT RESET');
        dev.scsi.resetLun(lun);
        this.respond(t.tag, this.tmfAnswer);
        return;
      case TMF.I_T_NEXUS_RESET:
        if (dev.options.itNexusReset !== true) break;
        for (let n = 0; n <= dev.scsi.maxLun; n++) { this.abortLun(n, 'I_T NEXUS RESET'); dev.scsi.resetLun(n); }
        this.respond(t.tag, this.tmfAnswer);
        return;
      case TMF.QUERY_TASK:
        this.respond(t.tag, this.tasks.has(t.managedTag) ? RESPONSE_CODE.TMF_SUCCEEDED : RESPONSE_CODE.TMF_COMPLETE);
        return;
    }
    this.respond(t.tag, RESPONSE_CODE.TMF_NOT_SUPPORTED);
  }

  private abortLun(lun: number, why: string): void {
    for (const task of [...this.tasks.values()]) if (task.lun === lun) this.abortTask(task, why);
  }

  /** Take a task out of the task set: no status is sent for it, and whatever it awaits ends now. */
  private abortTask(task: Task, why: string): void {
    this.tasks.delete(task.tag);
    this.queue = this.queue.filter((t) => t !== task);
    this.statusQueue = this.statusQueue.filter((s) => s.tag !== task.tag || s.iu[0] === IU_ID.RESPONSE);
    task.aborted = true;
    this.dev.record({ type: 'uas-aborted', tag: task.tag, why });
    if (this.running === task) {
      const err = new DeviceAbort(why);
      // Only the running task uses the data pipes: what it was sending or receiving stops where it is.
      this.dev.inEp.abortDevice(err);
      this.dev.outEp.abortDevice(err);
    }
    const wake = task.wake;
    task.wake = undefined;
    wake?.(new DeviceAbort(why));
  }

  // ------------------------------------------------------------------ the worker

  private async worker(gen: number): Promise<void> {
    while (gen === this.generation) {
      const task = this.next();
      if (task === undefined) {
        await new Promise<void>((resolve) => { this.workerWake = resolve; });
        continue;
      }
      this.running = task;
      try {
        await this.run(task, gen);
      } catch (e) {
        if (!(e instanceof DeviceAbort)) {
          // A bug or a media failure inside the device: it stops answering this command, as a wedged bridge would.
          log('device failure on tag %d: %O', task.tag, e);
        } else if (gen !== this.generation) {
          return;
        }
      } finally {
        if (this.running === task) this.running = undefined;
      }
    }
  }

  /** The next task to serve, in the configured order (UAS names the tag in READY, so any order is legal). */
  private next(): Task | undefined {
    if (this.queue.length === 0) return undefined;
    switch (this.dev.options.order ?? 'fifo') {
      case 'fifo': return this.queue.shift();
      case 'lifo': return this.queue.pop();
      case 'random': return this.queue.splice(Math.floor(this.rand() * this.queue.length), 1)[0];
    }
  }

  private async run(task: Task, gen: number): Promise<void> {
    const { dev, plan } = this;
    const f = task.faults;
    const has = (kind: UasFault['kind']): UasFault | undefined => f.find((x) => x.kind === kind);
    if (dev.quirks.commandDelayMs) await this.sleep(dev.quirks.commandDelayMs, task);
    dev.scsi.execute(task.lun, task.cdb, plan);
    let status = plan.status;
    if (plan.direction !== 'none' && plan.length > 0) {
      if (has('no-ready') !== undefined) { this.noteFault('no-ready', task.tag); await this.sleep(Infinity, task); }
      const delay = f.find((x) => x.kind === 'delay' && x.phase === 'ready');
      if (delay?.kind === 'delay') { this.noteFault('delay', task.tag); await this.sleep(delay.ms, task); }
      const wrong = has('wrong-ready') !== undefined;
      if (wrong) this.noteFault('wrong-ready', task.tag);
      const announce = (plan.direction === 'in') !== wrong ? 'in' : 'out';
      this.queueReady(task.tag, announce);
      if (plan.direction === 'in') await this.sendData(task, plan.data);
      else if (await this.receiveData(task, plan.length, plan.status)) status = STATUS_CHECK_CONDITION;
    }
    if (gen !== this.generation || task.aborted) return;
    if (plan.hang) { this.noteFault('no-status', task.tag); await this.sleep(Infinity, task); }
    const senseLength = status === STATUS_CHECK_CONDITION ? dev.scsi.takeSense(task.lun, this.senseScratch) : 0;
    await this.statusPhase(task, status, senseLength);
  }

  /** Data-in: the device's data, cut or stretched by the faults; a stall fault halts the pipe after `afterBytes`. */
  private async sendData(task: Task, data: Buffer): Promise<void> {
    const { dev } = this;
    let out = data;
    let stallAfter = false;
    for (const f of task.faults) {
      if (f.kind === 'short-data') { this.noteFault('short-data', task.tag); out = out.subarray(0, Math.min(out.length, f.bytes)); }
      if (f.kind === 'stall' && f.pipe === 'data') {
        this.noteFault('stall', task.tag);
        out = out.subarray(0, Math.min(out.length, f.afterBytes ?? 0));
        stallAfter = true;
      }
      if (f.kind === 'babble') {
        this.noteFault('babble', task.tag);
        const stretched = Buffer.alloc(out.length + f.extraBytes);
        out.copy(stretched);
        out = stretched;
      }
    }
    const unplug = task.faults.some((f) => f.kind === 'disconnect' && f.phase === 'data');
    if (unplug) out = out.subarray(0, out.length >> 1);
    await dev.inEp.send(out);
    if (unplug) { this.noteFault('disconnect', task.tag); this.unplug(); }
    if (stallAfter) { this.stallPipe('in'); return; }
    dev.inEp.endTransfer();
  }

  /** Data-out of `length` bytes into the plan's sink; resolves true when the command failed (CHECK CONDITION). */
  private async receiveData(task: Task, length: number, planStatus: number): Promise<boolean> {
    const { dev, plan } = this;
    const sink = plan.sink;
    let limit = length;
    let stallAfter = false;
    for (const f of task.faults) {
      if (f.kind === 'stall' && f.pipe === 'data') { this.noteFault('stall', task.tag); limit = Math.min(limit, f.afterBytes ?? 0); stallAfter = true; }
    }
    const unplug = task.faults.some((f) => f.kind === 'disconnect' && f.phase === 'data');
    if (unplug) limit = Math.min(limit, length >> 1);
    let accepted = 0;
    let hostEnded = false;
    while (accepted < limit && !hostEnded) {
      const view = await dev.outEp.take(limit - accepted);
      const useful = Math.min(view.length, limit - accepted);
      if (useful > 0) sink?.accept(accepted, view.subarray(0, useful));
      accepted += useful;
      hostEnded = dev.outEp.lastShort;
    }
    if (unplug) { this.noteFault('disconnect', task.tag); this.unplug(); }
    if (stallAfter) this.stallPipe('out');
    const failed = planStatus !== STATUS_GOOD || (sink !== undefined && sink.finish(accepted) === 1);
    // Data the device did not get is data it did not write: a command whose data phase ended early fails.
    if (accepted < length && !failed) {
      dev.scsi.writeCut(task.lun);
      return true;
    }
    return failed;
  }

  private async statusPhase(task: Task, status: number, senseLength: number): Promise<void> {
    const f = task.faults;
    for (const x of f) {
      if (x.kind === 'delay' && x.phase === 'status') { this.noteFault('delay', task.tag); await this.sleep(x.ms, task); }
    }
    if (f.some((x) => x.kind === 'no-status')) { this.noteFault('no-status', task.tag); await this.sleep(Infinity, task); }
    if (f.some((x) => x.kind === 'disconnect' && x.phase === 'status')) { this.noteFault('disconnect', task.tag); this.unplug(); }
    if (f.some((x) => x.kind === 'spurious-iu')) {
      this.noteFault('spurious-iu', task.tag);
      let stranger = (task.tag ^ 0x5a5a) & 0xffff || 0x5a5a;
      while (this.tasks.has(stranger)) stranger = (stranger + 1) & 0xffff || 1;
      this.queueSense(stranger, STATUS_GOOD, 0, undefined, false);
    }
    if (f.some((x) => x.kind === 'bad-iu')) {
      this.noteFault('bad-iu', task.tag);
      const bad = Buffer.alloc(16);
      IuHeader.encode({ iuId: UNKNOWN_IU_ID, reserved: 0, tag: task.tag }, bad);
      this.queueStatus({ tag: task.tag, iu: bad, stallFirst: false });
    }
    const lengthFault = f.find((x) => x.kind === 'sense-length');
    if (lengthFault?.kind === 'sense-length') this.noteFault('sense-length', task.tag);
    const stall = f.some((x) => x.kind === 'stall' && x.pipe === 'status');
    if (stall) this.noteFault('stall', task.tag);
    this.tasks.delete(task.tag);
    const sense = this.senseScratch.subarray(0, senseLength);
    this.queueSense(task.tag, status, senseLength, sense, stall,
      lengthFault?.kind === 'sense-length' ? lengthFault.length : undefined);
    if (f.some((x) => x.kind === 'duplicate-status')) {
      this.noteFault('duplicate-status', task.tag);
      this.queueSense(task.tag, status, senseLength, sense, false);
    }
  }

  // ------------------------------------------------------------------ the status pipe

  private queueReady(tag: number, direction: 'in' | 'out'): void {
    const iu = Buffer.alloc(IuHeader.span);
    IuHeader.encode({ iuId: direction === 'in' ? IU_ID.READ_READY : IU_ID.WRITE_READY, reserved: 0, tag }, iu);
    this.dev.stats.uas.readies += 1;
    this.dev.record({ type: 'uas-ready', tag, direction });
    this.queueStatus({ tag, iu, stallFirst: false });
  }

  private queueSense(tag: number, status: number, senseLength: number, sense: Buffer | undefined, stallFirst: boolean,
    lengthField = senseLength): void {
    const iu = Buffer.alloc(SenseIu.span + senseLength);
    SenseIu.encode({ iuId: IU_ID.SENSE, reserved: 0, tag, statusQualifier: 0, status, reserved2: Buffer.alloc(7),
      senseLength: lengthField }, iu);
    sense?.copy(iu, SenseIu.span);
    this.dev.stats.uas.senses += 1;
    this.dev.record({ type: 'uas-sense', tag, status, senseLength });
    this.queueStatus({ tag, iu, stallFirst });
  }

  private respond(tag: number, code: number): void {
    const iu = Buffer.alloc(ResponseIu.span);
    ResponseIu.encode({ iuId: IU_ID.RESPONSE, reserved: 0, tag, additionalInfo: 0, responseCode: code }, iu);
    this.dev.stats.uas.responses += 1;
    this.dev.record({ type: 'uas-response', tag, code });
    this.queueStatus({ tag, iu, stallFirst: false });
  }

  private queueStatus(s: QueuedStatus): void {
    this.statusQueue.push(s);
    if (!this.sending) void this.pumpStatus(this.generation);
  }

  /** One IU at a time into the host's status reads, in the order they were queued. */
  private async pumpStatus(gen: number): Promise<void> {
    this.sending = true;
    try {
      for (let s = this.statusQueue.shift(); s !== undefined && gen === this.generation; s = this.statusQueue.shift()) {
        if (s.stallFirst) {
          this.stallPipe('status');
          await this.dev.statusEp.untilCleared();
        }
        await this.dev.statusEp.send(s.iu);
      }
    } catch (e) {
      if (!(e instanceof DeviceAbort)) log('status pipe failure: %O', e);
    } finally {
      if (gen === this.generation) this.sending = false;
    }
  }

  // ------------------------------------------------------------------ helpers

  private stallPipe(pipe: 'in' | 'out' | 'status' | 'command'): void {
    const ep = pipe === 'in' ? this.dev.inEp : pipe === 'out' ? this.dev.outEp : pipe === 'status' ? this.dev.statusEp : this.dev.commandEp;
    ep.stall();
    this.dev.stats.stalls[pipe] += 1;
    this.dev.record({ type: 'stall', pipe });
  }

  private sleep(ms: number, task: Task): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = (e: DeviceAbort): void => { clearTimeout(timer); this.sleepers.delete(wake); reject(e); };
      const timer = ms === Infinity ? undefined : setTimeout(() => { this.sleepers.delete(wake); task.wake = undefined; resolve(); }, ms);
      this.sleepers.add(wake);
      task.wake = wake;
    });
  }

  private unplug(): never {
    this.dev.pullPlug();
    throw new DeviceAbort('disconnect fault');
  }

  private noteFault(kind: string, tag: number): void {
    this.dev.record({ type: 'uas-fault', kind, tag });
  }
}

/** The 8-byte SAM LUN: single-level peripheral (byte 0 = 0) or flat (01b in bits 7:6) addressing; else undefined. */
function decodeLun(lun: Uint8Array): number | undefined {
  for (let i = 2; i < 8; i++) if (lun[i] !== 0) return undefined;
  const b0 = lun[0] ?? 0;
  const b1 = lun[1] ?? 0;
  if (b0 === 0) return b1;
  if ((b0 & 0xc0) === 0x40) return ((b0 & 0x3f) << 8) | b1;
  return undefined;
}

/** The direction a command's data usually goes (fault applicability only; the target decides the real one). */
function intentOf(opcode: number): 'none' | 'in' | 'out' {
  if (NO_DATA_OPCODES.has(opcode)) return 'none';
  return DATA_OUT_OPCODES.has(opcode) ? 'out' : 'in';
}

/**
 * The device side of USB Mass Storage Bulk-Only Transport 1.0: read a CBW, check it is valid and meaningful,
 * compare the host's expectation with the device's intent (the thirteen cases of BOT §6.7), move the data,
 * send the CSW. Faults and quirks bend this at the documented points.
 */
// Only the wire declarations are shared with the host engine; this device's logic is its own.
import {
  CBW_FLAG_DATA_IN, CBW_LENGTH, CBW_OFFSET, CBW_SIGNATURE, CSW_OFFSET, CSW_SIGNATURE, CSW_STATUS,
} from '../usb/wire/bot.js';
import { logger } from '../util/log.js';
import { DeviceAbort, type InEndpoint, type OutEndpoint } from './endpoints.js';
import type { FaultController } from './faults.js';
import type { MockLun } from './lun.js';
import type { CommandPlan, OutSink, ScsiTarget } from './scsi-target.js';
import { CSW_LENGTH, applyPick, botCase, freshPicks, type Picks } from './bot-picks.js';
import type { DeviceEvent, Fault, MockDeviceQuirks, MockDeviceStats } from './types.js';
import { UsbmsInternalError } from '../util/errors.js';

const log = logger('mock', 'bot');

const STATUS_PHASE_ERROR = CSW_STATUS.PHASE_ERROR;
/** Opcodes whose transfer length the max-sectors quirk looks at: READ/WRITE/VERIFY (10) and (16). */
const BLOCK_OPCODES = new Set([0x28, 0x2a, 0x2f, 0x88, 0x8a]);

/** What the BOT function needs from the device it lives in. */
export interface BotDeviceCore {
  readonly inEp: InEndpoint;
  readonly outEp: OutEndpoint;
  readonly target: ScsiTarget;
  readonly faults: FaultController;
  readonly stats: MockDeviceStats;
  readonly quirks: MockDeviceQuirks;
  readonly shortDataPolicy: 'stall' | 'pad';
  /** Highest LUN number Get Max LUN reports. */
  readonly maxLun: number;
  lunAt(n: number): MockLun | undefined;
  record(event: DeviceEvent): void;
  /** Surprise removal, started by a fault. */
  pullPlug(): void;
}

export class BulkOnlyFunction {
  private generation = 0;
  /** An invalid CBW was seen: halts stay until a Bulk-Only Mass Storage Reset (BOT §6.6.1). */
  needsResetRecovery = false;
  private readonly cbwView = Buffer.alloc(CBW_LENGTH);
  private readonly csw = Buffer.alloc(64);
  private readonly plan: CommandPlan = { direction: 'none', length: 0, data: Buffer.alloc(0), status: 0, sink: undefined };
  private readonly picks: Picks = freshPicks();
  private readonly sleepers = new Set<(e: DeviceAbort) => void>();

  constructor(private readonly dev: BotDeviceCore) {}

  /** Start (or restart after a reset) waiting for a CBW. */
  start(): void {
    const gen = ++this.generation;
    void this.loop(gen);
  }

  /** Stop whatever command is in progress; nothing the device awaited will complete. */
  abort(why: string): void {
    this.generation += 1;
    const err = new DeviceAbort(why);
    this.dev.inEp.abortDevice(err);
    this.dev.outEp.abortDevice(err);
    const sleepers = [...this.sleepers];
    this.sleepers.clear();
    for (const wake of sleepers) wake(err);
  }

  private async loop(gen: number): Promise<void> {
    try {
      while (gen === this.generation) await this.command();
    } catch (e) {
      if (e instanceof DeviceAbort) return;
      // A bug or a media failure inside the device: behave like a wedged device (stall both, wait for reset).
      log('device failure: %O', e);
      this.stallBoth();
      this.needsResetRecovery = true;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = (e: DeviceAbort): void => { clearTimeout(timer); reject(e); };
      const timer = ms === Infinity ? undefined : setTimeout(() => { this.sleepers.delete(wake); resolve(); }, ms);
      this.sleepers.add(wake);
    });
  }

  private stallBoth(): void {
    this.stall('in');
    this.stall('out');
  }

  private stall(pipe: 'in' | 'out'): void {
    (pipe === 'in' ? this.dev.inEp : this.dev.outEp).stall();
    this.dev.stats.stalls[pipe] += 1;
    this.dev.record({ type: 'stall', pipe });
  }

  private async command(): Promise<void> {
    const { dev } = this;
    const raw = await dev.outEp.take(64, true);
    dev.stats.cbws += 1;
    if (raw.length !== CBW_LENGTH || raw.readUInt32LE(CBW_OFFSET.signature) !== CBW_SIGNATURE) {
      dev.outEp.commitHeld();
      dev.stats.invalidCbws += 1;
      dev.record({ type: 'invalid-cbw', length: raw.length });
      this.stallBoth();
      this.needsResetRecovery = true;
      return;
    }
    raw.copy(this.cbwView);
    const cbw = this.cbwView;
    const tag = cbw.readUInt32LE(CBW_OFFSET.tag);
    const expected = cbw.readUInt32LE(CBW_OFFSET.dataTransferLength);
    const flags = cbw[CBW_OFFSET.flags] ?? 0;
    const lunNumber = cbw[CBW_OFFSET.lun] ?? 0;
    const cbLength = cbw[CBW_OFFSET.cbLength] ?? 0;
    const hostDir = flags & CBW_FLAG_DATA_IN ? 'in' : 'out';
    const cdb = cbw.subarray(CBW_OFFSET.cb, CBW_LENGTH);
    const opcode = cdb[0] ?? 0;
    const picks = this.pick(opcode, lunNumber, expected, hostDir);
    if (picks.stallCbw) {
      dev.record({ type: 'fault', kind: 'stall', tag });
      this.stall('out'); // the CBW itself is refused
      return;
    }
    if (picks.cbwHang) {
      // The CBW is never taken (NAKed until the host gives up); only a reset gets the device going again.
      dev.record({ type: 'fault', kind: 'no-response', tag });
      await this.sleep(Infinity);
    }
    dev.outEp.commitHeld();
    dev.record({ type: 'cbw', tag, lun: lunNumber, opcode, length: expected, direction: hostDir });
    const wedge = dev.faults.wedge.onCommand(lunNumber, cdb);
    if (wedge === 'drop') { this.noteFault(tag, 'disconnect'); this.unplug(); }
    if (wedge === 'hang') { this.noteFault(tag, 'no-response'); await this.sleep(Infinity); }

    const reason = (flags & 0x7f) !== 0 ? 'reserved flag bits set'
      : lunNumber > dev.maxLun ? `LUN ${lunNumber} > max LUN ${dev.maxLun}`
      : cbLength < 1 || cbLength > 16 ? `CBWCBLength ${cbLength}` : undefined;
    const plan = this.plan;
    let forcePhaseError = false;
    if (reason !== undefined) {
      dev.record({ type: 'not-meaningful-cbw', tag, reason });
      forcePhaseError = true;
    } else if (picks.phaseError) {
      this.noteFault(tag, 'phase-error');
      forcePhaseError = true;
    } else {
      if (dev.quirks.commandDelayMs) await this.sleep(dev.quirks.commandDelayMs);
      forcePhaseError = this.quirkRefuses(cdb);
    }
    if (forcePhaseError) {
      plan.direction = 'none'; plan.length = 0; plan.status = 0; plan.sink = undefined;
    } else {
      const lun = dev.lunAt(lunNumber);
      if (lun === undefined) throw new UsbmsInternalError(`no LUN object for meaningful LUN ${lunNumber}`);
      dev.target.execute(lun, lunNumber, cdb, plan);
      if (picks.noSenseCorrupt && plan.status === 0 && plan.direction !== 'none') this.falseCheck(tag, plan);
    }
    const result = await this.dataPhase(tag, expected, hostDir, plan, forcePhaseError);
    await this.statusPhase(tag, expected, result.status, result.residue, result.caseNumber);
  }

  /**
   * The no-sense-corrupt fault: CHECK CONDITION whose sense stays NO SENSE 00/00 (the target cleared it when the
   * command began), and the data corrupted in the same command: a READ's bytes before they are sent, a WRITE's
   * before they are stored.
   */
  private falseCheck(tag: number, plan: CommandPlan): void {
    this.noteFault(tag, 'no-sense-corrupt');
    plan.status = 1;
    if (plan.direction === 'in') { invert(plan.data); return; }
    const sink = plan.sink;
    if (sink === undefined) return;
    // A copy: the chunk is a view of the host's own buffer, which the host may send again.
    plan.sink = {
      accept: (offset, chunk) => { sink.accept(offset, invert(Buffer.from(chunk))); },
      finish: (received) => { sink.finish(received); return 1; },
    };
  }

  /** max-sectors and no-read-capacity-16 devices: stall the data pipe and answer phase error. */
  private quirkRefuses(cdb: Buffer): boolean {
    const q = this.dev.quirks;
    const op = cdb[0] ?? 0;
    if (q.noReadCapacity16 && op === 0x9e && ((cdb[1] ?? 0) & 0x1f) === 0x10) return true;
    if (q.maxSectors !== undefined && BLOCK_OPCODES.has(op)) {
      const blocks = op >= 0x80 ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7);
      return blocks > q.maxSectors;
    }
    return false;
  }

  private pick(opcode: number, lun: number, expected: number, direction: 'in' | 'out'): Picks {
    const p = Object.assign(this.picks, freshPicks());
    for (const f of this.dev.faults.takeCommandFaults({ opcode, lun, expected, direction })) applyPick(p, f);
    return p;
  }

  private async dataPhase(tag: number, expected: number, hostDir: 'in' | 'out', plan: CommandPlan, phaseError: boolean):
    Promise<{ status: number; residue: number; caseNumber: number }> {
    const p = this.picks;
    const intent = phaseError ? 'none' : plan.direction;
    const caseNumber = botCase(expected, hostDir, intent, plan.length);
    if (expected > 0 && (p.dataDelay > 0 || p.dataHang || p.dataDisconnect !== undefined)) {
      this.noteFault(tag, p.dataHang ? 'no-response' : p.dataDelay > 0 ? 'delay' : 'disconnect');
      if (p.dataDelay > 0) await this.sleep(p.dataDelay);
      if (p.dataHang) await this.sleep(Infinity);
    }
    if (phaseError) {
      if (expected > 0) this.stall(hostDir);
      return { status: STATUS_PHASE_ERROR, residue: expected, caseNumber };
    }
    switch (caseNumber) {
      case 1: case 6: case 12: case 4: case 5: case 9: case 11: break;
      case 2: case 3: return { status: STATUS_PHASE_ERROR, residue: 0, caseNumber };
      case 8: this.stall('in'); return { status: STATUS_PHASE_ERROR, residue: expected, caseNumber };
      case 10: this.stall('out'); return { status: STATUS_PHASE_ERROR, residue: expected, caseNumber };
      case 7: await this.sendIn(tag, plan.data.subarray(0, expected), expected); return { status: STATUS_PHASE_ERROR, residue: 0, caseNumber };
      case 13: await this.receiveOut(tag, expected, expected, plan.sink); return { status: STATUS_PHASE_ERROR, residue: 0, caseNumber };
    }
    if (expected === 0) return { status: plan.status, residue: 0, caseNumber };
    const intended = plan.direction === 'none' ? 0 : plan.length;
    if (hostDir === 'in') {
      const moved = await this.sendIn(tag, plan.data.subarray(0, intended), expected);
      return { status: plan.status, residue: expected - moved, caseNumber };
    }
    const processed = await this.receiveOut(tag, expected, intended, plan.sink);
    const status = plan.sink !== undefined ? plan.sink.finish(processed) : plan.status;
    return { status: plan.status === 1 ? 1 : status, residue: expected - processed, caseNumber };
  }

  /** Data-in: send what the device has; if that is less than expected, stall (or pad). Returns useful bytes. */
  private async sendIn(tag: number, data: Buffer, expected: number): Promise<number> {
    const p = this.picks;
    const scratch = this.dev.target.scratch;
    let useful = data.length;
    if (p.babble > 0) {
      this.noteFault(tag, 'babble');
      const total = expected + p.babble;
      const buf = scratch.get(total, useful);
      buf.fill(0, useful, total);
      await this.dev.inEp.send(buf.subarray(0, total));
      return useful;
    }
    let stallAfter = useful < expected && this.dev.shortDataPolicy === 'stall';
    if (p.shortData !== undefined) { this.noteFault(tag, 'short-data'); useful = Math.min(useful, p.shortData); stallAfter = false; }
    if (p.dataStall !== undefined) { this.noteFault(tag, 'stall'); useful = Math.min(useful, p.dataStall); stallAfter = true; }
    if (p.dataDisconnect !== undefined) useful = Math.min(useful, p.dataDisconnect);
    let out = data.subarray(0, useful);
    if (useful < expected && !stallAfter && p.shortData === undefined && p.dataDisconnect === undefined) {
      const buf = scratch.get(expected, useful); // pad policy: zeros up to the expected length
      buf.fill(0, useful, expected);
      out = buf.subarray(0, expected);
    }
    await this.dev.inEp.send(out);
    if (p.dataDisconnect !== undefined) this.unplug();
    if (stallAfter) this.stall('in');
    return useful;
  }

  /**
   * Data-out: accept `intended` bytes into the sink (stopping early on a short packet), then stall or swallow
   * the rest up to `expected`. Returns the bytes processed.
   */
  private async receiveOut(tag: number, expected: number, intended: number, sink: OutSink | undefined): Promise<number> {
    const p = this.picks;
    let limit = intended;
    let stallAfter = intended < expected && this.dev.shortDataPolicy === 'stall';
    if (p.shortData !== undefined) { this.noteFault(tag, 'short-data'); limit = Math.min(limit, p.shortData); stallAfter = false; }
    if (p.dataStall !== undefined) { this.noteFault(tag, 'stall'); limit = Math.min(limit, p.dataStall); stallAfter = true; }
    if (p.dataDisconnect !== undefined) limit = Math.min(limit, p.dataDisconnect);
    let processed = 0;
    let accepted = 0;
    let hostEnded = false; // a short packet: the host has nothing more for this command
    while (accepted < limit && !hostEnded) {
      const view = await this.dev.outEp.take(limit - accepted);
      const useful = Math.min(view.length, limit - processed);
      if (useful > 0) sink?.accept(processed, view.subarray(0, useful));
      processed += useful;
      accepted += view.length;
      hostEnded = this.dev.outEp.lastShort;
    }
    if (p.dataDisconnect !== undefined) this.unplug();
    if (stallAfter) { this.stall('out'); return processed; }
    // Pad policy (cases 9/11): take and discard the rest. A short-data fault deliberately leaves it unread.
    while (p.shortData === undefined && accepted < expected && !hostEnded) {
      const view = await this.dev.outEp.take(expected - accepted);
      accepted += view.length;
      hostEnded = this.dev.outEp.lastShort;
    }
    return processed;
  }

  private unplug(): never {
    this.dev.pullPlug();
    throw new DeviceAbort('disconnect fault');
  }

  private noteFault(tag: number, kind: Fault['kind']): void {
    this.dev.record({ type: 'fault', kind, tag });
  }

  private async statusPhase(tag: number, expected: number, status: number, residue: number, caseNumber: number): Promise<void> {
    const { dev, picks: p } = this;
    if (p.cswDelay > 0) { this.noteFault(tag, 'delay'); await this.sleep(p.cswDelay); }
    if (p.cswHang) { this.noteFault(tag, 'no-response'); await this.sleep(Infinity); }
    if (p.cswDisconnect) { this.noteFault(tag, 'disconnect'); this.unplug(); }
    if (p.lostCsw) { this.noteFault(tag, 'lost-csw'); return; }
    if (p.cswStall) {
      this.noteFault(tag, 'stall');
      this.stall('in');
      await dev.inEp.untilCleared(); // BOT §6.7.2: after the host clears the halt it reads the CSW again
    }
    let wireResidue = residue;
    if (dev.quirks.residue === 'zero') wireResidue = 0;
    if (dev.quirks.residue === 'garbage') wireResidue = expected;
    if (p.cswResidue !== undefined) { this.noteFault(tag, 'csw-residue'); wireResidue = p.cswResidue; }
    const wireStatus = p.cswStatus ?? status;
    // A csw-length fault longer than the usual buffer gets its own (fault path only).
    const csw = p.cswLength <= this.csw.length ? this.csw : Buffer.alloc(p.cswLength);
    csw.fill(0);
    csw.writeUInt32LE(p.cswSignature ? 0x55534253 : CSW_SIGNATURE, CSW_OFFSET.signature);
    csw.writeUInt32LE(p.cswTag ? (tag ^ 0xffffffff) >>> 0 : tag, CSW_OFFSET.tag);
    csw.writeUInt32LE(wireResidue >>> 0, CSW_OFFSET.dataResidue);
    csw[CSW_OFFSET.status] = wireStatus & 0xff;
    if (p.cswSignature) this.noteFault(tag, 'csw-signature');
    if (p.cswTag) this.noteFault(tag, 'csw-tag');
    if (p.cswStatus !== undefined) this.noteFault(tag, 'csw-status');
    if (p.cswLength !== CSW_LENGTH) this.noteFault(tag, 'csw-length');
    dev.stats.csws += 1;
    if (status === STATUS_PHASE_ERROR) dev.stats.phaseErrors += 1;
    dev.record({ type: 'csw', tag, status: wireStatus, residue: wireResidue, case: caseNumber });
    await dev.inEp.send(csw.subarray(0, p.cswLength));
  }
}

/** Flip every bit (fault path only). */
function invert(b: Buffer): Buffer {
  for (let i = 0; i < b.length; i++) b[i] = ~(b[i] ?? 0) & 0xff;
  return b;
}

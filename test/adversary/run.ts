/**
 * Runs one schedule against the host and classifies what went wrong. The device is the ground truth: its
 * medium history says what a READ may have returned, its coverage table which writes may touch a block.
 *
 * Violation classes: HANG (an operation that does not settle within the schedule's bound), CORRUPT (data
 * resolved as good that is not what the medium held, or a write resolved as good that is not on the medium),
 * CRASH (an error that is none of the project's error classes, an unhandled rejection or an uncaught
 * exception), STUCK (with the faults off, a healthy command still fails after the disk's retries and one
 * reopen after device-gone), STRAY-WRITE (a block holds data no write to it carried), LEAK (transfers, packets,
 * DMA bytes or timers left over), GONE (an operation in flight at a hot unplug that ended with something other
 * than CMD_DEV_GONE / DiskGoneError).
 */
import { BotError } from '../../src/bot/index.js';
import { UasError } from '../../src/uas/index.js';
import { DiskError, isDiskError, type Disk } from '../../src/disk/index.js';
import { UsbmsOpenError } from '../../src/open.js';
import {
  B_READ, CMD_CMPLT, CMD_DEV_GONE, CMD_TIMEOUT, FLAG_HEAD, freerbuf, getrbuf, PKT_XARQ, RESET_ALL, RESET_LUN, RESET_TARGET,
  ScsaError, scsi_abort, scsi_destroy_pkt, scsi_init_pkt, scsi_reset, scsi_transport, SLEEP_FUNC, TRAN_ACCEPT,
  TRAN_BUSY, type scsi_pkt,
} from '../../src/scsa/index.js';
import { ScsiDataError, ScsiParamError } from '../../src/scsi/errors.js';
import { UsbError } from '../../src/usb/errors.js';
import { AdversaryDevice } from './device.js';
import type { CommandFault, ControlFault } from './faults.js';
import { AdversaryUasDevice } from './uas-device.js';
import type { UasCommandFault, UasControlFault } from './uas-faults.js';
import { openHost, type HostSession } from './host.js';
import { BLOCK, identify, NOT_A_STAMP, stampedBlocks } from './medium.js';
import type { AdversaryPort } from './port.js';
import { Rng } from './prng.js';
import type { Op, Schedule, Step } from './schedule.js';
import { TimerWatch } from './timers.js';

export const VIOLATION_CLASSES = ['HANG', 'CORRUPT', 'CRASH', 'STUCK', 'STRAY-WRITE', 'LEAK', 'GONE'] as const;
export type ViolationClass = (typeof VIOLATION_CLASSES)[number];
export interface Violation { cls: ViolationClass; detail: string }

export interface ScheduleResult {
  id: string;
  violations: Violation[];
  commands: number;
  faults: Partial<Record<string, number>>;
  recoveries: { massStorageResets: number; clearHalts: number; portResets: number; replugs: number; reopens: number };
  ops: { ok: number; failed: number; skipped: number };
  corruptedCommands: number;
  /** Not violations, but worth a look: typed errors that are not DiskErrors, write failures without an LBA. */
  notes: string[];
  ms: number;
}

const ARQ_LENGTH = 32 + 252 - 20;

function typed(e: unknown): boolean {
  return e instanceof DiskError || e instanceof BotError || e instanceof UasError || e instanceof ScsaError || e instanceof UsbError
    || e instanceof UsbmsOpenError || e instanceof ScsiDataError || e instanceof ScsiParamError;
}
function describe(e: unknown): string {
  return e instanceof Error ? `${e.constructor.name}${isDiskError(e) ? `(${e.kind})` : ''}: ${e.message}` : String(e);
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Bounded<T> = { done: true; ok: true; value: T } | { done: true; ok: false; error: unknown } | { done: false };

async function bounded<T>(p: Promise<T>, ms: number): Promise<Bounded<T>> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<Bounded<T>>((r) => { timer = setTimeout(() => r({ done: false }), ms); });
  const settled = p.then((value): Bounded<T> => ({ done: true, ok: true, value }),
    (error: unknown): Bounded<T> => ({ done: true, ok: false, error }));
  try { return await Promise.race([settled, limit]); } finally { clearTimeout(timer); }
}

/** A hot unplug during a step: when, and whether every op still in flight must end device-gone. */
interface Gone { at: number | undefined; strict: boolean; faultsAtStart: number }

interface WriteRec { lun: number; lba: number; blocks: number; id: number; ok: boolean; start: number; end: number; error?: unknown }

class Runner {
  readonly v: Violation[] = [];
  readonly notes: string[] = [];
  /** The Bulk-Only adversary, or the UAS one (schedules with `uas`). */
  readonly dev: AdversaryDevice | AdversaryUasDevice;
  session: HostSession | undefined;
  readonly ports: AdversaryPort[] = [];
  readonly writes: WriteRec[] = [];
  readonly inflightPkts = new Map<number, scsi_pkt[]>();
  ops = { ok: 0, failed: 0, skipped: 0 };
  reopens = 0;
  /** Host-side order of events, for "this write ended before that one started". */
  seq = 0;
  abandoned = false;
  readonly timers = new TimerWatch();
  private readonly rng: Rng;

  constructor(readonly s: Schedule) {
    this.dev = s.uas !== undefined ? new AdversaryUasDevice(s.device, s.uas.plan, s.uas.device)
      : new AdversaryDevice(s.device, s.plan);
    this.rng = new Rng(s.device.seed ^ 0x0b5e55ed);
  }

  flag(cls: ViolationClass, detail: string): void { this.v.push({ cls, detail }); }

  faultTotal(): number { return Object.values(this.dev.counters.faults).reduce<number>((a, b) => a + (b ?? 0), 0); }

  /** A failure must be one of the project's typed errors. */
  failed(what: string, e: unknown): void {
    this.ops.failed++;
    if (!typed(e)) this.flag('CRASH', `${what}: untyped ${describe(e)}${e instanceof Error && e.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : ''}`);
    else if (!(e instanceof DiskError) && what.startsWith('Disk')) this.notes.push(`${what}: not a DiskError: ${describe(e)}`);
  }

  /** Await `p` within the op bound; a miss is a HANG and the stack is abandoned (the device pulled). */
  async settle<T>(what: string, p: Promise<T>): Promise<Bounded<T>> {
    const r = await bounded(p, this.s.opBoundMs);
    if (!r.done) {
      this.flag('HANG', `${what} did not settle within ${this.s.opBoundMs} ms`);
      this.abandon();
    }
    return r;
  }

  abandon(): void {
    this.abandoned = true;
    this.dev.unplug();
    this.session = undefined;
  }

  /** A session with every LUN's disk open, replugging the device when it is gone. */
  async ensure(finalPhase: boolean): Promise<boolean> {
    if (this.abandoned) return false;
    const port = this.dev.currentPort;
    if (this.session !== undefined && port !== undefined && port.gone) {
      const r = await this.settle('session close after device-gone', this.session.close());
      if (r.done && !r.ok) this.failed('session close', r.error);
      this.session = undefined;
      this.reopens++;
    }
    if (this.session === undefined) {
      const cur = this.dev.currentPort;
      const p = cur === undefined || cur.gone || cur.closed ? this.dev.plug() : cur;
      if (!this.ports.includes(p)) this.ports.push(p);
      const r = await this.settle('openUsbms', openHost(p, this.s.host));
      if (!r.done) return false;
      if (!r.ok) {
        this.failed('openUsbms', r.error);
        if (finalPhase) this.flag('STUCK', `openUsbms failed with the faults off: ${describe(r.error)}`);
        return false;
      }
      this.session = r.value;
    }
    let all = true;
    // A Get Max LUN lie (stall, bogus answer) legitimately leaves the host with fewer LUNs: those are skipped.
    for (let lun = 0; lun <= Math.min(this.session.hba.maxLun, this.dev.luns.length - 1); lun++) {
      if (this.session.disks[lun] !== undefined) continue;
      const r = await this.settle(`Disk.open(${lun})`, this.session.openDisk(lun));
      if (!r.done) return false;
      if (!r.ok) {
        this.failed(`Disk.open(${lun})`, r.error);
        all = false;
        if (finalPhase) return false;
      }
    }
    return all;
  }

  checkRead(what: string, lun: number, lba: number, got: Buffer, from: number, to: number): boolean {
    const m = this.dev.luns[lun]!.medium;
    for (let i = 0; i * BLOCK < got.length; i++) {
      const id = identify(got.subarray(i * BLOCK, (i + 1) * BLOCK), lun, lba + i);
      const allowed = m.idsDuring(lba + i, from, to);
      if (!allowed.has(id)) {
        this.flag('CORRUPT', `${what} resolved as good but block ${lba + i} holds ${id === NOT_A_STAMP ? 'bytes that are no stamp of it' : `write ${id}`}; the medium held ${[...allowed].join('/')}`);
        return false;
      }
    }
    return true;
  }

  async runOp(op: Op, gone: Gone): Promise<void> {
    const disk: Disk | undefined = this.session?.disks[op.lun];
    const hba = this.session?.hba;
    if (disk === undefined || hba === undefined) { this.ops.skipped++; return; }
    const name = `${op.k}(LUN ${op.lun}${'lba' in op ? ` LBA ${op.lba}+${op.blocks}` : ''})`;
    const startedBeforeUnplug = gone.at === undefined;
    // Strict only when no lie was told in this step before the unplug: a command that was already timing out
    // or failing when the device vanished may legitimately report that instead.
    const mismatch = (what: string): void => {
      if (gone.strict) this.flag('GONE', what);
      else this.notes.push(`after a lie and an unplug: ${what}`);
    };
    const goneCheck = (e: unknown): void => {
      if (startedBeforeUnplug && gone.at !== undefined && !isDiskError(e, 'device-gone')) {
        mismatch(`${name} was in flight at the unplug and ended with ${describe(e)}`);
      }
    };
    const from = this.dev.clock;
    const start = ++this.seq;
    switch (op.k) {
      case 'read': {
        const buf = Buffer.alloc(op.blocks * BLOCK, 0xee);
        const r = await this.settle(`Disk.${name}`, disk.read(BigInt(op.lba), op.blocks, buf));
        if (!r.done) return;
        if (r.ok) { this.ops.ok++; this.checkRead(`Disk.${name}`, op.lun, op.lba, r.value, from, this.dev.clock); }
        else { this.failed(`Disk.${name}`, r.error); goneCheck(r.error); }
        return;
      }
      case 'write': {
        this.dev.expectWrite(op.lun, op.lba, op.blocks, op.id);
        const rec: WriteRec = { lun: op.lun, lba: op.lba, blocks: op.blocks, id: op.id, ok: false, start, end: Infinity };
        this.writes.push(rec);
        const r = await this.settle(`Disk.${name}`, disk.write(BigInt(op.lba), stampedBlocks(op.lun, op.lba, op.blocks, op.id)));
        if (!r.done) return;
        rec.end = ++this.seq;
        if (r.ok) { rec.ok = true; this.ops.ok++; this.checkWrite(rec, name); return; }
        rec.error = r.error;
        this.failed(`Disk.${name}`, r.error);
        goneCheck(r.error);
        const lba = isDiskError(r.error) ? r.error.lba : undefined;
        if (lba === undefined || lba < BigInt(op.lba) || lba >= BigInt(op.lba + op.blocks)) {
          this.notes.push(`write ${name} failed without an LBA in its range: ${describe(r.error)}`);
        }
        return;
      }
      case 'sync': {
        const r = await this.settle(`Disk.${name}`, disk.synchronizeCache());
        if (!r.done) return;
        if (r.ok) this.ops.ok++; else { this.failed(`Disk.${name}`, r.error); goneCheck(r.error); }
        return;
      }
      case 'pkt-read': {
        const r = await this.settle(`SCSA ${name}`, this.pktRead(op, hba));
        if (!r.done) return;
        if (!r.ok) { this.failed(`SCSA ${name}`, r.error); return; }
        const o = r.value;
        if (o.reason === CMD_CMPLT && o.status === 0 && o.resid === 0) {
          this.ops.ok++;
          this.checkRead(`SCSA ${name}${op.head ? ' FLAG_HEAD' : ''}`, op.lun, op.lba, o.data, from, this.dev.clock);
        } else {
          this.ops.failed++;
          if (startedBeforeUnplug && gone.at !== undefined && o.reason === CMD_TIMEOUT) {
            // pkt_time may have run out just before the removal (a loaded machine): the stop reason wins.
            this.notes.push(`SCSA ${name} in flight at the unplug completed CMD_TIMEOUT, not CMD_DEV_GONE`);
          } else if (startedBeforeUnplug && gone.at !== undefined && o.reason !== CMD_DEV_GONE && o.reason !== CMD_CMPLT) {
            // CMD_CMPLT with CHECK CONDITION is right too: the command itself completed (a power-on unit
            // attention, say) and only its auto request sense met the removal (sts_rqpkt_reason says so).
            mismatch(`SCSA ${name} was in flight at the unplug and completed with pkt_reason ${o.reason}`);
          }
        }
        return;
      }
    }
  }

  /** A write resolved as good must be on the medium, unless another write to those blocks overlapped it. */
  checkWrite(rec: WriteRec, name: string): void {
    const m = this.dev.luns[rec.lun]!.medium;
    for (let i = 0; i < rec.blocks; i++) {
      const b = rec.lba + i;
      const racing = this.writes.some((w) => w !== rec && w.lun === rec.lun && w.lba <= b && b < w.lba + w.blocks
        && w.start < rec.end && w.end > rec.start);
      if (racing) continue;
      const id = m.current(b);
      if (id !== rec.id) {
        this.flag('CORRUPT', `Disk.${name} (write ${rec.id}) resolved as good but block ${b} holds ${id === NOT_A_STAMP ? 'garbage' : `write ${id}`}`);
        return;
      }
    }
  }

  async pktRead(op: Extract<Op, { k: 'pkt-read' }>, hba: HostSession['hba']): Promise<{ reason: number; status: number; resid: number; data: Buffer }> {
    const ap = hba.address(op.lun);
    const data = Buffer.alloc(op.blocks * BLOCK, 0xee);
    const bp = getrbuf();
    bp.b_flags = B_READ;
    bp.b_bcount = data.length;
    bp.b_un.b_addr = data;
    let pkt: scsi_pkt | undefined;
    try {
      pkt = await scsi_init_pkt(ap, null, bp, 10, ARQ_LENGTH, 0, PKT_XARQ, SLEEP_FUNC);
      const cdb = pkt.pkt_cdbp;
      cdb.fill(0, 0, 10);
      cdb[0] = 0x28;
      cdb.writeUInt32BE(op.lba, 2);
      cdb.writeUInt16BE(op.blocks, 7);
      pkt.pkt_time = this.s.host.commandMs / 1000;
      pkt.pkt_flags = op.head ? FLAG_HEAD : 0;
      const p = pkt;
      const done = new Promise<void>((r) => { p.pkt_comp = () => r(); });
      let rc = scsi_transport(p);
      for (let i = 0; rc === TRAN_BUSY && i < 200; i++) { await sleep(2); rc = scsi_transport(p); }
      if (rc !== TRAN_ACCEPT) return { reason: p.pkt_reason === CMD_DEV_GONE ? CMD_DEV_GONE : -1, status: -1, resid: data.length, data };
      const list = this.inflightPkts.get(op.lun) ?? [];
      list.push(p);
      this.inflightPkts.set(op.lun, list);
      try { await done; } finally { list.splice(list.indexOf(p), 1); }
      return { reason: p.pkt_reason, status: p.pkt_scbp[0] ?? -1, resid: p.pkt_resid, data };
    } finally {
      if (pkt !== undefined) scsi_destroy_pkt(pkt);
      freerbuf(bp);
    }
  }

  async disrupt(d: NonNullable<Step['disrupt']>, gone: Gone): Promise<void> {
    for (let i = 0; i < d.afterTicks; i++) await tick();
    const s = this.session;
    if (s === undefined) return;
    const ap = s.hba.address(d.lun);
    let p: Promise<unknown> | undefined;
    switch (d.k) {
      case 'abort-all': p = scsi_abort(ap, null); break;
      case 'abort-one': {
        const pkts = this.inflightPkts.get(d.lun) ?? [];
        if (pkts.length > 0) p = scsi_abort(ap, this.rng.pick(pkts));
        break;
      }
      case 'reset-lun': p = scsi_reset(ap, RESET_LUN); break;
      case 'reset-target': p = scsi_reset(ap, RESET_TARGET); break;
      case 'reset-bus': p = scsi_reset(ap, RESET_ALL); break;
      case 'unplug':
        gone.at = this.seq;
        gone.strict = this.faultTotal() === gone.faultsAtStart;
        this.dev.unplug();
        return;
      case 'close':
        this.session = undefined;
        p = s.close();
        break;
    }
    if (p === undefined) return;
    const r = await this.settle(d.k, p);
    if (r.done && !r.ok) this.failed(d.k, r.error);
  }

  async step(step: Step): Promise<void> {
    if (!(await this.ensure(false)) && this.session === undefined) { this.ops.skipped += step.ops.length; return; }
    const gone: Gone = { at: undefined, strict: false, faultsAtStart: this.faultTotal() };
    const dev = this.dev;
    for (const f of step.arm?.commands ?? []) {
      if (dev instanceof AdversaryUasDevice) dev.arm(f as UasCommandFault); else dev.arm(f as CommandFault);
    }
    for (const f of step.arm?.controls ?? []) {
      if (dev instanceof AdversaryUasDevice) dev.armControl(f as UasControlFault); else dev.armControl(f as ControlFault);
    }
    if (step.arm?.unplug !== undefined) this.dev.armUnplug(step.arm.unplug);
    const all = step.ops.map((op) => this.runOp(op, gone));
    if (step.disrupt !== undefined) all.push(this.disrupt(step.disrupt, gone));
    await Promise.all(all);
  }

  /** Faults off: every LUN must read (and write) a healthy block, allowing one reopen after device-gone. */
  async finalPhase(): Promise<void> {
    this.dev.faultsOn = false;
    let reopenLeft = 1;
    if (this.session !== undefined && this.session.hba.maxLun < this.dev.luns.length - 1) {
      // The session was opened through a Get Max LUN lie: a user would open the device again to see every LUN.
      const r = await this.settle('session close (max LUN lie)', this.session.close());
      if (r.done && !r.ok) this.failed('session close', r.error);
      this.session = undefined;
    }
    for (let lun = 0; lun < this.dev.luns.length && !this.abandoned; lun++) {
      const blocks = this.dev.luns[lun]!.blocks;
      const n = this.rng.int(1, 8);
      const lba = this.rng.int(0, blocks - n);
      const id = 1_000_000 + lun;
      for (const what of ['read', 'write', 'read back'] as const) {
        for (;;) {
          if (!(await this.ensure(true))) {
            if (!this.abandoned && !this.v.some((x) => x.cls === 'STUCK')) this.flag('STUCK', `LUN ${lun} could not be opened with the faults off`);
            return;
          }
          const disk = this.session!.disks[lun];
          if (disk === undefined) { this.flag('STUCK', `faults off: LUN ${lun} has no disk after a fresh open`); return; }
          const from = this.dev.clock;
          const start = ++this.seq;
          let p: Promise<unknown>;
          const buf = Buffer.alloc(n * BLOCK, 0xee);
          if (what === 'write') {
            this.dev.expectWrite(lun, lba, n, id);
            p = disk.write(BigInt(lba), stampedBlocks(lun, lba, n, id));
          } else p = disk.read(BigInt(lba), n, buf);
          const r = await this.settle(`final ${what} LUN ${lun} LBA ${lba}+${n}`, p);
          if (!r.done) return;
          if (r.ok) {
            if (what === 'write') {
              const rec: WriteRec = { lun, lba, blocks: n, id, ok: true, start, end: ++this.seq };
              this.writes.push(rec);
              this.checkWrite(rec, `final write LUN ${lun} LBA ${lba}+${n}`);
            } else this.checkRead(`final ${what} LUN ${lun} LBA ${lba}+${n}`, lun, lba, buf, from, this.dev.clock);
            break;
          }
          if (what === 'write') this.writes.push({ lun, lba, blocks: n, id, ok: false, start, end: ++this.seq, error: r.error });
          if (isDiskError(r.error, 'device-gone') && reopenLeft-- > 0) continue;
          this.failed(`final ${what}`, r.error);
          this.flag('STUCK', `faults off: ${what} of LUN ${lun} LBA ${lba}+${n} failed: ${describe(r.error)}`);
          return;
        }
      }
    }
  }

  /** Every block holds the initial content, or a write to it that was not superseded by a later good one. */
  checkMedia(): void {
    for (const s of this.dev.strays) this.flag('STRAY-WRITE', s);
    for (const lun of this.dev.luns) {
      for (let b = 0; b < lun.blocks; b++) {
        const covering = this.writes.filter((w) => w.lun === lun.index && w.lba <= b && b < w.lba + w.blocks);
        const id = lun.medium.current(b);
        if (covering.length === 0) {
          if (id !== 0) this.flag('STRAY-WRITE', `LUN ${lun.index} block ${b} changed to ${id === NOT_A_STAMP ? 'garbage' : `write ${id}`} though no write covered it`);
          continue;
        }
        const good = covering.filter((w) => w.ok);
        const allowed = new Set(covering.filter((w) => !good.some((g) => g !== w && w.end < g.start)).map((w) => w.id));
        if (good.length === 0) allowed.add(0);
        if (allowed.has(id)) continue;
        if (id === 0 || covering.some((w) => w.id === id)) {
          this.flag('CORRUPT', `LUN ${lun.index} block ${b} ends with ${id === 0 ? 'its initial content' : `write ${id}`}, superseded by the good write(s) ${good.map((g) => g.id).join(',')}`);
        } else {
          this.flag('STRAY-WRITE', `LUN ${lun.index} block ${b} ends with ${id === NOT_A_STAMP ? 'garbage' : `write ${id}`}, allowed ${[...allowed].join('/')}`);
        }
      }
    }
  }

  async closeAndCheckLeaks(): Promise<void> {
    const s = this.session;
    if (s !== undefined) {
      const res = s.hba.tran.tran_resources;
      const cache = s.hba.tran.tran_pkt_cache_ptr.stats;
      if (res.packets !== 0 || res.dmaBytes !== 0 || cache.inUse !== 0) {
        this.flag('LEAK', `after every operation settled: ${res.packets} packets, ${res.dmaBytes} DMA bytes, ${cache.inUse} cached packets in use`);
      }
      const r = await this.settle('session close', s.close());
      if (r.done && !r.ok) this.failed('session close', r.error);
      this.session = undefined;
    }
    if (this.abandoned) return;
    for (let i = 0; i < 3; i++) await tick();
    for (const p of this.ports) {
      if (p.outstanding !== 0) this.flag('LEAK', `port of plug ${p.plugNumber}: ${p.outstanding} transfers/control requests outstanding after close`);
      if (!p.closed && !p.gone) this.flag('LEAK', `port of plug ${p.plugNumber} left open`);
    }
    let leaked = this.timers.leaked();
    if (leaked.length > 0) { await sleep(1); await tick(); leaked = this.timers.leaked(); }
    if (leaked.length > 0) this.flag('LEAK', `${leaked.length} timer(s) still pending after close, made ${leaked.slice(0, 3).join('; ')}`);
  }
}

export async function runSchedule(s: Schedule, prepare?: (dev: AdversaryDevice) => void,
  prepareUas?: (dev: AdversaryUasDevice) => void): Promise<ScheduleResult> {
  const t0 = Date.now();
  const r = new Runner(s);
  if (r.dev instanceof AdversaryUasDevice) prepareUas?.(r.dev); else prepare?.(r.dev);
  const onRejection = (e: unknown): void => r.flag('CRASH', `unhandled rejection: ${describe(e)}`);
  const onException = (e: unknown): void => r.flag('CRASH', `uncaught exception: ${describe(e)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  r.timers.start();
  try {
    for (const step of s.steps) {
      if (r.abandoned) break;
      await r.step(step);
    }
    if (!r.abandoned) await r.finalPhase();
    r.checkMedia();
    await r.closeAndCheckLeaks();
    await tick();
  } catch (e) {
    r.flag('CRASH', `the runner itself threw: ${describe(e)}${e instanceof Error ? `\n${e.stack}` : ''}`);
  } finally {
    r.timers.stop();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  const c = r.dev.counters;
  return {
    id: s.id, violations: r.v, commands: c.commands, faults: { ...c.faults },
    recoveries: { massStorageResets: c.massStorageResets, clearHalts: c.clearHalts, portResets: c.portResets,
      replugs: c.plugs - 1, reopens: r.reopens },
    ops: r.ops, corruptedCommands: c.corruptedCommands, notes: [...r.notes, ...r.dev.protocol.map((p) => `protocol: ${p}`)],
    ms: Date.now() - t0,
  };
}

/**
 * The retry policy of the disk driver: what sd does around every packet, bounded so nothing hangs.
 *
 * - UNIT ATTENTION: retried (a power-on/reset/medium-change report is not a failure of this command); 28/00
 *   "medium may have changed" also calls `onMediumChanged` first, so the capacity is re-read transparently.
 * - NOT READY 04/01 (becoming ready), 04/07 (operation in progress), 04/00 (cause not reportable): wait and retry
 *   until `readyTimeoutMs` (60 s by default, as EDK2's UsbMassStorageDxe).
 * - NOT READY 04/02 (initializing command required): START STOP UNIT (start) once, then retry.
 * - BUSY / TASK SET FULL, ABORTED COMMAND, transport errors after recovery, timeouts, a short data phase:
 *   retried up to `retries` times.
 * - RECOVERED ERROR from valid sense, about this command (INFORMATION inside its blocks), with nothing of the data
 *   phase missing: the command succeeded; logged. It is the only CHECK CONDITION that is success.
 * - NO SENSE from valid sense (with or without FILEMARK, EOM, ILI or an ASC): a false check condition, an unknown
 *   amount of data moved, so nothing of it counts: retried up to `retries` times (a block WRITE is safe to
 *   repeat), then DiskNoSenseError (DISK_NO_SENSE) naming the command, its LBA range and the sense.
 * - Sense that is not valid (padding by the residue, a failed REQUEST SENSE, a bad response code or additional
 *   length, a RECOVERED ERROR naming another block or with data missing) is never a verdict: the command is
 *   retried, then fails (DiskTransportError).
 * Everything else becomes a typed DiskError at once. docs/disk-driver.md states the rules.
 */
import type { scsi_address } from '../scsa/index.js';
import {
  CMD_ABORTED, CMD_CMPLT, CMD_DEV_GONE, CMD_TIMEOUT, STATUS_BUSY, STATUS_CHECK, STATUS_GOOD, STATUS_MET,
  STATUS_QFULL, STATUS_RESERVATION_CONFLICT,
} from '../scsa/types.js';
import { logger } from '../util/log.js';
import { sleep } from '../util/sleep.js';
import type { RecoverySink } from '../util/recovery.js';
import {
  DiskError, DiskGoneError, DiskNoSenseError, DiskTimeoutError, DiskTransportError, type DiskSense,
} from './errors.js';
import { sendPacket, type CdbSpec, type PacketData, type PacketOutcome } from './packet.js';
import { decodeDiskSense, errorForSense, notSuccess, SENSE_KEY, untrustedSense } from './sense.js';

const log = logger('disk');

/** How a command is retried on UNIT ATTENTION, NOT READY, BUSY and transport errors. */
export interface RetryPolicy {
  /** Retries of transient failures (not counting the first attempt). */
  readonly retries: number;
  /** How long NOT READY "becoming ready" is waited out. */
  readonly readyTimeoutMs: number;
  /** Pause between NOT READY polls. */
  readonly readyPollMs: number;
  /** Told of each retry and each wait for a unit to become ready, as it begins. */
  readonly onRecovery?: RecoverySink | undefined;
}

export const DEFAULT_POLICY: RetryPolicy = { retries: 3, readyTimeoutMs: 60_000, readyPollMs: 200 };

/** What every command of one disk shares: where it goes, its retry policy, its hooks and its default timeout. */
export interface CommandContext {
  readonly ap: scsi_address;
  readonly policy: RetryPolicy;
  readonly hooks: CommandHooks;
  /** pkt_time of a command that names none, in ms. */
  readonly timeoutMs: number;
}

export interface CommandHooks {
  /** Called on UNIT ATTENTION 28/xx before the retry (re-read capacity). */
  onMediumChanged?(): Promise<void>;
  /** Sends START STOP UNIT (start) for NOT READY 04/02. */
  startUnit?(): Promise<void>;
}

export interface CommandResult {
  /** Bytes of the data phase that were not transferred. */
  readonly resid: number;
  /** Sense of a RECOVERED ERROR that was accepted as success. */
  readonly recovered: DiskSense | undefined;
}

/** A command's data, timeout and retry options: the third argument of `send(spec, params, data)`. */
export interface CommandData extends Omit<PacketData, 'timeoutMs'> {
  /** Command timeout in ms (default: the disk's). */
  readonly timeoutMs?: number | undefined;
  /** A short data phase is accepted (INQUIRY, MODE SENSE ...); otherwise it is retried, then an error. */
  readonly allowResid?: boolean;
  /** First LBA of the command, for errors. */
  readonly lba?: bigint | undefined;
  /** Blocks the command covers (with `lba`): a RECOVERED ERROR naming a block outside them is not its verdict. */
  readonly blocks?: number | undefined;
  /** Fewest data-in bytes an answer must have to be decodable; a shorter one is retried, then `bad-response`. */
  readonly minBytes?: number | undefined;
  /** No retries at all (TEST UNIT READY from the user, REQUEST SENSE, raw). */
  readonly once?: boolean;
}

/** An error that is worth retrying, with the wait before the next attempt. */
export interface Transient { error: DiskError; waitMs: number; kind: 'retry' | 'not-ready' | 'medium-changed' | 'start' }

/** No data phase, the disk's timeout, retries: what a command without a third argument gets. */
const NO_DATA: CommandData = {};

/**
 * Send the command `spec` declares with `params` through the retry policy: the disk driver's one way to send a
 * command. `data` is never copied (a block command passes the same object every time).
 */
export async function runCommand<P>(ctx: CommandContext, spec: CdbSpec<P>, params: P, opts: CommandData = NO_DATA)
  : Promise<CommandResult> {
  const { policy, hooks } = ctx;
  const name = spec.name;
  const packet: PacketData = opts.timeoutMs === undefined ? { ...opts, timeoutMs: ctx.timeoutMs } : opts as PacketData;
  try {
    // The retry loop inline (one async frame per command, not two: each is a Promise and a turn of microtasks).
    let retriesLeft = opts.once === true ? 0 : policy.retries;
    // UNIT ATTENTIONs are reported once per event; a few in a row are normal after reset + media change.
    let unitAttentionsLeft = opts.once === true ? 0 : 8;
    let started = false;
    // Set at the first NOT READY: no clock is read for a command that never waits (in the lab guest every clock
    // read is a system call).
    let readyDeadline: number | undefined;
    for (;;) {
      const outcome = await sendPacket(ctx.ap, spec, params, packet);
      const verdict = classify(outcome, spec.name, opts);
      if (!('waitMs' in verdict)) return verdict;
      const t = verdict;
      if (t.kind === 'medium-changed') {
        if (unitAttentionsLeft-- <= 0) throw t.error;
        log('%s: unit attention %s, retrying', name, t.error.sense?.text);
        // 28/xx medium may have changed, 2A/09 capacity data has changed: either way the size we hold is stale.
        const asc = t.error.sense?.asc;
        const stale = asc === 0x28 || (asc === 0x2a && t.error.sense?.ascq === 0x09);
        if (stale && hooks.onMediumChanged !== undefined) await hooks.onMediumChanged();
        continue;
      }
      if (t.kind === 'not-ready') {
        if (readyDeadline === undefined && opts.once !== true) {
          policy.onRecovery?.({ step: 'wait-ready', detail: `${name}: ${t.error.sense?.text ?? t.error.message}`,
            waitingFor: 'the unit to become ready', timeoutMs: policy.readyTimeoutMs });
        }
        readyDeadline ??= Date.now() + policy.readyTimeoutMs;
        if (opts.once === true || Date.now() + policy.readyPollMs > readyDeadline) throw t.error;
        log('%s: %s, waiting', name, t.error.sense?.text);
        await sleep(policy.readyPollMs);
        continue;
      }
      if (t.kind === 'start') {
        if (started || opts.once === true || hooks.startUnit === undefined) throw t.error;
        started = true;
        log('%s: initializing command required, sending START STOP UNIT', name);
        policy.onRecovery?.({ step: 'start-unit', detail: `${name}: initializing command required: START STOP UNIT (start)`,
          waitingFor: 'the unit to start' });
        await hooks.startUnit();
        continue;
      }
      if (retriesLeft-- <= 0) throw t.error;
      log('%s: %s, retrying (%d left)', name, t.error.message, retriesLeft);
      policy.onRecovery?.({ step: 'retry', detail: t.error.message, attempt: policy.retries - retriesLeft,
        attempts: policy.retries, waitingFor: 'the answer', timeoutMs: packet.timeoutMs > 0 ? packet.timeoutMs : undefined });
      if (t.waitMs > 0) await sleep(t.waitMs);
    }
  } catch (e) {
    // Whatever ended the command (sense, transport, removal, a refusal by the HBA), say which blocks it covered.
    if (e instanceof DiskError && opts.lba !== undefined) {
      e.lba ??= opts.lba;
      if (opts.blocks !== undefined) e.range ??= { lba: opts.lba, blocks: opts.blocks };
    }
    throw e;
  }
}

/** What a packet's outcome makes of the command: its result, or an error worth retrying (else it throws). */
export function classify(o: PacketOutcome, name: string, opts: CommandData): CommandResult | Transient {
  const at = opts.lba === undefined ? '' : ` at LBA ${opts.lba}`;
  if (o.reason !== CMD_CMPLT) {
    if (o.reason === CMD_DEV_GONE) throw new DiskGoneError(`${name}: device disconnected`, { cause: o.cause });
    if (o.reason === CMD_TIMEOUT) {
      return { kind: 'retry', waitMs: 0,
        error: new DiskTimeoutError(`${name}${at} timed out`, { lba: opts.lba, cause: o.cause }) };
    }
    const what = o.reason === CMD_ABORTED ? 'was aborted' : `failed in transport (pkt_reason ${o.reason})`;
    const detail = o.cause instanceof Error ? `: ${o.cause.message}` : '';
    return { kind: 'retry', waitMs: 10,
      error: new DiskTransportError(`${name}${at} ${what}${detail}`, { lba: opts.lba, cause: o.cause }) };
  }
  switch (o.status) {
    case STATUS_GOOD:
    case STATUS_MET:
      return goodOrShort(o, name, opts, at, undefined);
    case STATUS_BUSY:
    case STATUS_QFULL:
    case STATUS_RESERVATION_CONFLICT:
      return { kind: 'retry', waitMs: 50,
        error: new DiskError('busy', `${name}: device busy (status 0x${o.status.toString(16)})`, { status: o.status }) };
    case STATUS_CHECK:
      break;
    default:
      throw new DiskTransportError(`${name}: unexpected SCSI status 0x${o.status.toString(16)}`, { status: o.status });
  }
  // CHECK CONDITION. Only valid RECOVERED ERROR sense about this command, from a REQUEST SENSE that itself
  // completed GOOD, with nothing missing, may turn it into success (notSuccess); anything less is a failure worth
  // a retry, and never a buffer returned as good. The HBA's side of the rule is in src/scsa/auto-sense.ts.
  if (o.sense === undefined || o.sense.length < 3) {
    const why = o.senseProblem ?? 'no sense data';
    return { kind: 'retry', waitMs: 10,
      error: new DiskTransportError(`${name}${at}: CHECK CONDITION without usable sense (${why})`,
        { status: o.status, lba: opts.lba }) };
  }
  const sense = decodeDiskSense(o.sense);
  const range = opts.lba !== undefined && opts.blocks !== undefined ? { lba: opts.lba, blocks: opts.blocks } : undefined;
  const untrusted = untrustedSense(sense);
  if (untrusted !== undefined) return noVerdict(o, name, opts, at, sense, untrusted);
  if (sense.key === SENSE_KEY.NO_SENSE) {
    // A false check condition: an unknown amount of data moved, so none of it counts. The command is sent again
    // (a block WRITE is safe to repeat) and fails when the retries are spent.
    const what = range === undefined ? at : ` of LBA ${range.lba}..${range.lba + BigInt(range.blocks) - 1n} (${range.blocks} blocks)`;
    return { kind: 'retry', waitMs: 10, error: new DiskNoSenseError(
      `${name}${what}: CHECK CONDITION with NO SENSE (${sense.text}): an unknown amount of data moved`,
      { status: o.status, lba: opts.lba, sense }) };
  }
  if (sense.key === SENSE_KEY.RECOVERED_ERROR) {
    const why = notSuccess(sense, range, o.resid);
    if (why !== undefined) return noVerdict(o, name, opts, at, sense, why);
    log('%s%s: CHECK CONDITION with %s: success', name, at, sense.text);
    return goodOrShort(o, name, opts, at, sense);
  }
  const error = errorForSense(sense, name, opts.lba);
  if (sense.key === SENSE_KEY.UNIT_ATTENTION) return { kind: 'medium-changed', waitMs: 0, error };
  if (sense.key === SENSE_KEY.NOT_READY && sense.asc === 0x04) {
    if (sense.ascq === 0x02) return { kind: 'start', waitMs: 0, error };
    if (sense.ascq === 0x00 || sense.ascq === 0x01 || sense.ascq === 0x07) return { kind: 'not-ready', waitMs: 0, error };
  }
  if (sense.key === SENSE_KEY.ABORTED_COMMAND) return { kind: 'retry', waitMs: 10, error };
  throw error;
}

/** Sense that decides nothing (untrusted, stale, or RECOVERED ERROR with data missing): retried, then an error. */
function noVerdict(o: PacketOutcome, name: string, opts: CommandData, at: string, sense: DiskSense, why: string): Transient {
  return { kind: 'retry', waitMs: 10, error: new DiskTransportError(
    `${name}${at}: CHECK CONDITION whose sense cannot be a verdict (${why})`,
    { status: o.status, lba: opts.lba, sense }) };
}

function goodOrShort(o: PacketOutcome, name: string, opts: CommandData, at: string, recovered: DiskSense | undefined)
  : CommandResult | Transient {
  const length = (opts.dataIn ?? opts.dataOut)?.length ?? 0;
  if (opts.minBytes !== undefined && length - o.resid < opts.minBytes) {
    // Too short to decode: a device that answers short once may answer in full on the next try.
    return { kind: 'retry', waitMs: 10, error: new DiskError('bad-response',
      `${name}: the device returned ${length - o.resid} bytes (at least ${opts.minBytes} needed)`) };
  }
  if (o.resid > 0 && opts.allowResid !== true) {
    // The device moved less than the command needs: never hand back a buffer with a hole in it as success.
    return { kind: 'retry', waitMs: 0, error: new DiskTransportError(
      `${name}${at}: device transferred ${o.resid} bytes less than requested`, { lba: opts.lba }) };
  }
  return { resid: o.resid, recovered };
}

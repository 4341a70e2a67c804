/**
 * What the status pipe brings (status.ts), handed to whom it concerns: an IU goes by its tag to the command or task
 * management function holding it (an unknown tag is counted and dropped); a READ/WRITE READY starts a data phase,
 * a SENSE IU ends the command with its status and sense, a RESPONSE IU ends it refused. The final IU completes the
 * command once its data transfer is back. A read that fails or a halt that cannot be cleared is handled here too.
 */
import { isUsbError, type UsbError } from '../usb/errors.js';
import { IU_ID, RESPONSE_CODE } from '../usb/wire/uas.js';
import { logger } from '../util/log.js';
import type { UasSlot } from './command.js';
import type { UasCore } from './core.js';
import type { DataPhase } from './data-phase.js';
import type { DataPipes } from './data-pipes.js';
import type { Failures } from './failure.js';
import { IU_HEADER_LENGTH, iuId, iuTag, RESPONSE_IU_LENGTH, responseCode, SENSE_IU_HEADER, senseLengthField, senseStatus } from './iu.js';
import { TAG_SPACE } from './options.js';
import type { Resets } from './resets.js';
import type { TaskManagement } from './task-management.js';
import { TmfSlot } from './tmf.js';

const log = logger('uas');

export class StatusDispatch {
  /** `onGone`: the transport's, when a read finds the device gone. */
  constructor(private readonly core: UasCore, private readonly pipes: DataPipes, private readonly dataPhase: DataPhase,
    private readonly failures: Failures, private readonly taskManagement: TaskManagement, private readonly resets: Resets,
    private readonly onGone: (e: UsbError) => void) {}

  onStatusIu(buf: Buffer, n: number): void {
    if (n < IU_HEADER_LENGTH) {
      this.core.stats.protocolErrors++;
      log('a %d-byte transfer on the status pipe is no IU: ignored', n);
      return;
    }
    const id = iuId(buf);
    const tag = iuTag(buf);
    const owner = tag <= TAG_SPACE ? this.core.owners[tag] : undefined;
    if (owner === undefined) {
      // Linux's uas logs and drops these ("no pending cmd"): a tag nothing of ours holds says nothing about ours.
      this.core.stats.unknownTagIus++;
      log('IU 0x%s for tag %d, which no command or task management function holds: ignored', id.toString(16), tag);
      return;
    }
    if (owner instanceof TmfSlot) { this.taskManagement.onTmfIu(owner, id, buf, n); return; }
    const s = owner;
    if (s.state === 'failing' || s.state === 'done' || s.state === 'idle') return;
    switch (id) {
      case IU_ID.READ_READY: this.dataPhase.onReady(s, 'in'); return;
      case IU_ID.WRITE_READY: this.dataPhase.onReady(s, 'out'); return;
      case IU_ID.SENSE: this.onSense(s, buf, n); return;
      case IU_ID.RESPONSE: this.onCommandResponse(s, buf, n); return;
      default:
        this.failures.protocolError(s, 'status', `unknown IU 0x${id.toString(16)} for the tag`);
    }
  }

  private onSense(s: UasSlot, buf: Buffer, n: number): void {
    if (n < SENSE_IU_HEADER) { this.failures.protocolError(s, 'status', `a SENSE IU of ${n} bytes (at least 16)`); return; }
    this.core.consumeExpectation(s);
    const command = s.command;
    const status = senseStatus(buf);
    const declared = senseLengthField(buf);
    const arrived = n - SENSE_IU_HEADER;
    // Sense is what the IU's length field claims, and only when all of it arrived: bytes past the field are padding,
    // and a SENSE IU cut short of its own field carries no sense that can be trusted (the status still stands, so a
    // CHECK CONDITION without sense is a failure the disk driver retries, never a verdict).
    const complete = declared <= arrived;
    if (!complete) log('tag %d: SENSE IU says %d bytes of sense, %d arrived: sense not trusted', s.tag, declared, arrived);
    const keep = command === undefined || !complete ? 0 : Math.min(declared, command.sense.length);
    if (command !== undefined && keep > 0) buf.copy(command.sense, 0, SENSE_IU_HEADER, SENSE_IU_HEADER + keep);
    s.status = status;
    s.senseLength = keep;
    this.onFinal(s);
  }

  private onCommandResponse(s: UasSlot, buf: Buffer, n: number): void {
    if (n < RESPONSE_IU_LENGTH) { this.failures.protocolError(s, 'status', `a RESPONSE IU of ${n} bytes (8)`); return; }
    this.core.consumeExpectation(s);
    s.finalSeen = true;
    const code = responseCode(buf);
    const hex = `0x${code.toString(16).padStart(2, '0')}`;
    if (code === RESPONSE_CODE.OVERLAPPED_TAG) {
      // The device holds a task with this tag that we do not: ABORT TASK clears it (SAM: an overlapped tag).
      this.core.stats.protocolErrors++;
      void this.failures.giveUp(s, 'protocol', 'status', `the device refused the command: tag ${s.tag} overlaps a task it holds (RESPONSE ${hex})`, 'ladder');
      return;
    }
    // INVALID IU, INCORRECT LUN: refused, nothing of the command runs on the device.
    const why = code === RESPONSE_CODE.INCORRECT_LUN ? `LUN ${s.lun} does not exist` : code === RESPONSE_CODE.INVALID_IU
      ? 'the COMMAND IU is invalid' : 'an unexpected response code';
    this.core.stats.protocolErrors++;
    void this.failures.giveUp(s, 'protocol', 'status', `the device refused the command: ${why} (RESPONSE ${hex})`, 'none');
  }

  /** The command's status IU arrived: it completes once its data transfer (if any) is back. */
  private onFinal(s: UasSlot): void {
    s.finalSeen = true;
    this.pipes.unwait(s);
    if (!s.dataActive) { this.core.complete(s); return; }
    // The device has ended the command, so the data it sent is all there is. Its last packets may still be on
    // their way to us (a completion on another pipe): a moment for them, then the transfer is taken back.
    s.graceForData();
  }

  onStatusFailure(e: unknown): void {
    if (isUsbError(e, 'NO_DEVICE')) { this.onGone(e); return; }
    // A status read that fails otherwise (an I/O error) loses whatever IU it carried: the commands waiting for
    // one find out by their deadline, which runs the ladder.
    log('status read failed: %s', e instanceof Error ? e.message : String(e));
  }

  onStatusWedged(e: unknown): void {
    if (isUsbError(e, 'NO_DEVICE')) { this.onGone(e); return; }
    log('the status pipe halt could not be cleared (%s): port reset', e instanceof Error ? e.message : String(e));
    void this.resets.escalate(() => this.resets.portReset());
  }
}

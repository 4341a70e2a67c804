/**
 * BOT's {@link TransportSlot}: the per-command resources the HBA's tran_pkt_constructor allocates once through
 * allocSlot: the command state ({@link BotCommand}) and one reusable bulk transfer with its {@link Completion} per
 * data segment and direction, so that a command allocates no buffers, no transfers and no state objects.
 */
import { UsbCancelledError } from '../usb/errors.js';
import type { Pipe, UsbPort } from '../usb/port.js';
import type { TransportSlot } from '../transport/index.js';
import { BotCommand } from './command.js';
import { Completion } from './completion.js';
import { UsbmsArgumentError } from '../util/errors.js';

export class BotSlot implements TransportSlot {
  freed = false;
  readonly cmd: BotCommand;
  /** Set by cancelAll (abort/close/deadline): segments submitted afterwards fail at once, off the wire. */
  private cancelled = false;
  /** Made on first use of each index: a slot sized for 257 cookies usually moves its data in one or two. */
  private readonly ins: Completion[] = [];
  private readonly outs: Completion[] = [];

  constructor(readonly owner: object, private readonly port: UsbPort, readonly maxSegments: number,
    onExpire: (cmd: BotCommand) => void = () => { this.cancelAll(); }) {
    this.cmd = new BotCommand(onExpire);
  }

  /** Segment i's completion on `pipe`, made the first time it is needed and reused by every later command. */
  completion(pipe: Pipe, i: number): Completion {
    if (i < 0 || i >= this.maxSegments) throw new UsbmsArgumentError(`segment ${i} beyond slot size ${this.maxSegments}`);
    const list = pipe === 'in' ? this.ins : this.outs;
    while (list.length <= i) list.push(new Completion(this.port.createTransfer(pipe)));
    return list[i] as Completion;
  }

  /** Submit segment i (timeoutMs 0: the command's deadline covers it); the outcome lands in its completion. */
  submit(pipe: Pipe, i: number, buffer: Buffer, timeoutMs = 0): Completion {
    const c = this.completion(pipe, i);
    if (this.cancelled) c.refuse(new UsbCancelledError('command aborted before this segment was submitted', { pipe }));
    else void c.submit(buffer, timeoutMs);
    return c;
  }

  /** A new command starts on this slot. */
  begin(): void { this.cancelled = false; }

  /** Cancel every transfer of this slot still in flight, and refuse further submits of this command. */
  cancelAll(): void {
    this.cancelled = true;
    for (const c of this.ins) c.cancel();
    for (const c of this.outs) c.cancel();
  }
}

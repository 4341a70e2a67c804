/**
 * ReplayUasDevice: a recorded UAS device (uas-recording.ts) played back by the software disk's own UAS function
 * (src/mock/uas), with the recording as its SCSI side: each COMMAND IU the host sends is matched to a recorded
 * command asking the same (cdb-match.ts; tags are never compared), and answered with the recorded data phase,
 * status and sense, under the host's tag and in whatever order the host's commands arrive. A command the
 * recording cannot answer ends the replay loudly: the device drops off the bus, and `divergence` (and
 * replayDivergenceOf(port)) says what the host asked and what the recording holds.
 */
import { MockUsbDevice } from '../device.js';
import { DeviceAbort } from '../endpoints.js';
import type { MockUsbPort } from '../port.js';
import type { OutSink } from '../scsi-target.js';
import type { UasPlan, UasScsiBackend } from '../uas/backend.js';
import { logger } from '../../util/log.js';
import { describeAsk, exactMatch, sameQuestion, type Askable } from './cdb-match.js';
import { rememberReplayPort } from './device.js';
import { ReplayDivergenceError } from './errors.js';
import type { DeviceChoice } from './recording.js';
import { loadUasRecording, type RecordedUasCommand, type UasRecording } from './uas-recording.js';

const log = logger('mock', 'replay');

const STATUS_GOOD = 0x00;
/** A UAS COMMAND IU carries the CDB in 16 bytes, zero padded: matched as a whole, direction and length unknown. */
const ask = (lun: number, cdb: Buffer): Askable => ({ lun, cdb, direction: 'none', dataLength: 0 });

/** The recording as the UAS function's SCSI side. */
class RecordingBackend implements UasScsiBackend {
  readonly maxLun: number;
  private readonly used: boolean[];
  private cursor = 0;
  private sense: Buffer = Buffer.alloc(0);
  private readonly data = new Map<RecordedUasCommand, Buffer>();
  private readonly sink: OutSink = { accept: () => undefined, finish: () => 0 };

  constructor(private readonly rec: UasRecording, private readonly diverge: (asked: string, recorded: string) => void) {
    this.maxLun = rec.commands.reduce((m, c) => Math.max(m, c.lun), 0);
    this.used = rec.commands.map(() => false);
  }

  execute(lun: number, cdb: Buffer, plan: UasPlan): void {
    const hit = this.match(ask(lun, cdb));
    if (hit === undefined) {
      const next = this.rec.commands.find((_, i) => !this.used[i]);
      this.diverge(describeAsk(ask(lun, cdb)), next === undefined ? 'no more commands'
        : `#${next.index}: ${describeAsk(ask(next.lun, next.cdb))}`);
      throw new DeviceAbort('replay diverged');
    }
    log('COMMAND IU %s: recorded #%d', describeAsk(ask(lun, cdb)), hit.index);
    let data = this.data.get(hit);
    if (data === undefined) { data = Buffer.concat(hit.dataIn); this.data.set(hit, data); }
    plan.direction = hit.direction;
    plan.data = data;
    plan.length = hit.direction === 'in' ? data.length : hit.direction === 'out' ? hit.dataOut : 0;
    plan.sink = hit.direction === 'out' ? this.sink : undefined;
    plan.status = hit.status ?? STATUS_GOOD;
    // A command whose status never came (or that was refused by a RESPONSE IU) is answered by silence again.
    plan.hang = hit.status === undefined;
    this.sense = hit.sense;
  }

  takeSense(_lun: number, dst: Buffer): number {
    const n = Math.min(dst.length, this.sense.length);
    this.sense.copy(dst, 0, 0, n);
    return n;
  }

  writeCut(): void { /* the recorded status stands */ }
  resetLun(): void { /* a recording has no state to lose */ }

  private match(a: Askable): RecordedUasCommand | undefined {
    const cmds = this.rec.commands;
    for (const pred of [exactMatch, sameQuestion]) {
      const fresh = (i: number): boolean => !this.used[i] && pred(a, ask(cmds[i]!.lun, cmds[i]!.cdb));
      let i = cmds.findIndex((_, j) => j >= this.cursor && fresh(j));
      if (i < 0) i = cmds.findIndex((_, j) => fresh(j));
      if (i >= 0) { this.used[i] = true; this.cursor = i + 1; return cmds[i]; }
    }
    for (const pred of [exactMatch, sameQuestion]) {
      for (let i = cmds.length - 1; i >= 0; i--) if (this.used[i] && pred(a, ask(cmds[i]!.lun, cmds[i]!.cdb))) return cmds[i];
    }
    return undefined;
  }
}

/** A UAS device that answers from a capture (--replay), and fails typed when the host diverges from it. */
export class ReplayUasDevice {
  readonly device: MockUsbDevice;
  private failure: ReplayDivergenceError | undefined;

  static fromFile(file: string, select?: DeviceChoice): ReplayUasDevice {
    return new ReplayUasDevice(loadUasRecording(file, select));
  }

  constructor(readonly recording: UasRecording) {
    const i = recording.info;
    const backend = new RecordingBackend(recording, (asked, recorded) => {
      this.failure ??= new ReplayDivergenceError(asked, recorded, recording.file);
      log('%s', this.failure.message);
      this.device.disconnect();
    });
    this.device = new MockUsbDevice({
      transports: 'uas', vendorId: i.vendorId, productId: i.productId, speed: i.speed,
      maxPacketSize: i.maxPacketSize.in, uasScsi: backend,
      ...(i.serialNumber === undefined ? {} : { serialNumber: i.serialNumber }),
      ...(i.manufacturer === undefined ? {} : { manufacturer: i.manufacturer }),
      ...(i.product === undefined ? {} : { product: i.product }),
    });
  }

  /** The first divergence, once the host asked for something the recording does not hold. */
  get divergence(): ReplayDivergenceError | undefined { return this.failure; }

  /** A UsbPort onto the replayed interface (one at a time). */
  open(): MockUsbPort {
    if (this.failure !== undefined) throw this.failure;
    const port = this.device.open();
    rememberReplayPort(port, this);
    return port;
  }
}

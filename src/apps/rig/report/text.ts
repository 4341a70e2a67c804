/**
 * Human output of a validation run: one plain line per event (for logs and pipes), or a live table with one row
 * per slot, redrawn in place on a terminal.
 */
import { slotId as keySlotId, slotName as keySlotName } from '../device.js';
import type { DeviceRef, RigEvent } from '../events.js';
import type { Figures } from '../steps/context.js';

const slotName = (d: DeviceRef): string =>
  `${keySlotName({ port: d.port, usbip: d.usbip ?? undefined })} ${d.vidPid}${d.serial === null ? '' : ` ${d.serial}`}`;

// A row stays the slot's across a return on another vhci port (USB/IP): keyed by the slot, showing where it is now.
const slotIdOf = (d: DeviceRef): string => `${keySlotId({ port: d.port, usbip: d.usbip ?? undefined })} ${d.vidPid} ${d.serial ?? ''}`;

export function figuresText(f: Figures): string {
  return Object.entries(f).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

/** One line for an event worth a line (step results, vanish/return, verdicts); undefined for the others. */
export function eventLine(e: RigEvent): string | undefined {
  const who = slotName(e.device);
  switch (e.event) {
    case 'start': return `${who}: plan ${e.plan}, seed ${e.seed}${e.resumed ? ' (resumed from the journal)' : ''}`;
    case 'step': {
      const figs = figuresText(e.figures);
      return `${who}: ${e.step} ${e.status.toUpperCase()}${e.resumed ? ' (journal)' : ''}` +
        `${figs === '' ? '' : ` ${figs}`}${e.reason === null ? '' : ` - ${e.reason}`}`;
    }
    case 'progress': return `${who}: ${e.step ?? ''} ${figuresText(e.figures)}`;
    case 'vanished': return `${who}: VANISHED during ${e.step ?? '?'}; ${e.reason}`;
    case 'returned': return `${who}: back in its slot`;
    case 'lost': return `${who}: LOST: ${e.reason ?? ''}`;
    case 'done': return `${who}: ${e.status.toUpperCase()} (exit ${e.exitCode})${e.reason === null ? '' : ` - ${e.reason}`}`;
    case 'step-start': return undefined;
  }
}

interface Row { slot: string; step: string; status: string; note: string }

/** The live table: one row per slot, redrawn (cursor up, clear) at most every 100 ms. */
export class SlotTable {
  private readonly rows = new Map<string, Row>();
  private drawnLines = 0;
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(e: RigEvent): void {
    const id = slotIdOf(e.device);
    const slot = slotName(e.device);
    const row = this.rows.get(id) ?? { slot, step: '', status: 'waiting', note: '' };
    row.slot = slot;
    switch (e.event) {
      case 'start': row.status = 'running'; break;
      case 'step-start': row.step = e.step ?? ''; row.status = 'running'; row.note = ''; break;
      case 'step': row.step = e.step ?? ''; row.status = e.status; row.note = e.reason ?? figuresText(e.figures); break;
      case 'progress': row.note = figuresText(e.figures); break;
      case 'vanished': row.status = 'VANISHED'; row.note = e.reason; break;
      case 'returned': row.status = 'back'; row.note = ''; break;
      case 'lost': row.status = 'LOST'; row.note = e.reason ?? ''; break;
      case 'done': row.step = 'done'; row.status = e.status.toUpperCase(); row.note = e.reason ?? `exit ${e.exitCode}`; break;
    }
    this.rows.set(id, row);
    const now = Date.now();
    if (e.event === 'done' || now - this.lastDraw >= 100) this.draw(now);
  }

  draw(now = Date.now()): void {
    this.lastDraw = now;
    const width = Math.max(20, ...[...this.rows.values()].map((r) => r.slot.length));
    const cols = this.out.columns > 0 ? this.out.columns : 120;
    const lines = [...this.rows.values()].map((r) =>
      `${r.slot.padEnd(width)}  ${r.step.padEnd(16)} ${r.status.padEnd(9)} ${r.note}`.slice(0, cols - 1));
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    for (const l of lines) text += `\r${l}\x1b[K\n`;
    this.out.write(text);
    this.drawnLines = lines.length;
  }
}

/**
 * Output helpers of the CLI: an `xxd`-style hex dump, JSON with BigInt support, byte sizes, and a progress line
 * for stderr (drawn only when stderr is a TTY, so logs and pipes stay clean).
 */

/** One `xxd` line per 16 bytes: "00000200: 4865 6c6c ...  Hello...". `base` is the address of data[0]. */
export function hexDump(data: Buffer, base = 0n): string {
  const lines: string[] = [];
  for (let off = 0; off < data.length; off += 16) {
    const row = data.subarray(off, Math.min(off + 16, data.length));
    let hex = '';
    for (let i = 0; i < 16; i++) {
      const b = row[i];
      hex += b === undefined ? '  ' : b.toString(16).padStart(2, '0');
      if (i % 2 === 1 && i !== 15) hex += ' ';
    }
    let ascii = '';
    for (const b of row) ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    lines.push(`${(base + BigInt(off)).toString(16).padStart(8, '0')}: ${hex}  ${ascii}`);
  }
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}

/** JSON.stringify that writes BigInt as a decimal string when it exceeds 2^53, else as a number. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  }, 2);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(n: bigint | number): string {
  let v = Number(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A progress bar is drawn on stderr's last line (not finished): a message line first takes its place. */
let barDrawn = false;

/** One line on stderr, over a progress bar being drawn there (the bar is redrawn on its next update). */
export function stderrLine(text: string): void {
  if (barDrawn) process.stderr.write('\r\x1b[K');
  barDrawn = false;
  process.stderr.write(`${text}\n`);
}

/** A one-line progress bar with rate and ETA; silent unless the stream is a TTY. */
export class Progress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(private readonly total: bigint, private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr) {
    this.enabled = out.isTTY;
  }

  update(done: bigint): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const elapsed = (now - this.started) / 1000;
    const fraction = this.total === 0n ? 1 : Number(done) / Number(this.total);
    const rate = elapsed > 0 ? Number(done) / elapsed : 0;
    const eta = rate > 0 ? (Number(this.total) - Number(done)) / rate : Number.NaN;
    const width = 30;
    const filled = Math.round(fraction * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    this.out.write(`\r${this.label} [${bar}] ${(fraction * 100).toFixed(1)}% ${formatBytes(done)} ` +
      `${formatBytes(rate)}/s ETA ${formatDuration(eta)}\x1b[K`);
    if (this.out === process.stderr) barDrawn = true;
  }

  finish(): void {
    if (this.enabled) this.out.write('\n');
    if (this.out === process.stderr) barDrawn = false;
  }
}

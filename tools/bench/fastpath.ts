/**
 * `node build/tools/bench/fastpath.js --device VID:PID [--port PATH]`: runs INSIDE the lab guest. Which round-trip savers does this
 * device model take? For each mode of the bare loop (plain; data submitted with the CBW; CSW queued behind the
 * data; both) and each direction and size, it runs a burst of commands and records whether they completed and
 * how fast. A failure (stall, lost CSW: the transfer times out after 2 s) is followed by Reset Recovery. The
 * quirk table (src/quirks/table.ts) is set from this output, never from a guess.
 */
import { openBareLoop, type BareMode } from './bare-loop.js';
import { parseByteSize } from '../../src/util/size.js';
import { UsbmsArgumentError } from '../../src/util/errors.js';

const MODES: Record<string, BareMode> = {
  plain: { earlyData: false, queuedCsw: false },
  earlyData: { earlyData: true, queuedCsw: false },
  queuedCsw: { earlyData: false, queuedCsw: true },
  both: { earlyData: true, queuedCsw: true },
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (n: string): string | undefined => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : undefined; };
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(get('device') ?? '');
  if (m?.[1] === undefined || m[2] === undefined) throw new UsbmsArgumentError('--device VID:PID');
  const sizes = (get('sizes') ?? '4K,120K,1M').split(',').map(parseByteSize);
  const count = Number(get('count') ?? 20);
  const rounds = Number(get('rounds') ?? 2);
  const loop = await openBareLoop(parseInt(m[1], 16), parseInt(m[2], 16), Math.max(...sizes), 2000, get('port'));
  const results: { mode: string; op: string; bytes: number; ok: boolean; msPerCommand: number[]; error?: string }[] = [];
  try {
    // The first command after attach may meet a UNIT ATTENTION (CSW status 1, no data: the gadget does that): it
    // says nothing about the modes, so a few plain commands go first, whatever they answer.
    for (let i = 0; i < 3; i++) await loop.run('read', 2048, 4096, 1).catch(() => loop.recover());
    for (let r = 0; r < rounds; r++) {
      for (const [name, mode] of Object.entries(MODES)) {
        for (const op of ['read', 'write'] as const) {
          for (const bytes of sizes) {
            let row = results.find((x) => x.mode === name && x.op === op && x.bytes === bytes);
            if (row === undefined) { row = { mode: name, op, bytes, ok: true, msPerCommand: [] }; results.push(row); }
            if (!row.ok) continue;
            try {
              // The same LBA every time: any disk of a few MiB holds it, and the device's cache is equally warm.
              let s = 0;
              for (let i = 0; i < count; i++) s += await loop.run(op, 2048, bytes, 1, mode);
              row.msPerCommand.push((s * 1000) / count);
            } catch (e) {
              row.ok = false;
              row.error = e instanceof Error ? `${e.message} (errno ${(e as { errno?: number }).errno ?? '-'})` : String(e);
              await loop.recover();
            }
          }
        }
      }
    }
  } finally {
    await loop.close();
  }
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] ?? NaN; };
  process.stdout.write(`${JSON.stringify(results.map((x) => ({ ...x, median: median(x.msPerCommand) })))}\n`);
}

main().catch((e: unknown) => { process.stderr.write(`fastpath: ${(e as Error).stack ?? String(e)}\n`); process.exitCode = 1; });

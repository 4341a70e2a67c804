/**
 * bench (sequential and random read throughput), reset, eject, and raw (sg_raw: any CDB, status + sense + data).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { scsi } from '../../../api.js';
import { isDiskError } from '../../../disk/index.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { hexDump } from '../format.js';
import { out, parseCount, printJson, requireWrite, run, withDisk, withSession, type GlobalArgs } from '../context.js';
const { describeCdb, exitStatusForStatus, statusName } = scsi;

interface BenchArgs extends GlobalArgs { 'size-mb': number; 'chunk-kb': number; 'random-ios': number; 'random-kb': number; seed: number }

async function bench(a: BenchArgs): Promise<number> {
  return withDisk(a, {}, async (disk) => {
    const bs = disk.blockSize;
    const chunkBlocks = Math.max(1, Math.floor(parseCount(a['chunk-kb'], '--chunk-kb', 64) * 1024 / bs));
    const totalBlocks = (() => {
      const want = BigInt(Math.floor(parseCount(a['size-mb'], '--size-mb', 16) * 1024 * 1024 / bs));
      return want > disk.blocks ? disk.blocks : want;
    })();
    const buf = Buffer.allocUnsafe(chunkBlocks * bs);
    let t0 = process.hrtime.bigint();
    for (let lba = 0n; lba < totalBlocks;) {
      const n = Number(totalBlocks - lba < BigInt(chunkBlocks) ? totalBlocks - lba : BigInt(chunkBlocks));
      await disk.read(lba, n, buf);
      lba += BigInt(n);
    }
    const seqSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const seqBytes = Number(totalBlocks) * bs;
    const ioBlocks = Math.max(1, Math.floor(parseCount(a['random-kb'], '--random-kb', 4) * 1024 / bs));
    const ios = parseCount(a['random-ios'], '--random-ios', 256);
    const span = disk.blocks - BigInt(ioBlocks) + 1n;
    let x = BigInt(a.seed) | 1n;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < ios; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffff_ffff_ffff_ffffn;
      await disk.read((x >> 11n) % span, ioBlocks, buf);
    }
    const rndSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const r = {
      sequential: { bytes: seqBytes, chunkBytes: chunkBlocks * bs, seconds: seqSeconds, mbPerSecond: seqBytes / 1e6 / seqSeconds },
      random: { ios, ioBytes: ioBlocks * bs, seconds: rndSeconds, iops: ios / rndSeconds },
    };
    if (a.json) printJson(r);
    else out(`sequential read: ${(r.sequential.bytes / 1e6).toFixed(1)} MB in ${seqSeconds.toFixed(3)} s = ` +
      `${r.sequential.mbPerSecond.toFixed(2)} MB/s (${r.sequential.chunkBytes} bytes per command)\n` +
      `random read: ${ios} x ${r.random.ioBytes} bytes in ${rndSeconds.toFixed(3)} s = ${r.random.iops.toFixed(0)} IOPS`);
  });
}

async function reset(a: GlobalArgs): Promise<number> {
  return withSession(a, async (s) => {
    const ok = await s.reset(a.lun, 'target');
    if (a.json) printJson({ reset: ok });
    else out(ok ? 'reset done (Bulk-Only Mass Storage Reset recovery)' : 'reset failed');
    return ok ? EXIT.OK : EXIT.TRANSPORT_ERROR;
  });
}

async function eject(a: GlobalArgs): Promise<number> {
  return withDisk(a, {}, async (disk) => {
    try {
      await disk.eject();
    } catch (e) {
      // A fixed disk (RMB=0) may still spin down on LOEJ, so it is asked; its refusal is then explained.
      if (disk.info.removable || !isDiskError(e, 'illegal-request')) throw e;
      throw new CliError(`LUN ${disk.lun} (${disk.info.vendor} ${disk.info.product}) has a medium that is not removable ` +
        `(INQUIRY RMB=0): the device refused to eject it (${e.message})`, 'DISK_ILLEGAL_REQUEST', { cause: e });
    }
    if (a.json) printJson({ ejected: true });
    else out('ejected');
  });
}

interface RawArgs extends GlobalArgs { cdb: string[]; in?: number | undefined; 'out-file'?: string | undefined; 'data-out'?: string | undefined; write: boolean }

async function raw(a: RawArgs): Promise<number> {
  const text = a.cdb.join('').replace(/[\s,:]|0x/gi, '');
  if (!/^([0-9a-f]{2})+$/i.test(text)) throw new CliError(`CDB '${a.cdb.join(' ')}' is not hex bytes`);
  const cdb = Buffer.from(text, 'hex');
  if (cdb.length < 6 || cdb.length > 16) throw new CliError(`a CDB is 6..16 bytes, got ${cdb.length}`);
  if (a.in !== undefined && a['data-out'] !== undefined) throw new CliError('give --in N or --data-out FILE, not both');
  let dataOut: Buffer | undefined;
  if (a['data-out'] !== undefined) {
    requireWrite(a.write, 'raw with --data-out');
    dataOut = readFileSync(a['data-out']);
  }
  const dataIn = a.in === undefined ? undefined : parseCount(a.in, '--in', 1);
  // No medium policy at open (like sg_raw): the CDB meets the unit in whatever state it is in.
  return withDisk(a, { allowWrite: dataOut !== undefined, probe: false }, async (disk) => {
    const r = await disk.raw(cdb, { ...(dataIn === undefined ? {} : { dataIn }), ...(dataOut === undefined ? {} : { dataOut }) });
    const exit = exitStatusForStatus(r.status, r.sense?.decoded);
    if (a['out-file'] !== undefined) writeFileSync(a['out-file'], r.data);
    if (a.json) {
      printJson({ cdb: describeCdb(cdb), status: r.status, statusName: statusName(r.status), resid: r.resid,
        sense: r.sense === undefined ? null : { key: r.sense.key, asc: r.sense.asc, ascq: r.sense.ascq, text: r.sense.text, hex: r.sense.raw.toString('hex') },
        data: a['out-file'] === undefined ? r.data.toString('hex') : null, exitStatus: exit });
    } else {
      process.stderr.write(`${describeCdb(cdb)}: status ${statusName(r.status)}, ${r.data.length} bytes in, resid ${r.resid}\n`);
      if (r.sense !== undefined && r.status !== 0) process.stderr.write(`sense: ${r.sense.text}\n`);
      if (a['out-file'] === undefined && r.data.length > 0) out(hexDump(r.data));
    }
    return exit;
  });
}

export function registerToolCommands<T>(y: Argv<T>): Argv<T> {
  return y
    .command('bench', 'sequential and random read speed (MB/s, IOPS)', (b) => withExamples(b, 'bench')
      .option('size-mb', { type: 'number', default: 16, describe: 'sequential read size' })
      .option('chunk-kb', { type: 'number', default: 64, describe: 'bytes per sequential command' })
      .option('random-ios', { type: 'number', default: 256, describe: 'number of random reads' })
      .option('random-kb', { type: 'number', default: 4, describe: 'size of each random read' })
      .option('seed', { type: 'number', default: 1 }),
    (a) => run(() => bench(a as unknown as BenchArgs)))
    .command('reset', 'Bulk-Only reset recovery of the device', (b) => withExamples(b, 'reset'), (a) => run(() => reset(a as unknown as GlobalArgs)))
    .command('eject', 'unlock and eject the medium', (b) => withExamples(b, 'eject'), (a) => run(() => eject(a as unknown as GlobalArgs)))
    .command('raw <cdb..>', 'send a CDB (hex) and show status, sense and data (sg_raw)', (b) => withExamples(b, 'raw')
      .positional('cdb', { type: 'string', array: true })
      .option('in', { type: 'number', describe: 'read N bytes of data-in' })
      .option('out-file', { type: 'string', describe: 'write the data-in to FILE' })
      .option('data-out', { type: 'string', describe: 'send FILE as data-out (needs --write)' })
      .option('write', { type: 'boolean', default: false }),
    (a) => run(() => raw(a as unknown as RawArgs)));
}

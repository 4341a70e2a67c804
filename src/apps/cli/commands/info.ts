/**
 * Commands that identify and ask: inquiry, capacity, tur, sense, decode-sense (sg_inq, sg_readcap, sg_turs,
 * sg_requests, sg_decode_sense). `list` is in ./list.ts.
 */
import type { Argv } from 'yargs';
import { scsi } from '../../../api.js';
import { CliError, EXIT } from '../exit.js';
import { withExamples } from '../examples.js';
import { formatBytes, hexDump, toJson } from '../format.js';
import { out, printJson, run, withDisk, type GlobalArgs } from '../context.js';
const { decodeSense, decodeVpdPage, exitStatusForSense, formatSense } = scsi;

interface InquiryArgs extends GlobalArgs { vpd?: string | undefined; hex: boolean }

function parseVpd(text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 255) throw new CliError(`--vpd '${text}' is not a page number 0..255 (e.g. 0x80)`);
  return n;
}

async function inquiry(a: InquiryArgs): Promise<number> {
  const page = a.vpd === undefined ? undefined : parseVpd(a.vpd);
  return withDisk(a, {}, async (disk) => {
    const raw = await disk.inquiry(page);
    if (a.hex) { out(a.json ? toJson({ hex: raw.toString('hex') }) : hexDump(raw)); return; }
    if (page !== undefined) {
      const decoded = decodeVpdPage(raw);
      if (a.json) printJson({ page, ...decoded });
      else out(Object.entries(decoded).map(([k, v]) => `${k}: ${typeof v === 'object' ? toJson(v) : String(v)}`).join('\n'));
      return;
    }
    const i = disk.info;
    if (a.json) {
      printJson({ vendor: i.vendor, product: i.product, revision: i.revision, deviceType: i.deviceType,
        peripheralQualifier: i.peripheralQualifier, removable: i.removable, version: i.version });
    } else {
      out(`Vendor identification: ${i.vendor}\nProduct identification: ${i.product}\n` +
        `Product revision level: ${i.revision}\nPeripheral device type: ${i.deviceType}\n` +
        `Removable: ${i.removable ? 'yes' : 'no'}\nVersion: ${i.version}`);
    }
  });
}

async function capacity(a: GlobalArgs): Promise<number> {
  return withDisk(a, {}, async (disk) => {
    if (!disk.mediumPresent) {
      if (a.json) printJson({ mediumPresent: false });
      else out('medium not present');
      return EXIT.NOT_READY;
    }
    const c = { mediumPresent: true, blocks: disk.blocks, lastLba: disk.blocks - 1n, blockSize: disk.blockSize,
      bytes: disk.capacityBytes, writeProtected: disk.writeProtected, removable: disk.info.removable,
      source: disk.capacity?.source ?? null };
    if (a.json) printJson(c);
    else out(`Last LBA: ${c.lastLba}\nNumber of blocks: ${c.blocks}\nBlock size: ${c.blockSize} bytes\n` +
      `Capacity: ${c.bytes} bytes (${formatBytes(c.bytes)})\nWrite protected: ${c.writeProtected ? 'yes' : 'no'}\n` +
      `Removable: ${c.removable ? 'yes' : 'no'}\nFrom: ${c.source}`);
    return EXIT.OK;
  });
}

// tur and sense open the LUN without the medium policy (INQUIRY only): it would consume the very UNIT
// ATTENTION or NOT READY they are asked to report, as sg_turs and sg_requests report it.
async function tur(a: GlobalArgs): Promise<number> {
  return withDisk(a, { probe: false }, async (disk) => {
    await disk.testUnitReady();
    if (a.json) printJson({ ready: true });
    else out('ready');
  });
}

async function sense(a: GlobalArgs & { hex: boolean }): Promise<number> {
  return withDisk(a, { probe: false }, async (disk) => {
    const s = await disk.requestSense();
    if (a.json) printJson({ key: s.key, asc: s.asc, ascq: s.ascq, text: s.text, information: s.information ?? null, hex: s.raw.toString('hex') });
    else out(a.hex ? hexDump(s.raw) + s.text : s.text);
  });
}

function parseHexBytes(parts: readonly string[]): Buffer {
  const text = parts.join('').replace(/[\s,:]|0x/gi, '');
  if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(text)) {
    throw new CliError(`'${parts.join(' ')}' is not a whole number of hex bytes`);
  }
  return Buffer.from(text, 'hex');
}

async function decodeSenseCmd(a: GlobalArgs & { hex?: string[] | undefined }): Promise<number> {
  const bytes = parseHexBytes(a.hex ?? []);
  const s = decodeSense(bytes);
  if (s.malformed) throw new CliError(`not sense data (response code 0x${(bytes[0] ?? 0).toString(16)})`, 'SCSI_DATA_INVALID');
  if (a.json) {
    printJson({ format: s.format, key: s.senseKey, keyName: s.senseKeyName, asc: s.asc, ascq: s.ascq,
      description: s.description, information: s.valid ? (s.information ?? null) : null, text: formatSense(s),
      exitStatus: exitStatusForSense(s) });
  } else {
    out(formatSense(s));
  }
  return EXIT.OK;
}

export function registerInfoCommands<T>(y: Argv<T>): Argv<T> {
  return y.command('inquiry', 'INQUIRY: identify the logical unit (sg_inq)', (b) => withExamples(b, 'inquiry')
      .option('vpd', { type: 'string', describe: 'VPD page (e.g. 0x80 serial number, 0x83 identification)' })
      .option('hex', { type: 'boolean', default: false, describe: 'hex dump of the raw response' }),
    (a) => run(() => inquiry(a as unknown as InquiryArgs)))
    .command('capacity', 'READ CAPACITY: size and block length (sg_readcap)', (b) => withExamples(b, 'capacity'), (a) => run(() => capacity(a as unknown as GlobalArgs)))
    .command('tur', 'TEST UNIT READY (sg_turs)', (b) => withExamples(b, 'tur'), (a) => run(() => tur(a as unknown as GlobalArgs)))
    .command('sense', 'REQUEST SENSE: the current sense data (sg_requests)', (b) => withExamples(b, 'sense')
      .option('hex', { type: 'boolean', default: false, describe: 'also hex dump the sense bytes' }),
    (a) => run(() => sense(a as unknown as GlobalArgs & { hex: boolean })))
    .command('decode-sense <hex..>', 'decode sense bytes given in hex (sg_decode_sense)', (b) => withExamples(b, 'decode-sense')
      .positional('hex', { type: 'string', array: true, describe: 'sense bytes, e.g. 70 00 03 00 00 00 00 0a ...' }),
    (a) => run(() => decodeSenseCmd(a as unknown as GlobalArgs & { hex?: string[] })));
}

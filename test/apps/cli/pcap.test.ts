/**
 * The CLI wiring: `--pcap FILE` and `--pcap-snaplen N` on a command run against a faulty software disk
 * (`--mock=DEVICE.json`), decoded by tshark; the usage mistakes get one line and exit 1.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCliIfStale } from './build.js';
import { usbms } from './run.js';
import { readCapture } from '../../../src/usb/trace/index.js';
import { num, tsharkFields } from '../../usb/trace/tshark.js';

const tmp = mkdtempSync(join(tmpdir(), 'usbms-cli-pcap-'));
const spec = join(tmp, 'bad.json');
writeFileSync(spec, JSON.stringify({ luns: [{ blocks: 4096 }], faults: [{ fault: { kind: 'medium-error', lbas: [100] } }] }));

beforeAll(() => { buildCliIfStale(); }, 120_000);

describe('usbms --pcap', () => {
  it('a READ of a bad block: the capture shows CHECK CONDITION, then REQUEST SENSE with key 3, as the CLI said', async () => {
    const file = join(tmp, 'bad.pcap');
    const r = await usbms(['read', '100', '1', `--mock=${spec}`, '--pcap', file]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Sense key: Medium Error/);
    const rows = tsharkFields(file, ['scsi_sbc.opcode', 'usbms.dCSWStatus', 'scsi.sns.key'],
      'usbms.dCSWSignature || scsi.sns.key');
    expect(rows.filter((x) => x[0] === '0x28' && x[1] !== '').map((x) => num(x[1]))).toEqual([1]);
    expect(rows.filter((x) => x[2] !== '').map((x) => num(x[2]))).toEqual([3]);
  });

  it('--pcap-snaplen 40 cuts the 4 KiB of data to 40 bytes per record (len_cap < length)', async () => {
    const file = join(tmp, 'snap.pcap');
    const r = await usbms(['read', '0', '8', `--mock=${spec}`, '--pcap', file, '--pcap-snaplen', '40']);
    expect(r.code).toBe(0);
    const data = readCapture(file).find((x) => x.type === 'C' && x.length === 4096);
    expect(data?.data.length).toBe(40);
  });

  it('usage mistakes: a snaplen without --pcap, a negative snaplen, a file that cannot be created', async () => {
    const a = await usbms(['tur', '--mock', '--pcap-snaplen', '10']);
    expect([a.code, a.stderr]).toEqual([1, 'usbms: --pcap-snaplen needs --pcap FILE\n']);
    const b = await usbms(['tur', '--mock', '--pcap', join(tmp, 'x.pcap'), '--pcap-snaplen', '-1']);
    expect(b.code).toBe(1);
    const c = await usbms(['tur', '--mock', '--pcap', join(tmp, 'no/such/dir/x.pcap')]);
    expect(c.code).toBe(15);
    expect(c.stderr).toMatch(/^usbms: cannot create pcap file .*no\/such\/dir\/x\.pcap/);
  });

  it('--replay of a file that is not a capture: one line, exit 15', async () => {
    const r = await usbms(['inquiry', '--replay', spec]);
    expect(r.code).toBe(15);
    expect(r.stderr).toMatch(/^usbms: .*bad\.json is neither a pcap nor a pcapng file/);
  });
});

// uas-probe.mjs IMAGE [SELECTOR]: the UAS transport by itself on an emulated usb-uas device (run in the lab guest
// from the repo root after `npm run build`): opens the device through libusb, selects UAS, runs INQUIRY, READ
// CAPACITY (through the power-on UNIT ATTENTION), then READs of 4 KiB with eight in flight, checked byte for byte
// against IMAGE (the device's backing file, shared with the guest). Prints "ok - ..." / "not ok - ..." lines.
import { readFileSync } from 'node:fs';
import { LibusbBackend } from '../../../dist/usb/libusb/index.js';
import { parseDeviceSelector } from '../../../dist/usb/selector.js';
import { openUasTransport } from '../../../dist/uas/index.js';

const [image, selector = '46f4:0003'] = process.argv.slice(2);
const img = readFileSync(image);
let failed = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok' : 'not ok'} - ${what}`); if (!ok) failed++; };
const cmd = (cdb, direction, buf) => {
  const c = Buffer.alloc(16); Buffer.from(cdb).copy(c);
  return { lun: 0, cdb: c, cdbLength: cdb.length, direction, segments: buf ? [buf] : [], segmentCount: buf ? 1 : 0,
    dataTimeoutMs: 0, sense: Buffer.alloc(252) };
};
const port = await new LibusbBackend().open(parseDeviceSelector(selector), { detachKernelDriver: true });
console.log(`speed ${port.info.speed}, settings ${JSON.stringify(port.altSettings?.map((a) => a.interfaceProtocol))}`);
const tr = await openUasTransport(port);
check(tr.protocol === 'uas', `UAS open, pipes ${JSON.stringify(port.info.endpoints)}, max LUN ${tr.maxLun}`);
const slots = Array.from({ length: 8 }, () => tr.allocSlot(1));
const inq = Buffer.alloc(36);
const r1 = await tr.execute(slots[0], cmd([0x12, 0, 0, 0, 36, 0], 'in', inq));
check(r1.status === 0 && r1.transferred === 36, `INQUIRY: ${inq.subarray(8, 36).toString().trim()}`);
let cap = Buffer.alloc(8);
let r2;
for (let i = 0; i < 3; i++) {
  r2 = await tr.execute(slots[0], cmd([0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'in', cap));
  if (r2.status === 0) break;
  console.log(`READ CAPACITY: status ${r2.status}, sense ${cmd.length} key ${r2.senseLength}`);
}
const blocks = cap.readUInt32BE(0) + 1;
check(r2.status === 0 && blocks * 512 === img.length, `READ CAPACITY: ${blocks} blocks of ${cap.readUInt32BE(4)}`);
let good = 0;
const rounds = 32;
const t0 = performance.now();
for (let round = 0; round < rounds; round++) {
  const lbas = slots.map((_, i) => ((round * 97 + i * 131) * 8) % (blocks - 8));
  const bufs = slots.map(() => Buffer.alloc(4096));
  const rs = await Promise.all(slots.map((s, i) => {
    const c = [0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0];
    Buffer.from([lbas[i] >>> 24, (lbas[i] >> 16) & 255, (lbas[i] >> 8) & 255, lbas[i] & 255]).forEach((b, j) => { c[2 + j] = b; });
    return tr.execute(s, cmd(c, 'in', bufs[i]));
  }));
  rs.forEach((r, i) => { if (r.status === 0 && r.transferred === 4096 && bufs[i].equals(img.subarray(lbas[i] * 512, lbas[i] * 512 + 4096))) good++; });
}
const ms = performance.now() - t0;
check(good === rounds * 8, `${good}/${rounds * 8} READs of 4 KiB, eight in flight, byte-exact (max in flight ${tr.stats.maxInFlight}, ${(ms / (rounds * 8)).toFixed(2)} ms each)`);
await tr.close();
console.log(failed === 0 ? 'PASS' : `FAIL (${failed})`);
process.exit(failed === 0 ? 0 : 1);

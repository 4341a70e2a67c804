// In a lab guest: one 8 MiB READ(10) at a time with its data phase as N bulk-IN transfers submitted together
// (the CSW read after all of them), for N = SPLITS (default 1,2,4,8,16), ROUNDS rounds of 8 commands, MB/s per N
// and the sha256 of the last command's data (the same for every N). Run:
//   bash hw-tests/lab/run-in-vm.sh --hc xhci --disk IMG -e ROUNDS=6 -- node hw-tests/lab/examples/split-read.mjs
// (README, Performance: "Splitting a large READ into transfers in flight does not help on xHCI").
import { createHash } from 'node:crypto';
import { openStick, phase } from './bare-stick.mjs';

const BYTES = 8 << 20;
const { inEp, outEp, close } = openStick();
const cbwT = phase(outEp, 20000);
const cswT = phase(inEp, 20000);
const dataT = Array.from({ length: 16 }, () => phase(inEp, 20000));
const cbw = Buffer.alloc(31);
const csw = Buffer.alloc(512);
const data = Buffer.alloc(BYTES);
let tag = 0;
async function read(lba, n) {
  cbw.writeUInt32LE(0x43425355, 0); cbw.writeUInt32LE(++tag, 4); cbw.writeUInt32LE(BYTES, 8);
  cbw[12] = 0x80; cbw[13] = 0; cbw[14] = 10; cbw.fill(0, 15); cbw[15] = 0x28;
  cbw.writeUInt32BE(lba, 17); cbw.writeUInt16BE(BYTES / 512, 22);
  const seg = BYTES / n;
  const sent = cbwT.go(cbw);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(dataT[i].go(data.subarray(i * seg, (i + 1) * seg)));
  await sent;
  const got = await Promise.all(parts);
  const c = await cswT.go(csw);
  if (got.some((g) => g !== seg) || c !== 13 || csw[12] !== 0) throw new Error(`bad READ: ${got} CSW ${c} bytes, status ${csw[12]}`);
}
const splits = (process.env.SPLITS ?? '1,2,4,8,16').split(',').map(Number);
const rates = new Map();
for (let round = 0; round < Number(process.env.ROUNDS ?? 4); round++) {
  for (const n of round % 2 ? [...splits].reverse() : splits) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 8; k++) await read(k * (BYTES / 512), n);
    const mbps = (8 * BYTES) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
    rates.set(n, [...(rates.get(n) ?? []), mbps]);
    console.log(`round ${round} split ${n}: ${mbps.toFixed(1)} MB/s, sha256 ${createHash('sha256').update(data).digest('hex').slice(0, 12)}`);
  }
}
for (const n of splits) {
  const a = rates.get(n).sort((x, y) => x - y);
  console.log(`split ${n}: median ${a[a.length >> 1].toFixed(1)} MB/s`);
}
close();

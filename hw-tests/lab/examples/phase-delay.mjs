// In a lab guest: the bare BOT loop's 4 KiB READs (CBW, data-IN, CSW awaited in turn) with a busy wait of "driver
// work" added at each phase boundary or before each command, to see what the host's latency costs on a controller
// (QEMU's EHCI walks its schedule on a frame timer). 60 commands a case, five rounds, medians. Run:
//   bash hw-tests/lab/run-in-vm.sh --hc ehci --disk IMG -- node hw-tests/lab/examples/phase-delay.mjs
// (README, Performance: "Why a gap costs so much behind EHCI").
import { openStick, phase } from './bare-stick.mjs';

const { inEp, outEp, close } = openStick();
const [cbwT, dataT, cswT] = [phase(outEp, 10000), phase(inEp, 10000), phase(inEp, 10000)];
const cbw = Buffer.alloc(31);
const csw = Buffer.alloc(512);
const data = Buffer.alloc(4096);
let tag = 0;
const spin = (ms) => { const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6)); while (ms > 0 && process.hrtime.bigint() < end); };
async function read(lba, atPhase, beforeCommand) {
  cbw.writeUInt32LE(0x43425355, 0); cbw.writeUInt32LE(++tag, 4); cbw.writeUInt32LE(4096, 8);
  cbw[12] = 0x80; cbw[13] = 0; cbw[14] = 10; cbw.fill(0, 15); cbw[15] = 0x28;
  cbw.writeUInt32BE(lba, 17); cbw.writeUInt16BE(8, 22);
  spin(beforeCommand);
  await cbwT.go(cbw); spin(atPhase);
  await dataT.go(data); spin(atPhase);
  if ((await cswT.go(csw)) !== 13 || csw[12] !== 0) throw new Error('bad CSW');
}
const cases = [[0, 0], [0.2, 0], [0.5, 0], [1, 0], [0, 0.5], [0, 1], [0, 2]];
const res = new Map();
for (let round = 0; round < 5; round++) {
  for (const [p, c] of round % 2 ? [...cases].reverse() : cases) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 60; k++) await read(k * 8, p, c);
    const key = `${p}/${c}`;
    res.set(key, [...(res.get(key) ?? []), Number(process.hrtime.bigint() - t0) / 1e6 / 60]);
  }
}
for (const [key, a] of res) {
  a.sort((x, y) => x - y);
  const [p, c] = key.split('/');
  console.log(`${p} ms at each phase boundary, ${c} ms before each command: median ${a[2].toFixed(2)} ms per command [${a.map((x) => x.toFixed(2)).join(' ')}]`);
}
close();

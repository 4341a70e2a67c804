// uas-inflight.mjs SELECTOR IMAGE PCAP [ROUNDS]: the whole stack (openUsbms: UAS transport, HBA, disk driver) on a
// UAS device, eight READs of 4 KiB at a time through Disk.read (so the HBA keeps several commands on the wire),
// captured with --pcap into PCAP and checked byte for byte against IMAGE. Prints "ok - ..." / "not ok - ..." lines
// and "max in flight N" (the transport's own count). Run in the lab guest after `npm run build`.
import { readFileSync } from 'node:fs';
import { openUsbms } from '../../../dist/index.js';

const [selector, image, pcap, roundsText = '16'] = process.argv.slice(2);
const img = readFileSync(image);
const rounds = Number(roundsText);
let failed = 0;
const check = (ok, what) => { console.log(`${ok ? 'ok' : 'not ok'} - ${what}`); if (!ok) failed++; };
const s = await openUsbms({ device: selector, detachKernelDriver: true, pcap: { file: pcap } });
try {
  check(s.transport.protocol === 'uas', `the session runs ${s.transport.protocol} (queue depth ${s.transport.queueDepth})`);
  const disk = await s.openDisk(0);
  const blocks = Number(disk.blocks);
  let good = 0;
  for (let r = 0; r < rounds; r++) {
    const lbas = Array.from({ length: 8 }, (_, i) => ((r * 131 + i * 977) * 8) % (blocks - 8));
    const bufs = await Promise.all(lbas.map((lba) => disk.read(BigInt(lba), 8)));
    bufs.forEach((b, i) => { if (b.equals(img.subarray(lbas[i] * 512, lbas[i] * 512 + 4096))) good++; });
  }
  check(good === rounds * 8, `${good}/${rounds * 8} READs of 4 KiB, eight at a time, byte-exact against the image`);
  const most = s.transport.stats?.maxInFlight ?? 1;
  console.log(`max in flight ${most}`);
  check(most > 1, `several commands were on the wire at once (the transport counted ${most})`);
} finally {
  await s.close();
}
process.exit(failed === 0 ? 0 : 1);

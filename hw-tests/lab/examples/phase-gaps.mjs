// Preload for a lab guest: times the host's gaps between BOT phases at the libusb boundary, from a transfer's
// completion callback to the next submit (CBW -> data, data -> CSW, CSW -> next CBW), and prints their medians
// and quartiles at exit. It wraps usb@2's makeTransfer, so it sees usbms and the bare loop alike. In a guest:
//   WHO=usbms node --import ./hw-tests/lab/examples/phase-gaps.mjs build/tools/bench/lab.js --device 46f4:0001 \
//     --sizes 4K --rounds 3 --no-write --warmup 0 --only usbms
// (README, Performance: "The small commands' last gap").
import usb from 'usb';

const now = () => Number(process.hrtime.bigint()) / 1e6;
let lastDone = 0;
let lastKind = '';
const gaps = { 'cbw>data': [], 'data>csw': [], 'csw>cbw': [] };
// A 31-byte OUT is a CBW, an IN of at most one max packet a CSW read (the 4 KiB data is larger).
const kindOf = (dir, len) => (dir === 'out' && len === 31 ? 'cbw' : dir === 'in' && len <= 1024 ? 'csw' : 'data');

for (const [Cls, dir] of [[usb.InEndpoint, 'in'], [usb.OutEndpoint, 'out']]) {
  const orig = Cls.prototype.makeTransfer;
  Cls.prototype.makeTransfer = function makeTransfer(timeout, cb) {
    const t = orig.call(this, timeout, function done(err, buf, actual) {
      lastDone = now();
      lastKind = kindOf(dir, buf.length);
      return cb.call(this, err, buf, actual);
    });
    // node-usb's native Transfer is not extensible: hand back a wrapper with the two methods callers use.
    return {
      submit(buf) {
        const key = `${lastKind}>${kindOf(dir, buf.length)}`;
        if (gaps[key] !== undefined && lastDone > 0) gaps[key].push(now() - lastDone);
        lastDone = 0;
        t.submit(buf);
        return this;
      },
      cancel() { return t.cancel(); },
    };
  };
}

process.on('exit', () => {
  for (const [k, a] of Object.entries(gaps)) {
    if (a.length === 0) continue;
    a.sort((x, y) => x - y);
    const q = (p) => a[Math.floor(p * (a.length - 1))].toFixed(3);
    process.stderr.write(`GAP ${process.env.WHO ?? ''} ${k}: n=${a.length} median ${q(0.5)} ms, q1 ${q(0.25)}, q3 ${q(0.75)}, p90 ${q(0.9)}\n`);
  }
});

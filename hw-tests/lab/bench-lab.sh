#!/usr/bin/env bash
# bench-lab.sh (`npm run bench:lab`): usbms through real libusb against the guest kernel's usb-storage, on QEMU's
# emulated stick (xHCI, SuperSpeed) and on EHCI (high speed). Under TCG these are functional-test speeds: the
# ratio is what to read, and even that is dominated by emulated CPU time per command (lab README).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
bash "$HERE/setup.sh" >/dev/null
npm run build --silent
mkdir -p .lab && head -c 32M /dev/urandom > .lab/bench.img
for hc in xhci ehci; do
  echo "== $hc"
  bash "$HERE/run-in-vm.sh" --hc "$hc" --disk .lab/bench.img -- bash hw-tests/lab/bench-guest.sh 46f4:0001 16
done

#!/usr/bin/env bash
# bench-ab.sh OLD_TREE NEW_TREE - per command, usbms/bare, two builds of usbms side by side in ONE guest (QEMU
# usb-storage behind xHCI), taking turns: OLD round 1, NEW round 1, OLD round 2, NEW round 2. Each tree must be
# built (`npm run build`, which also compiles tools/bench). The trees are read through the guest's view of the
# host's /; the JSON of each run (build/tools/bench/lab.js) lands in .lab-bench-ab/ of the current directory, and
# the table of ratios is printed at the end. Env: AB_SIZES (default 4K,1M,4M,8M), AB_ROUNDS (lab.js rounds per
# run, default 3), AB_RUNS (turns per tree, default 2).
# Why: a regression per command hides in the noise of one run on a shared machine; two builds measured in turns in
# the same guest against the same bare loop share that noise.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 2 ] || { echo "usage: $0 OLD_TREE NEW_TREE" >&2; exit 2; }
OLD="$(cd "$1" && pwd)"; NEW="$(cd "$2" && pwd)"
OUT="$PWD/.lab-bench-ab"; mkdir -p "$OUT"
IMG="$OUT/ab.img"; head -c 128M /dev/urandom > "$IMG"
cat > "$OUT/guest.sh" <<GUEST
set -u
for r in \$(seq 1 ${AB_RUNS:-2}); do
  for t in old new; do
    tree=\$([ \$t = old ] && echo "$OLD" || echo "$NEW")
    (cd "\$tree" && node build/tools/bench/lab.js --device 46f4:0001 --sizes "${AB_SIZES:-4K,1M,4M,8M}" \
      --rounds "${AB_ROUNDS:-3}" > "$OUT/\$t-\$r.json" 2> "$OUT/\$t-\$r.err")
    echo "\$t run \$r: exit \$?"
  done
done
GUEST
bash "$HERE/run-in-vm.sh" --timeout 1800 --hc xhci --disk "$IMG" -- bash "$OUT/guest.sh"
node "$HERE/bench-ab-report.mjs" "$OUT"

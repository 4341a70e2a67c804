#!/usr/bin/env bash
# bench-check.sh CHECKS IMAGE - runs INSIDE the lab guest (run-lab.sh, VM "perf"): the data path at the speed of
# the wire, as checks, on QEMU's stick behind xHCI: `usbms tune` finds a safe size and its data matches, `image`
# at that size gives the image file's sha256, many small commands with the data submitted beside the CBW
# (verify at 64 KiB), and WRITEs with their data queued behind the CBW read back equal (then put back, so the
# host can check the image is unchanged). One "ok - perf: ..." / "not ok - perf: ... # why" line per check.
set -u
CHECKS="$1"; IMG="$2"; SEL=46f4:0001
U=(node dist/bin/usbms.js --device "$SEL")
T=/tmp/perf; mkdir -p "$T"
check() { # check NAME command...: ok when the command succeeds
  local name="$1"; shift
  if "$@" > "$T/last.log" 2>&1; then echo "ok - perf: $name"; else echo "not ok - perf: $name # $(tail -1 "$T/last.log")"; fi >> "$CHECKS"
}
tuned() {
  "${U[@]}" tune --json > "$T/tune.json" &&
  node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
    if (!(j.maxTransferBytes >= 65536) || !j.sizes.some((s)=>s.ok && s.bytes===j.maxTransferBytes)) process.exit(1);' "$T/tune.json"
}
image_matches() {
  local mt; mt=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).maxTransferBytes)' "$T/tune.json") &&
  "${U[@]}" image --max-transfer "$mt" --json --out "$T/img" > "$T/image.json" &&
  [ "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).sha256)' "$T/image.json")" = \
    "$(sha256sum < "$IMG" | cut -d' ' -f1)" ]
}
write_read_back() {
  head -c 1048576 /dev/urandom > "$T/new" &&
  "${U[@]}" read 4096 2048 --out "$T/orig" &&
  "${U[@]}" write 4096 --in "$T/new" --write --max-transfer 1M &&
  "${U[@]}" read 4096 2048 --out "$T/back" --max-transfer 256K &&
  cmp -s "$T/new" "$T/back" &&
  "${U[@]}" write 4096 --in "$T/orig" --write
}
check "usbms tune finds a safe size (>= 64 KiB) whose READs match the small READs" tuned
check "usbms image at the tuned size: the sha256 of the image file" image_matches
check "verify at 64 KiB per command (data with the CBW, hundreds of commands)" "${U[@]}" verify --max-transfer 64K
check "WRITE with its data queued behind the CBW reads back equal (and is put back)" write_read_back

#!/usr/bin/env bash
# bench-guest.sh MODEL VID:PID OUTDIR [IMAGE] - runs INSIDE one lab guest (see bench-lab.sh). On one device model,
# side by side in this one guest: the bare node-usb BOT loop and usbms's API (build/tools/bench/lab.js, alternating round
# by round), usbms's CLI (image / verify / restore, at the default and at the tuned bytes per command), then the
# guest kernel's usb-storage (dd iflag=direct / oflag=direct per size, plain dd bs=1M, sg_dd). Every figure is
# written as one JSON line to OUTDIR/MODEL.jsonl; bench-report.mjs turns them into medians, ratios and a table.
#
# Env: BENCH_SIZES (default 4K,120K,1M,4M,8M), BENCH_ROUNDS (7), BENCH_CLI_RUNS (2: image runs per size), BENCH_PROFILE=1 (node
# --cpu-prof and strace -c of one usbms run into OUTDIR/prof-MODEL/), BENCH_GADGET_IMAGE (gadget: backing file).
set -u
MODEL="$1"; SEL="$2"; OUT="$3"
SIZES="${BENCH_SIZES:-4K,120K,1M,4M,8M}"
ROUNDS="${BENCH_ROUNDS:-7}"; CLI_RUNS="${BENCH_CLI_RUNS:-2}"
J="$OUT/$MODEL.jsonl"; : > "$J"
U=(node dist/bin/usbms.js)
now() { date +%s.%N; }
emit() { # emit WHO OP BYTES_PER_CMD TOTAL_BYTES SECONDS [extra json]
  printf '{"model":"%s","who":"%s","op":"%s","bytes":%s,"total":%s,"seconds":%s%s}\n' \
    "$MODEL" "$1" "$2" "$3" "$4" "$5" "${6:+,$6}" >> "$J"
}
tobytes() { node -e 'const m=/^(\d+)([KMG]?)/i.exec(process.argv[1]);const u={"":1,K:1024,M:1048576,G:1073741824};console.log(Number(m[1])*u[m[2].toUpperCase()])' "$1"; }

if [ "$MODEL" = gadget ]; then
  cp "${BENCH_GADGET_IMAGE:?}" /tmp/gadget.img
  bash hw-tests/lab/examples/gadget-in-guest.sh /tmp/gadget.img >&2 || { echo "gadget did not come up" >&2; exit 1; }
fi

# ---- 1. bare loop and usbms API, alternating rounds in one process
echo "[$MODEL] bare loop vs usbms API: sizes $SIZES, $ROUNDS rounds" >&2
node build/tools/bench/lab.js --device "$SEL" --sizes "$SIZES" --rounds "$ROUNDS" > "$OUT/$MODEL-api.json" \
  || echo "[$MODEL] build/tools/bench/lab.js failed" >&2

# ---- 1b. which round-trip savers this device model takes (the quirk table is set from this)
echo "[$MODEL] fast paths of the bare loop (early data, queued CSW)" >&2
node build/tools/bench/fastpath.js --device "$SEL" > "$OUT/$MODEL-fastpath.json" || echo "[$MODEL] fastpath failed" >&2

# ---- 2. profile one usbms-only run (what each millisecond per command was)
if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  mkdir -p "$OUT/prof-$MODEL"
  # 4 KiB READs show the per-command cost (10 rounds of 100 commands), the larger sizes where the bytes go
  for who in usbms bare; do
    node --cpu-prof --cpu-prof-dir "$OUT/prof-$MODEL/$who-4k" build/tools/bench/lab.js --device "$SEL" --sizes 4K \
      --rounds 10 --only "$who" --no-write > /dev/null 2>&1
    strace -f -c -o "$OUT/prof-$MODEL/strace-$who-4k.txt" node build/tools/bench/lab.js --device "$SEL" --sizes 4K \
      --rounds 10 --only "$who" --no-write > /dev/null 2>&1
  done
  node --cpu-prof --cpu-prof-dir "$OUT/prof-$MODEL/usbms-large" build/tools/bench/lab.js --device "$SEL" --sizes 120K,1M \
    --rounds 1 --only usbms --no-write --bytes-per-size 16M > /dev/null 2>&1
fi

# ---- 3. the CLI, as a user runs it: wall clock (start-up included) and, for image, the copy's own seconds (--json)
TUNED=""
if "${U[@]}" tune --device "$SEL" --json > "$OUT/$MODEL-tune.json" 2> "$OUT/$MODEL-tune.err"; then
  TUNED=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).maxTransferBytes)' "$OUT/$MODEL-tune.json")
fi
echo "[$MODEL] usbms tune: ${TUNED:-failed ($(tail -1 "$OUT/$MODEL-tune.err"))}" >&2
DISK_BYTES=$("${U[@]}" capacity --device "$SEL" --json 2>/dev/null | node -e \
  'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{try{console.log(JSON.parse(s).bytes)}catch{console.log(0)}})')
cli() { # cli LABEL OP BYTES_PER_CMD args...: time one CLI run (its --json output kept for image's own seconds)
  local label="$1" op="$2" per="$3"; shift 3
  local t0 t1 own; t0=$(now)
  if "${U[@]}" "$@" > "$OUT/$MODEL-cli.out" 2>"$OUT/$MODEL-cli.err"; then
    t1=$(now)
    own=$(node -e 'try{const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(j.seconds ?? "")}catch{console.log("")}' "$OUT/$MODEL-cli.out")
    emit "$label" "$op" "$per" "$DISK_BYTES" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "${own:+\"ownSeconds\":$own}"
  else echo "[$MODEL] usbms $* failed: $(tail -1 "$OUT/$MODEL-cli.err")" >&2; fi
}
for mt in default ${TUNED:+$TUNED}; do
  flag=(); per=0; [ "$mt" = default ] || { flag=(--max-transfer "$mt"); per=$mt; }
  for r in $(seq "$CLI_RUNS"); do
    cli "cli-image-$mt" read "$per" image --device "$SEL" "${flag[@]}" --json --out /tmp/bench-image.img
    # the copy alone: under TCG sha256 is slower than the wire, so this is what the wire and usbms can do
    cli "cli-image-nohash-$mt" read "$per" image --device "$SEL" "${flag[@]}" --no-hash --json --out /tmp/bench-image.img
    # the job of the kernel's `dd iflag=direct of=/dev/null`: read the whole disk and keep nothing
    cli "cli-image-null-$mt" read "$per" image --device "$SEL" "${flag[@]}" --no-hash --json --out /dev/null
  done
  cli "cli-verify-$mt" read "$per" verify --device "$SEL" "${flag[@]}"
  cli "cli-restore-$mt" write "$per" restore --device "$SEL" "${flag[@]}" --write --json --in /tmp/bench-image.img
  cli "cli-restore-nohash-$mt" write "$per" restore --device "$SEL" "${flag[@]}" --write --no-hash --json --in /tmp/bench-image.img
done
echo "[$MODEL] CLI done" >&2
t0=$(now); node -e 0; emit node-start none 0 0 "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
t0=$(now); "${U[@]}" capacity --mock > /dev/null; emit cli-capacity-mock none 0 0 "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"

# ---- 4. the guest kernel's usb-storage on the same device
busybox modprobe usb-storage; busybox modprobe sd_mod; busybox modprobe sg
DEV=""
for i in $(seq 100); do
  for b in /sys/block/sd*; do [ -e "$b" ] && DEV=/dev/$(basename "$b"); done
  [ -n "$DEV" ] && [ -b "$DEV" ] && break; sleep 0.1
done
[ -b "$DEV" ] || { echo "[$MODEL] no /dev/sdX from usb-storage" >&2; exit 0; }
MSK=$(cat "/sys/block/$(basename "$DEV")/queue/max_sectors_kb")
echo "[$MODEL] kernel: $DEV max_sectors_kb=$MSK" >&2
ddtime() { # ddtime args...: seconds dd reports
  dd "$@" 2>&1 | sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' | tail -1
}
TOTAL=$((16 * 1024 * 1024))
for r in $(seq "$ROUNDS"); do
  for s in ${SIZES//,/ }; do
    b=$(tobytes "$s"); n=$(( TOTAL / b )); [ "$n" -lt 4 ] && n=4
    sec=$(ddtime if="$DEV" of=/dev/null bs="$b" count="$n" skip=$((4 * 1024 * 1024 / b)) iflag=direct)
    emit kernel-dd-direct read "$b" $((n * b)) "${sec:-0}" "\"maxSectorsKb\":$MSK"
    sec=$(ddtime if=/dev/zero of="$DEV" bs="$b" count="$n" seek=$((4 * 1024 * 1024 / b)) oflag=direct)
    emit kernel-dd-direct write "$b" $((n * b)) "${sec:-0}" "\"maxSectorsKb\":$MSK"
  done
  # the whole disk, kept nowhere (beside image --out /dev/null), into a tmpfs file, and the same through sha256sum
  sec=$(ddtime if="$DEV" of=/dev/null bs=1M iflag=direct)
  emit kernel-dd-direct-whole read 1048576 "$DISK_BYTES" "${sec:-0}"
  t0=$(now); dd if="$DEV" of=/tmp/bench-kernel.img bs=1M iflag=direct status=none
  emit kernel-dd-direct-file read 1048576 "$DISK_BYTES" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
  t0=$(now); dd if="$DEV" bs=1M iflag=direct status=none | tee /tmp/bench-kernel.img | sha256sum > /dev/null
  emit kernel-dd-direct-sha256 read 1048576 "$DISK_BYTES" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
  # what `usbms restore` does, by the kernel: the image file back onto the disk (the same bytes it holds)
  sec=$(ddtime if=/tmp/bench-image.img of="$DEV" bs=1M oflag=direct)
  emit kernel-dd-direct-restore write 1048576 "$DISK_BYTES" "${sec:-0}"
  t0=$(now); sha256sum /tmp/bench-kernel.img > /dev/null
  emit sha256sum-tmpfs none 0 "$DISK_BYTES" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
  rm -f /tmp/bench-kernel.img
  echo 3 > /proc/sys/vm/drop_caches
  sec=$(ddtime if="$DEV" of=/dev/null bs=1M)
  emit kernel-dd-buffered read 1048576 "$DISK_BYTES" "${sec:-0}"
  SG=$(ls -d /sys/block/"$(basename "$DEV")"/device/scsi_generic/sg* 2>/dev/null | head -1)
  if [ -n "$SG" ]; then
    t0=$(now)
    sg_dd if=/dev/"$(basename "$SG")" of=/dev/null bs=512 bpt=$((MSK * 2)) count=$((TOTAL / 512)) 2>/dev/null
    emit kernel-sg-dd read $((MSK * 1024)) "$TOTAL" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
  fi
done
if [ "$MODEL" = gadget ]; then bash hw-tests/lab/examples/gadget-in-guest.sh --remove; fi
echo "[$MODEL] done" >&2

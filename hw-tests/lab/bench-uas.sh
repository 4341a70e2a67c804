#!/usr/bin/env bash
# bench-uas.sh OUTDIR - runs INSIDE one lab guest (bench-lab.sh, model "uas"): QEMU usb-uas (BENCHUAS) and QEMU
# usb-storage (BENCHBOT) behind the same EHCI controller, each on its own copy of the same backing image. Side by side:
#   usbms over UAS       build/tools/bench/qd.js --transport uas: 4 KiB random READs at queue depth 1 and 8, and
#                        sequential READs and WRITEs at the size `usbms tune` finds (queue depth 1 and 4)
#   usbms over Bulk-Only the same on BENCHBOT (the HBA queues; Bulk-Only keeps one command on the wire)
#   the kernel's uas     fio (the host's binary over 9p) on the /dev/sdX uas makes of BENCHUAS, the same jobs
# Every figure is one JSON line in OUTDIR/uas-qd.jsonl; bench-report.mjs prints them with their ratios.
# Env: BENCH_SECONDS (per job, default 8), BENCH_ROUNDS (default 3: medians).
set -u
OUT="$1"
J="$OUT/uas-qd.jsonl"; : > "$J"
SECS="${BENCH_SECONDS:-8}"; ROUNDS="${BENCH_ROUNDS:-3}"
U=(node dist/bin/usbms.js)
QD=(node build/tools/bench/qd.js)
UAS=46f4:0003:BENCHUAS; BOT=46f4:0001:BENCHBOT
TUNED=$("${U[@]}" tune --device "$UAS" --json 2> "$OUT/uas-tune.err" | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).maxTransferBytes)}catch{console.log(262144)}})')
echo "[uas] usbms tune on UAS: $TUNED bytes per command" >&2
usbms() { # usbms WHO SELECTOR TRANSPORT QD SIZE PATTERN [--op write --write] [--max-transfer N]
  local who="$1" sel="$2" tr="$3" qd="$4" size="$5" pat="$6"; shift 6
  "${QD[@]}" --device "$sel" --transport "$tr" --qd "$qd" --size "$size" --pattern "$pat" --seconds "$SECS" "$@" \
    2>> "$OUT/uas-qd.err" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
      console.log(JSON.stringify({ who: process.argv[1], qd: j.queueDepth, size: j.size, pattern: j.pattern, op: j.op, iops: j.iops, mbps: j.mbPerSecond }))})' \
    "$who" >> "$J" || echo "[uas] $who qd $qd $size $pat $* failed" >&2
}
for r in $(seq "$ROUNDS"); do
  for qd in 1 8; do
    usbms usbms-uas "$UAS" uas "$qd" 4096 random
    usbms usbms-bot "$BOT" bot "$qd" 4096 random
  done
  for qd in 1 4; do
    usbms usbms-uas "$UAS" uas "$qd" "$TUNED" sequential --max-transfer "$TUNED"
    usbms usbms-bot "$BOT" bot "$qd" "$TUNED" sequential --max-transfer "$TUNED"
    usbms usbms-uas "$UAS" uas "$qd" "$TUNED" sequential --op write --write --max-transfer "$TUNED"
    usbms usbms-bot "$BOT" bot "$qd" "$TUNED" sequential --op write --write --max-transfer "$TUNED"
  done
done
echo "[uas] usbms done" >&2

# the guest kernel's uas driver on the same usb-uas device
busybox modprobe sd_mod; busybox modprobe uas
DEV=""
for i in $(seq 100); do
  for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = BENCHUAS ] || continue
    b=$(ls -d "$d"/*:1.0/host*/target*/*/block/* 2>/dev/null | head -1)
    [ -n "$b" ] && DEV=/dev/$(basename "$b")
  done
  [ -n "$DEV" ] && [ -b "$DEV" ] && break; sleep 0.2
done
[ -b "$DEV" ] || { echo "[uas] the kernel's uas made no block device" >&2; exit 0; }
echo "[uas] kernel uas: $DEV, queue_depth $(cat /sys/block/$(basename "$DEV")/device/queue_depth 2>/dev/null)" >&2
fiojob() { # fiojob QD SIZE rw
  local ro=--readonly; [ "$3" = write ] && ro=
  fio --name=k --filename="$DEV" --direct=1 --ioengine=libaio --iodepth="$1" --bs="$2" --rw="$3" --time_based \
    --runtime="$SECS" --offset=1M $ro --output-format=json 2>> "$OUT/uas-fio.err" | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const w=process.argv[3]==="write";const r=JSON.parse(s).jobs[0][w?"write":"read"];
      console.log(JSON.stringify({ who: "kernel-uas", qd: Number(process.argv[1]), size: Number(process.argv[2]),
        pattern: process.argv[3] === "randread" ? "random" : "sequential", op: w ? "write" : "read", iops: r.iops, mbps: r.bw_bytes / 1e6 }))})' \
    "$1" "$2" "$3" >> "$J" || echo "[uas] fio qd $1 $2 $3 failed" >&2
}
for r in $(seq "$ROUNDS"); do
  for qd in 1 8; do fiojob "$qd" 4096 randread; done
  for qd in 1 4; do fiojob "$qd" "$TUNED" read; fiojob "$qd" "$TUNED" write; done
done
echo "[uas] done" >&2

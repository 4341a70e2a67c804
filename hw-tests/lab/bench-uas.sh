#!/usr/bin/env bash
# bench-uas.sh OUTDIR - runs INSIDE one lab guest (bench-lab.sh, model "uas"): QEMU usb-uas (BENCHUAS) and QEMU
# usb-storage (BENCHBOT) behind the same EHCI controller, each on its own copy of the same backing image. Side by side:
#   usbms over UAS       build/tools/bench/qd.js --transport uas: 4 KiB random READs at queue depth 1 and 8, and
#                        sequential READs and WRITEs at the size `usbms tune` finds (queue depth 1 and 4)
#   usbms over Bulk-Only the same on BENCHBOT (the HBA queues; Bulk-Only keeps one command on the wire)
#   a bare UAS loop      build/tools/bench/bare-uas.js: the random 4 KiB READs done as Linux's uas does them, straight on
#                        node-usb in callbacks (what any driver over node-usb pays, usbms's own cost left out)
#   the kernel's uas     fio (the host's binary over 9p) on the /dev/sdX uas makes of BENCHUAS, the same jobs: direct
#                        I/O, libaio at the same queue depth, the same size, the region past the first MiB, 2 s of
#                        ramp as usbms's warm-up; max_sectors_kb raised to max_hw_sectors_kb (the kernel's own best)
# Every figure is one JSON line in OUTDIR/uas-qd.jsonl, with the guest's CPU busy share during the job (busy: of
# both vCPUs); bench-report.mjs prints them with their ratios.
# Env: BENCH_SECONDS (per job, default 8), BENCH_ROUNDS (default 3: medians), BENCH_PROFILE=1 (node --cpu-prof of one
# usbms UAS and one bare run at queue depth 8 into OUTDIR/prof-uas/).
set -u
OUT="$1"
J="$OUT/uas-qd.jsonl"; : > "$J"
SECS="${BENCH_SECONDS:-8}"; ROUNDS="${BENCH_ROUNDS:-3}"
U=(node dist/bin/usbms.js)
# The guest's CPU busy share (0..1 over all vCPUs) since the last cpu_mark: a job that holds it near 0.5 is one
# thread's worth (node's), near 1 both.
cpu_mark() { read -r _ a b c d e f g _ < /proc/stat; CPU0=$((a + b + c + e + f + g)); IDLE0=$d; }
cpu_busy() { read -r _ a b c d e f g _ < /proc/stat; local busy=$((a + b + c + e + f + g - CPU0)) idle=$((d - IDLE0))
  node -e 'console.log((Number(process.argv[1]) / Math.max(1, Number(process.argv[1]) + Number(process.argv[2]))).toFixed(3))' "$busy" "$idle"; }
QD=(node build/tools/bench/qd.js)
UAS=46f4:0003:BENCHUAS; BOT=46f4:0001:BENCHBOT
TUNED=$("${U[@]}" tune --device "$UAS" --json 2> "$OUT/uas-tune.err" | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).maxTransferBytes)}catch{console.log(262144)}})')
echo "[uas] usbms tune on UAS: $TUNED bytes per command" >&2
line() { # line WHO: qd.js's (or bare-uas.js's) JSON on stdin -> one line of uas-qd.jsonl
  local busy; busy=$(cpu_busy)
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);
      console.log(JSON.stringify({ who: process.argv[1], qd: j.queueDepth, size: j.size, pattern: j.pattern, op: j.op, iops: j.iops, mbps: j.mbPerSecond,
        cpuMsPerOp: j.cpuUserMsPerOp + j.cpuSystemMsPerOp, guestBusy: Number(process.argv[2]) }))})' "$1" "$busy"
}
usbms() { # usbms WHO SELECTOR TRANSPORT QD SIZE PATTERN [--op write --write] [--max-transfer N] [--warmup N]
  local who="$1" sel="$2" tr="$3" qd="$4" size="$5" pat="$6" out; shift 6
  cpu_mark
  out=$("${QD[@]}" --device "$sel" --transport "$tr" --qd "$qd" --size "$size" --pattern "$pat" --seconds "$SECS" "$@" 2>> "$OUT/uas-qd.err") &&
    line "$who" <<< "$out" >> "$J" || echo "[uas] $who qd $qd $size $pat $* failed" >&2
}
bare() { # bare QD [SIZE PATTERN WARMUP]: the bare UAS loop's READs (default 4 KiB random)
  local out; cpu_mark
  out=$(node build/tools/bench/bare-uas.js --qd "$1" --size "${2:-4096}" --pattern "${3:-random}" --warmup "${4:-500}" \
    --seconds "$SECS" 2>> "$OUT/uas-qd.err") &&
    line bare-uas <<< "$out" >> "$J" || echo "[uas] bare qd $1 ${2:-4096} ${3:-random} failed" >&2
}
for r in $(seq "$ROUNDS"); do
  for qd in 1 8; do
    usbms usbms-uas "$UAS" uas "$qd" 4096 random
    usbms usbms-bot "$BOT" bot "$qd" 4096 random
    bare "$qd"
  done
  # 16 untimed commands of the tuned size warm the path (500 of 8 MiB would be 4 GiB before each job)
  # the ceiling of node-usb itself for sequential reads at the tuned size (one tag: usbfs holds 16 MiB by default)
  bare 1 "$TUNED" sequential 16
  for qd in 1 4; do
    usbms usbms-uas "$UAS" uas "$qd" "$TUNED" sequential --max-transfer "$TUNED" --warmup 16
    usbms usbms-bot "$BOT" bot "$qd" "$TUNED" sequential --max-transfer "$TUNED" --warmup 16
    usbms usbms-uas "$UAS" uas "$qd" "$TUNED" sequential --op write --write --max-transfer "$TUNED" --warmup 16
    usbms usbms-bot "$BOT" bot "$qd" "$TUNED" sequential --op write --write --max-transfer "$TUNED" --warmup 16
  done
done
if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  mkdir -p "$OUT/prof-uas"
  node --cpu-prof --cpu-prof-dir "$OUT/prof-uas/usbms-qd8" build/tools/bench/qd.js --device "$UAS" --transport uas --qd 8 \
    --size 4096 --pattern random --seconds "$SECS" > "$OUT/prof-uas/usbms-qd8.json" 2>> "$OUT/uas-qd.err"
  node --cpu-prof --cpu-prof-dir "$OUT/prof-uas/bare-qd8" build/tools/bench/bare-uas.js --qd 8 --seconds "$SECS" \
    > "$OUT/prof-uas/bare-qd8.json" 2>> "$OUT/uas-qd.err"
fi
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
Q=/sys/block/$(basename "$DEV")/queue
cat "$Q/max_hw_sectors_kb" > "$Q/max_sectors_kb" 2>/dev/null
echo "[uas] kernel uas: $DEV, queue_depth $(cat "$Q/../device/queue_depth" 2>/dev/null), max_sectors_kb $(cat "$Q/max_sectors_kb") (hw $(cat "$Q/max_hw_sectors_kb"))" >&2
fiojob() { # fiojob QD SIZE rw
  local ro=--readonly out busy; [ "$3" = write ] && ro=
  cpu_mark
  out=$(fio --name=k --filename="$DEV" --direct=1 --ioengine=libaio --iodepth="$1" --bs="$2" --rw="$3" --time_based \
    --ramp_time=2 --runtime="$SECS" --offset=1M $ro --output-format=json 2>> "$OUT/uas-fio.err") || { echo "[uas] fio qd $1 $2 $3 failed" >&2; return; }
  busy=$(cpu_busy)
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const w=process.argv[3]==="write";const r=JSON.parse(s).jobs[0][w?"write":"read"];
      console.log(JSON.stringify({ who: "kernel-uas", qd: Number(process.argv[1]), size: Number(process.argv[2]),
        pattern: process.argv[3] === "randread" ? "random" : "sequential", op: w ? "write" : "read", iops: r.iops, mbps: r.bw_bytes / 1e6,
        guestBusy: Number(process.argv[4]) }))})' "$1" "$2" "$3" "$busy" <<< "$out" >> "$J" 
}
for r in $(seq "$ROUNDS"); do
  for qd in 1 8; do fiojob "$qd" 4096 randread; done
  for qd in 1 4; do fiojob "$qd" "$TUNED" read; fiojob "$qd" "$TUNED" write; done
done
echo "[uas] done" >&2

#!/usr/bin/env bash
# bench-serve.sh - `usbms serve`'s speed through the guest kernel's NBD client, side by side in one guest per host
# controller: dd iflag=direct / oflag=direct bs=4M through /dev/nbd0 (usbms serve on the QEMU stick) and through
# /dev/nbd1 (qemu-nbd serving a RAM image: the NBD path's own ceiling, same client, same request size), taking
# turns round by round; nbdcopy from usbms serve against `usbms image --no-hash` at the same bytes per command; then
# the kernel's usb-storage on the same stick. Both serve and image use the bytes per command `usbms tune` finds.
#
#   Host:  bench-serve.sh [MODELS]          (default "ehci xhci"; run it under flock /tmp/usbms-lab.lock)
#   Guest: bench-serve.sh guest MODEL OUTDIR
#
# Figures: OUTDIR/MODEL.jsonl (one JSON line per measurement), then the table and the ratios against issue 23's
# goals (serve >= 0.8x qemu-nbd's RAM image on EHCI and xHCI, >= 0.8x usb-storage on EHCI; nbdcopy >= 0.8x usbms
# image --no-hash) from bench-serve-report.mjs into OUTDIR/report.txt, the same as JSON in OUTDIR/report.json.
# Env: BENCH_SERVE_DIR (.lab-bench-serve; it must lie inside the repository, the only host folder the guest sees), BENCH_SERVE_MB (stick size, 256), BENCH_SERVE_ROUNDS (3),
# BENCH_SERVE_DD_MB (MiB per dd, 64), BENCH_SERVE_SMP (guest vCPUs, 2), BENCH_SERVE_PROF=1 (V8 profile of the server
# into OUTDIR/prof-MODEL), BENCH_SERVE_DEBUG=1 (the server's
# DEBUG=usbms:serve log in OUTDIR/MODEL-serve.err), BENCH_SERVE_ALT_ARGS (a second serve with these extra arguments, measured after the first
# in the same guest against qemu-nbd again: an A/B of a serve option). Each dd line also carries the guest's busy share of all vCPUs and the server's CPU seconds.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

guest() {
  local model="$1" out="$2"
  local J="$out/$model.jsonl"; : > "$J"
  local rounds="${BENCH_SERVE_ROUNDS:-3}" mb="${BENCH_SERVE_DD_MB:-64}"
  local count=$((mb / 4))
  local seq=0; rm -rf "$out/marks-$model"; mkdir -p "$out/marks-$model"
  local SEL=46f4:0001 U=(node dist/bin/usbms.js)
  emit() { printf '{"model":"%s","who":"%s","op":"%s","bytes":%s,"seconds":%s%s}\n' "$model" "$1" "$2" "$3" "$4" "${5:+,$5}" >> "$J"; }
  ddsec() { dd "$@" 2>&1 | sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' | tail -1; }
  # Where the CPU goes during one dd: the guest's busy and idle jiffies over all vCPUs (/proc/stat) and the CPU
  # jiffies of the NBD server process (usbms serve or qemu-nbd, its threads included). A run whose vCPUs are near
  # 100 % busy is bound by CPU, not by waiting for the device or the socket.
  snap() {
    local _c u n s i w q sq st; read -r _c u n s i w q sq st _ < /proc/stat
    local t=0 us=0 sy=0 mt=0
    if [ -r "/proc/$1/stat" ]; then
      read -r us sy < <(awk '{print $14, $15}' "/proc/$1/stat"); t=$((us + sy))
      mt=$(awk '{print $14 + $15}' "/proc/$1/task/$1/stat" 2>/dev/null || echo 0)
    fi
    echo "$((u + n + s + q + sq + st)) $((i + w)) $t $us $sy $mt"
  }
  # marks the host can time: a file made through the shared folder gets the host's clock as its mtime
  local mark=""
  # (each holds the guest's uptime, the clock of V8's profile samples: bench-serve-profile.mjs splits a profile by them)
  mark_start() { mark="$out/marks-$model/$(printf %03d "$seq")-$1-$2"; seq=$((seq + 1)); cut -d' ' -f1 /proc/uptime > "$mark.start"; }
  mark_end() { cut -d' ' -f1 /proc/uptime > "$mark.end"; }
  # measure WHO OP PID EXTRA -- dd args: one timed dd, its CPU figures beside the seconds
  measure() {
    local who="$1" op="$2" pid="$3" extra="$4"; shift 5
    local a b sec; mark_start "$who" "$op"; a=($(snap "$pid")); sec=$(ddsec "$@"); b=($(snap "$pid")); mark_end
    local busy=$((b[0] - a[0])) idle=$((b[1] - a[1])) hz; hz=$(getconf CLK_TCK)
    secs() { awk -v t="$1" -v hz="$hz" 'BEGIN{print t/hz}'; }
    # the server's CPU: all threads, split into user and kernel time, and its main (JavaScript) thread alone
    emit "$who" "$op" $((mb * 1048576)) "$sec" "$extra,\"guestBusyPct\":$(( (100 * busy) / (busy + idle + 1) )),\"serverCpuSeconds\":$(secs $((b[2] - a[2]))),\"serverUserSeconds\":$(secs $((b[3] - a[3]))),\"serverSysSeconds\":$(secs $((b[4] - a[4]))),\"serverMainThreadSeconds\":$(secs $((b[5] - a[5]))),\"vcpus\":$(nproc)"
  }
  now() { date +%s.%N; }
  busybox ip link set lo up
  busybox modprobe nbd max_part=0 nbds_max=4
  local T
  T=$("${U[@]}" tune --device "$SEL" --json 2>"$out/$model-tune.err" | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{try{console.log(JSON.parse(s).maxTransferBytes)}catch{console.log("")}})')
  [ -n "$T" ] || T=$((1024 * 1024))
  echo "[$model] bytes per command (usbms tune): $T" >&2
  emit tune none "$T" 0
  # the ceiling: qemu-nbd serving a RAM image (tmpfs) of the same size, over loopback
  local size; size=$("${U[@]}" capacity --device "$SEL" --json | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{console.log(JSON.parse(s).bytes)})')
  head -c "$size" /dev/zero > /dev/shm/ram.img
  qemu-nbd -f raw -t -b 127.0.0.1 -p 10810 -x ram /dev/shm/ram.img & local qpid=$!
  # BENCH_SERVE_DEBUG=1: DEBUG=usbms:serve, each run's requests and bytes into the .err file (how the kernel's
  # requests merged; off by default: the logging costs the server time a user's would not spend)
  # BENCH_SERVE_PROF=1: the server runs under V8's sampling profiler; the .cpuprofile lands in OUTDIR/prof-MODEL
  local prof=(); [ "${BENCH_SERVE_PROF:-0}" = 1 ] && prof=(--cpu-prof --cpu-prof-dir="$out/prof-$model")
  # start_serve TAG ARGS...: usbms serve on the stick with these extra arguments; its pid in spid
  local spid
  start_serve() {
    local tag="$1"; shift
    DEBUG="${BENCH_SERVE_DEBUG:+usbms:serve}" node "${prof[@]}" dist/bin/usbms.js serve --device "$SEL" --write --max-transfer "$T" --listen 10809 --name stick --json "$@" \
      > "$out/$model-$tag.ndjson" 2> "$out/$model-$tag.err" &
    spid=$!
    for _ in $(seq 600); do grep -q listening "$out/$model-$tag.ndjson" 2>/dev/null && break; sleep 0.1; done
    sleep 1
  }
  # dd_rounds WHO RAMWHO: the untimed round, then the timed rounds through nbd1 (qemu-nbd) and nbd0 (serve) in turn
  dd_rounds() {
    local swho="$1" rwho="$2"
    for dev in nbd1 nbd0; do
      dd if=/dev/$dev of=/dev/null bs=4M count="$count" iflag=direct status=none
      dd if=/dev/zero of=/dev/$dev bs=4M count="$count" oflag=direct status=none
    done
    for r in $(seq "$rounds"); do
      for dev in nbd1 nbd0; do
        local who pid; who=$([ "$dev" = nbd0 ] && echo "$swho" || echo "$rwho"); pid=$([ "$dev" = nbd0 ] && echo "$spid" || echo "$qpid")
        measure "$who" read "$pid" "\"maxSectorsKb\":$msk" -- if=/dev/$dev of=/dev/null bs=4M count="$count" iflag=direct
        measure "$who" write "$pid" "\"maxSectorsKb\":$msk" -- if=/dev/zero of=/dev/$dev bs=4M count="$count" oflag=direct
      done
      echo "[$model] $swho round $r done" >&2
    done
  }
  start_serve serve
  nbd-client 127.0.0.1 10809 /dev/nbd0 -N stick > /dev/null || echo "[$model] nbd-client usbms failed" >&2
  nbd-client 127.0.0.1 10810 /dev/nbd1 -N ram > /dev/null || echo "[$model] nbd-client qemu-nbd failed" >&2
  local msk; msk=$(cat /sys/block/nbd0/queue/max_sectors_kb)
  echo "[$model] nbd max_sectors_kb $msk; $rounds rounds of $mb MiB per dd, after one untimed round (V8's warm-up)" >&2
  dd_rounds serve qemu-nbd-ram
  # BENCH_SERVE_ALT_ARGS: the same rounds again with a second serve, started with these extra arguments (an A/B
  # in one guest: "serve-alt" against "qemu-nbd-ram-alt", measured in the same minutes)
  if [ -n "${BENCH_SERVE_ALT_ARGS:-}" ]; then
    nbd-client -d /dev/nbd0 > /dev/null 2>&1
    kill -TERM "$spid"; wait "$spid"
    # shellcheck disable=SC2086 # the extra arguments are words
    start_serve serve-alt $BENCH_SERVE_ALT_ARGS
    nbd-client 127.0.0.1 10809 /dev/nbd0 -N stick > /dev/null || echo "[$model] nbd-client usbms (alt) failed" >&2
    emit alt-args "$BENCH_SERVE_ALT_ARGS" 0 0
    dd_rounds serve-alt qemu-nbd-ram-alt
  fi
  nbd-client -d /dev/nbd0 > /dev/null 2>&1; nbd-client -d /dev/nbd1 > /dev/null 2>&1
  # nbdcopy (userspace client: multi-conn, many requests) from usbms serve, requests of the transfer size, and
  # from qemu-nbd's RAM image (the ceiling of nbdcopy over loopback in this guest)
  for r in $(seq "$rounds"); do
    local t0; t0=$(now); mark_start nbdcopy read
    nbdcopy --request-size="$T" nbd://127.0.0.1:10809/stick null: 2> "$out/$model-nbdcopy.err" || echo "[$model] nbdcopy failed" >&2
    mark_end; emit nbdcopy read "$size" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
    t0=$(now); mark_start nbdcopy-ram read
    nbdcopy --request-size="$T" nbd://127.0.0.1:10810/ram null: 2>> "$out/$model-nbdcopy.err" || echo "[$model] nbdcopy ram failed" >&2
    mark_end; emit nbdcopy-ram read "$size" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN{print b-a}')"
  done
  kill -TERM "$spid"; wait "$spid"
  kill "$qpid"; wait "$qpid" 2>/dev/null
  rm -f /dev/shm/ram.img
  # usbms image --no-hash at the same bytes per command (its own seconds, start-up excluded as nbdcopy has none)
  for r in $(seq "$rounds"); do
    mark_start usbms-image read
    "${U[@]}" image --device "$SEL" --max-transfer "$T" --no-hash --json --out /dev/null > "$out/$model-image.json" 2>&1
    mark_end
    emit usbms-image read "$size" "$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).seconds)' "$out/$model-image.json")"
  done
  # the kernel's own usb-storage on the same stick
  busybox modprobe usb-storage; busybox modprobe sd_mod
  local sd=""
  for _ in $(seq 100); do for b in /sys/block/sd*; do [ -e "$b" ] && sd=/dev/$(basename "$b"); done; [ -b "$sd" ] && break; sleep 0.1; done
  if [ -b "$sd" ]; then
    local ms; ms=$(cat "/sys/block/$(basename "$sd")/queue/max_sectors_kb")
    for r in $(seq "$rounds"); do
      measure usb-storage read 0 "\"maxSectorsKb\":$ms" -- if="$sd" of=/dev/null bs=4M count="$count" iflag=direct
      measure usb-storage write 0 "\"maxSectorsKb\":$ms" -- if=/dev/zero of="$sd" bs=4M count="$count" oflag=direct
    done
  else echo "[$model] no /dev/sdX from usb-storage" >&2; fi
  echo "[$model] done" >&2
}

host() {
  local ROOT; ROOT="$(cd "$HERE/../.." && pwd)"
  cd "$ROOT" || exit 2
  local out="${BENCH_SERVE_DIR:-$ROOT/.lab-bench-serve}" mb="${BENCH_SERVE_MB:-256}"
  mkdir -p "$out"
  bash "$HERE/setup.sh" > /dev/null
  npm run build --silent
  local pass=(-e "BENCH_SERVE_ROUNDS=${BENCH_SERVE_ROUNDS:-3}" -e "BENCH_SERVE_DD_MB=${BENCH_SERVE_DD_MB:-64}"
    -e "BENCH_SERVE_PROF=${BENCH_SERVE_PROF:-0}" -e "BENCH_SERVE_ALT_ARGS=${BENCH_SERVE_ALT_ARGS:-}"
    -e "BENCH_SERVE_DEBUG=${BENCH_SERVE_DEBUG:-}")
  for model in ${1:-ehci xhci}; do
    head -c "${mb}M" /dev/urandom > "$out/$model.img"
    echo "== $model" >&2
    # the host's side of the same runs: every 0.2 s its CPU jiffies (busy, idle over all cores) and QEMU's own,
    # matched to the guest's marks by bench-serve-report.mjs (is the host's CPU what the runs wait for?)
    ( while sleep 0.2; do
        read -r _c u n s i w q sq st _ < /proc/stat
        qt=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 ~ /qemu-system/ {t += $14 + $15} END {print t + 0}')
        echo "$(date +%s.%N) $((u + n + s + q + sq + st)) $((i + w)) $qt"
      done > "$out/host-cpu-$model.txt" ) & local sampler=$!
    bash "$HERE/run-in-vm.sh" --timeout 2400 --hc "$model" --smp "${BENCH_SERVE_SMP:-2}" --mem 3072 --disk "$out/$model.img" "${pass[@]}" -- \
      bash hw-tests/lab/bench-serve.sh guest "$model" "$out" || echo "guest for $model exited $?" >&2
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    rm -f "$out/$model.img"
  done
  node "$HERE/bench-serve-report.mjs" "$out" | tee "$out/report.txt"
}

if [ "${1:-}" = guest ]; then shift; guest "$@"; else host "$@"; fi

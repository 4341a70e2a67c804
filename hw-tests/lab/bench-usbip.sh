#!/bin/bash
# bench-usbip.sh OUTDIR - runs INSIDE one lab guest (bench-lab.sh's model "usbip": one QEMU stick behind qemu-xhci,
# serial USBVM0). Side by side in this one guest, per command at 4 KiB, 120 KiB, 1 MiB and the size `usbms tune`
# picks over the link: usbms (and the bare node-usb loop) on the stick directly, usbms (and the bare loop) over
# USB/IP (usbip-host exports it, vhci-hcd attaches it back over 127.0.0.1), and the guest kernel's usb-storage over
# the same USB/IP link (dd iflag=direct). Also the fast-path probe (build/tools/bench/fastpath.js) both ways: which
# round-trip savers the stick takes directly and through vhci. Figures in bench-guest.sh's format:
# OUTDIR/usbip-direct-*.json, OUTDIR/usbip-vhci-*.json and OUTDIR/usbip-vhci.jsonl (bench-report.mjs reads them).
# Env: BENCH_ROUNDS (default 5), BENCH_USBIP_SIZES (default 4K,120K,1M).
set -u
OUT="$1"
ROUNDS="${BENCH_ROUNDS:-5}"; SIZES="${BENCH_USBIP_SIZES:-4K,120K,1M}"
HOST=127.0.0.1
U=(node dist/bin/usbms.js)
J="$OUT/usbip-vhci.jsonl"; : > "$J"; : > "$OUT/usbip-direct.jsonl"
now() { date +%s.%N; }
busid_of() { # busid_of SERIAL [vhci|local]
  local d want="${2:-local}"
  for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
    case "$(readlink -f "$d")" in */vhci_hcd.*) [ "$want" = vhci ] && basename "$d";; *) [ "$want" = local ] && basename "$d";; esac
  done | head -1
}
wait_for() { local n=$(( $1 * 10 )); shift; while ! "$@" > /dev/null 2>&1; do n=$((n - 1)); [ $n -le 0 ] && return 1; sleep 0.1; done; }
attached() { [ -n "$(busid_of USBVM0 vhci)" ]; }
attach() { usbip bind -b "$B" && usbip attach -r "$HOST" -b "$B" && wait_for 20 attached; }
detach() {
  local p; p=$(grep -l " $B\$" /var/run/vhci_hcd/port* 2>/dev/null | head -1 | sed 's/.*port//')
  [ -n "$p" ] && usbip detach -p "$p"; usbip unbind -b "$B"; wait_for 20 sh -c "! ls /sys/bus/usb/drivers/usbip-host/$B"
}
tobytes() { node -e 'const m=/^(\d+)([KMG]?)/i.exec(process.argv[1]);const u={"":1,K:1024,M:1048576,G:1073741824};console.log(Number(m[1])*u[m[2].toUpperCase()])' "$1"; }

for m in usbip-core usbip-host vhci-hcd; do busybox modprobe "$m"; done
busybox ip link set lo up
usbipd -D
wait_for 10 sh -c 'grep -q ":0CA8 00000000:0000 0A" /proc/net/tcp'
B=$(busid_of USBVM0)
echo "[usbip] stick at $B" >&2

# ---- the tuned size over the link (usbms tune picks the bytes per command the device and the link serve best)
attach || { echo "[usbip] attach failed" >&2; exit 1; }
V=$(busid_of USBVM0 vhci); R="usbip:$HOST:$B"
echo "[usbip] attached as $V ($R)" >&2
TUNED=""
if "${U[@]}" tune --device "$R" --json > "$OUT/usbip-vhci-tune.json" 2> "$OUT/usbip-vhci-tune.err"; then
  TUNED=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).maxTransferBytes)' "$OUT/usbip-vhci-tune.json")
fi
echo "[usbip] usbms tune over USB/IP: ${TUNED:-failed ($(tail -1 "$OUT/usbip-vhci-tune.err"))}" >&2
ALL="$SIZES${TUNED:+,$TUNED}"

# ---- the stick directly (not exported while measured)
detach
echo "[usbip] direct at $B: sizes $ALL" >&2
node build/tools/bench/lab.js --device 46f4:0001 --port "$B" --sizes "$ALL" --rounds "$ROUNDS" --warmup 300 > "$OUT/usbip-direct-api.json" \
  || echo "[usbip] direct lab.js failed" >&2
node build/tools/bench/fastpath.js --device 46f4:0001 --port "$B" > "$OUT/usbip-direct-fastpath.json" || echo "[usbip] direct fastpath failed" >&2

# ---- over USB/IP: usbms and the bare loop, then the fast paths through vhci
attach || { echo "[usbip] re-attach failed" >&2; exit 1; }
V=$(busid_of USBVM0 vhci)
echo "[usbip] over USB/IP at $V: sizes $ALL" >&2
node build/tools/bench/lab.js --device 46f4:0001 --port "$V" --sizes "$ALL" --rounds "$ROUNDS" --warmup 300 > "$OUT/usbip-vhci-api.json" \
  || echo "[usbip] vhci lab.js failed" >&2
node build/tools/bench/fastpath.js --device 46f4:0001 --port "$V" > "$OUT/usbip-vhci-fastpath.json" || echo "[usbip] vhci fastpath failed" >&2

# ---- the kernel's usb-storage over the same link
busybox modprobe usb-storage; busybox modprobe sd_mod
DEV=""
for i in $(seq 200); do
  for b in /sys/block/sd*; do
    [ -e "$b" ] || continue
    case "$(readlink -f "$b/device")" in */vhci_hcd.*) DEV=/dev/$(basename "$b");; esac
  done
  [ -n "$DEV" ] && [ -b "$DEV" ] && break; sleep 0.1
done
# usb-storage may also have bound the exported original's interface: leave it alone (usbip-host forwards to it)
[ -e "/sys/bus/usb/drivers/usb-storage/$B:1.0" ] && { echo "$B:1.0" > /sys/bus/usb/drivers/usb-storage/unbind; echo "[usbip] unbound usb-storage from the exported $B:1.0" >&2; }
[ -b "$DEV" ] || { echo "[usbip] no /dev/sdX on vhci from usb-storage" >&2; exit 0; }
MSK=$(cat "/sys/block/$(basename "$DEV")/queue/max_sectors_kb")
echo "[usbip] kernel over USB/IP: $DEV max_sectors_kb=$MSK" >&2
emit() { printf '{"model":"usbip-vhci","who":"%s","op":"%s","bytes":%s,"total":%s,"seconds":%s,"maxSectorsKb":%s}\n' "$1" "$2" "$3" "$4" "$5" "$MSK" >> "$J"; }
ddtime() { dd "$@" 2>&1 | sed -n 's/.*copied, \([0-9.e+-]*\) s,.*/\1/p' | tail -1; }
TOTAL=$((16 * 1024 * 1024))
for r in $(seq "$ROUNDS"); do
  for s in ${ALL//,/ }; do
    b=$(tobytes "$s"); n=$(( TOTAL / b )); [ "$n" -lt 4 ] && n=4; [ "$n" -gt 400 ] && n=400
    sec=$(ddtime if="$DEV" of=/dev/null bs="$b" count="$n" skip=$((4 * 1024 * 1024 / b)) iflag=direct)
    emit kernel-dd-direct read "$b" $((n * b)) "${sec:-0}"
    sec=$(ddtime if=/dev/zero of="$DEV" bs="$b" count="$n" seek=$((4 * 1024 * 1024 / b)) oflag=direct)
    emit kernel-dd-direct write "$b" $((n * b)) "${sec:-0}"
  done
done
echo "[usbip] done" >&2

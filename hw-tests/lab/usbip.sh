#!/bin/bash
# usbip.sh [CHECKS_FILE] - USB/IP checks (issue 25), run INSIDE one lab guest (cwd = the repo, dist/ built). The
# kernel's own selftest pattern: usbip-host exports QEMU sticks and vhci-hcd attaches them back to the same guest
# over 127.0.0.1, so one guest holds both ends of each link. run-lab.sh's "usbip" block boots it with three sticks
# behind qemu-xhci:
#
#   --disk .lab/usbip1.img (serial USBVM0)   exported and attached back: the stick the checks read and write
#   --disk .lab/local.img  (serial USBVM1)   stays local, beside the USB/IP one in one validate run
#   a blkdebug stick RESCUE1 (bad sectors from .lab/usbip-blkdebug.conf), exported and attached: usbms rescue over vhci
#
# Set-up (the guest runs the host's Debian `usbip` binaries over 9p): modules usbip-core usbip-host vhci-hcd,
# `busybox ip link set lo up` (guest-init leaves lo down), `usbipd -D`, `usbip bind -b` + `usbip attach -r 127.0.0.1`.
# Each check is `check_NAME` (rig-harness.sh); results go to CHECKS_FILE (default .lab/checks/usbip.txt) as
# "ok - usbip: NAME" / "not ok - usbip: NAME # why". Env: USBIP_SUITE=0 skips the hw-tests suite through vhci,
# USBIP_ONLY="NAME ..." runs only those checks, USBIP_BAD_SECTORS (the blkdebug sectors, for the rescue check).
set -u
CHECK_PREFIX=usbip
. "$(dirname "${BASH_SOURCE[0]}")/rig-harness.sh"
rig_init "${1:-$PWD/.lab/checks/usbip.txt}" "${USBIP_LOG:-$PWD/.lab/logs/usbip-checks.log}"
OUTDIR="$(dirname "$LOG")"
HOST=127.0.0.1

# busid_of SERIAL [vhci|local]: the sysfs bus id of the device with that serial on a vhci bus or a host controller
busid_of() {
  local d want="${2:-local}"
  for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
    case "$(readlink -f "$d")" in */vhci_hcd.*) [ "$want" = vhci ] && basename "$d";; *) [ "$want" = local ] && basename "$d";; esac
  done | head -1
}
vhci_port_of() { grep -l " $1\$" /var/run/vhci_hcd/port* 2>/dev/null | head -1 | sed 's/.*port//'; }
# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds
wait_for() { local n=$(( $1 * 10 )); shift; while ! "$@" > /dev/null 2>&1; do n=$((n - 1)); [ $n -le 0 ] && return 1; sleep 0.1; done; }
attached() { [ -n "$(busid_of "$1" vhci)" ]; }
gone() { [ -z "$(busid_of "$1" vhci)" ]; }
# port_free N: vhci says its port N is free again (status 004, VDEV_ST_NULL), so the next `usbip attach` may take it
port_free() { grep -qE "^(hs|ss) +0*$1 +004 " /sys/devices/platform/vhci_hcd.*/status*; }
export_and_attach() { # export_and_attach SERIAL: bind its local device to usbip-host, attach it back over loopback
  local b t0; b=$(busid_of "$1"); t0=$(now)
  usbip bind -b "$b" || return 1
  local t1; t1=$(now)
  usbip attach -r "$HOST" -b "$b" || return 1
  local t2; t2=$(now)
  wait_for 20 attached "$1" || return 1
  echo "[usbip] $1: bind $t0-$t1 s, attach returned at $t2 s, in sysfs at $(now) s (guest uptime)"
}
vrun() { echo "+ usbms $* (limit ${USBIP_LIMIT_S:-600} s)" >&2; timeout -k 5 "${USBIP_LIMIT_S:-600}" "${USBMS[@]}" "$@"; }
ev() { node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean).map((x) => JSON.parse(x));
  const v = eval(process.argv[2]); process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"; }

# ---- set-up: both ends of USB/IP in this guest (stamped with the guest's uptime: the VM's time is budgeted)
echo "[usbip] set-up starts at $(now) s"
for m in usbip-core usbip-host vhci-hcd inet_diag tcp_diag; do busybox modprobe "$m" || echo "modprobe $m failed"; done
busybox ip link set lo up
usbipd -D
wait_for 10 sh -c 'grep -q ":0CA8 00000000:0000 0A" /proc/net/tcp'
B1=$(busid_of USBVM0); BL=$(busid_of USBVM1); BR=$(busid_of RESCUE1)
echo "local bus ids: USBVM0=$B1 USBVM1=$BL RESCUE1=$BR; usbipd listening at $(now) s"
export_and_attach USBVM0 || echo "attach USBVM0 failed"
export_and_attach RESCUE1 || echo "attach RESCUE1 failed"
V1=$(busid_of USBVM0 vhci); VR=$(busid_of RESCUE1 vhci)
echo "attached: USBVM0 $B1 -> $V1, RESCUE1 $BR -> $VR at $(now) s"
usbip port
R1="usbip:$HOST:$B1"
IMG1="$IMAGES/usbip1.img"

# ---- checks
check_list_remote_identity() { # usbms list: the attached stick with its remote identity, the original as exported
  run list --json > "$TMP/list.json" || return 1
  cat "$TMP/list.json"
  [ "$(json "JSON.stringify(j.find((r) => r.port === '$V1')?.usbip)" "$TMP/list.json")" = \
    "{\"host\":\"$HOST\",\"busid\":\"$B1\",\"tcpPort\":3240,\"vhciPort\":$(vhci_port_of "$B1")}" ] ||
    fail "$V1 does not show usbip { host $HOST, busid $B1 }"
  [ "$(json "j.find((r) => r.port === '$B1')?.exported?.status" "$TMP/list.json")" = in-use ] || fail "$B1 is not listed as exported, in use"
  [ "$(json "j.find((r) => r.port === '$B1')?.exported?.to.includes('$HOST')" "$TMP/list.json")" = true ] || fail "$B1 does not say it goes to $HOST"
  [ "$(json "j.find((r) => r.port === '$B1')?.luns" "$TMP/list.json")" = null ] || fail "the exported $B1 was opened for its LUN count"
  run list > "$TMP/list.txt" || return 1
  cat "$TMP/list.txt"
  grep -q "^$V1 .* usbip: $R1 (vhci port" "$TMP/list.txt" || fail "no '$V1 ... usbip: $R1' line"
  grep -q "^$B1 .* EXPORTED through usbip-host (in-use by $HOST)" "$TMP/list.txt" || fail "no '$B1 ... EXPORTED' line"
}

check_exported_refused() { # the original of an exported stick is refused (typed error, exit 15) unless --force-exported
  local rc=0
  run read 0 8 --device "$B1" -o "$TMP/x.bin" 2> "$TMP/err.txt" || rc=$?
  cat "$TMP/err.txt"
  [ "$rc" = 15 ] || fail "read on the exported $B1: exit $rc, expected 15"
  grep -q "exported through USB/IP .*--force-exported" "$TMP/err.txt" || fail "the refusal does not say why and what to do"
  # a VID:PID:serial that names both picks the import, never the export
  run read 0 8 --device 46f4:0001:USBVM0 -o "$TMP/y.bin" || { fail "46f4:0001:USBVM0 did not open (the import)"; return 1; }
  cmp "$TMP/y.bin" <(head -c 4096 "$IMG1") || fail "46f4:0001:USBVM0 read other data than the image"
  run read 0 8 --device "$B1" --force-exported -o "$TMP/z.bin" || fail "--force-exported did not open $B1"
}

check_cli_through_vhci() { # inquiry, read/write byte-exact against the host image, image, verify through usbip:HOST:BUSID
  run inquiry --device "$R1" --json > "$TMP/inq.json" || { fail "inquiry"; return 1; }
  [ "$(json 'j.vendor' "$TMP/inq.json")" = QEMU ] || fail "inquiry vendor $(json 'j.vendor' "$TMP/inq.json")"
  run read 0 2048 --device "$R1" -o "$TMP/r.bin" || { fail "read"; return 1; }
  cmp "$TMP/r.bin" <(head -c $((2048 * 512)) "$IMG1") || fail "1 MiB read through vhci differs from the host image"
  # write 64 blocks of random data at LBA 4096, read them back, put the original back
  head -c $((64 * 512)) /dev/urandom > "$TMP/w.bin"
  dd if="$IMG1" of="$TMP/orig.bin" bs=512 skip=4096 count=64 status=none
  run write 4096 --device "$R1" --write -i "$TMP/w.bin" || { fail "write"; return 1; }
  run read 4096 64 --device "$R1" -o "$TMP/w2.bin" || { fail "read back"; return 1; }
  cmp "$TMP/w.bin" "$TMP/w2.bin" || fail "the 64 blocks written through vhci read back different"
  cmp "$TMP/w.bin" <(dd if="$IMG1" bs=512 skip=4096 count=64 status=none) || fail "the write did not reach the host image"
  run write 4096 --device "$R1" --write -i "$TMP/orig.bin" || fail "putting the original blocks back"
  run image --device "$R1" --out "$TMP/img.bin" --json > "$TMP/image.json" || { fail "image"; return 1; }
  cat "$TMP/image.json"
  [ "$(json 'j.sha256' "$TMP/image.json")" = "$(sha256sum "$IMG1" | cut -d' ' -f1)" ] || fail "image sha256 differs from the host image's"
  cmp "$TMP/img.bin" "$IMG1" || fail "image differs from the host image"
  run verify --device "$R1" || fail "verify found unreadable blocks"
  rm -f "$TMP/img.bin"
}

check_rescue_through_vhci() { # usbms rescue of the blkdebug stick through vhci: exactly the bad sectors, in a mapfile ddrescuelog reads
  local rc=0 got
  # a mapfile left from an earlier run would make this a resume of that run: start afresh
  rm -f "$OUTDIR/usbip-rescue.img" "$OUTDIR/usbip-rescue.map"
  vrun rescue --device "usbip:$HOST:$BR" --out "$OUTDIR/usbip-rescue.img" --map "$OUTDIR/usbip-rescue.map" --timeout 10 \
    --json > "$OUTDIR/usbip-rescue.ndjson" 2> "$TMP/rescue.err" || rc=$?
  tail -3 "$TMP/rescue.err"
  [ "$rc" = 3 ] || fail "rescue exit $rc, expected 3 (finished with unreadable sectors)"
  got=$(ddrescuelog -b 512 --list-blocks=- "$OUTDIR/usbip-rescue.map" 2>&1 | tr '\n' ' ' | sed 's/ *$//')
  [ "$got" = "${USBIP_BAD_SECTORS:-}" ] || fail "ddrescuelog lists '$got', injected '${USBIP_BAD_SECTORS:-}'"
}

check_validate_local_and_usbip() { # validate --all --plan quick: the local and the USB/IP stick at once; the exports left out
  local rc=0
  vrun validate --all --match 46f4:0001:USBVM0,46f4:0001:USBVM1 --plan quick --json --junit "$OUTDIR/usbip-validate.xml" \
    --seed 25 > "$OUTDIR/usbip-validate.ndjson" 2> "$TMP/validate.err" || rc=$?
  cat "$TMP/validate.err"
  ev "$OUTDIR/usbip-validate.ndjson" 'l.filter((e) => e.event === "done").map((e) => `${e.device.port} ${JSON.stringify(e.device.usbip)} ${e.status}`).join("\n")'; echo
  [ "$rc" = 0 ] || fail "exit $rc"
  local done
  done=$(ev "$OUTDIR/usbip-validate.ndjson" 'l.filter((e) => e.event === "done").map((e) => `${e.device.serial}:${e.device.usbip === null ? "local" : e.device.usbip.host + "/" + e.device.usbip.busid}:${e.status}`).sort().join(" ")')
  [ "$done" = "USBVM0:$HOST/$B1:pass USBVM1:local:pass" ] || fail "verdicts '$done'"
  grep -q "$B1 46f4:0001 USBVM0: exported through usbip-host" "$TMP/validate.err" || fail "the exported original is not reported as left out"
  grep -q "$R1 ($V1) 46f4:0001 USBVM0: it is attached through USB/IP and its hub is on $HOST: port power is out of reach" \
    "$TMP/validate.err" || fail "no notice that port power is out of reach over USB/IP"
  grep -q '<property name="usbipHost" value="127.0.0.1"/>' "$OUTDIR/usbip-validate.xml" || fail "JUnit does not name the remote host"
  grep -q "<property name=\"usbipBusid\" value=\"$B1\"/>" "$OUTDIR/usbip-validate.xml" || fail "JUnit does not name the remote bus id"
}

check_detach_reattach_mid_plan() { # usbip detach + attach during a plan: reported gone, found again by its remote identity
  # on another vhci port (another local port path): RESCUE1 is moved into the port it left before it comes back
  local f="$OUTDIR/usbip-reattach.ndjson" rc=0 port portr
  : > "$f"
  # Steps after the one the detach should hit: on a fast run the two sequential reads are over before the detach
  # lands, and the step it hits must still have one after it to show the re-attached stick passing.
  printf '%s\n' '{"name":"reads","steps":[{"step":"identify"},{"step":"sequential-read"},{"step":"sequential-read","name":"again"},{"step":"random-read"},{"step":"sequential-read","name":"after"},{"step":"identify","name":"last"}]}' > "$TMP/plan.json"
  vrun validate --device "$R1" --plan "$TMP/plan.json" --json --return-timeout 60 > "$f" 2> "$TMP/reattach.err" &
  local pid=$!
  wait_for 120 grep -q '"event":"step-start","step":"sequential-read"' "$f" || fail "the plan never reached sequential-read"
  port=$(vhci_port_of "$B1"); portr=$(vhci_port_of "$BR")
  usbip detach -p "$port"; echo "detached vhci port $port ($V1) at $(now)"
  usbip detach -p "$portr"; wait_for 20 gone USBVM0; wait_for 20 gone RESCUE1; wait_for 20 port_free "$port"
  usbip attach -r "$HOST" -b "$BR"; wait_for 20 attached RESCUE1; echo "RESCUE1 attached as $(busid_of RESCUE1 vhci)"
  usbip attach -r "$HOST" -b "$B1"; wait_for 20 attached USBVM0
  local moved; moved=$(busid_of USBVM0 vhci); echo "USBVM0 attached again as $moved at $(now)"
  [ -n "$moved" ] && [ "$moved" != "$V1" ] || fail "USBVM0 came back as '$moved', not on another port than $V1: the check cannot tell its remote identity from its port"
  V1="$moved"; VR=$(busid_of RESCUE1 vhci)
  wait "$pid" || rc=$?
  cat "$TMP/reattach.err"
  ev "$f" 'l.map((e) => `${e.event} ${e.step ?? ""} ${e.status ?? ""} ${e.reason ?? ""}`).join("\n")'; echo
  local seq; seq=$(ev "$f" 'l.filter((e) => ["vanished", "returned", "lost"].includes(e.event)).map((e) => e.event).join(" ")')
  [ "$seq" = "vanished returned" ] || fail "events '$seq', expected 'vanished returned'"
  # the step the detach hit errors (device vanished); the next one runs on the re-attached stick and passes
  [ "$(ev "$f" 'const s = l.filter((e) => e.event === "step"); const i = s.findIndex((e) => e.status === "error");
    i < 0 ? "no step errored" : `${s[i].reason.startsWith("device vanished") ? "vanished" : s[i].reason} ${s[i + 1]?.status ?? "none"}`')" = "vanished pass" ] ||
    fail "the step the detach hit did not error as vanished, or the step after the re-attach did not pass"
  [ "$(ev "$f" 'l.find((e) => e.event === "done")?.device.usbip?.busid')" = "$B1" ] || fail "the verdict does not name $R1"
  [ "$(ev "$f" 'l.find((e) => e.event === "returned")?.device.port')" = "$V1" ] || fail "the return is not reported on the new port $V1"
  echo "validate exit $rc (1 step errored while the link was down)"
}

# reading: wait until the vhci stick has moved 1000 URBs more than now: usbms is reading (a listing moves a few dozen;
# the reads below move 4 and 8 MiB in 4 KiB commands, three URBs each: 1024 and 2048 commands, of which this waits
# for about 333, so they are still reading when it returns)
reading() {
  local v; v=$(busid_of USBVM0 vhci)
  local base; base=$(cat "/sys/bus/usb/devices/$v/urbnum")
  wait_for 120 sh -c "[ \$(cat /sys/bus/usb/devices/$v/urbnum) -gt $((base + 1000)) ]"
}

check_link_cut_mid_read() { # usbipd killed mid-read: the read goes on (the link is the kernel's); the link cut (ss -K): DEV_GONE, no hang
  local pid rc=0 t0
  vrun read 0 8192 --device "$R1" --max-transfer 4K --out /dev/null > "$TMP/img1.out" 2> "$TMP/img1.err" &
  pid=$!
  reading || fail "the image never started reading"
  kill "$(pidof usbipd)"; echo "usbipd killed at $(now)"
  wait "$pid" || rc=$?
  cat "$TMP/img1.err"
  [ "$rc" = 0 ] || fail "with usbipd killed the read failed (exit $rc): the attached link should not depend on it"
  rc=0
  vrun read 0 16384 --device "$R1" --max-transfer 4K --out /dev/null > "$TMP/img2.out" 2> "$TMP/img2.err" &
  pid=$!
  reading || fail "the image never started reading"
  t0=$(now)
  ss -K dst "$HOST" dport = 3240; echo "link cut at $t0"
  wait "$pid" || rc=$?
  local secs; secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
  cat "$TMP/img2.err"
  echo "the read ended $secs s after the cut, exit $rc"
  [ "$rc" = 35 ] || fail "a read over a cut link: exit $rc, expected 35 (device gone)"
  grep -qi "disconnected\|gone\|no device" "$TMP/img2.err" || fail "the error does not say the device is gone"
  awk -v s="$secs" 'BEGIN{exit !(s < 30)}' || fail "took $secs s to notice the cut"
  # put it back for anything after: usbipd again, export and attach
  usbipd -D; sleep 0.5
  usbip unbind -b "$B1" > /dev/null 2>&1
  export_and_attach USBVM0 || fail "re-attach after the cut"
}

check_suite_through_vhci() { # the hw-tests suite on usbip:HOST:BUSID (read, write with restore, LUNs, recovery)
  [ "${USBIP_SUITE:-1}" = 1 ] || { echo "skipped (USBIP_SUITE=0)"; return 0; }
  local rc=0
  env USBMS_TEST_DEVICE="$R1" USBMS_TEST_IMAGE="$IMG1" USBMS_DESTRUCTIVE_OK=USBVM0 USBMS_TEST_REPORT=lab-usbip USBMS_HW_DIST=1 \
    timeout -k 5 900 node node_modules/vitest/vitest.mjs run --config hw-tests/vitest.config.ts > "$OUTDIR/usbip-suite.log" 2>&1 || rc=$?
  grep -E '^ *(Test Files|Tests) ' "$OUTDIR/usbip-suite.log" | sed 's/\x1b\[[0-9;]*m//g'
  [ "$rc" = 0 ] || fail "vitest exit $rc (see .lab/logs/usbip-suite.log)"
}

CHECKS="list_remote_identity exported_refused cli_through_vhci rescue_through_vhci validate_local_and_usbip
  detach_reattach_mid_plan link_cut_mid_read suite_through_vhci"
# shellcheck disable=SC2086
rig_run_checks ${USBIP_ONLY:-$CHECKS}

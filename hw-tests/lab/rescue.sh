#!/bin/bash
# rescue.sh - `usbms rescue` against a QEMU stick whose medium fails chosen sectors (blkdebug), beside GNU
# ddrescue through the guest kernel's usb-storage on the same stick.
#
#   Guest side (inside a lab guest, cwd = the repo, dist/ built):
#     rescue.sh guest OUTDIR "SECTOR SECTOR ..." [CHECKS_FILE]
#   Host side (after the VM, on the host):
#     rescue.sh compare HOST_IMAGE OUTDIR "SECTOR SECTOR ..." [CHECKS_FILE]
#
# run-lab.sh's "rescue" block boots one guest with the stick like this (facts.md §5; -blockdev, not -drive, so
# the backend survives the device_del of the re-plug check):
#   -blockdev driver=raw,node-name=rescue0,read-only=on,file.driver=blkdebug,file.config=CONF,file.image.driver=file,file.image.filename=IMAGE
#   -device usb-storage,bus=usbhc.0,port=1,drive=rescue0,serial=RESCUE1,id=rescuedev
# with CONF holding one [inject-error] block (event "read_aio", errno 5, once off) per bad sector; QEMU's scsi-hd
# then answers CHECK CONDITION ABORTED COMMAND 0B/00/06 for any read touching one.
#
# Guest: usbms rescue (libusb, usb-storage not loaded) writes OUTDIR/usbms.img + usbms.map; Debian's ddrescuelog
# must accept the map and list exactly the bad sectors; a second usbms rescue has the stick pulled and re-plugged
# in the middle (OUTDIR/replug.*); then usb-storage is loaded and GNU ddrescue images
# /dev/sdX into OUTDIR/ddrescue.img + ddrescue.map; both times go to OUTDIR/times.txt.
# Host: each image equals the host image everywhere except the bad sectors (which are holes: never written).
# Results: "ok - rescue: NAME" / "not ok - rescue: NAME # why" lines in CHECKS_FILE (default .lab/checks/rescue.txt).
set -u
mode="${1:?usage: rescue.sh guest|compare ...}"
shift
CHECKS_FILE=.lab/checks/rescue.txt
now() { if [ -r /proc/uptime ]; then cut -d' ' -f1 /proc/uptime; else date +%s.%N; fi; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
ok() { echo "ok - rescue: $*" >> "$CHECKS_FILE"; echo "ok - rescue: $*"; }
notok() { echo "not ok - rescue: $1 # $2" >> "$CHECKS_FILE"; echo "not ok - rescue: $1 # $2"; }
# sectors_listed MAP: the bad sectors ddrescuelog lists, one line
sectors_listed() { ddrescuelog -b 512 --list-blocks=- "$1" 2>&1 | tr '\n' ' ' | sed 's/ *$//'; }

guest() {
  local out="$1" sectors="$2"
  CHECKS_FILE="${3:-$CHECKS_FILE}"
  mkdir -p "$out" "$(dirname "$CHECKS_FILE")"; : > "$CHECKS_FILE"
  rm -f "$out"/usbms.img "$out"/usbms.map "$out"/ddrescue.img "$out"/ddrescue.map "$out"/times.txt
  local t rc
  # ---- usbms rescue, through libusb (no kernel driver bound)
  t=$(now)
  node dist/bin/usbms.js rescue --device 46f4:0001:RESCUE1 --out "$out/usbms.img" --map "$out/usbms.map" \
    --timeout 10 --json > "$out/usbms.ndjson" 2> "$out/usbms.stderr"
  rc=$?
  local tu; tu=$(since "$t")
  echo "usbms-rescue-seconds $tu exit $rc" >> "$out/times.txt"
  # The process time less this is the fixed cost of any usbms command under TCG (node start, modules, enumeration).
  echo "usbms-rescue-engine-seconds $(tail -1 "$out/usbms.ndjson" | sed -n 's/.*"elapsedS":\([0-9.]*\).*/\1/p') (first read to summary)" >> "$out/times.txt"
  tail -3 "$out/usbms.stderr"
  tail -1 "$out/usbms.ndjson" | cut -c1-400
  # exit 3: finished with unreadable areas, as there are bad sectors
  if [ "$rc" = 3 ]; then ok "usbms rescue finished with unreadable sectors (exit 3) in $tu s"
  else notok "usbms rescue exit status" "exit $rc, expected 3 (see $out/usbms.stderr)"; fi
  if ddrescuelog -t "$out/usbms.map" > "$out/usbms.ddrescuelog.txt" 2>&1; then
    cat "$out/usbms.ddrescuelog.txt"
    ok "ddrescuelog -t accepts the usbms mapfile"
  else notok "ddrescuelog -t accepts the usbms mapfile" "$(head -3 "$out/usbms.ddrescuelog.txt" | tr '\n' ' ')"; fi
  local got; got=$(sectors_listed "$out/usbms.map")
  if [ "$got" = "$sectors" ]; then ok "ddrescuelog --list-blocks lists exactly the injected bad sectors ($sectors)"
  else notok "ddrescuelog --list-blocks lists exactly the injected bad sectors" "listed '$got', injected '$sectors'"; fi
  # The map names its stick (a comment ddrescuelog skipped above), and a second run on it has nothing left to do.
  if grep -qx '# Device: 46f4:0001 serial "RESCUE1" 8388608 bytes' "$out/usbms.map"; then ok "the usbms mapfile names the stick (VID:PID, serial, size)"
  else notok "the usbms mapfile names the stick" "$(grep '^# Device' "$out/usbms.map" || echo 'no # Device: line')"; fi
  node dist/bin/usbms.js rescue --device 46f4:0001:RESCUE1 --out "$out/usbms.img" --map "$out/usbms.map" \
    --timeout 10 > "$out/again.stdout" 2> "$out/again.stderr"
  rc=$?
  if [ "$rc" = 3 ] && grep -Eq '^rescue: nothing left to do: .* is finished but for 2560 bytes in [0-9]+ bad areas' "$out/again.stderr"; then
    ok "usbms rescue again on the finished map: nothing left to do (exit 3, the bad sectors stay)"
  else notok "usbms rescue again on the finished map" "exit $rc: $(head -2 "$out/again.stderr" | tr '\n' ' ')"; fi

  replug "$out" "$sectors"

  # ---- GNU ddrescue through the guest kernel's usb-storage, same stick
  busybox modprobe usb-storage; busybox modprobe sd_mod
  local dev="" i b
  for i in $(seq 200); do
    for b in /sys/block/sd*; do [ -e "$b" ] && dev=/dev/$(basename "$b"); done
    [ -n "$dev" ] && [ -b "$dev" ] && break; sleep 0.1
  done
  if [ ! -b "$dev" ]; then notok "ddrescue through usb-storage" "no /dev/sdX appeared"; return 0; fi
  t=$(now)
  ddrescue -d -f "$dev" "$out/ddrescue.img" "$out/ddrescue.map" > "$out/ddrescue.log" 2>&1
  rc=$?
  local td; td=$(since "$t")
  echo "ddrescue-seconds $td exit $rc (ddrescue's own $(grep -o 'run time: *[0-9a-z ]*' "$out/ddrescue.log" | tail -1 | tr -s ' '))" >> "$out/times.txt"
  tail -12 "$out/ddrescue.log"
  got=$(sectors_listed "$out/ddrescue.map")
  if [ "$rc" = 0 ] && [ "$got" = "$sectors" ]; then ok "GNU ddrescue via usb-storage: same bad sectors in $td s (usbms: $tu s)"
  else notok "GNU ddrescue via usb-storage" "exit $rc after $td s, bad sectors '$got' (injected '$sectors')"; fi
  cat "$out/times.txt"
}

# replug OUTDIR SECTORS: the stick is pulled (QMP device_del) in the middle of a usbms rescue and plugged back
# into the same port 3 s later; the rescue must find the same stick again and finish with the same result.
replug() {
  local out="$1" sectors="$2" i rc
  rm -f "$out"/replug.*
  node dist/bin/usbms.js rescue --device 46f4:0001:RESCUE1 --out "$out/replug.img" --map "$out/replug.map" \
    --timeout 10 --wait-device 90 --json > "$out/replug.ndjson" 2> "$out/replug.stderr" &
  local pid=$!
  for i in $(seq 3000); do # until 1 MB is rescued (node starts slowly under TCG)
    grep -q '"type":"progress".*"rescued":[0-9]\{7,\}' "$out/replug.ndjson" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "replug: pulling the stick"; $USB_VM_QMP 'device_del rescuedev'
  sleep 3
  echo "replug: plugging it back"; $USB_VM_QMP 'device_add usb-storage,bus=usbhc.0,port=1,drive=rescue0,serial=RESCUE1,id=rescuedev'
  wait "$pid"; rc=$?
  grep '"type":"escalation"' "$out/replug.ndjson" | cut -c1-300
  tail -4 "$out/replug.stderr"
  local back; back=$(grep -c '"type":"escalation","step":"wait-reconnect","ok":true\|"type":"escalation","step":"power-cycle","ok":true' "$out/replug.ndjson")
  local got; got=$(sectors_listed "$out/replug.map")
  if [ "$rc" = 3 ] && [ "$back" -ge 1 ] && [ "$got" = "$sectors" ]; then
    ok "usbms rescue survives the stick being pulled and re-plugged mid-run (same device found again, same bad sectors)"
  else notok "usbms rescue survives a re-plug mid-run" "exit $rc, recovered escalations $back, bad sectors '$got'"; fi
}

# compare NAME HOST_IMAGE IMAGE "SECTORS": the image is the host image except at the bad sectors
compare_one() {
  local name="$1" host="$2" img="$3" sectors="$4"
  if [ ! -f "$img" ]; then notok "host: $name image matches the host image outside the bad sectors" "no $img"; return; fi
  local diff
  diff=$(node -e '
    const fs = require("fs");
    const a = fs.readFileSync(process.argv[1]), b = fs.readFileSync(process.argv[2]);
    if (a.length !== b.length) { console.log(`size ${b.length} != ${a.length}`); process.exit(0); }
    const d = [];
    for (let s = 0; s < a.length / 512; s++) if (!a.subarray(s * 512, s * 512 + 512).equals(b.subarray(s * 512, s * 512 + 512))) d.push(s);
    console.log(d.join(" "));' "$host" "$img")
  if [ "$diff" = "$sectors" ]; then ok "host: $name image equals the host image except exactly the bad sectors"
  else notok "host: $name image matches the host image outside the bad sectors" "differs at '$diff', bad sectors '$sectors'"; fi
}

case "$mode" in
  guest) guest "$@" ;;
  compare)
    CHECKS_FILE="${4:-$CHECKS_FILE}"
    compare_one usbms "$1" "$2/usbms.img" "$3"
    compare_one ddrescue "$1" "$2/ddrescue.img" "$3"
    compare_one "usbms (pulled and re-plugged mid-run)" "$1" "$2/replug.img" "$3"
    if [ -f "$2/times.txt" ]; then sed 's/^/# /' "$2/times.txt" >> "$CHECKS_FILE"; fi
    ;;
  *) echo "rescue.sh: unknown mode $mode" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# run-lab.sh - the emulated-hardware lab in one command (`npm run test:lab`).
#
#   1. setup.sh: QEMU + busybox from Debian's packages, the Debian kernel and udev unpacked (cached, idempotent)
#   2. npm run build: the guest runs the compiled dist/ (vitest maps ../src/X.js imports to ../dist/X.js)
#   3. disk images under .lab/ (gitignored), with a pristine copy of each for the host-side check
#   4. VM "xhci": one guest, qemu-xhci, six devices, one vitest run of hw-tests/ per device model, then the
#      udev check and the hot-unplug script (hw-tests/lab/guest-suite.sh does the guest side)
#   5. VM "ehci": the usb-storage stick once more behind an EHCI (high-speed) controller; VM "rig": hubs with and
#      without port power and five sticks (hw-tests/lab/rig.sh); VM "usbip": sticks exported and attached back over
#      USB/IP in one guest (hw-tests/lab/usbip.sh)
#   6. host checks: what the guest wrote is in the image files, and nothing else changed
#   7. every check by name and a final "N passed, N failed" (hw-tests/lab/summarize.mjs); exit 1 on a failure
#
# Env: USBMS_LAB_SKIP_EHCI=1 (one VM only), USBMS_LAB_SKIP_{RIG,PERF,RESCUE,USBIP,TRACE,UAS,SERVE}=1 (skip that VM),
# USBMS_LAB_TIMEOUT (per VM, s; default 1200), plus the knobs of
# setup.sh / run-in-vm.sh (USB_VM_LAB_DIR ...). Logs: .lab/logs/, JUnit + summaries: hw-tests/reports/.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
OUT="$ROOT/.lab"
REPORTS="$ROOT/hw-tests/reports"
T0=$(date +%s.%N)
stamp() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
say() { printf '[lab %s] %s\n' "$(date +%T)" "$*"; }
case "$ROOT" in *[[:space:]]*) say "the repo path '$ROOT' contains a space; QEMU's -drive syntax cannot take it"; exit 2;; esac

t=$(date +%s.%N); bash "$HERE/setup.sh"; say "setup.sh: $(stamp "$t") s"
t=$(date +%s.%N); npm run build --silent; say "npm run build: $(stamp "$t") s"

rm -rf "$OUT/logs" "$OUT/checks" && mkdir -p "$OUT/logs" "$OUT/checks" "$REPORTS"
rm -f "$REPORTS"/lab-* "$OUT/gadget.after.img"
# Random content, so a read that returns the wrong block (or zeros) cannot match the image by accident.
mkimg() { head -c "$2" /dev/urandom > "$OUT/$1"; cp "$OUT/$1" "$OUT/$1.orig"; }
t=$(date +%s.%N)
mkimg disk.img 32M       # usb-storage, xHCI: read/write, kernel-driver detach, hot unplug
mkimg ro.img 16M         # usb-storage read-only (--disk-ro)
mkimg lun0.img 16M       # usb-bot LUN 0 (scsi-hd)
mkimg cd.iso 8M          # usb-bot LUN 1 (scsi-cd, 2048-byte blocks)
mkimg disk4k.img 16M     # usb-bot + scsi-hd, 4096-byte blocks, removable
mkimg uas.img 4M         # usb-uas at SuperSpeed: refused by usbms (UAS there needs bulk streams)
mkimg gadget.img 16M     # Linux gadget (f_mass_storage on dummy_hcd), copied into the guest's tmpfs
mkimg ehci.img 16M       # usb-storage behind EHCI
say "images: $(stamp "$t") s"

L="$OUT"
# Two devices read at 8 MB/s (about what node-usb reaches under TCG anyway): there a full-size read takes the
# device >100 ms, so the suite's 1 ms data-phase timeout really fires; an unthrottled emulated disk is too fast.
xhci_devices=(
  --disk "$L/disk.img" --disk-ro "$L/ro.img"
  --usb-dev 'usb-bot,id=bot0,serial=USBMS2LUN'
  --qemu "-drive if=none,id=lun0,format=raw,throttling.bps-read=8000000,file=$L/lun0.img -device scsi-hd,bus=bot0.0,scsi-id=0,lun=0,drive=lun0"
  --qemu "-drive if=none,id=lun1,format=raw,media=cdrom,readonly=on,file=$L/cd.iso -device scsi-cd,bus=bot0.0,scsi-id=0,lun=1,drive=lun1"
  --usb-dev 'usb-bot,id=bot1,serial=USBMS4K'
  --qemu "-drive if=none,id=d4k,format=raw,throttling.bps-read=8000000,file=$L/disk4k.img -device scsi-hd,bus=bot1.0,scsi-id=0,lun=0,drive=d4k,logical_block_size=4096,physical_block_size=4096,removable=on"
  --usb-dev 'usb-uas,id=uas0,serial=USBMSUAS'
  --qemu "-drive if=none,id=duas,format=raw,file=$L/uas.img -device scsi-hd,bus=uas0.0,scsi-id=0,lun=0,drive=duas"
)
vm() { # vm NAME run-in-vm-args... : one guest running guest-suite.sh NAME
  local name="$1"; shift
  local t; t=$(date +%s.%N)
  say "VM $name: booting"
  set +e
  bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_LAB_TIMEOUT:-1200}" "$@" -- \
    bash hw-tests/lab/guest-suite.sh "$name" 2>&1 | tee "$OUT/logs/vm-$name.log"
  local rc=${PIPESTATUS[0]}
  set -e
  echo "$rc" > "$OUT/logs/vm-$name.rc"
  say "VM $name: exit $rc after $(stamp "$t") s"
}
vm xhci "${xhci_devices[@]}"
[ "${USBMS_LAB_SKIP_EHCI:-0}" = 1 ] || vm ehci --hc ehci --disk "$L/ehci.img"

# ---- VM "rig": QEMU usb-hub with per-port power (port-power=on) on root port 1 with four sticks RIG1..RIG4 (RIG4
# read-only), a hub without power switching on root port 2 with RIGNS. hw-tests/lab/rig.sh (one function per
# check; add yours there) proves port paths, --device PORT, power off/on/cycle with the identity check and the
# refusal of the hub that cannot switch, into .lab/checks/rig.txt. USBMS_LAB_SKIP_RIG=1 skips it.
if [ "${USBMS_LAB_SKIP_RIG:-0}" != 1 ]; then
  rig_devices=(--qemu "-device usb-hub,bus=usbhc.0,port=1,port-power=on,id=righub1" --qemu "-device usb-hub,bus=usbhc.0,port=2,id=righub2")
  for n in 1 2 3 4 ns; do
    mkimg "rig$n.img" 4M
    ro=""; [ "$n" = 4 ] && ro=",read-only=on"
    at="1.$n"; [ "$n" = ns ] && at=2.1
    # -blockdev: the backend survives device_del, so rig.sh can plug another stick into the same slot
    rig_devices+=(--qemu "-blockdev driver=raw,node-name=rig$n$ro,file.driver=file,file.filename=$L/rig$n.img -device usb-storage,bus=usbhc.0,port=$at,drive=rig$n,serial=RIG${n^^},id=rigdev$n")
  done
  t=$(date +%s.%N); say "VM rig: booting"
  set +e
  bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_LAB_TIMEOUT:-1200}" --expect-usb 5 "${rig_devices[@]}" -- \
    bash hw-tests/lab/rig.sh "$OUT/checks/rig.txt" 2>&1 | tee "$OUT/logs/vm-rig.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ -s "$OUT/checks/rig.txt" ] || echo "not ok - rig: the guest ran rig.sh # VM exit $rc, see .lab/logs/vm-rig.log" >> "$OUT/checks/rig.txt"
  # rig.sh's own checks only read; rig-validate.sh's write (full, endurance) and put the data back: unchanged
  # images prove those restores (the guest checked the stamps that were written in between)
  for n in 1 2 3 4 ns; do
    if cmp -s "$OUT/rig$n.img" "$OUT/rig$n.img.orig"; then echo "ok - rig: host: rig$n.img unchanged"
    else echo "not ok - rig: host: rig$n.img changed: a check wrote and did not restore it"; fi >> "$OUT/checks/rig.txt"
  done
  say "VM rig: exit $rc after $(stamp "$t") s"
fi

# ---- VM "perf": the data path at the speed of the wire on QEMU's stick behind xHCI (hw-tests/lab/bench-check.sh):
# usbms tune, image at the tuned size against the file's sha256, small commands with the data beside the CBW, and
# WRITEs read back (and put back: the host checks the image is unchanged). Into .lab/checks/perf.txt; the figures
# are `npm run bench:lab`'s, never checked here. USBMS_LAB_SKIP_PERF=1 skips it.
if [ "${USBMS_LAB_SKIP_PERF:-0}" != 1 ]; then
  mkimg perf.img 16M
  : > "$OUT/checks/perf.txt"
  t=$(date +%s.%N); say "VM perf: booting"
  set +e
  bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_LAB_TIMEOUT:-1200}" --hc xhci --disk "$L/perf.img" -- \
    bash hw-tests/lab/bench-check.sh "$OUT/checks/perf.txt" "$L/perf.img" 2>&1 | tee "$OUT/logs/vm-perf.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ -s "$OUT/checks/perf.txt" ] || echo "not ok - perf: the guest ran bench-check.sh # VM exit $rc, see .lab/logs/vm-perf.log" >> "$OUT/checks/perf.txt"
  if cmp -s "$OUT/perf.img" "$OUT/perf.img.orig"; then echo "ok - perf: host: perf.img unchanged (the WRITE check put its blocks back)"
  else echo "not ok - perf: host: perf.img changed: the WRITE check did not put its blocks back"; fi >> "$OUT/checks/perf.txt"
  say "VM perf: exit $rc after $(stamp "$t") s"
fi

# ---- VM "rescue": a stick whose medium fails five sectors (QEMU blkdebug, facts.md §5). hw-tests/lab/rescue.sh:
# usbms rescue through libusb, ddrescuelog on its mapfile, a rescue with the stick pulled and re-plugged mid-run,
# then GNU ddrescue through the guest's usb-storage; on
# the host both images against the original. Into .lab/checks/rescue.txt. USBMS_LAB_SKIP_RESCUE=1 skips it.
if [ "${USBMS_LAB_SKIP_RESCUE:-0}" != 1 ]; then
  rescue_bad="1000 1001 5000 9999 12345"
  mkimg rescue.img 8M
  : > "$OUT/rescue-blkdebug.conf"
  for s in $rescue_bad; do
    printf '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "%s"\nonce = "off"\n\n' "$s" >> "$OUT/rescue-blkdebug.conf"
  done
  t=$(date +%s.%N); say "VM rescue: booting"
  set +e
  bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_LAB_TIMEOUT:-1200}" --expect-usb 1 --qemu \
    "-blockdev driver=raw,node-name=rescue0,read-only=on,file.driver=blkdebug,file.config=$L/rescue-blkdebug.conf,file.image.driver=file,file.image.filename=$L/rescue.img -device usb-storage,bus=usbhc.0,port=1,drive=rescue0,serial=RESCUE1,id=rescuedev" \
    -- bash hw-tests/lab/rescue.sh guest "$OUT/rescue" "$rescue_bad" "$OUT/checks/rescue.txt" 2>&1 | tee "$OUT/logs/vm-rescue.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ -s "$OUT/checks/rescue.txt" ] || echo "not ok - rescue: the guest ran rescue.sh # VM exit $rc, see .lab/logs/vm-rescue.log" >> "$OUT/checks/rescue.txt"
  bash "$HERE/rescue.sh" compare "$OUT/rescue.img.orig" "$OUT/rescue" "$rescue_bad" "$OUT/checks/rescue.txt"
  if cmp -s "$OUT/rescue.img" "$OUT/rescue.img.orig"; then echo "ok - rescue: host: rescue.img unchanged (rescue only reads)"
  else echo "not ok - rescue: host: rescue.img changed, but rescue and ddrescue only read it"; fi >> "$OUT/checks/rescue.txt"
  say "VM rescue: exit $rc after $(stamp "$t") s"
fi

# ---- VM "usbip": USB/IP in one guest (the kernel selftest's pattern): usbip-host exports two QEMU sticks and vhci-hcd
# attaches them back over 127.0.0.1; a third stick stays local. hw-tests/lab/usbip.sh: usbms list shows the remote
# identity and the exported original, the original is refused, the CLI (read/write byte-exact, image, verify,
# rescue of a blkdebug stick) and the hw-tests suite through vhci, validate on the local and the USB/IP stick at once,
# usbip detach + attach mid-plan (back on another vhci port), usbipd killed and the link cut mid-read. Into
# .lab/checks/usbip.txt. About 200 s on a quiet machine. USBMS_LAB_SKIP_USBIP=1 skips it.
if [ "${USBMS_LAB_SKIP_USBIP:-0}" != 1 ]; then
  usbip_bad="300 301 4000"
  mkimg usbip1.img 16M
  mkimg local.img 8M
  mkimg usbip-rescue.img 4M
  : > "$OUT/usbip-blkdebug.conf"
  for s in $usbip_bad; do
    printf '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "%s"\nonce = "off"\n\n' "$s" >> "$OUT/usbip-blkdebug.conf"
  done
  : > "$OUT/checks/usbip.txt"
  t=$(date +%s.%N); say "VM usbip: booting"
  set +e
  # both ends of every link are emulated in this one guest: a longer limit than the others' (default 1800 s)
  bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_LAB_TIMEOUT:-1800}" --expect-usb 3 --disk "$L/usbip1.img" --disk "$L/local.img" \
    --qemu "-blockdev driver=raw,node-name=usbipbad,read-only=on,file.driver=blkdebug,file.config=$L/usbip-blkdebug.conf,file.image.driver=file,file.image.filename=$L/usbip-rescue.img -device usb-storage,bus=usbhc.0,drive=usbipbad,serial=RESCUE1,id=usbipbaddev" \
    -e "USBIP_BAD_SECTORS=$usbip_bad" -- bash hw-tests/lab/usbip.sh "$OUT/checks/usbip.txt" 2>&1 | tee "$OUT/logs/vm-usbip.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ -s "$OUT/checks/usbip.txt" ] || echo "not ok - usbip: the guest ran usbip.sh # VM exit $rc, see .lab/logs/vm-usbip.log" >> "$OUT/checks/usbip.txt"
  for img in usbip1.img local.img usbip-rescue.img; do
    if cmp -s "$OUT/$img" "$OUT/$img.orig"; then echo "ok - usbip: host: $img unchanged (every write through vhci was put back)"
    else echo "not ok - usbip: host: $img changed: a write through vhci was not put back"; fi >> "$OUT/checks/usbip.txt"
  done
  # the rescued image is the stick's everywhere but the bad sectors, which stay holes (zeros)
  cp "$OUT/usbip-rescue.img.orig" "$OUT/usbip-rescue.expected"
  for s in $usbip_bad; do dd if=/dev/zero of="$OUT/usbip-rescue.expected" bs=512 seek="$s" count=1 conv=notrunc status=none; done
  if cmp -s "$OUT/logs/usbip-rescue.img" "$OUT/usbip-rescue.expected"; then echo "ok - usbip: host: the image rescued through vhci equals the stick but for the bad sectors"
  else echo "not ok - usbip: host: the image rescued through vhci differs from the stick outside the bad sectors"; fi >> "$OUT/checks/usbip.txt"
  rm -f "$OUT/usbip-rescue.expected"
  say "VM usbip: exit $rc after $(stamp "$t") s"
fi

# ---- VM "trace": wire traces and replay (hw-tests/lab/trace.sh boots its own short guest): usbms --pcap on QEMU
# usb-storage (against QEMU's own pcap=) and on the gadget, the guest kernel's usbmon under usb-storage, every
# capture replayed. Into .lab/checks/trace.txt. USBMS_LAB_SKIP_TRACE=1 skips it.
if [ "${USBMS_LAB_SKIP_TRACE:-0}" != 1 ]; then
  t=$(date +%s.%N); say "VM trace: booting"
  rc=0; USBMS_TRACE_TIMEOUT="${USBMS_LAB_TIMEOUT:-1200}" bash "$HERE/trace.sh" "$OUT/trace" > "$OUT/logs/vm-trace.log" 2>&1 || rc=$?
  if [ -s "$OUT/trace/checks.txt" ]; then cp "$OUT/trace/checks.txt" "$OUT/checks/trace.txt"
  else echo "not ok - trace: the lab ran trace.sh # exit $rc, see .lab/logs/vm-trace.log" > "$OUT/checks/trace.txt"; fi
  say "VM trace: exit $rc after $(stamp "$t") s"
fi

# ---- VM "uas": QEMU usb-uas + scsi-hd behind EHCI and behind a second qemu-xhci with p3=0 (both high speed, where
# UAS runs without streams), and one with QEMU's own pcap=: the hw-tests suite, the CLI byte-exact against the host
# images, several commands in flight in QEMU's capture equal to usbms's (hw-tests/lab/uas.sh boots its own guest).
# Into .lab/checks/uas.txt. USBMS_LAB_SKIP_UAS=1 skips it.
if [ "${USBMS_LAB_SKIP_UAS:-0}" != 1 ]; then
  t=$(date +%s.%N); say "VM uas: booting"
  rc=0; USBMS_UAS_TIMEOUT="${USBMS_LAB_TIMEOUT:-1200}" bash "$HERE/uas.sh" "$OUT/uas" > "$OUT/logs/vm-uas.log" 2>&1 || rc=$?
  if [ -s "$OUT/uas/checks.txt" ]; then cp "$OUT/uas/checks.txt" "$OUT/checks/uas.txt"
  else echo "not ok - uas: the lab ran uas.sh # exit $rc, see .lab/logs/vm-uas.log" > "$OUT/checks/uas.txt"; fi
  say "VM uas: exit $rc after $(stamp "$t") s"
fi

# ---- VM "serve": usbms serve on a QEMU stick (MBR: FAT16 and ext4 with files) used by the guest kernel's own NBD
# client (hw-tests/lab/serve.sh): /dev/nbd0's partitions mounted, files read byte-exact, files written and fsck
# clean, the stick pulled and plugged back (QMP) with both mounted and a copy running; on the host the files are in
# the image and both file systems clean. Into .lab/checks/serve.txt. About 60 s of guest (docs/serve.md);
# USBMS_LAB_SKIP_SERVE=1 leaves it out.
if [ "${USBMS_LAB_SKIP_SERVE:-0}" != 1 ]; then
  rm -rf "$OUT/serve" && mkdir -p "$OUT/serve"
  bash "$HERE/serve.sh" image "$OUT/serve.img" "$OUT/serve"
  : > "$OUT/checks/serve.txt"
  t=$(date +%s.%N); say "VM serve: booting"
  set +e
  # port=1 named, and -blockdev (not -drive): the re-plug puts the stick back into the same port from the same backend
  bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_LAB_TIMEOUT:-1200}" --expect-usb 1 --qemu \
    "-blockdev driver=raw,node-name=serve0,file.driver=file,file.filename=$L/serve.img -device usb-storage,bus=usbhc.0,port=1,drive=serve0,serial=SERVE1,id=servedev" \
    -- bash hw-tests/lab/serve.sh guest "$OUT/serve" "$OUT/checks/serve.txt" 2>&1 | tee "$OUT/logs/vm-serve.log"
  rc=${PIPESTATUS[0]}
  set -e
  [ -s "$OUT/checks/serve.txt" ] || echo "not ok - serve: the guest ran serve.sh # VM exit $rc, see .lab/logs/vm-serve.log" >> "$OUT/checks/serve.txt"
  bash "$HERE/serve.sh" check "$OUT/serve.img" "$OUT/serve" "$OUT/checks/serve.txt"
  say "VM serve: exit $rc after $(stamp "$t") s"
fi

# ---- host side: data written by the guest is in the image files (QEMU wrote through to them)
hostchecks="$OUT/checks/host.txt"; : > "$hostchecks"
# The destructive suite restores every block it overwrote, except one stamp block it leaves for this check.
stamp_block() { # stamp_block LBA BLOCKSIZE: the content hw-tests/support/patterns.ts writes there
  node -e 'const [lba, bs] = process.argv.slice(1).map(Number); const t = Buffer.from(`usbms-lab-stamp lba=${lba} `);
    const b = Buffer.alloc(bs); for (let i = 0; i < bs; i += t.length) t.copy(b, i); process.stdout.write(b);' "$1" "$2"
}
image_check() { # image_check NAME IMAGE STAMP_LBA BLOCKSIZE [ORIGINAL (default IMAGE.orig)]
  local name="$1" img="$2" lba="$3" bs="$4" orig="${5:-$2.orig}" ok=1 why=""
  if [ ! -f "$img" ]; then ok=0; why="no image $img"
  elif ! cmp -s <(dd if="$img" bs="$bs" skip="$lba" count=1 status=none) <(stamp_block "$lba" "$bs"); then
    ok=0; why="LBA $lba does not hold the stamp the guest wrote"
  elif ! cmp -s <(head -c $((lba * bs)) "$img") <(head -c $((lba * bs)) "$orig") ||
       ! cmp -s <(tail -c +$(((lba + 1) * bs + 1)) "$img") <(tail -c +$(((lba + 1) * bs + 1)) "$orig"); then
    ok=0; why="blocks other than the stamp differ from the original (a pattern was not restored)"
  fi
  if [ $ok = 1 ]; then echo "ok - host: $name: the guest's write reached the image, all other blocks restored"
  else echo "not ok - host: $name # $why"; fi >> "$hostchecks"
}
image_check "xhci usb-storage disk.img" "$OUT/disk.img" 100 512
image_check "usb-bot 4096-byte-block disk4k.img" "$OUT/disk4k.img" 100 4096
image_check "gadget image (copied back from the guest)" "$OUT/gadget.after.img" 100 512 "$OUT/gadget.img.orig"
[ "${USBMS_LAB_SKIP_EHCI:-0}" = 1 ] || image_check "ehci usb-storage ehci.img" "$OUT/ehci.img" 100 512
for ro in ro.img lun0.img cd.iso uas.img; do
  if cmp -s "$OUT/$ro" "$OUT/$ro.orig"; then echo "ok - host: $ro unchanged (read-only runs wrote nothing)"
  else echo "not ok - host: $ro changed, but only read-only checks ran on it"; fi >> "$hostchecks"
done

say "lab wall clock: $(stamp "$T0") s"
node "$HERE/summarize.mjs" "$REPORTS" "$OUT"

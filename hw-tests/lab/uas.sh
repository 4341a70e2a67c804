#!/usr/bin/env bash
# uas.sh OUT - the lab proof of UAS (issue 24), in ONE guest.
#
#   host:  boots a guest (run-in-vm.sh --hc ehci) with three QEMU usb-uas devices, each with one scsi-hd:
#          UASEHCI behind EHCI (high speed), UASXHCI behind a second controller qemu-xhci,p3=0 (no SuperSpeed ports:
#          high speed), and UASPCAP behind EHCI with QEMU's own `pcap=` capture of it.
#   guest: (uas.sh --guest OUT)
#     1. usbms list: each offers uas and would use it.
#     2. on UASEHCI and UASXHCI: the hw-tests suite (USBMS_TEST_EXPECT=uas), then the CLI: inquiry, capacity (the
#        image's size), read (byte-exact against the image), write --write of a stamp then read back then restore,
#        image (sha256 of the image file), verify, probe --write (it restores what it stamps).
#     3. on UASPCAP: eight READs of 4 KiB at a time through the whole stack with --pcap (examples/uas-inflight.mjs).
#   host:  the images are unchanged (every write was put back); QEMU's pcap and usbms's hold the same UAS IUs (kind,
#          tag, SCSI opcode) in the same order on each pipe, with several commands in flight in QEMU's own capture.
# Writes "ok - NAME" / "not ok - NAME # why" lines to OUT/checks.txt (run-lab.sh copies them to .lab/checks/uas.txt).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
USBMS=(node "$ROOT/dist/bin/usbms.js")

if [ "${1:-}" = --guest ]; then
  OUT="${2:?}"
  CHECKS="$OUT/checks.txt"
  LOG="$OUT/guest.log"
  ok() { echo "ok - uas: $1" | tee -a "$CHECKS"; }
  notok() { echo "not ok - uas: $1 # $2" | tee -a "$CHECKS"; }
  check() { # check NAME COMMAND...
    local name="$1"; shift
    if "$@" >> "$LOG" 2>&1; then ok "$name"; else notok "$name" "see $LOG"; fi
  }
  cd "$ROOT"
  VITEST=(node node_modules/vitest/vitest.mjs run --config hw-tests/vitest.config.ts)

  # 1. the listing
  "${USBMS[@]}" list --json > "$OUT/list.json" 2>> "$LOG"
  for s in UASEHCI UASXHCI UASPCAP; do
    check "list: $s offers uas and would use it" node -e '
      const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const r = rows.find((x) => x.serial === process.argv[2]);
      if (!r || r.transport !== "uas" || !r.transports.includes("uas") || r.speed !== "high") { console.error(JSON.stringify(r)); process.exit(1); }' \
      "$OUT/list.json" "$s"
  done

  for pair in "UASEHCI:$OUT/uas-ehci.img:ehci" "UASXHCI:$OUT/uas-xhci.img:xhci-hs"; do
    IFS=: read -r serial img where <<< "$pair"
    dev="46f4:0003:$serial"
    # 2a. the hardware suite (every file that is not about Bulk-Only itself)
    env USBMS_TEST_DEVICE="$dev" USBMS_TEST_IMAGE="$img" USBMS_DESTRUCTIVE_OK="$serial" USBMS_TEST_EXPECT=uas \
      USBMS_TEST_REPORT="lab-uas-$where" USBMS_HW_DIST=1 "${VITEST[@]}" > "$OUT/suite-$where.log" 2>&1
    rc=$?
    summary=$(grep -E '^ *Tests ' "$OUT/suite-$where.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g; s/^ *//')
    if [ "$rc" = 0 ]; then ok "$where: hw-tests suite passes ($summary)"; else notok "$where: hw-tests suite" "exit $rc, $summary, see $OUT/suite-$where.log"; fi
    # 2b. the CLI
    bytes=$(stat -c %s "$img")
    check "$where: inquiry" "${USBMS[@]}" inquiry -d "$dev"
    check "$where: capacity is the image's size" bash -c "[ \"\$(${USBMS[*]} capacity -d $dev --json | node -e 'let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>console.log(JSON.parse(s).bytes))')\" = $bytes ]"
    check "$where: read 8 blocks at LBA 300 is the image's" bash -c "${USBMS[*]} read 300 8 -d $dev -o $OUT/read-$where.bin && cmp $OUT/read-$where.bin <(dd if=$img bs=512 skip=300 count=8 status=none)"
    head -c 4096 /dev/urandom > "$OUT/stamp-$where.bin"
    dd if="$img" of="$OUT/orig-$where.bin" bs=512 skip=400 count=8 status=none
    check "$where: write 8 blocks at LBA 400 reads back byte-exact" bash -c "${USBMS[*]} write 400 -i $OUT/stamp-$where.bin --write -d $dev && ${USBMS[*]} read 400 8 -d $dev -o $OUT/back-$where.bin && cmp $OUT/stamp-$where.bin $OUT/back-$where.bin"
    check "$where: the written blocks are in the host's image file" bash -c "cmp $OUT/stamp-$where.bin <(dd if=$img bs=512 skip=400 count=8 status=none)"
    check "$where: restore the 8 blocks" "${USBMS[@]}" write 400 -i "$OUT/orig-$where.bin" --write -d "$dev"
    check "$where: image is the image file (sha256)" bash -c "${USBMS[*]} image -d $dev -o /tmp/uas-$where.img --json > $OUT/image-$where.json && cmp /tmp/uas-$where.img $img"
    rm -f "/tmp/uas-$where.img"
    check "$where: verify reads every block" "${USBMS[@]}" verify -d "$dev"
    check "$where: probe --write finds the real capacity and restores its stamps" "${USBMS[@]}" probe --write -d "$dev"
  done

  # 3. several commands in flight, captured by usbms (QEMU captures the same device on the host)
  check "pcap: eight READs at a time through the whole stack, byte-exact" \
    node hw-tests/lab/examples/uas-inflight.mjs 46f4:0003:UASPCAP "$OUT/uas-pcap.img" "$OUT/usbms-uas.pcap" 16
  exit 0
fi

# ---------------------------------------------------------------- host side
OUT="${1:?usage: uas.sh OUT}"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT"/*.pcap "$OUT"/*.log "$OUT"/*.bin
CHECKS="$OUT/checks.txt"; : > "$CHECKS"
for n in ehci xhci pcap; do head -c 8M /dev/urandom > "$OUT/uas-$n.img"; cp "$OUT/uas-$n.img" "$OUT/uas-$n.img.orig"; done
disk() { # disk ID FILE: a drive and its scsi-hd on the usb-uas device ID
  echo "-drive if=none,id=d$1,format=raw,file=$2 -device scsi-hd,bus=$1.0,scsi-id=0,lun=0,drive=d$1"
}
cd "$ROOT"
bash "$HERE/run-in-vm.sh" --timings --timeout "${USBMS_UAS_TIMEOUT:-1500}" --hc ehci --modules xhci_pci --expect-usb 3 \
  --share "$OUT" \
  --usb-dev "usb-uas,id=ue,serial=UASEHCI" --qemu "$(disk ue "$OUT/uas-ehci.img")" \
  --usb-dev "usb-uas,id=up,serial=UASPCAP,pcap=$OUT/qemu-uas.pcap" --qemu "$(disk up "$OUT/uas-pcap.img")" \
  --qemu "-device qemu-xhci,id=xhs,p2=4,p3=0 -device usb-uas,id=ux,bus=xhs.0,serial=UASXHCI $(disk ux "$OUT/uas-xhci.img")" \
  -- bash "$HERE/uas.sh" --guest "$OUT"
rc=$?
[ "$rc" = 0 ] || echo "not ok - uas: the guest ran # run-in-vm.sh exit $rc" >> "$CHECKS"

for n in ehci xhci pcap; do
  if cmp -s "$OUT/uas-$n.img" "$OUT/uas-$n.img.orig"; then echo "ok - uas: host: uas-$n.img unchanged (every write was put back)"
  else echo "not ok - uas: host: uas-$n.img changed: a write was not put back"; fi >> "$CHECKS"
done

# QEMU's own capture against usbms's: the same UAS IUs, and several commands in flight on the wire
F=(-T fields -E separator=, -E occurrence=f -e uasp.iu_id -e uasp.tag -e scsi_sbc.opcode -e scsi.spc.opcode -Y uasp.iu_id)
if [ -s "$OUT/qemu-uas.pcap" ] && [ -s "$OUT/usbms-uas.pcap" ]; then
  tshark -r "$OUT/qemu-uas.pcap" "${F[@]}" 2>/dev/null > "$OUT/qemu-side.txt"
  tshark -r "$OUT/usbms-uas.pcap" "${F[@]}" 2>/dev/null > "$OUT/usbms-side.txt"
  # QEMU sees the device from power-on (SeaBIOS's UAS probe, tag 0xdead, comes first; the guest kernel's uas is not
  # loaded), so everything after it is usbms's: take QEMU's tail of the same length as usbms's capture. Each pipe
  # holds the same IUs in the same order; across pipes the two captures stamp at different ends (QEMU when the device
  # side finishes a packet, usbms when libusb hands the completion to node), so a READ READY may sit a few COMMAND
  # IUs apart in the two: compare the command pipe (COMMAND, TASK MANAGEMENT) and the status pipe each on its own.
  n=$(grep -c . "$OUT/usbms-side.txt")
  tail -n "$n" "$OUT/qemu-side.txt" > "$OUT/qemu-tail.txt"
  for side in qemu-tail usbms-side; do
    awk -F, '$1 == "0x01" || $1 == "0x05"' "$OUT/$side.txt" > "$OUT/$side.command-pipe.txt"
    awk -F, '$1 != "0x01" && $1 != "0x05"' "$OUT/$side.txt" > "$OUT/$side.status-pipe.txt"
  done
  nc=$(grep -c . "$OUT/usbms-side.command-pipe.txt"); ns=$(grep -c . "$OUT/usbms-side.status-pipe.txt")
  if [ "$n" -gt 0 ] && cmp -s "$OUT/qemu-tail.command-pipe.txt" "$OUT/usbms-side.command-pipe.txt" \
     && cmp -s "$OUT/qemu-tail.status-pipe.txt" "$OUT/usbms-side.status-pipe.txt"; then
    echo "ok - uas: QEMU's pcap= and usbms --pcap hold the same $n UAS IUs (kind, tag, opcode), in the same order on each pipe ($nc on the command pipe, $ns on the status pipe)"
  else
    echo "not ok - uas: QEMU's pcap= and usbms --pcap differ # diff $OUT/qemu-tail.command-pipe.txt $OUT/usbms-side.command-pipe.txt; the same for .status-pipe"
  fi >> "$CHECKS"
  most=$(awk -F, '$1 == "0x01" { open++ } $1 == "0x03" || $1 == "0x04" { open-- } open > most { most = open } END { print most + 0 }' "$OUT/qemu-tail.txt")
  if [ "$most" -gt 1 ]; then echo "ok - uas: QEMU's own capture shows $most commands in flight at once"
  else echo "not ok - uas: QEMU's own capture shows no more than $most command in flight"; fi >> "$CHECKS"
else
  echo "not ok - uas: both captures were written # $OUT/qemu-uas.pcap, $OUT/usbms-uas.pcap" >> "$CHECKS"
fi
cat "$CHECKS"
! grep -q '^not ok' "$CHECKS"

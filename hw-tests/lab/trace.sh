#!/usr/bin/env bash
# trace.sh OUT - the lab proof of wire traces and replay (issue 13), in ONE short guest.
#
#   host:  boots a guest (run-in-vm.sh) with two QEMU usb-storage sticks: USBMSTRACE (behind blkdebug, an
#          unreadable sector 100, and QEMU's own `pcap=` capture of the device) and USBMSKERN (for the kernel).
#   guest: (trace.sh --guest OUT)
#     1. usbms --pcap on USBMSTRACE: inquiry, capacity, read, and a read of the bad sector; each capture is then
#        replayed with --replay in the guest and must print the same stdout, stderr and exit status.
#     2. the same on the Linux gadget (f_mass_storage on dummy_hcd: it STALLs where QEMU pads).
#     3. the guest kernel's usbmon: dumpcap on usbmonN while Linux's usb-storage binds USBMSKERN and `dd` reads
#        LBA 128; the live `usbms` output of the same questions, taken before usb-storage bound it, is what the
#        replay of the kernel's capture must print.
#   host:  tshark on QEMU's pcap and on usbms's own: the same CBWs (tag, LUN, opcode, length) and CSWs (tag,
#          status, residue) in the same order.
# Writes OUT/*.pcap, OUT/<name>.{args,out,err,rc} and "ok - NAME" / "not ok - NAME # why" lines to OUT/checks.txt
# (run-lab.sh copies them to .lab/checks/trace.txt). test/replays/ holds copies of these captures (see its README).
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# the CLI under test (run-lab.sh has just built dist/; USBMS_TRACE_CLI points elsewhere for a private build)
USBMS=(node "${USBMS_TRACE_CLI:-$ROOT/dist/bin/usbms.js}")
# USBMS_TRACE_PARTS: which of "qemu gadget kernel" to run (all by default)
PARTS=" ${USBMS_TRACE_PARTS:-qemu gadget kernel} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
# replay_check OUT NAME CAPTURE : `usbms ARGS --replay CAPTURE.pcap` prints NAME.{out,err,rc} byte for byte
replay_check() {
  local out="$1" name="$2" cap="$3"; mapfile -t args < "$out/$name.args"
  "${USBMS[@]}" "${args[@]}" --replay "$out/$cap.pcap" > "$out/$name.replay.out" 2> "$out/$name.replay.err"
  local rc=$?
  if cmp -s "$out/$name.out" "$out/$name.replay.out" && cmp -s "$out/$name.err" "$out/$name.replay.err" \
     && [ "$rc" = "$(cat "$out/$name.rc")" ]; then
    echo "ok - trace: $name: --replay of $cap.pcap prints what the live command printed (exit $rc)"
  else
    echo "not ok - trace: $name: replay of $cap.pcap # exit $rc vs $(cat "$out/$name.rc"); diff $out/$name.out $out/$name.replay.out"
  fi >> "$out/checks.txt"
}

if [ "${1:-}" = --guest ]; then
  OUT="${2:?}"
  CHECKS="$OUT/checks.txt"
  ok() { echo "ok - $1" >> "$CHECKS"; echo "ok - $1"; }
  notok() { echo "not ok - $1 # $2" >> "$CHECKS"; echo "not ok - $1 # $2"; }
  # record NAME DEVICE ARGS... : the live command with --pcap; its outputs are the replay's expected outputs
  record() {
    local name="$1" dev="$2"; shift 2
    printf '%s\n' "$@" > "$OUT/$name.args"
    "${USBMS[@]}" "$@" --device "$dev" --pcap "$OUT/$name.pcap" > "$OUT/$name.out" 2> "$OUT/$name.err"
    echo $? > "$OUT/$name.rc"
    echo "$name $name" >> "$OUT/replays.txt"
  }
  sysdev_of() { local d; for d in /sys/bus/usb/devices/*; do [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && { echo "$d"; return 0; }; done; return 1; }

  # 1. QEMU usb-storage (its own pcap= runs on the host side)
  if part qemu; then
  record qemu-inquiry 46f4:0001:USBMSTRACE inquiry
  record qemu-read 46f4:0001:USBMSTRACE read 8 2
  record qemu-bad-sector 46f4:0001:USBMSTRACE read 100 1
  for n in inquiry read bad-sector; do echo "qemu-$n"; done > "$OUT/qemu-order.txt"
  fi

  # 2. the Linux gadget
  if part gadget; then
  head -c 1048576 /dev/urandom > /tmp/trace-gadget.img
  if bash "$HERE/examples/gadget-in-guest.sh" /tmp/trace-gadget.img > "$OUT/gadget-setup.log" 2>&1; then
    for i in $(seq 1 50); do "${USBMS[@]}" list 2>/dev/null | grep -q GADGET0 && break; sleep 0.2; done
    record gadget-inquiry 1d6b:0104:GADGET0 inquiry
    record gadget-read 1d6b:0104:GADGET0 read 0 1
    bash "$HERE/examples/gadget-in-guest.sh" --remove
  else
    notok "trace: the gadget enumerates" "see $OUT/gadget-setup.log"
  fi
  fi
  part kernel || exit 0

  # 3. the kernel's usb-storage under usbmon
  kdev=$(sysdev_of USBMSKERN) || { notok "trace: usbmon" "no USBMSKERN stick"; exit 0; }
  bus=$(cat "$kdev/busnum")
  # the expected outputs, live, while no kernel driver holds the stick
  printf '%s\n' tur > "$OUT/kernel-tur.args"
  printf '%s\n' raw 28 00 00 00 00 80 00 00 08 00 --in 4096 > "$OUT/kernel-read.args"
  for n in tur read; do
    mapfile -t args < "$OUT/kernel-$n.args"
    "${USBMS[@]}" "${args[@]}" --device 46f4:0001:USBMSKERN > "$OUT/kernel-$n.out" 2> "$OUT/kernel-$n.err"
    echo $? > "$OUT/kernel-$n.rc"
  done
  # usb-storage must not touch USBMSTRACE: QEMU's capture of it is compared with usbms's alone
  tdev=$(sysdev_of USBMSTRACE) && echo 0 > "$tdev/authorized"
  busybox modprobe usbmon
  dumpcap -q -i "usbmon$bus" -P -w "$OUT/kernel-usbmon.pcap" > "$OUT/dumpcap.log" 2>&1 &
  cap=$!
  for i in $(seq 1 50); do [ -s "$OUT/kernel-usbmon.pcap" ] && break; sleep 0.1; done
  sleep 1
  busybox modprobe sd_mod 2>/dev/null; busybox modprobe usb-storage
  blk=""
  for i in $(seq 1 100); do
    blk=$(ls -d "$kdev"/*:1.0/host*/target*/*/block/* 2>/dev/null | head -1)
    [ -n "$blk" ] && [ -b "/dev/$(basename "$blk")" ] && break; sleep 0.2
  done
  if [ -n "$blk" ]; then
    sleep 2   # the partition scan
    dd if="/dev/$(basename "$blk")" of=/dev/null bs=4096 skip=16 count=1 iflag=direct 2>> "$OUT/dumpcap.log"
    sg_turs "/dev/$(basename "$blk")" >> "$OUT/dumpcap.log" 2>&1
    sleep 1
  else
    notok "trace: usb-storage binds USBMSKERN" "no block device"
  fi
  kill -INT "$cap"; wait "$cap"
  for n in tur read; do echo "kernel-$n kernel-usbmon" >> "$OUT/replays.txt"; done
  exit 0
fi

# trace.sh --collect OUT : copy a lab run's captures and live outputs into test/replays/ (replays.json lists them;
# entries of the same name are replaced, others kept)
if [ "${1:-}" = --collect ]; then
  OUT="${2:?}"; DEST="$ROOT/test/replays"; mkdir -p "$DEST"
  node -e '
    const fs = require("node:fs"), path = require("node:path");
    const [out, dest] = process.argv.slice(1);
    const what = { qemu: "QEMU usb-storage, usbms --pcap", gadget: "Linux gadget f_mass_storage, usbms --pcap",
      kernel: "guest kernel usb-storage, usbmon (dumpcap)" };
    const file = path.join(dest, "replays.json");
    const list = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : [];
    for (const line of fs.readFileSync(path.join(out, "replays.txt"), "utf8").split("\n").filter(Boolean)) {
      const [name, cap] = line.split(" ");
      for (const ext of [".out", ".err"]) fs.copyFileSync(path.join(out, name + ext), path.join(dest, name + ext));
      fs.copyFileSync(path.join(out, cap + ".pcap"), path.join(dest, cap + ".pcap"));
      const args = fs.readFileSync(path.join(out, name + ".args"), "utf8").split("\n").filter(Boolean);
      const exit = Number(fs.readFileSync(path.join(out, name + ".rc"), "utf8"));
      const entry = { name, capture: cap + ".pcap", args, exit, what: what[name.split("-")[0]] ?? "lab" };
      const i = list.findIndex((e) => e.name === name);
      if (i >= 0) list[i] = entry; else list.push(entry);
      fs.chmodSync(path.join(dest, cap + ".pcap"), 0o644);
    }
    fs.writeFileSync(file, JSON.stringify(list, null, 2) + "\n");
  ' "$OUT" "$DEST"
  ls -la "$DEST"
  exit 0
fi

# ---------------------------------------------------------------- host side
host_checks() { # host_checks OUT : replay every capture, compare QEMU's pcap with usbms's
  local OUT="$1" CHECKS="$1/checks.txt"
  # every capture replayed on the host: the same stdout, stderr and exit status as live in the guest
  [ -s "$OUT/replays.txt" ] || echo "not ok - trace: the guest recorded captures # no $OUT/replays.txt" >> "$CHECKS"
  while read -r name cap; do replay_check "$OUT" "$name" "$cap"; done < "$OUT/replays.txt" 2>/dev/null
  part qemu || return 0
  # QEMU's own capture against usbms's: the same Bulk-Only conversation
  F=(-T fields -E separator=, -E occurrence=f -e usbms.dCBWSignature -e usbms.dCBWTag -e usbms.dCBWLUN
     -e usbms.dCBWDataTransferLength -e usbms.dCSWStatus -e usbms.dCSWDataResidue -Y 'usbms.dCBWSignature || usbms.dCSWSignature')
  conv() { tshark -r "$1" "${F[@]}" 2>/dev/null; }
  if [ -s "$OUT/qemu-trace.pcap" ] && [ -s "$OUT/qemu-order.txt" ]; then
    # QEMU sees the device from power-on: SeaBIOS probes it at boot with its fixed CBW tag 999 (0x3e7) first
    conv "$OUT/qemu-trace.pcap" | awk -F, 'seen || $2 != "0x000003e7" { seen = 1; print }' > "$OUT/qemu-side.txt"
    : > "$OUT/usbms-side.txt"; while read -r n; do conv "$OUT/$n.pcap" >> "$OUT/usbms-side.txt"; done < "$OUT/qemu-order.txt"
    if [ -s "$OUT/usbms-side.txt" ] && cmp -s "$OUT/qemu-side.txt" "$OUT/usbms-side.txt"; then
      echo "ok - trace: QEMU's pcap= and usbms --pcap hold the same CBWs and CSWs ($(grep -c . "$OUT/usbms-side.txt") per tshark)"
    else
      echo "not ok - trace: QEMU's pcap= and usbms --pcap differ # diff $OUT/qemu-side.txt $OUT/usbms-side.txt"
    fi >> "$CHECKS"
  else
    echo "not ok - trace: QEMU wrote its pcap # no $OUT/qemu-trace.pcap" >> "$CHECKS"
  fi
}
# trace.sh --checks OUT : only the host-side checks, on the outputs of an earlier run
if [ "${1:-}" = --checks ]; then
  OUT="$(cd "${2:?}" && pwd)"
  sed -i '/replay\|QEMU/d' "$OUT/checks.txt" 2>/dev/null
  host_checks "$OUT"; cat "$OUT/checks.txt"; ! grep -q '^not ok' "$OUT/checks.txt"; exit
fi
OUT="${1:?usage: trace.sh OUT}"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT"/*.pcap "$OUT"/*.out "$OUT"/*.err "$OUT"/*.rc "$OUT"/*.args "$OUT/replays.txt"
CHECKS="$OUT/checks.txt"; : > "$CHECKS"
head -c 1048576 /dev/urandom > "$OUT/trace.img"
head -c 1048576 /dev/urandom > "$OUT/kern.img"
cat > "$OUT/blkdebug.conf" <<'EOF'
[inject-error]
event = "read_aio"
errno = "5"
sector = "100"
once = "off"
EOF
cd "$ROOT"
bash "$HERE/run-in-vm.sh" --timeout "${USBMS_TRACE_TIMEOUT:-1200}" --share "$OUT" \
  --usb-dev "usb-storage,drive=trd,serial=USBMSTRACE,pcap=$OUT/qemu-trace.pcap" \
  --qemu "-drive if=none,id=trd,format=raw,file=blkdebug:$OUT/blkdebug.conf:$OUT/trace.img" \
  --usb-dev "usb-storage,drive=krd,serial=USBMSKERN" --qemu "-drive if=none,id=krd,format=raw,file=$OUT/kern.img" \
  ${USBMS_TRACE_CLI:+-e "USBMS_TRACE_CLI=$USBMS_TRACE_CLI"} -e "USBMS_TRACE_PARTS=${PARTS# }" -- bash "$HERE/trace.sh" --guest "$OUT"
rc=$?
[ "$rc" = 0 ] || echo "not ok - trace: the guest ran # run-in-vm.sh exit $rc" >> "$CHECKS"

host_checks "$OUT"
cat "$CHECKS"
! grep -q '^not ok' "$CHECKS"

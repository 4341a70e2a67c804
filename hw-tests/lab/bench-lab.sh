#!/usr/bin/env bash
# bench-lab.sh (`npm run bench:lab`): one guest per device model - QEMU usb-storage behind xHCI (SuperSpeed) and
# behind EHCI (high speed), and the Linux gadget (f_mass_storage on dummy_hcd) - each running bench-guest.sh: the
# bare node-usb BOT loop, usbms's API and CLI, and the guest kernel's usb-storage, side by side. Then
# bench-report.mjs prints the medians and ratios as a table and writes them as JSON. Model "uas": usbms over UAS against
# the guest kernel's uas driver on the same usb-uas device, and against usbms over Bulk-Only on a usb-storage device
# with the same backing image (bench-uas.sh). BENCH_MODELS=usbip (not in the default list): one stick directly, over
# USB/IP through vhci in the same guest, and usb-storage over that link (hw-tests/lab/bench-usbip.sh).
#
# Under TCG these are emulated-CPU speeds: read the ratios (measured in one guest, side by side), not the MB/s.
# Env: BENCH_MODELS (default "xhci ehci gadget uas"), BENCH_DIR (default .lab-bench), BENCH_IMAGE_MB (default 128: at 8 MiB per command a 32 MiB disk is 4 commands, too few for a copy's steady pace),
# plus bench-guest.sh's BENCH_SIZES, BENCH_ROUNDS, BENCH_CLI_RUNS, BENCH_PROFILE.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
OUT="${BENCH_DIR:-$ROOT/.lab-bench}"
mkdir -p "$OUT"
bash "$HERE/setup.sh" >/dev/null
npm run build --silent
MB="${BENCH_IMAGE_MB:-128}"
pass=(-e "BENCH_SIZES=${BENCH_SIZES:-4K,120K,1M,4M,8M}" -e "BENCH_ROUNDS=${BENCH_ROUNDS:-7}"
  -e "BENCH_CLI_RUNS=${BENCH_CLI_RUNS:-2}" -e "BENCH_PROFILE=${BENCH_PROFILE:-0}")
for model in ${BENCH_MODELS:-xhci ehci gadget uas}; do
  head -c "${MB}M" /dev/urandom > "$OUT/$model.img"
  echo "== $model" >&2
  case "$model" in
    xhci) bash "$HERE/run-in-vm.sh" --timeout 1500 --hc xhci --disk "$OUT/$model.img" "${pass[@]}" -- \
            bash hw-tests/lab/bench-guest.sh xhci 46f4:0001 "$OUT" ;;
    ehci) bash "$HERE/run-in-vm.sh" --timeout 1500 --hc ehci --disk "$OUT/$model.img" "${pass[@]}" -- \
            bash hw-tests/lab/bench-guest.sh ehci 46f4:0001 "$OUT" ;;
    gadget) bash "$HERE/run-in-vm.sh" --timeout 1500 --expect-usb 0 "${pass[@]}" -e "BENCH_GADGET_IMAGE=$OUT/$model.img" -- \
            bash hw-tests/lab/bench-guest.sh gadget 1d6b:0104 "$OUT" ;;
    # usb-uas and usb-storage behind one EHCI (high speed: UAS without streams), each on its own copy of the same
    # image (the sequential job writes too)
    uas) cp "$OUT/$model.img" "$OUT/$model-bot.img"
         bash "$HERE/run-in-vm.sh" --timeout 2400 --hc ehci --expect-usb 2 \
           -e "BENCH_SECONDS=${BENCH_SECONDS:-8}" -e "BENCH_ROUNDS=${BENCH_UAS_ROUNDS:-3}" \
           --qemu "-blockdev driver=raw,file.driver=file,file.filename=$OUT/$model.img,node-name=bu -device usb-uas,id=ub,bus=usbhc.0,serial=BENCHUAS -device scsi-hd,bus=ub.0,drive=bu" \
           --qemu "-blockdev driver=raw,file.driver=file,file.filename=$OUT/$model-bot.img,node-name=bb -device usb-storage,bus=usbhc.0,drive=bb,serial=BENCHBOT" -- \
           bash hw-tests/lab/bench-uas.sh "$OUT"
         rm -f "$OUT/$model-bot.img" ;;
    # the stick directly, over USB/IP (exported and attached back in the guest), and usb-storage over that link
    usbip) bash "$HERE/run-in-vm.sh" --timeout 2400 --hc xhci --disk "$OUT/$model.img" -e "BENCH_ROUNDS=${BENCH_ROUNDS:-5}" -- \
            bash hw-tests/lab/bench-usbip.sh "$OUT" ;;
    *) echo "unknown model $model (xhci, ehci, gadget, uas, usbip)" >&2; exit 2 ;;
  esac || echo "guest for $model exited $?" >&2
  rm -f "$OUT/$model.img"
done
node "$HERE/bench-report.mjs" "$OUT" | tee "$OUT/report.txt"

#!/usr/bin/env bash
# bench-guest.sh - runs INSIDE the lab guest (see bench-lab.sh): usbms (libusb, userspace BOT) against the guest
# kernel's own usb-storage driver on the same emulated stick, same bytes per command, and their ratio.
set -u
SEL="$1"; MIB="${2:-16}"
U="node dist/cli/main.js"
declare -A USBMS
for kib in 64 120 1024; do
  json=$($U bench --device "$SEL" --size-mb "$MIB" --chunk-kb "$kib" --random-ios 64 --json 2>/dev/null)
  mbps=$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{try{console.log(JSON.parse(s).sequential.mbPerSecond.toFixed(2))}catch{console.log("NaN")}})')
  USBMS[$kib]=$mbps
  echo "usbms READ(10) ${kib} KiB/command: ${mbps} MB/s"
done
busybox modprobe usb-storage; busybox modprobe sd_mod
for i in $(seq 100); do [ -b /dev/sda ] && break; sleep 0.1; done
[ -b /dev/sda ] || { echo "no /dev/sda from usb-storage"; exit 1; }
echo "kernel max_sectors_kb=$(cat /sys/block/sda/queue/max_sectors_kb)"
for kib in 64 120 1024; do
  echo 3 > /proc/sys/vm/drop_caches
  line=$(dd if=/dev/sda of=/dev/null bs=${kib}K count=$((MIB * 1024 / kib)) iflag=direct 2>&1 | tail -1)
  secs=$(printf '%s' "$line" | sed -n 's/.*copied, \([0-9.]*\) s,.*/\1/p')
  bytes=$(( (MIB * 1024 / kib) * kib * 1024 ))
  kmbps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN{ if (s > 0) printf "%.2f", b / s / 1e6; else print "NaN" }')
  ratio=$(awk -v u="${USBMS[$kib]}" -v k="$kmbps" 'BEGIN{ if (k > 0 && u == u + 0) printf "%.2f", u / k; else print "?" }')
  echo "kernel dd iflag=direct bs=${kib}K: ${kmbps} MB/s   usbms/kernel = ${ratio}   ($line)"
done

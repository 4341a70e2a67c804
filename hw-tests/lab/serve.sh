#!/bin/bash
# serve.sh - `usbms serve` on a QEMU stick, used by the guest kernel's own NBD client: a FAT and an ext4 partition
# mounted through /dev/nbd0, files read byte-exact, files written and fsck clean, and the stick pulled and plugged
# back (QMP) while a copy runs on the mounted file system.
#
#   Host, before the VM:  serve.sh image IMAGE OUTDIR     (IMAGE: MBR, p1 FAT16, p2 ext4, files listed in OUTDIR)
#   Guest:                serve.sh guest OUTDIR [CHECKS_FILE]
#   Host, after the VM:   serve.sh check IMAGE OUTDIR [CHECKS_FILE]
#
# run-lab.sh's "serve" block boots one guest with IMAGE as a usb-storage stick in port 1 (serial SERVE1, device id
# servedev on blockdev serve0: what the re-plug puts back into the same port; QEMU gives a device added without
# port= the next free port, which is another slot to usbms). Guest needs (setup.sh): the modules nbd, vfat,
# nls_cp437, nls_ascii, ext4, crc32c_generic, and on the host (shared into the guest) nbd-client, dosfstools,
# e2fsprogs, mtools. The lab's guest-init never brings up loopback: this script does (busybox ip link set lo up).
# Results: "ok - serve: NAME" / "not ok - serve: NAME # why" lines in CHECKS_FILE (default .lab/checks/serve.txt).
set -u
mode="${1:?usage: serve.sh image|guest|check ...}"
shift
CHECKS_FILE=.lab/checks/serve.txt
ok() { echo "ok - serve: $*" >> "$CHECKS_FILE"; echo "ok - serve: $*"; }
notok() { echo "not ok - serve: $1 # $2" >> "$CHECKS_FILE"; echo "not ok - serve: $1 # $2"; }
MIB=1048576
FAT_START=1      # MiB
FAT_SIZE=24      # MiB
EXT_START=25
EXT_SIZE=70
IMG_SIZE=96

# ---- host: the stick's image ----------------------------------------------------------------------------------
image() {
  local img="$1" out="$2"
  mkdir -p "$out"
  rm -rf "$out/src" && mkdir -p "$out/src/fat" "$out/src/ext4"
  head -c $((2 * MIB)) /dev/urandom > "$out/src/fat/DATA1.BIN"
  echo "usbms serve lab: a file on FAT" > "$out/src/fat/HELLO.TXT"
  head -c $((2 * MIB)) /dev/urandom > "$out/src/ext4/data1.bin"
  head -c $((16 * MIB)) /dev/urandom > "$out/src/ext4/big.bin"
  echo "usbms serve lab: a file on ext4" > "$out/src/ext4/hello.txt"
  (cd "$out/src/fat" && sha256sum HELLO.TXT DATA1.BIN) > "$out/fat.sha256"
  (cd "$out/src/ext4" && sha256sum hello.txt data1.bin big.bin) > "$out/ext4.sha256"
  rm -f "$out/fat.part" "$out/ext4.part"
  mkfs.vfat -F 16 -n USBMSLAB -C "$out/fat.part" $((FAT_SIZE * 1024)) > /dev/null
  mcopy -i "$out/fat.part" "$out/src/fat/HELLO.TXT" "$out/src/fat/DATA1.BIN" ::/
  mkfs.ext4 -q -F -L usbmslab -d "$out/src/ext4" "$out/ext4.part" "${EXT_SIZE}M" > /dev/null
  truncate -s 0 "$img" && truncate -s "${IMG_SIZE}M" "$img"
  # MBR: p1 FAT16 (type 0x06) and p2 Linux (0x83), LBA start and count in 512-byte sectors
  node -e '
    const fs = require("fs");
    const [img, fs1, fn1, es, en] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
    const mbr = Buffer.alloc(512);
    const entry = (i, type, start, count) => { const o = 446 + 16 * i; mbr[o + 4] = type; mbr.writeUInt32LE(start, o + 8); mbr.writeUInt32LE(count, o + 12); };
    entry(0, 0x06, fs1 * 2048, fn1 * 2048);
    entry(1, 0x83, es * 2048, en * 2048);
    mbr[510] = 0x55; mbr[511] = 0xaa;
    const fd = fs.openSync(img, "r+"); fs.writeSync(fd, mbr, 0, 512, 0); fs.closeSync(fd);' "$img" $FAT_START $FAT_SIZE $EXT_START $EXT_SIZE
  dd if="$out/fat.part" of="$img" bs=1M seek=$FAT_START conv=notrunc status=none
  dd if="$out/ext4.part" of="$img" bs=1M seek=$EXT_START conv=notrunc status=none
  rm -f "$out/fat.part" "$out/ext4.part"
}

# ---- guest -----------------------------------------------------------------------------------------------------
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
  local n=$(($1 * 10)); shift
  for _ in $(seq "$n"); do "$@" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
SERVE_PID=""
start_server() { # start_server OUTDIR [TAG [ARGS...]]: events in OUTDIR/TAG.ndjson (serve)
  local out="$1" tag="${2:-serve}"; shift; shift
  node dist/bin/usbms.js serve -d 46f4:0001 --write --listen 10809 --name stick --json --reattach-timeout 60 "$@" \
    > "$out/$tag.ndjson" 2> "$out/$tag.err" &
  SERVE_PID=$!
  wait_for 60 grep -q '"type":"listening"' "$out/$tag.ndjson"
}
attach() { # attach: the kernel's nbd client on /dev/nbd0, partitions scanned
  nbd-client 127.0.0.1 10809 /dev/nbd0 -N stick > /dev/null && wait_for 20 test -b /dev/nbd0p2
}
mount_both() {
  mkdir -p /mnt/fat /mnt/ext4
  mount -t vfat /dev/nbd0p1 /mnt/fat && mount -t ext4 /dev/nbd0p2 /mnt/ext4
}
umount_both() { sync; umount /mnt/fat; umount /mnt/ext4; }
fsck_both() { # fsck_both WHEN
  local r1 r2
  fsck.vfat -n /dev/nbd0p1 > /tmp/fsck-fat.txt 2>&1; r1=$?
  e2fsck -fn /dev/nbd0p2 > /tmp/fsck-ext4.txt 2>&1; r2=$?
  if [ "$r1" = 0 ] && [ "$r2" = 0 ]; then ok "fsck.vfat -n and e2fsck -fn clean $1"
  else notok "fsck clean $1" "fsck.vfat $r1: $(tail -2 /tmp/fsck-fat.txt | tr '\n' ' ') e2fsck $r2: $(tail -2 /tmp/fsck-ext4.txt | tr '\n' ' ')"; fi
}
RUNNING=0
replug_during() { # replug_during PID SECONDS WHO: after SECONDS the stick is pulled (QMP) and plugged back into the
  # same port 3 s later; RUNNING=1 when PID (the copy) was still running at the pull
  sleep "$2"
  RUNNING=0; kill -0 "$1" 2>/dev/null && RUNNING=1
  echo "$3: pulling the stick"; $USB_VM_QMP 'device_del servedev'
  sleep 3
  echo "$3: plugging it back"; $USB_VM_QMP 'device_add usb-storage,bus=usbhc.0,port=1,drive=serve0,serial=SERVE1,id=servedev'
}
verify_files() { # verify_files OUTDIR WHEN
  local bad=""
  (cd /mnt/fat && sha256sum -c --quiet "$1/fat.sha256") > /tmp/sha-fat.txt 2>&1 || bad="$bad fat: $(head -2 /tmp/sha-fat.txt | tr '\n' ' ')"
  (cd /mnt/ext4 && sha256sum -c --quiet "$1/ext4.sha256") > /tmp/sha-ext4.txt 2>&1 || bad="$bad ext4: $(head -2 /tmp/sha-ext4.txt | tr '\n' ' ')"
  if [ -z "$bad" ]; then ok "every file on FAT and ext4 read byte-exact through /dev/nbd0 $2"
  else notok "files byte-exact $2" "$bad"; fi
}

guest() {
  local out; out=$(realpath "$1")
  CHECKS_FILE="${2:-$CHECKS_FILE}"
  mkdir -p "$(dirname "$CHECKS_FILE")"; : > "$CHECKS_FILE"
  busybox ip link set lo up
  busybox modprobe nbd max_part=8 nbds_max=4
  for m in vfat nls_cp437 nls_ascii crc32c_generic ext4; do busybox modprobe "$m" || notok "modprobe $m" "not in the initramfs (setup.sh)"; done
  local t; t=$(now)
  if ! start_server "$out"; then notok "usbms serve listens" "$(tail -3 "$out/serve.err" | tr '\n' ' ')"; return 0; fi
  ok "usbms serve on the QEMU stick listens ($(since "$t") s)"
  if ! attach; then notok "nbd-client attaches /dev/nbd0 with its partitions" "$(ls /dev/nbd0* | tr '\n' ' ')"; return 0; fi
  ok "the kernel's nbd-client attaches /dev/nbd0, partitions nbd0p1 and nbd0p2 appear"
  if mount_both; then ok "FAT (nbd0p1) and ext4 (nbd0p2) mount"; else notok "FAT and ext4 mount" "mount failed"; return 0; fi
  verify_files "$out" "(as the host wrote them)"
  # writes: a new file on each, recorded for the host's check of the image
  head -c $((3 * 1048576)) /dev/urandom > /tmp/NEW.BIN
  cp /tmp/NEW.BIN /mnt/fat/NEW.BIN && cp /tmp/NEW.BIN /mnt/ext4/new.bin
  echo "written through usbms serve" > /mnt/ext4/note.txt
  (cd /tmp && sha256sum NEW.BIN) > "$out/written.sha256"
  (cd /mnt/fat && sha256sum NEW.BIN) >> "$out/fat.sha256"
  (cd /mnt/ext4 && sha256sum new.bin note.txt) >> "$out/ext4.sha256"
  umount_both
  fsck_both "after writing"
  # the stick pulled and plugged back with both mounted and a copy running (direct I/O: it goes to the device)
  mount_both
  echo 3 > /proc/sys/vm/drop_caches
  dd if=/mnt/ext4/big.bin of=/mnt/ext4/big.copy bs=128k iflag=direct oflag=direct status=none &
  local cp_pid=$! copy_t; copy_t=$(now)
  replug_during "$cp_pid" 1 serve; local running=$RUNNING
  wait "$cp_pid"; local rc=$?
  local copy_s; copy_s=$(since "$copy_t")
  local big; big=$(cut -d' ' -f1 < <(grep ' big.bin$' "$out/ext4.sha256"))
  local got; got=$(sha256sum /mnt/ext4/big.copy | cut -d' ' -f1)
  local gone back
  gone=$(grep -c '"phase":"gone"' "$out/serve.ndjson"); back=$(grep -c '"phase":"back"' "$out/serve.ndjson")
  if [ "$running" = 1 ] && [ "$rc" = 0 ] && [ "$got" = "$big" ] && [ "$gone" -ge 1 ] && [ "$back" -ge 1 ]; then
    ok "a 16 MiB copy on the mounted ext4 survives the stick pulled and plugged back mid-copy (byte-exact, $copy_s s)"
  else notok "a copy survives a re-plug" "copy running at the unplug $running, dd exit $rc, sha256 $got vs $big, gone $gone back $back"; fi
  (cd /mnt/ext4 && sha256sum big.copy) >> "$out/ext4.sha256"
  verify_files "$out" "after the re-plug"
  umount_both
  fsck_both "after the re-plug"
  nbd-client -d /dev/nbd0 > /dev/null 2>&1
  kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; rc=$?
  if [ "$rc" = 0 ]; then ok "usbms serve stops on SIGTERM with exit 0"; else notok "usbms serve stops cleanly" "exit $rc: $(tail -2 "$out/serve.err")"; fi
  grep -c '"type":"error"' "$out/serve.ndjson" | sed 's/^/# request errors logged: /' >> "$CHECKS_FILE"
  write_back "$out"
}

# --write-back: WRITEs answered before the stick has them. A copy written that way (O_DIRECT, so each WRITE goes
# to serve at once) across a pull and re-plug of the stick, then sync (a FLUSH waits for every answered WRITE):
# nothing lost, fsck clean, the server writes what it answered before it exits, and the host finds the file.
write_back() {
  local out="$1"
  if ! start_server "$out" serve-wb --write-back || ! attach || ! mount_both; then
    notok "serve --write-back: listens, attaches, mounts" "$(tail -3 "$out/serve-wb.err" | tr '\n' ' ')"; return 0
  fi
  # 36 MiB: more than the 32 MiB answered ahead, so the copy is still running when the stick is pulled with
  # answered WRITEs not yet on it (room: the earlier copy goes)
  rm -f /mnt/ext4/big.copy
  head -c $((36 * 1048576)) /dev/urandom > /tmp/wb.bin
  local want; want=$(sha256sum /tmp/wb.bin | cut -d' ' -f1)
  dd if=/tmp/wb.bin of=/mnt/ext4/wb.bin bs=128k oflag=direct status=none &
  local cp_pid=$!
  replug_during "$cp_pid" 0.3 "serve --write-back"; local running=$RUNNING
  wait "$cp_pid"; local rc=$?
  sync; local synced=$?
  echo 3 > /proc/sys/vm/drop_caches
  local got; got=$(dd if=/mnt/ext4/wb.bin bs=128k iflag=direct status=none | sha256sum | cut -d' ' -f1)
  local back; back=$(grep -c '"phase":"back"' "$out/serve-wb.ndjson")
  if [ "$running" = 1 ] && [ "$rc" = 0 ] && [ "$synced" = 0 ] && [ "$got" = "$want" ] && [ "$back" -ge 1 ]; then
    ok "serve --write-back: a 36 MiB O_DIRECT write across a pull and re-plug, then sync: byte-exact read back from the stick"
  else notok "serve --write-back: a write across a re-plug" "running $running, dd exit $rc, sync $synced, sha256 $got vs $want, back $back"; fi
  echo "$want  wb.bin" > "$out/written-wb.sha256"
  umount_both
  fsck_both "after the write-back copy"
  nbd-client -d /dev/nbd0 > /dev/null 2>&1
  kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; rc=$?
  local errors; errors=$(grep -c '"type":"error"' "$out/serve-wb.ndjson")
  if [ "$rc" = 0 ] && [ "$errors" = 0 ]; then ok "serve --write-back stops on SIGTERM with exit 0, no request failed"
  else notok "serve --write-back stops cleanly" "exit $rc, $errors error events: $(grep -m2 '"type":"error"' "$out/serve-wb.ndjson")"; fi
}

# ---- host: the image after the VM ------------------------------------------------------------------------------
check() {
  local img="$1" out="$2"
  CHECKS_FILE="${3:-$CHECKS_FILE}"
  dd if="$img" of="$out/fat.after" bs=1M skip=$FAT_START count=$FAT_SIZE status=none
  dd if="$img" of="$out/ext4.after" bs=1M skip=$EXT_START count=$EXT_SIZE status=none
  local want; want=$(cut -d' ' -f1 < "$out/written.sha256" 2>/dev/null)
  local fat ext
  fat=$(mtype -i "$out/fat.after" ::/NEW.BIN 2>/dev/null | sha256sum | cut -d' ' -f1)
  ext=$(debugfs -R 'cat /new.bin' "$out/ext4.after" 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ -n "$want" ] && [ "$fat" = "$want" ] && [ "$ext" = "$want" ]; then
    ok "host: the files the guest wrote through NBD are in the image (mtools on FAT, debugfs on ext4)"
  else notok "host: the guest's files are in the image" "want $want, FAT $fat, ext4 $ext"; fi
  local wb wbwant; wbwant=$(cut -d' ' -f1 < "$out/written-wb.sha256" 2>/dev/null)
  wb=$(debugfs -R 'cat /wb.bin' "$out/ext4.after" 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ -n "$wbwant" ] && [ "$wb" = "$wbwant" ]; then ok "host: the file written with --write-back across the re-plug is in the image"
  else notok "host: the --write-back file is in the image" "want $wbwant, ext4 $wb"; fi
  local r1 r2
  fsck.vfat -n "$out/fat.after" > /dev/null 2>&1; r1=$?
  e2fsck -fn "$out/ext4.after" > /dev/null 2>&1; r2=$?
  if [ "$r1" = 0 ] && [ "$r2" = 0 ]; then ok "host: both file systems in the image are clean"
  else notok "host: file systems clean" "fsck.vfat $r1, e2fsck $r2"; fi
  rm -f "$out/fat.after" "$out/ext4.after"
}

case "$mode" in
  image) image "$@" ;;
  guest) guest "$@" ;;
  check) check "$@" ;;
  *) echo "serve.sh: unknown mode $mode" >&2; exit 2 ;;
esac

#!/bin/bash
# guest-suite.sh VM - runs INSIDE the lab guest (run-lab.sh starts it through run-in-vm.sh, cwd = the repo).
# One vitest run of hw-tests/ per device model (vitest's own start costs ~15-25 s under TCG, so the suite
# stays lean), the udev check, and the hot-unplug script. Full logs go to .lab/logs/ (the virtio console
# moves ~230 KB/s, so only one line per step is printed); check results to .lab/checks/VM.txt as
# "ok - name" / "not ok - name # why" lines, which summarize.mjs reads on the host.
set -u
VM="${1:?usage: guest-suite.sh VM}"
LAB="$PWD/.lab"
CHECKS="$LAB/checks/$VM.txt"; : > "$CHECKS"
VITEST=(node node_modules/vitest/vitest.mjs run --config hw-tests/vitest.config.ts)   # = npx vitest, minus npm's start
now() { cut -d' ' -f1 /proc/uptime; }
check() { # check NAME COMMAND... : one named lab check
  local name="$1"; shift
  if "$@" >> "$LAB/logs/$VM-checks.log" 2>&1; then echo "ok - $name" | tee -a "$CHECKS"
  else echo "not ok - $name # see .lab/logs/$VM-checks.log" | tee -a "$CHECKS"; fi
}
suite() { # suite MODEL DEVICE [KEY=VALUE...] : the hw-tests suite against one device
  local model="$1" device="$2"; shift 2
  local t0; t0=$(now)
  env USBMS_TEST_DEVICE="$device" USBMS_TEST_REPORT="lab-$VM-$model" USBMS_HW_DIST=1 "$@" \
    "${VITEST[@]}" ${SUITE_FILES:-} > "$LAB/logs/$VM-$model.log" 2>&1
  local rc=$?
  echo "$rc" > "$LAB/logs/$VM-$model.rc"
  echo "suite $VM/$model ($device): vitest exit $rc, $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s; " \
    "$(grep -E '^ *Tests ' "$LAB/logs/$VM-$model.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g; s/^ *//')"
}
# bus/device path of the device with this serial: "BBB/DDD"
devnode_of() {
  local d; for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
    printf '%03d/%03d\n' "$(cat "$d/busnum")" "$(cat "$d/devnum")"; return 0
  done; return 1
}
iface_driver_of() { # the driver bound to interface 0 of the device with serial $1 ("none" if unbound)
  local d; for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
    local i="$d/$(basename "$d"):1.0"
    if [ -e "$i/driver" ]; then basename "$(readlink "$i/driver")"; else echo none; fi; return 0
  done; echo missing
}
expect_eq() { [ "$1" = "$2" ] || { echo "expected '$2', got '$1'"; return 1; }; }

echo "guest $VM: $(uname -r), node $(node -v), uptime $(now) s"
if [ "$VM" = ehci ]; then
  suite usb-storage 46f4:0001:USBVM0 USBMS_TEST_IMAGE="$LAB/ehci.img" USBMS_DESTRUCTIVE_OK=USBVM0 USBMS_TEST_STAMP_LBA=100
  exit 0
fi

# ---- device models that need no kernel driver (usb-storage is not loaded yet)
suite read-only 46f4:0001:USBVM1 USBMS_TEST_IMAGE="$LAB/ro.img" USBMS_TEST_EXPECT_WRITE_PROTECT=1 \
  USBMS_DESTRUCTIVE_OK=USBVM1
suite two-lun 46f4:0001:USBMS2LUN USBMS_TEST_IMAGE="$LAB/lun0.img,$LAB/cd.iso"
suite 4k-removable 46f4:0001:USBMS4K USBMS_TEST_IMAGE="$LAB/disk4k.img" USBMS_DESTRUCTIVE_OK=USBMS4K \
  USBMS_TEST_STAMP_LBA=100
# only the enumeration file knows USBMS_TEST_EXPECT=no-bot; the rest of the suite needs a Bulk-Only device
SUITE_FILES=hw-tests/enumerate.hw.test.ts suite uas 46f4:0003:USBMSUAS USBMS_TEST_EXPECT=no-bot

# ---- the Linux gadget: a second, independent device implementation (it STALLs where QEMU pads)
cp "$LAB/gadget.img" /tmp/gadget.img   # the guest kernel opens the backing file: keep it on the guest's tmpfs
if bash hw-tests/lab/examples/gadget-in-guest.sh /tmp/gadget.img > "$LAB/logs/$VM-gadget-setup.log" 2>&1; then
  suite gadget 1d6b:0104:GADGET0 USBMS_TEST_IMAGE=/tmp/gadget.img USBMS_DESTRUCTIVE_OK=GADGET0 USBMS_TEST_STAMP_LBA=100
  bash hw-tests/lab/examples/gadget-in-guest.sh --remove
  sync; cp /tmp/gadget.img "$LAB/gadget.after.img"
else
  echo "not ok - gadget mass storage enumerates on dummy_hcd # see .lab/logs/$VM-gadget-setup.log" | tee -a "$CHECKS"
fi

# ---- udev rules: install them into the guest's /etc (a throw-away overlay) and check the access they give.
# The lab's udevd runs with --resolve-names=never (it only relays events), which ignores GROUP="name":
# restart it the way a distribution runs it.
if [ -x /run/usbvm-bin/systemd-udevd ]; then
  export SYSTEMD_IGNORE_CHROOT=1   # the guest command runs in a chroot; udevadm refuses to act there otherwise
  mkdir -p /etc/udev/rules.d
  install -m 0644 udev/70-usbms.rules /etc/udev/rules.d/70-usbms.rules
  sed -e 's/@VID@/46f4/' -e 's/@PID@/0001/' -e 's/@SERIAL@/USBMS2LUN/' \
    udev/71-usbms-no-usb-storage.rules.template > /etc/udev/rules.d/71-usbms-no-usb-storage.rules
  U=/run/usbvm-bin/systemd-udevd   # a symlink to the unpacked udevadm; it acts as udevd or udevadm by argv[0]
  A="$(readlink -f "$U")"
  "$A" control --exit >> "$LAB/logs/$VM-checks.log" 2>&1
  sleep 0.3
  "$U" --daemon --resolve-names=early >> "$LAB/logs/$VM-checks.log" 2>&1
  "$A" trigger --subsystem-match=usb --action=add >> "$LAB/logs/$VM-checks.log" 2>&1
  "$A" settle --timeout=20 >> "$LAB/logs/$VM-checks.log" 2>&1
  node_of() { devnode_of "$1" || echo none; }
  stat_of() { stat -c '%G %a' "/dev/bus/usb/$(node_of "$1")" 2>&1; }
  check "udev: 70-usbms.rules gives group plugdev rw (0660) on the QEMU stick 46f4:0001" \
    expect_eq "$(stat_of USBVM0)" "plugdev 660"
  check "udev: 70-usbms.rules tags the QEMU stick for uaccess (seat ACL)" \
    grep -q ':uaccess:' <("$A" info "/dev/bus/usb/$(node_of USBVM0)")
  check "udev: 70-usbms.rules leaves an unlisted device (usb-uas 46f4:0003) alone" \
    test "$(stat -c %G "/dev/bus/usb/$(node_of USBMSUAS)")" != plugdev
  # 71: with usb-storage loaded, it binds every Bulk-Only stick except the one the rule names
  busybox modprobe usb-storage
  "$A" settle --timeout=20 >> "$LAB/logs/$VM-checks.log" 2>&1; sleep 1
  check "udev: 71-usbms-no-usb-storage keeps usb-storage off the named device (USBMS2LUN)" \
    expect_eq "$(iface_driver_of USBMS2LUN)" none
  check "udev: 71-usbms-no-usb-storage leaves other sticks to usb-storage (USBVM1)" \
    expect_eq "$(iface_driver_of USBVM1)" usb-storage
else
  echo "not ok - udev: no systemd-udevd in the guest (setup.sh unpacks it)" | tee -a "$CHECKS"
  busybox modprobe usb-storage
fi

# ---- the read/write stick with usb-storage bound: usbms must detach it and give it back afterwards
sleep 1
check "usb-storage is bound to the stick before the suite (USBVM0)" expect_eq "$(iface_driver_of USBVM0)" usb-storage
suite usb-storage 46f4:0001:USBVM0 USBMS_TEST_IMAGE="$LAB/disk.img" USBMS_DESTRUCTIVE_OK=USBVM0 \
  USBMS_TEST_STAMP_LBA=100 USBMS_TEST_REQUIRE_KERNEL_DRIVER=1 USBMS_TEST_KERNEL_DRIVER=1
sleep 1
check "usb-storage is bound to the stick again after the suite (USBVM0)" expect_eq "$(iface_driver_of USBVM0)" usb-storage

# ---- hot unplug in the middle of a read loop (the script unplugs usbdev0 through QMP itself)
t0=$(now)
timeout -k 5 120 node hw-tests/hot-unplug.mjs 46f4:0001:USBVM0 > "$LAB/logs/$VM-hot-unplug.log" 2>&1
rc=$?
echo "hot-unplug: exit $rc after $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.0f", b-a}') s"
check "hot unplug: the script exits by itself with status 0" expect_eq "$rc" 0
check "hot unplug: every read in flight failed with device-gone" \
  grep -qE '^ok - every read in flight ended with device-gone' "$LAB/logs/$VM-hot-unplug.log"
check "hot unplug: a read after the unplug fails with device-gone at once" \
  grep -qE '^ok - a read after the unplug fails typed at once' "$LAB/logs/$VM-hot-unplug.log"
check "hot unplug: the session closed cleanly after the device left" \
  grep -qE '^ok - session closed' "$LAB/logs/$VM-hot-unplug.log"
check "hot unplug: the device is gone from sysfs" sh -c '! grep -qx USBVM0 /sys/bus/usb/devices/*/serial'
exit 0

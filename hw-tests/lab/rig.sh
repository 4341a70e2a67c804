#!/bin/bash
# rig.sh [CHECKS_FILE] - runs INSIDE a lab guest (cwd = the repo, dist/ built): a small validation rig, i.e. QEMU
# usb-hub with port-power=on on root port 1 holding four sticks (RIG1..RIG4, RIG4 read-only) and a second hub
# without power switching on root port 2 holding one (RIGNS). run-lab.sh's "rig" block boots it like this:
#
#   -device usb-hub,bus=usbhc.0,port=1,port-power=on -device usb-hub,bus=usbhc.0,port=2
#   -blockdev ...,node-name=rigN (read-only=on for N=4) -device usb-storage,bus=usbhc.0,port=1.N,drive=rigN,serial=RIGN,id=rigdevN (N=1..4)
#   -device usb-storage,bus=usbhc.0,port=2.1,drive=rigns,serial=RIGNS,id=rigdevns
#
# Each check is one function `check_NAME` (add yours: write the function and add its name to CHECKS below); it
# returns 0 for ok and calls `fail WHY` (or returns non-zero) for not ok; its output goes to the log. Results: CHECKS_FILE (default
# .lab/checks/rig.txt) gets "ok - rig: NAME" / "not ok - rig: NAME # why" lines (summarize.mjs reads them).
# Env: RIG_IMAGES=DIR (where rig1.img..rig4.img are, to compare what the guest reads; default .lab), RIG_LOG,
# USBMS_DIST (the compiled tree, default dist), RIG_ONLY (see below).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/rig-harness.sh"
rig_init "${1:-$PWD/.lab/checks/rig.txt}" "${RIG_LOG:-$PWD/.lab/logs/rig-checks.log}"

# ---- checks
check_list_port_paths() { # usbms list (text and --json): every stick by its port path, with its serial
  run list --json > "$TMP/list.json" || return 1
  cat "$TMP/list.json"
  local got; got=$(json 'j.map((r) => `${r.port}=${r.serial}`).sort().join(" ")' "$TMP/list.json")
  [ "$got" = "1-1.1=RIG1 1-1.2=RIG2 1-1.3=RIG3 1-1.4=RIG4 1-2.1=RIGNS" ] || fail "list --json shows '$got'"
  run list > "$TMP/list.txt" || return 1
  cat "$TMP/list.txt"
  grep -q '^1-1.2 46f4:0001 bus 1 address [0-9]* serial RIG2 ' "$TMP/list.txt" || fail "no '1-1.2 46f4:0001 ... serial RIG2' line"
}

check_open_by_port() { # --device 1-1.2 opens that stick: LBA 0..7 read through it equal its image
  run read 0 8 --device 1-1.2 -o "$TMP/r.bin" || return 1
  cmp "$TMP/r.bin" <(head -c 4096 "$IMAGES/rig2.img") || fail "blocks read from 1-1.2 differ from rig2.img"
}

check_read_only_stick() { # the read-only stick is found by port and reports write protection
  run capacity --device 1-1.4 --json > "$TMP/cap.json" || return 1
  [ "$(json 'j.writeProtected' "$TMP/cap.json")" = true ] || fail "1-1.4 does not report write protection"
}

check_power_cycle() { # power cycle 1-1.2: gone, back with a new address, same serial, and usable
  local t0; t0=$(now)
  run power cycle --device 1-1.2 --off-ms 500 --json > "$TMP/cycle.json" || { fail "power cycle failed"; return 1; }
  cat "$TMP/cycle.json"; echo "power cycle took $(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s (guest)"
  local before after serial
  before=$(json 'j.addressBefore' "$TMP/cycle.json"); after=$(json 'j.addressAfter' "$TMP/cycle.json")
  serial=$(json 'j.device.serial' "$TMP/cycle.json")
  [ "$serial" = RIG2 ] || fail "came back with serial $serial"
  [ "$before" != "$after" ] || fail "address $before did not change: the device did not re-enumerate"
  run read 0 8 --device 1-1.2 -o "$TMP/r2.bin" && cmp "$TMP/r2.bin" <(head -c 4096 "$IMAGES/rig2.img") ||
    fail "1-1.2 is not readable after the power cycle"
}

check_power_off_on() { # power off 1-1.3: gone (off waits for that), port unpowered and empty; on: the same stick back
  run power off --device 1-1.3 --json || return 1
  run power status --device 1-1.3 --json > "$TMP/st.json" || return 1
  cat "$TMP/st.json"
  [ "$(json 'j.powered' "$TMP/st.json")" = false ] || fail "port 1-1.3 still reports power"
  [ "$(json 'j.connected || j.device !== null' "$TMP/st.json")" = false ] || fail "something is still at 1-1.3 while off"
  run power on --device 1-1.3 --json > "$TMP/on.json" || { fail "power on did not bring a device back"; return 1; }
  cat "$TMP/on.json"
  [ "$(json 'j.device.serial' "$TMP/on.json")" = RIG3 ] || fail "1-1.3 came back as $(cat "$TMP/on.json")"
}

check_no_switching_refused() { # a hub without per-port switching: a typed refusal (exit 15), device untouched
  local rc=0
  run power off --device 1-2.1 > "$TMP/ns.out" 2> "$TMP/ns.err" || rc=$?
  cat "$TMP/ns.err"
  [ "$rc" = 15 ] || fail "exit $rc, not 15"
  grep -q 'cannot switch port power (wHubCharacteristics 0x[0-9a-f]*: no power switching)' "$TMP/ns.err" ||
    fail "no 'cannot switch port power' message"
}

check_slot_refuses_other_device() { # another stick in a slot is refused by the slot API, never used
  node --input-type=module -e '
    import { LibusbBackend } from "./'"$DIST"'/usb/libusb/index.js";
    import { DeviceAtPort } from "./'"$DIST"'/usb/device-at-port.js";
    import { parseDeviceSelector } from "./'"$DIST"'/usb/selector.js";
    import { execFileSync } from "node:child_process";
    const backend = new LibusbBackend();
    // the stick on the hub that cannot switch was left alone by the refused power off
    if (!(await backend.list()).some((r) => r.portPath === "1-2.1")) { console.log("FAIL: 1-2.1 vanished"); process.exit(1); }
    const slot = await DeviceAtPort.find(backend, parseDeviceSelector("1-1.4"));
    console.log("slot", slot.toString());
    const qmp = (c) => console.log(c, execFileSync(process.env.USB_VM_QMP, [c]).toString().trim());
    qmp("device_del rigdev4");
    await slot.waitGone({ timeoutMs: 10000 });
    qmp("device_add usb-storage,bus=usbhc.0,port=1.4,drive=rig4,serial=IMPOSTOR,id=rigdev4b");
    try {
      await slot.waitBack({ timeoutMs: 15000 });
      console.log("FAIL: the impostor was accepted"); process.exit(1);
    } catch (e) {
      console.log(e.name, e.message);
      if (e.name !== "DeviceMismatchError") process.exit(1);
    }
    try {
      const port = await slot.open(); await port.close();
      console.log("FAIL: open accepted the impostor"); process.exit(1);
    } catch (e) {
      console.log("open:", e.name, e.message);
      if (e.name !== "DeviceMismatchError") process.exit(1);
    }
    // put the real stick back, so the checks after this one see the rig as it was
    qmp("device_del rigdev4b");
    await slot.waitGone({ timeoutMs: 10000 });
    qmp("device_add usb-storage,bus=usbhc.0,port=1.4,drive=rig4,serial=RIG4,id=rigdev4");
    const back = await slot.waitBack({ timeoutMs: 15000 });
    console.log("restored:", back.portPath, back.serialNumber);' || fail "the slot did not refuse the other device"
}

check_udev_hub_ports() { # udev/72-usbms-hub-ports.rules: plugdev may write the listed hub's port "disable" files
  # (what usbms power prefers on Linux 6.0+), the root hub's stay root's; a plugdev member switches 1-1.2 off and on
  local hub=/sys/bus/usb/devices/1-1/1-1:1.0 f mode gid n udevadm
  # the lab's udevd is an unpacked udevadm (setup.sh), started through a symlink: no udevadm on PATH
  udevadm=$(command -v udevadm || readlink -f /run/usbvm-bin/systemd-udevd) || { fail "no udevadm"; return 1; }
  [ -e "$hub/1-1-port2/disable" ] || { fail "no $hub/1-1-port2/disable (kernel older than 6.0?)"; return 1; }
  mkdir -p /etc/udev/rules.d && cp udev/72-usbms-hub-ports.rules /etc/udev/rules.d/ || return 1
  # SYSTEMD_IGNORE_CHROOT: the guest's command runs chrooted, where udevadm otherwise ignores every request
  local -x SYSTEMD_IGNORE_CHROOT=1
  "$udevadm" control --reload && "$udevadm" trigger --subsystem-match=usb --action=add && "$udevadm" settle --timeout=30 ||
    { fail "udevadm reload/trigger/settle failed"; return 1; }
  for f in "$hub"/1-1-port{1,2,3,4}/disable /sys/bus/usb/devices/usb1/1-0:1.0/usb1-port1/disable; do
    [ -e "$f" ] || case "$f" in */usb1-port*) continue ;; esac
    mode=$(stat -c '%G %A' "$f"); echo "$f: $mode"
    case "$f" in
      */usb1-port*) [ "$mode" = "root -rw-r--r--" ] || fail "$f of the root hub (not listed) became $mode" ;;
      *) [ "$mode" = "plugdev -rw-rw-r--" ] || fail "$f is $mode, not plugdev -rw-rw-r--" ;;
    esac
  done
  [ -z "$why" ] || return 1
  command -v setpriv > /dev/null || { fail "no setpriv (util-linux) to act as a plugdev member"; return 1; }
  gid=$(getent group plugdev | cut -d: -f3)
  [ -n "$gid" ] || { fail "no group plugdev on this system"; return 1; }
  # nobody, with plugdev as a supplementary group only: the rule is what lets it write
  setpriv --reuid=65534 --regid=65534 --groups="$gid" sh -c "echo 1 > $hub/1-1-port2/disable" || fail "a plugdev member cannot write it"
  for n in $(seq 100); do [ -e /sys/bus/usb/devices/1-1.2 ] || break; sleep 0.1; done
  [ -e /sys/bus/usb/devices/1-1.2 ] && fail "1-1.2 still there after its port was disabled"
  setpriv --reuid=65534 --regid=65534 --groups="$gid" sh -c "echo 0 > $hub/1-1-port2/disable" || fail "a plugdev member cannot switch it back"
  for n in $(seq 150); do [ -e /sys/bus/usb/devices/1-1.2/serial ] && break; sleep 0.1; done
  [ "$(cat /sys/bus/usb/devices/1-1.2/serial 2>/dev/null)" = RIG2 ] || fail "RIG2 did not come back at 1-1.2"
  if setpriv --reuid=65534 --regid=65534 --groups=65534 sh -c "echo 1 > $hub/1-1-port2/disable" 2>/dev/null; then
    echo 0 > "$hub/1-1-port2/disable"; fail "a user outside plugdev could write it"
  fi
  echo "1-1.2 off and on again by a plugdev member through $hub/1-1-port2/disable"
}

CHECKS=(list_port_paths open_by_port read_only_stick power_cycle power_off_on
  no_switching_refused slot_refuses_other_device udev_hub_ports)
# usbms validate on the same rig (issue 11): check_validate_* functions, their names in VALIDATE_CHECKS
. "$(dirname "${BASH_SOURCE[0]}")/rig-validate.sh" && CHECKS+=("${VALIDATE_CHECKS[@]}")

# RIG_ONLY="name ..." runs just those checks, in that order (for trying one out)
[ -n "${RIG_ONLY:-}" ] && read -r -a CHECKS <<< "$RIG_ONLY"
echo "rig: $(uname -r), node $(node -v), uptime $(now) s"
rig_run_checks "${CHECKS[@]}"

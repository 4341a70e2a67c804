#!/bin/bash
# rig-validate.sh - `usbms validate` checks for the lab's rig VM (issue 11), run INSIDE the guest, cwd = the repo.
# rig.sh sources this file and appends VALIDATE_CHECKS to its CHECKS (its helpers fail/json/run/TMP/IMAGES are
# used); run directly (`bash hw-tests/lab/rig-validate.sh [CHECKS_FILE]`) it sources the same harness (rig-harness.sh).
# The rig: QEMU usb-hub with port-power=on at root port 1 holding sticks 1-1.1..1-1.4 (1-1.4 read-only), a hub
# without power switching at root port 2 holding 1-2.1 (see rig.sh's header). Each check is `check_NAME`.
# What the checks write is put back (--restore, `usbms write`), so run-lab.sh's host-side "rigN.img unchanged"
# checks prove the restores; check_validate_endurance_power_cycle shows what was written, reading the image file.
# Under TCG behind QEMU's hub the sticks run at full speed: the checks keep the bytes moved small (a few MiB each).

# vrun ARGS: usbms, bounded (a run that never ends must not eat the VM's whole timeout)
vrun() { echo "+ usbms $* (limit ${VALIDATE_LIMIT_S:-900} s)" >&2; timeout -k 5 "${VALIDATE_LIMIT_S:-900}" "${USBMS[@]}" "$@"; }
# The NDJSON events and JUnit files of the runs are kept beside the log (they are the lab's evidence).
OUTDIR="$(dirname "${LOG:-.lab/logs/rig-checks.log}")"
# ev FILE EXPR: evaluate a JS expression over the NDJSON events in FILE (bound to `l`, an array), print the result
ev() { node -e 'const l = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((x) => JSON.parse(x));
  const v = eval(process.argv[2]); process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"; }
# verdicts FILE: one "port status exit reason" line per device
# steps FILE: one line per step result, with its time and figures
steps() { ev "$1" 'l.filter((e) => e.event === "step").map((e) => `${e.device.port} ${e.step} ${e.status} ${e.seconds}s ${JSON.stringify(e.figures)} ${e.reason ?? ""}`).join("\n")'; echo; }
verdicts() { ev "$1" 'l.filter((e) => e.event === "done").map((e) => `${e.device.port} ${e.device.serial} ${e.status} exit ${e.exitCode} ${e.reason ?? ""}`).join("\n")'; echo; }

check_validate_quick_all() { # validate --all --plan quick --junit: every stick found by port path, every step passes
  local rc=0
  vrun validate --all --plan quick --json --junit "$OUTDIR/validate-quick.xml" --seed 11 > "$OUTDIR/validate-quick.ndjson" || rc=$?
  steps "$OUTDIR/validate-quick.ndjson"
  verdicts "$OUTDIR/validate-quick.ndjson"
  [ "$rc" = 0 ] || fail "exit $rc"
  local done ports
  done=$(ev "$OUTDIR/validate-quick.ndjson" 'l.filter((e) => e.event === "done" && e.status === "pass").length')
  ports=$(ev "$OUTDIR/validate-quick.ndjson" 'l.filter((e) => e.event === "done").map((e) => e.device.port).sort().join(" ")')
  [ "$ports" = "1-1.1 1-1.2 1-1.3 1-1.4 1-2.1" ] || fail "devices validated: '$ports'"
  [ "$done" = 5 ] || fail "$done of 5 devices passed"
  # JUnit: 5 testsuites named by port path, 6 testcases each, no failure/error
  node -e 'const x = require("fs").readFileSync(process.argv[1], "utf8");
    const suites = [...x.matchAll(/<testsuite name="([^"]*)" tests="(\d+)" failures="(\d+)" errors="(\d+)"/g)];
    console.log(suites.map((m) => m.slice(1).join(" ")).join("\n"));
    const bad = suites.length !== 5 || suites.some((m) => m[2] !== "6" || m[3] !== "0" || m[4] !== "0");
    const cases = (x.match(/<testcase /g) || []).length;
    if (bad || cases !== 30 || !x.startsWith("<?xml")) { console.log("FAIL: junit", suites.length, cases); process.exit(1); }' \
    "$OUTDIR/validate-quick.xml" || fail "JUnit report is not 5 suites x 6 passing testcases"
}

check_validate_full_write() { # full --write --restore (probe, write/verify, restore) on VALIDATE_FULL_PORTS at once
  # (default every writable stick at once: 1-1.1, 1-1.2 and 1-1.3; 1-1.4 is read-only, 1-1.2 gets the endurance run after.
  # Two sessions opening at once once left libusb handles of the other sticks open, and the process never exited:
  # src/usb/libusb/handles.ts, issue 11; vrun's time limit turns a run that does not exit into a failure here)
  local ports=(${VALIDATE_FULL_PORTS:-1-1.1 1-1.2 1-1.3}) devs=() p rc=0
  for p in "${ports[@]}"; do devs+=(--device "$p"); done
  vrun validate "${devs[@]}" --plan full --write --restore --json --junit "$OUTDIR/validate-full.xml" \
    --seed 12 > "$OUTDIR/validate-full.ndjson" || rc=$?
  steps "$OUTDIR/validate-full.ndjson"
  verdicts "$OUTDIR/validate-full.ndjson"
  [ "$rc" = 0 ] || fail "exit $rc"
  local n=${#ports[@]} passed
  passed=$(ev "$OUTDIR/validate-full.ndjson" 'l.filter((e) => e.event === "step" && e.status === "pass").length')
  [ "$passed" = $((n * 11)) ] || fail "$passed of $((n * 11)) steps ($n sticks x 11) passed"
  [ "$(ev "$OUTDIR/validate-full.ndjson" 'l.filter((e) => e.step === "write-verify" && e.status === "pass" && e.figures.badBlocks === 0
    && e.figures.bytes === 4194304).length')" = "$n" ] || fail "write-verify did not cover every 4 MiB stick without a bad block"
  for p in "${ports[@]}"; do
    cmp -s "$IMAGES/rig${p#1-1.}.img" "$IMAGES/rig${p#1-1.}.img.orig" || fail "rig${p#1-1.}.img was not restored"
  done
}

check_validate_endurance_power_cycle() { # endurance: a power cycle between writing and reading back, every cycle;
  # then the image file shows the last cycle's stamps (LBA + seed 13+2) and is put back with usbms write
  cat > "$TMP/soak.json" <<'PLAN'
{ "name": "soak", "steps": [{ "step": "identify" },
  { "step": "endurance", "params": { "cycles": 2, "powerCycle": true, "offMs": 500, "limitMiB": 1, "chunkKiB": 128 } },
  { "step": "capacity" }] }
PLAN
  local rc=0
  vrun validate --device 1-1.2 --plan "$TMP/soak.json" --write --json --journal "$TMP/journal" --seed 13 \
    > "$OUTDIR/validate-endurance.ndjson" || rc=$?
  ev "$OUTDIR/validate-endurance.ndjson" 'l.filter((e) => e.event === "progress").map((e) => `${e.time} ${JSON.stringify(e.figures)}`).join("\n")'; echo
  steps "$OUTDIR/validate-endurance.ndjson"
  verdicts "$OUTDIR/validate-endurance.ndjson"
  [ "$rc" = 0 ] || fail "exit $rc"
  local cycled; cycled=$(ev "$OUTDIR/validate-endurance.ndjson" 'l.filter((e) => e.event === "progress" && e.figures.phase === "power-cycled").length')
  [ "$cycled" = 2 ] || fail "$cycled power cycles, not 2"
  [ "$(ev "$OUTDIR/validate-endurance.ndjson" 'l.find((e) => e.event === "step" && e.step === "endurance")?.status')" = pass ] ||
    fail "endurance did not pass"
  # what was written, read from the image file itself: every block of the first MiB holds its LBA and seed 15
  node -e 'const b = require("fs").readFileSync(process.argv[1]); let bad = 0;
    for (let lba = 0; lba < 2048; lba++) {
      const blk = b.subarray(lba * 512, lba * 512 + 512);
      for (let o = 0; o + 24 <= 512; o += 24) {
        if (blk.toString("latin1", o, o + 8) !== "USBMSPRB" || blk.readBigUInt64BE(o + 8) !== BigInt(lba) ||
          blk.readBigUInt64BE(o + 16) !== 15n) { bad++; break; }
      }
    }
    const rest = b.subarray(2048 * 512).equals(require("fs").readFileSync(process.argv[2]).subarray(2048 * 512));
    console.log(`image: 2048 stamped blocks expected, ${bad} without their stamp; the rest untouched: ${rest}`);
    process.exit(bad === 0 && rest ? 0 : 1);' "$IMAGES/rig2.img" "$IMAGES/rig2.img.orig" ||
    fail "the image does not hold the stamps written"
  head -c 1048576 "$IMAGES/rig2.img.orig" > "$TMP/first-mib.bin"
  run write 0 --in "$TMP/first-mib.bin" --write --device 1-1.2 || fail "usbms write exit $?"
  cmp -s "$IMAGES/rig2.img" "$IMAGES/rig2.img.orig" || fail "rig2.img not back to its original"
}

VALIDATE_CHECKS=(validate_quick_all validate_full_write validate_endurance_power_cycle)

# ---- run directly: the harness rig.sh uses (rig-harness.sh)
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  . "$(dirname "${BASH_SOURCE[0]}")/rig-harness.sh"
  rig_init "${1:-$PWD/.lab/checks/rig-validate.txt}" "${RIG_LOG:-$PWD/.lab/logs/rig-validate.log}"
  [ -n "${VALIDATE_ONLY:-}" ] && read -r -a VALIDATE_CHECKS <<< "$VALIDATE_ONLY"
  rig_run_checks "${VALIDATE_CHECKS[@]}"
  exit $?
fi

#!/bin/bash
# rig-harness.sh - what rig.sh and rig-validate.sh (run on its own) share, sourced INSIDE the lab guest (cwd = the
# repo): `rig_init CHECKS_FILE LOG` sets LAB, CHECKS_FILE, LOG, IMAGES, USBMS, TMP; the helpers now, fail,
# json and run; `rig_run_checks NAME...` runs each `check_NAME` into the log and writes "ok - rig: NAME" /
# "not ok - rig: NAME # why" lines to CHECKS_FILE (summarize.mjs reads them), exit status 1 when any failed.
# CHECK_PREFIX (default rig) names the group in those lines (usbip.sh sets usbip).
# Env: RIG_IMAGES=DIR (where rig1.img..rig4.img are; default .lab), USBMS_DIST (the built tree, default dist).

rig_init() { # rig_init CHECKS_FILE LOG
  LAB="$PWD/.lab"
  CHECKS_FILE="$1"
  LOG="$2"
  IMAGES="${RIG_IMAGES:-$LAB}"
  mkdir -p "$(dirname "$CHECKS_FILE")" "$(dirname "$LOG")"; : > "$CHECKS_FILE"; : > "$LOG"
  DIST="${USBMS_DIST:-dist}"   # the built tree to run (run-lab.sh builds dist/)
  USBMS=(node "$DIST/bin/usbms.js")  # the bundle users run (a tree without it: the compiled CLI)
  [ -e "$DIST/bin/usbms.js" ] || USBMS=(node "$DIST/apps/cli/main.js")
  TMP="$(mktemp -d)"
  why=""
}

now() { cut -d' ' -f1 /proc/uptime; }
fail() { why="$*"; echo "FAIL: $*"; return 1; }
# json EXPR FILE: evaluate a JS expression over the parsed JSON in FILE (bound to `j`), print the result
json() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8")); const v = eval(process.argv[1]);
  process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));' "$1" "$2"; }
run() { echo "+ usbms $*" >&2; "${USBMS[@]}" "$@"; }   # each node start costs seconds under TCG: keep them few

rig_run_checks() { # rig_run_checks NAME...: a check fails when it returns non-zero or called fail
  local c t0 rc secs
  for c in "$@"; do
    why="" t0=$(now)
    { echo "==== $c"; "check_$c"; } >> "$LOG" 2>&1; rc=$?
    secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')
    if [ $rc = 0 ] && [ -z "$why" ]; then echo "ok - ${CHECK_PREFIX:-rig}: $c" | tee -a "$CHECKS_FILE"
    else echo "not ok - ${CHECK_PREFIX:-rig}: $c # ${why:-exit $rc}; see ${LOG#"$PWD"/}" | tee -a "$CHECKS_FILE"; fi
    echo "  ($secs s)"
  done
  rm -rf "$TMP"
  ! grep -q '^not ok' "$CHECKS_FILE"
}

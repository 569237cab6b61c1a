#!/usr/bin/env bash
# late-reaper-check.sh: the late reaper really reaps late (an orphan that exited stays a zombie
# for a while), lib.sh's cr__alive takes such a zombie for gone, and the zombie is reaped in the
# end. The suite runs under tests/late-reaper in scripts/test; this proves that run meant something.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CR_SRC_DIR="${CR_SRC_DIR:-$(dirname "$here")}"
reaper="${CR_BIN_DIR:-.}/tests/late-reaper"
pidf="$(mktemp)"
trap 'rm -f "$pidf"' EXIT
# shellcheck disable=SC2016
LATE_REAPER_MS=3000 "$reaper" bash -c '
  source "$CR_SRC_DIR/scripts/lib.sh"
  state() { sed -n "s/^[0-9]* (.*) \([A-Z]\).*/\1/p" "/proc/$1/stat" 2>/dev/null; }
  zombie() { [ "$(state "$1")" = Z ]; }
  ( sleep 0.2 & echo $! >"$1" )          # the subshell exits: sleep is orphaned to the reaper
  pid="$(cat "$1")"
  cr__wait 3 zombie "$pid" || { echo "FAIL: orphan $pid never seen as a zombie ($(state "$pid"))"; exit 1; }
  kill -0 "$pid" || { echo "FAIL: kill -0 fails on the zombie"; exit 1; }
  if cr__alive "$pid"; then echo "FAIL: cr__alive takes zombie $pid for alive"; exit 1; fi
  echo "ok: orphan $pid stayed a zombie, and cr__alive says it is gone"
' _ "$pidf"
pid="$(cat "$pidf")"
if [ -e "/proc/$pid" ] && grep -q '^[0-9]* (sleep) Z' "/proc/$pid/stat" 2>/dev/null; then
  echo "FAIL: the zombie $pid outlived its reaper"; exit 1
fi
echo "late-reaper-check: ok"

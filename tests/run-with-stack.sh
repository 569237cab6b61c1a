#!/usr/bin/env bash
# Runs test programs one after another against one throwaway stack; exits with the worst status.
# Reuses the stack named by CR_STACK_DIR when one is already given (then leaves it running).
# Each program runs on a flushed Redis, and its tests/http/<program>.conf lines (if any) are
# added to the stack's base configuration, restarting the groups when the result changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ -z "${CR_STACK_DIR:-}" ] || [ ! -e "$CR_STACK_DIR/concert.conf" ]; then
  exports="$("$here/stack.sh" start)"
  eval "$exports"
  trap '"$here/stack.sh" stop "$CR_STACK_DIR"' EXIT
fi
export CR_BIN_DIR="${CR_BIN_DIR:-$(pwd)}"
src="${CR_SRC_DIR:-$(dirname "$here")}"

# Automake's meaning of exit codes: 0 pass < 77 skip < other failure < 99 hard error.
rank() { case "$1" in 0) echo 0 ;; 77) echo 1 ;; 99) echo 3 ;; *) echo 2 ;; esac; }
worst=0
for prog in "$@"; do
  conf="$src/tests/http/$(basename "$prog").conf"
  [ -e "$conf" ] || conf=""
  "$here/stack.sh" prepare "$CR_STACK_DIR" "$conf"
  echo "== $prog (stack $CR_STACK_DIR, $CR_BASE_URL)"
  rc=0
  "$prog" || rc=$?
  echo "== $prog: exit $rc"
  if [ "$(rank "$rc")" -gt "$(rank "$worst")" ]; then worst=$rc; fi
done
exit "$worst"

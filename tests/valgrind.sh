#!/usr/bin/env bash
# valgrind.sh BUILD_DIR: runs every FastCGI group's workers under valgrind memcheck in a
# throwaway stack, drives real traffic through them with the wallet, catalog, holds and payment
# test programs, stops the stack (each worker exits cleanly on SIGTERM) and fails on any
# memory error or definite/indirect leak in any worker's report.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: valgrind.sh BUILD_DIR}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/cr-valgrind.XXXXXX")"
mkdir -p "$work/bin" "$work/real" "$work/logs"
for g in queue concert reservation wallet payment; do
  # The real worker beside its wrapper: the build tree may be out of the service user's reach.
  cp "$build/$g-fcgi" "$work/real/$g-fcgi"
  cat >"$work/bin/$g-fcgi" <<WRAP
#!/bin/sh
exec valgrind --leak-check=full --show-leak-kinds=definite,indirect \\
  --errors-for-leak-kinds=definite,indirect --log-file=$work/logs/$g.%p.log $work/real/$g-fcgi
WRAP
  chmod +x "$work/bin/$g-fcgi"
done
ln -s "$build/concert-expire" "$work/bin/concert-expire"
# The workers run as the service user: it must reach the wrappers and write its reports.
source "$here/../scripts/lib.sh"
cr_users
chmod 0711 "$work" && chgrp -R "$CR_USER" "$work/bin" "$work/real" "$work/logs" \
  && chmod 0750 "$work/bin" "$work/real" && chmod 0770 "$work/logs"

export CR_SRC_DIR="${CR_SRC_DIR:-$(dirname "$here")}" CR_BIN_DIR="$work/bin" WORKERS_PER_GROUP=1
eval "$("$here/stack.sh" start)"
trap '"$here/stack.sh" stop "$CR_STACK_DIR" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cd "$build"
rc=0
"$here/run-with-stack.sh" tests/http/test_wallet tests/http/test_catalog tests/http/test_holds \
  tests/http/test_payment >"$work/tests.log" 2>&1 || rc=$?
"$here/stack.sh" stop "$CR_STACK_DIR" >/dev/null 2>&1
trap 'rm -rf "$work"' EXIT
if [ "$rc" != 0 ]; then
  tail -n 40 "$work/tests.log"
  echo "valgrind: the test programs failed under valgrind (exit $rc)"
  exit 1
fi
reports=("$work"/logs/*.log)
bad=0
for f in "${reports[@]}"; do
  if ! grep -q "ERROR SUMMARY: 0 errors" "$f"; then
    bad=1
    echo "---- $f"
    cat "$f"
  fi
done
echo "valgrind: ${#reports[@]} worker reports, $( [ $bad = 0 ] && echo "no errors, no leaks" || echo "PROBLEMS above")"
exit "$bad"

#!/usr/bin/env bash
# valgrind.sh BUILD_DIR: runs every FastCGI group's workers under valgrind memcheck in a
# throwaway stack, drives real traffic through them with the wallet, catalog, holds and payment
# test programs, stops the stack (each worker exits cleanly on SIGTERM) and fails on any
# memory error or definite/indirect leak in any worker's report. Then the same for the Redis
# module, inside a redis-server of its own under memcheck.
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

# The Redis module (src/redis/crq.c) runs inside redis-server: a redis-server of its own under
# memcheck, loading it, with test_tqueue_native's calls (which need nothing but that Redis).
r="$work/redis"
mkdir -p "$r" && cp "$build/crq.so" "$r/crq.so"
valgrind --error-exitcode=9 --log-file="$r/memcheck.log" redis-server --port 0 \
  --unixsocket "$r/s" --dir "$r" --save '' --appendonly yes --loadmodule "$r/crq.so" \
  >"$r/redis.out" 2>&1 &
vpid=$!
cr__wait 60 cr__redis_pong "$r/s" || { cat "$r/redis.out"; echo "valgrind: redis-server did not come up"; exit 1; }
printf 'REDIS_SOCKET=%s\n' "$r/s" >"$r/concert.conf"
mrc=0
CR_BASE_URL=http://127.0.0.1:1 CONCERT_CONFIG="$r/concert.conf" tests/http/test_tqueue_native \
  >"$r/test.log" 2>&1 || mrc=$?
redis-cli -s "$r/s" shutdown nosave >/dev/null 2>&1 || true
wait "$vpid" || mrc=$((mrc + 100))
if [ "$mrc" != 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$r/memcheck.log"; then
  tail -n 20 "$r/test.log"; cat "$r/memcheck.log"
  echo "valgrind: the Redis module under memcheck: PROBLEMS above (exit $mrc)"
  bad=1
else
  echo "valgrind: the Redis module under memcheck (test_tqueue_native): no errors"
fi
exit "$bad"

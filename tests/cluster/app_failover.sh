#!/usr/bin/env bash
# tests/cluster/app_failover.sh CDIR: kill -9 of a whole app host under the steady buyer.
# CDIR is a running cluster of scripts/cluster; CR_BIN_DIR the build dir with
# tests/cluster/buyer. Steps: the buyer runs (APP_FO_SECONDS, default 40 s, APP_FO_CONNS 8
# connections); once it has had payments acknowledged, every process of app1 (each group's
# multiwatch and its workers: one process group each) gets SIGKILL at once; 10 s later app1 is
# started again. Asserts: no GET through nginx failed after the kill (nginx moves it to app2 on
# the refused connection), every status nginx answered is one of the contract's, the buyer saw
# no unexpected status, app1 serves again after its restart, every acknowledged payment is in
# the database exactly once and bench/invariants.sql holds on every Galera node. Prints the
# measured times (one "app_failover:" line each).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CR_SRC_DIR="${CR_SRC_DIR:-$(cd "$here/../.." && pwd)}"
# shellcheck source=../../scripts/lib.sh
source "$CR_SRC_DIR/scripts/lib.sh"
# shellcheck source=../../scripts/cluster-db.sh
source "$CR_SRC_DIR/scripts/cluster-db.sh"
# shellcheck source=../../scripts/cluster-app.sh
source "$CR_SRC_DIR/scripts/cluster-app.sh"
# shellcheck source=check.sh
source "$here/check.sh"

cdir="$(cd "${1:?usage: app_failover.sh CDIR}" && pwd)"
bin="$(cd "${CR_BIN_DIR:?set CR_BIN_DIR to the build dir}" && pwd)"
buyer="$bin/tests/cluster/buyer"
[ -x "$buyer" ] || { echo "SKIP: no $buyer (make -C $bin tests/cluster/buyer)"; exit 77; }
secs="${APP_FO_SECONDS:-40}" conns="${APP_FO_CONNS:-8}"
url="$(crc_lb_url "$cdir")"
out="$(mktemp -d "${TMPDIR:-/tmp}/cr-app-fo.XXXXXX")"
access="$cdir/lb/log/nginx-access.log"
fail() { echo "app_failover: FAIL: $*" >&2; exit 1; }
ms() { date +%s%3N; }
t0=$(ms)
say() { printf 'app_failover: %6d ms  %s\n' $(($(ms) - t0)) "$*"; }

if ! crc_app_status "$cdir" 1 >/dev/null || ! crc_app_status "$cdir" 2 >/dev/null; then fail "both app hosts must run first"; fi

crt_invariants "$cdir" 1 >"$out/invariants.before" || fail "invariants.sql does not run on db1"
"$buyer" "$url" "$secs" "$conns" "$out" >"$out/result.json" 2>"$out/buyer.stderr" &
bpid=$!
trap 'kill "$bpid" 2>/dev/null || true' EXIT
acked() { [ "$(grep -c . "$out/acks.tsv" 2>/dev/null || echo 0)" -ge "$1" ]; }
cr__wait 30 acked 5 || fail "the buyer had no 5 payments acknowledged within 30 s"
say "buyer steady ($(grep -c . "$out/acks.tsv") payments acknowledged)"

# The kill: each group's supervisor leads its own process group (setsid in cr__spawn_group), so
# one SIGKILL per group reaches multiwatch and its workers in the same instant (no respawn).
offset=$(($(stat -c %s "$access") + 1))
t_kill=$(ms)
mapfile -t pids < <(crc_app_pids "$cdir" 1)
[ "${#pids[@]}" -ge 10 ] || fail "app1 has only ${#pids[@]} processes"
for f in "$cdir"/app1/run/*.pid; do kill -KILL -- "-$(cr__pid "$f")" 2>/dev/null || true; done
all_gone() { local p; for p in "${pids[@]}"; do cr__alive "$p" && return 1; done; return 0; }
cr__wait 5 all_gone || fail "processes of app1 survived SIGKILL"
say "killed app1: ${#pids[@]} processes (5 supervisors + workers), all gone"

# app1 stays dead for 10 s under load; then it comes back.
sleep 10
t_up=$(ms)
crc_app_up "$cdir" 1 "$bin" 2>>"$out/restart.log"
say "app1 restarted in $(($(ms) - t_up)) ms"
# Served again: app1's counters move. A starting worker claims a slot in them too, so the
# first sum is taken once every group runs its workers steadily.
wwant="$(cr__conf WORKERS_PER_GROUP "$cdir/app1/concert.conf")"
CR_DIR="$cdir/app1" cr__wait_steady "${wwant:-2}" "$cdir"/app1/run/{queue,concert,reservation,wallet,payment}.pid \
  || fail "app1's workers did not settle after its restart"
sleep 0.3
metrics_sum() { cat "$cdir"/app1/run/metrics/*.metrics | cksum; }
m0="$(metrics_sum)"
serving() { [ "$(metrics_sum)" != "$m0" ]; }
t_back=$(ms)
cr__wait 20 serving || fail "app1 took no request within 20 s of its restart"
say "app1 serves again $(($(ms) - t_back)) ms after its workers settled (nginx tries it again after fail_timeout, 2 s)"

rc=0
wait "$bpid" || rc=$?
trap - EXIT
say "buyer done (exit $rc): $(cat "$out/result.json")"
[ "$rc" = 0 ] || fail "the buyer saw statuses outside the contract (exit $rc; $out)"
say "buyer's recovery after the kill: $("$buyer" recovery "$out" "$t_kill")"

# What nginx answered from the kill on: statuses of the contract only, and no GET failed.
tail -c "+$offset" "$access" >"$out/access.after"
bad="$(grep -o '"method":"[A-Z]*","uri":"[^"]*","status":[0-9]*' "$out/access.after" \
  | sed 's/.*"status"://' | grep -v -x -E '200|201|204|409|502|503|504|401' | sort | uniq -c || true)"
[ -z "$bad" ] || fail "statuses outside the contract after the kill: $bad"
get_fail="$(grep -c '"method":"GET".*"status":50[234]' "$out/access.after" || true)"
post_fail="$(grep -c '"method":"POST".*"status":50[234]' "$out/access.after" || true)"
total="$(grep -c . "$out/access.after" || true)"
say "after the kill: $total answers, GETs failed: $get_fail, POSTs answered 502/503/504: $post_fail (in flight on app1; the buyer resent them with their Idempotency-Key)"
[ "$get_fail" = 0 ] || fail "$get_fail GETs failed after the kill: nginx should have moved them to app2"
if [ "$post_fail" -gt "$conns" ]; then fail "$post_fail POSTs failed: more than the $conns in flight at the kill"; fi

crt_wait_galera_same "$cdir" 30 || fail "the Galera nodes do not agree on the payments"
for n in 1 3; do
  say "node $n: $("$here/acks-check.sh" "$out" mariadb --no-defaults --socket="$cdir/db$n/run/mysqld.sock" -uroot -N -B)" \
    || fail "acknowledged payments missing or doubled (node $n)"
done
crt_check_invariants "$cdir" "$out/invariants.before" || fail "invariants broken"
say "invariants hold on db1-db3 (no count above its value before the buyer)"
rm -rf "$out"
echo "app_failover: PASS"

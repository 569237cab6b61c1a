#!/usr/bin/env bash
# db_failover.sh: the MariaDB failover test (issue 16). A Galera trio (scripts/cluster-db.sh) in a
# temp dir and a throwaway single stack (tests/stack.sh) whose workers use it through DB_HOSTS
# (its own local MariaDB stays unused). Under the steady buyer (tests/cluster/buyer): kill -9 the
# node the workers write to, measure how long until the service answers writes again, check every
# acknowledged payment is on every surviving node exactly once and bench/invariants.sql holds
# there, restart the node and check it rejoins Synced with the same data. Then: workers started
# while db1 is down connect to db2.
# Env: CR_BIN_DIR (build dir: *-fcgi, tests/cluster/buyer), CR_SRC_DIR, CR_KEEP_STACK=1 (keep the
# dirs), DB_FAILOVER_SECONDS (the buyer's run, default 30), DB_FAILOVER_CONNS (default 4),
# DB_FAILOVER_MAX_MS (the failing bound on the time to recover, default 15000; the goal is 5000),
# CRC_DB_ADDRS (the nodes' three addresses; default: three free ones in 127.0.2.0/24, so that the
# test runs beside a cluster on the usual 127.0.1.1-3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CR_SRC_DIR="${CR_SRC_DIR:-$(cd "$here/../.." && pwd)}"
: "${CR_BIN_DIR:?set CR_BIN_DIR to the build dir}"
CR_BIN_DIR="$(cd "$CR_BIN_DIR" && pwd)"; export CR_BIN_DIR
# shellcheck source=../../scripts/lib.sh
source "$CR_SRC_DIR/scripts/lib.sh"
# shellcheck source=../../scripts/cluster-db.sh
source "$CR_SRC_DIR/scripts/cluster-db.sh"

seconds="${DB_FAILOVER_SECONDS:-30}"
conns="${DB_FAILOVER_CONNS:-4}"
max_ms="${DB_FAILOVER_MAX_MS:-15000}"
buyer="$CR_BIN_DIR/tests/cluster/buyer"
[ -x "$buyer" ] || cr_die "build $buyer first (make tests/cluster/buyer)"

fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

CDIR="$(mktemp -d "${TMPDIR:-/tmp}/cr-galera.XXXXXX")"
OUT="$CDIR/buyer"
CR_STACK_DIR=""
cleanup() {
  # stack.sh stop shows what the groups wrote to stderr (crashes, sanitizer reports)
  if [ -n "$CR_STACK_DIR" ]; then "$CR_SRC_DIR/tests/stack.sh" stop "$CR_STACK_DIR" || true; fi
  crc_db_down "$CDIR" >/dev/null 2>&1 || true
  if [ "${CR_KEEP_STACK:-0}" = 1 ]; then cr_log "kept $CDIR"; else rm -rf "$CDIR"; fi
}
trap cleanup EXIT

# free_addrs: three addresses of 127.0.2.0/24 on which nothing listens.
free_addrs() {
  local i b a used
  used="$(ss -ltnH | awk '{ print $4 }')"
  for ((i = 0; i < 50; i++)); do
    b=$((RANDOM % 80 * 3 + 1))
    a="127.0.2.$b 127.0.2.$((b + 1)) 127.0.2.$((b + 2))"
    grep -qE "^127\.0\.2\.($b|$((b + 1))|$((b + 2))):" <<<"$used" || { echo "$a"; return 0; }
  done
  cr_die "no three free addresses in 127.0.2.0/24"
}
CRC_DB_ADDRS="${CRC_DB_ADDRS:-$(free_addrs)}"
export CRC_DB_ADDRS
read -r -a addr <<<"$CRC_DB_ADDRS"
echo "# Galera nodes on $CRC_DB_ADDRS"
pw="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
t0=$(date +%s)
crc_db_up "$CDIR" "$pw" 2>&1 | grep -v '^\[cr\] migration' >&2
echo "# Galera up in $(($(date +%s) - t0)) s"
hosts="$(crc_db_hosts "$CDIR")"
eval "$(CR_EXTRA_CONF=$'DB_SOCKET=\n'"DB_HOSTS=$hosts"$'\n'"DB_PASSWORD=$pw" "$CR_SRC_DIR/tests/stack.sh" start)"
base="$CR_BASE_URL"

# sessions N: the runtime user's sessions on node N (the workers connected to it).
sessions() { crc_db_sql "$CDIR" "$1" -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'concert'"; }
# node_of_workers: the one node holding the workers' sessions (none or several: empty).
node_of_workers() {
  local n c found=""
  for n in 1 2 3; do
    crc_db_node_pid "$CDIR" "$n" >/dev/null || continue
    c="$(sessions "$n" 2>/dev/null || echo 0)"
    if [ "${c:-0}" -gt 0 ]; then [ -z "$found" ] || return 1; found="$n"; fi
  done
  [ -n "$found" ] && echo "$found"
}
# digest N: the data of node N, read after it applied everything it received (wsrep_sync_wait).
digest() {
  crc_db_sql "$CDIR" "$1" concert -e "SET SESSION wsrep_sync_wait = 1;
    SELECT (SELECT COUNT(*) FROM payments), (SELECT COUNT(*) FROM reservations),
           (SELECT COALESCE(SUM(balance), 0) FROM users), (SELECT COUNT(*) FROM balance_entries),
           (SELECT COUNT(*) FROM seats WHERE status = 'SOLD'),
           (SELECT COALESCE(SUM(refunded_amount), 0) FROM payments)"
}
invariants() { [ -z "$(crc_db_sql "$CDIR" "$1" concert <"$CR_SRC_DIR/bench/invariants.sql" | awk -F'\t' '$2 != 0')" ]; }
acks_on() {
  "$here/acks-check.sh" "$OUT" mariadb --no-defaults --socket="$CDIR/db$1/run/mysqld.sock" -uroot -N -B
}
synced() { [ "$(crc__db_state "$CDIR" "$1")" = Synced ]; }
acks() { [ "$(wc -l <"$OUT/acks.tsv" 2>/dev/null || echo 0)" -ge "$1" ]; }

check "the service answers through the cluster" \
  cr__wait 30 curl -fs -o /dev/null --max-time 5 "$base/api/v1/concerts"

# --- kill -9 the node the workers write to, under the steady buyer -----------------------------
mkdir -p "$OUT"
"$buyer" "$base" "$seconds" "$conns" "$OUT" >"$OUT/buyer.json" 2>"$OUT/buyer.err" &
buyer_pid=$!
check "the buyer's first purchases" cr__wait 60 acks 3
victim="$(node_of_workers || true)"
echo "# sessions before the kill: db1 $(sessions 1) db2 $(sessions 2) db3 $(sessions 3)"
check "all workers on one node (db1, the head of DB_HOSTS)" test "$victim" = 1
victim="${victim:-1}"
# Conflicts between nodes: root on db3 touches the buyers' user rows (updated_at only, nothing the
# invariants read) while the workers on db1 pay and refund on them. Galera aborts the loser: a
# worker's transaction gets 1213 (at COMMIT when it fails certification, or at its next statement
# when an applied write set aborts it) and cr_db_txn runs it again; the buyer must see nothing.
wsrep_aborts() {
  crc_db_sql "$CDIR" 1 -e "SHOW GLOBAL STATUS WHERE Variable_name IN
    ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')" | awk '{ n += $2 } END { print n + 0 }'
}
aborts0="$(wsrep_aborts)"
touch_end=$(($(date +%s) + 4))
while [ "$(date +%s)" -lt "$touch_end" ]; do
  crc_db_sql "$CDIR" 3 concert -e "UPDATE users SET updated_at = UTC_TIMESTAMP(3)
    ORDER BY id DESC LIMIT 20" >/dev/null 2>&1 || true
done
aborts=$(($(wsrep_aborts) - aborts0))
echo "# conflicts with db3's writes: $aborts transactions of the workers aborted by Galera on db1"
check "Galera aborted some of the workers' transactions (cross-node conflicts): $aborts" test "$aborts" -gt 0
sleep 1   # steady purchases before the kill
victim_pid="$(crc_db_node_pid "$CDIR" "$victim")"
kill_ms=$(date +%s%3N)   # (the pid looked up first: that takes a while on a loaded machine)
kill -9 "$victim_pid"
kill_end_ms=$(date +%s%3N)
echo "# kill -9 db$victim at $kill_ms (+$((kill_end_ms - kill_ms)) ms)"
buyer_rc=0
wait "$buyer_pid" || buyer_rc=$?
cat "$OUT/buyer.json"
[ -s "$OUT/buyer.err" ] && head -n 20 "$OUT/buyer.err"
# A request whose COMMIT was in flight on the killed node cannot know whether it committed (its
# write set may have reached the others): the honest answer is 500 "outcome unknown" (README,
# Time budget), which the client resolves by repeating with its Idempotency-Key. The buyer counts
# such a 500 as unexpected; it is accepted here only for requests in flight at the kill.
unexpected="$(grep -o '"unexpected":[0-9]*' "$OUT/buyer.json" | cut -d: -f2)"
read -r all500 inflight500 < <(awk -F'\t' -v k="$kill_ms" -v e="$kill_end_ms" '$4 == 500 { a++; if ($1 <= e && $2 >= k) b++ }
  END { print a + 0, b + 0 }' "$OUT/events.tsv")
unknown500="$(grep -c 'unexpected 500 .*the outcome is unknown' "$OUT/buyer.err" || true)"
echo "# 500 outcome unknown (COMMIT in flight at the kill): $inflight500"
check "buyer: some purchases, only contract answers (exit $buyer_rc; unexpected ${unexpected:-?}: 500s in flight at the kill $inflight500 of $all500)" \
  test "$buyer_rc" = 0 -o \( "${unexpected:-x}" = "$all500" -a "$all500" = "$inflight500" \
    -a "$all500" = "$unknown500" -a "$(grep -c '"purchases":0' "$OUT/buyer.json")" = 0 \)
recovery="$("$buyer" recovery "$OUT" "$kill_ms")"
echo "# any answer: $recovery"
# Writes back: from the kill to the end of the first new row answered 201 (a hold, or a user)
# whose request was sent after kill -9 returned. A write answered just after the kill may have
# committed on the killed node before it died, so one sent earlier says nothing of recovery; one
# in flight that waited through the outage is followed at once by its connection's next write,
# which counts. Only a 201: a hold's 200 (the seat is already the caller's) and a payment's or a
# charge's repeat with its Idempotency-Key are reads, which the survivors answer at once (a CI
# run reported 135 ms while no write completed for 2,775 ms).
# (Not the end of the longest gap between writes: with no real outage, a 50 ms gap late in the
# run would win.) The longest gap is still shown: the survivors hold their commits until they
# have evicted the killed node (evs timeouts, scripts/cluster-db.sh).
back_ms="$(awk -F'\t' -v k="$kill_ms" -v e="$kill_end_ms" 'BEGIN { b = -1 }
  $1 >= e && $3 ~ /^(hold|user)$/ && $4 == 201 && (b < 0 || $2 - k < b) { b = $2 - k }
  END { print b }' "$OUT/events.tsv")"
gap_ms="$(awk -F'\t' -v k="$kill_ms" '
  $3 ~ /^(user|charge|hold|pay|refund)$/ && $4 >= 200 && $4 < 300 && $2 >= k - 2000 { print $2 }' \
  "$OUT/events.tsv" | sort -n | awk -v k="$kill_ms" 'BEGIN { gap = -1 }
  NR > 1 && $1 > k && $1 - prev > gap { gap = $1 - prev } { prev = $1 } END { print gap }')"
read -r fails503 fails502 < <(awk -F'\t' -v k="$kill_ms" '$2 >= k && $4 == 503 { a++ }
  $2 >= k && ($4 == 502 || $4 == 0) { b++ } END { print a + 0, b + 0 }' "$OUT/events.tsv")
echo "# writes: first new hold or user sent after the kill done $back_ms ms after it; longest time" \
  "without a write completing after the kill $gap_ms ms; 503 answers: $fails503, 502 or transport errors: $fails502"
check "writes back within $max_ms ms of the kill (goal 5000): $back_ms ms" \
  test "$back_ms" -ge 0 -a "$back_ms" -le "$max_ms"
new="$(node_of_workers || true)"
check "the workers moved to one surviving node (db${new:-?})" test -n "$new" -a "$new" != "$victim"

for n in 1 2 3; do
  [ "$n" = "$victim" ] && continue
  check "db$n: every acknowledged payment exactly once ($(acks_on "$n" || true))" acks_on "$n"
  check "db$n: bench/invariants.sql" invariants "$n"
done

# --- the killed node rejoins with the same data -----------------------------------------------------
t0=$(date +%s%3N)
check "db$victim restarts and rejoins" crc_db_start_node "$CDIR" "$victim"
echo "# db$victim Synced again after $(($(date +%s%3N) - t0)) ms"
check "db$victim is Synced in a cluster of 3" \
  test "$(crc_db_sql "$CDIR" "$victim" -e "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'" | cut -f2)" = 3
ref="$(digest "$new")"
check "db$victim holds the same data as db$new ($ref)" test "$(digest "$victim")" = "$ref"
check "db$victim: every acknowledged payment exactly once" acks_on "$victim"
check "db$victim: bench/invariants.sql" invariants "$victim"

# --- workers started while db1 is down connect to db2 ----------------------------------------------
crc__db_stop_node "$CDIR" 1 >/dev/null 2>&1
cr_groups_restart "$CR_STACK_DIR" "$CR_BIN_DIR" >/dev/null 2>&1
check "with db1 down, new workers answer a write (a new user)" \
  cr__wait 30 curl -fs -o /dev/null --max-time 5 -X POST -H 'Content-Type: application/json' \
  -d '{}' "$base/api/v1/users"
check "with db1 down, /healthz says db ok" \
  cr__wait 10 sh -c "curl -fs --max-time 5 '$base/healthz' | grep -q '\"db\":\"ok\"'"
check "with db1 down, the new workers are on db2 ($(sessions 2) sessions), none on db3" \
  test "$(node_of_workers || true)" = 2
check "their log names db2" grep -q "connected to node ${addr[1]}:3306" "$CR_STACK_DIR"/log/*.log
check "db1 restarts and rejoins" crc_db_start_node "$CDIR" 1
check "db1: bench/invariants.sql" invariants 1

# --- a node cut off from the primary component (1047) ------------------------------------------
# The workers are on db2 now. db1 and db3 frozen (SIGSTOP): db2 alone is no primary component and
# answers 1047 to every statement; a worker drops it, finds no ready node (the frozen ones do not
# even greet), and answers 503, nothing written. Thawed, the three form the cluster again and the
# workers come back.
p1="$(crc_db_node_pid "$CDIR" 1)"; p3="$(crc_db_node_pid "$CDIR" 3)"
kill -STOP "$p1" "$p3"
freeze_ms=$(date +%s%3N)
statuses=""
# user_post: the status of one POST /api/v1/users; "500u" for a 500 "outcome unknown" (a commit
# in flight when the node was cut off: its write set may have reached the others).
user_post() {
  local st
  st="$(curl -s -o "$OUT/post.body" -w '%{http_code}' --max-time 12 -X POST \
    -H 'Content-Type: application/json' -d '{}' "$base/api/v1/users" || true)"
  if [ "$st" = 500 ] && grep -q 'the outcome is unknown' "$OUT/post.body"; then st=500u; fi
  echo "$st"
}
for ((i = 0; i < 60; i++)); do
  st="$(user_post)"; statuses+="$st "
  [ "$st" = 503 ] && [ $(($(date +%s%3N) - freeze_ms)) -gt 8000 ] && break
  sleep 0.2
done
kill -CONT "$p1" "$p3"
echo "# db1 and db3 frozen for $(($(date +%s%3N) - freeze_ms)) ms; a new user meanwhile: $(tr ' ' '\n' <<<"$statuses" | sort | uniq -c | tr -s ' \n' ' ')"
check "while db2 is alone: only 201 (before it noticed), 503 and 500 'outcome unknown'" \
  test -z "$(tr ' ' '\n' <<<"$statuses" | grep -vxE '201|503|500u|')"
check "while db2 is alone: 503 in the end" test "$st" = 503
check "a worker saw 1047 and left the node" grep -q 'node not ready (1047' "$CR_STACK_DIR"/log/*.log
thaw_ms=$(date +%s%3N)
check "the three are one cluster again" cr__wait 120 crc_db_status "$CDIR"
check "the service writes again" cr__wait 60 sh -c "curl -fs -o /dev/null --max-time 5 -X POST \
  -H 'Content-Type: application/json' -d '{}' '$base/api/v1/users'"
echo "# writes back $(($(date +%s%3N) - thaw_ms)) ms after the thaw"
for n in 1 2 3; do check "db$n: bench/invariants.sql" invariants "$n"; done

echo "# db_failover: $fails failed"
[ "$fails" = 0 ]

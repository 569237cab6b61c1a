#!/usr/bin/env bash
# redis_failover.sh [ROUND...]: kill -9 of the Redis primary under the steady buyer, once per
# queue mode (rounds "redis" and "timed"), and a switchover (round "switchover": SENTINEL
# FAILOVER in the redis mode); default: all three. A Redis trio + three Sentinels (scripts/cluster-redis.sh)
# in a temp folder, on addresses of their own (CRC_REDIS_HOSTS, default 127.0.1.111-.113, so
# that it runs beside a cluster on .11-.13), and a throwaway single stack (tests/stack.sh)
# whose workers find Redis through the Sentinels (its own Redis stays unused). Per round:
# steady purchases, kill -9 of whoever is the primary, then:
#   - the buyer saw only contract answers (it exits 1 otherwise);
#   - Redis was back (a successful join sent after the kill) within CR_FAILOVER_MAX_MS (30 s:
#     a loaded machine; the goal, 10 s, is reported);
#   - every acknowledged payment is in MariaDB exactly once; bench/invariants.sql all zero;
#   - the killed node, restarted (or the demoted one), is a replica of the new primary, in sync.
# Prints one line per round with the figures (docs/SCALING.md). Env: CR_BIN_DIR (build dir:
# the *-fcgi and tests/cluster/buyer), CR_SRC_DIR, CR_BUYER_SECONDS (25), CR_BUYER_CONNS (6).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CR_SRC_DIR="${CR_SRC_DIR:-$(cd "$here/../.." && pwd)}"
: "${CR_BIN_DIR:?set CR_BIN_DIR to the build dir}"
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib.sh
source "$CR_SRC_DIR/scripts/lib.sh"
# shellcheck source=scripts/cluster-redis.sh
source "$CR_SRC_DIR/scripts/cluster-redis.sh"

buyer="$CR_BIN_DIR/tests/cluster/buyer"
[ -x "$buyer" ] || { echo "missing $buyer (make tests/cluster/buyer)"; exit 99; }
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(redis timed switchover)
secs="${CR_BUYER_SECONDS:-25}" conns="${CR_BUYER_CONNS:-6}" max_ms="${CR_FAILOVER_MAX_MS:-30000}"
export CRC_REDIS_HOSTS="${CRC_REDIS_HOSTS:-127.0.1.111 127.0.1.112 127.0.1.113}"

work="$(mktemp -d "${TMPDIR:-/tmp}/cr-redis-failover.XXXXXX")"
chmod 0711 "$work"   # redis must get through to CDIR/rN
CDIR="$work/cluster"
CR_STACK_DIR=""
bpid=""
cleanup() {
  local rc=$?
  if [ -n "$bpid" ]; then kill "$bpid" 2>/dev/null || true; fi
  crc_redis_down "$CDIR" >&2 || true
  if [ -n "$CR_STACK_DIR" ]; then "$CR_SRC_DIR/tests/stack.sh" stop "$CR_STACK_DIR" || true; fi
  if [ "$rc" = 0 ] && [ "${CR_KEEP_STACK:-0}" != 1 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

crc_redis_up "$CDIR" "$CR_BIN_DIR"
read -r -a H <"$CDIR/redis.hosts"
CRC_PW="$(crc_redis_password "$CDIR")"   # for crc__rcli and crc__rsynced
sentinels="${H[0]}:26379,${H[1]}:26379,${H[2]}:26379"
CR_EXTRA_CONF="REDIS_SOCKET=
REDIS_SENTINELS=$sentinels
REDIS_MASTER_NAME=concert
REDIS_PASSWORD=$(crc_redis_password "$CDIR")"
export CR_EXTRA_CONF
eval "$("$CR_SRC_DIR/tests/stack.sh" start)"
conf="$CR_STACK_DIR/concert.conf"
cp "$conf" "$conf.base"
sql=(mariadb --no-defaults --socket="$CR_STACK_DIR/run/mysqld.sock" -uroot -N -B)

# count_acks FILE: lines in it (0 when missing).
count_acks() { [ -e "$1" ] && wc -l <"$1" || echo 0; }
# enough_acks FILE N
enough_acks() { [ "$(count_acks "$1")" -ge "$2" ]; }
# The primary's node number (1..3), from the Sentinels.
primary_node() {
  local p n
  p="$(crc_redis_primary "$CDIR")" || return 1
  for n in 1 2 3; do [ "${H[$n - 1]}:6379" = "$p" ] && { echo "$n"; return 0; }; done
  return 1
}

for round in "${modes[@]}"; do
  # "switchover": the redis mode under SENTINEL FAILOVER (the primary demoted alive, its clients
  # cut off by the Sentinel: the READONLY and ROLE paths) instead of kill -9.
  mode="$round" how=kill
  if [ "$round" = switchover ]; then mode=redis how=switchover; fi
  { cat "$conf.base"; echo "QUEUE_MODE=$mode"; } >"$conf"
  cr_groups_restart "$CR_STACK_DIR" "$CR_BIN_DIR" >&2
  out="$work/$round"; mkdir -p "$out"
  # One request through the Sentinels before the buyer starts: the stack must work at all.
  cr__wait 30 curl -sf -o /dev/null "$CR_BASE_URL/healthz" || fail "$mode: healthz through the Sentinels"

  "$buyer" "$CR_BASE_URL" "$secs" "$conns" "$out" >"$out/buyer.json" 2>"$out/buyer.err" &
  bpid=$!
  # Steady purchases first (at least 2 per connection), then the kill.
  cr__wait 120 enough_acks "$out/acks.tsv" $((conns * 2)) || fail "$mode: no steady purchases before the kill"
  n="$(primary_node)" || fail "$mode: no primary named by the Sentinels"
  pid="$(crc_redis_pid "$CDIR" "$n")"
  acks_before="$(count_acks "$out/acks.tsv")"
  kill_ms="$(date +%s%3N)"
  if [ "$how" = kill ]; then
    kill -9 "$pid"
  else
    [ "$(crc__rcli "${H[0]}" 26379 sentinel failover concert)" = OK ] || fail "SENTINEL FAILOVER refused"
  fi
  until p2="$(primary_node)" && [ "$p2" != "$n" ]; do
    [ $(($(date +%s%3N) - kill_ms)) -lt 60000 ] || fail "$mode: the Sentinels named no new primary within 60 s"
    sleep 0.1
  done
  promoted_ms=$(($(date +%s%3N) - kill_ms))
  brc=0
  wait "$bpid" || brc=$?
  bpid=""
  cat "$out/buyer.json"
  [ "$brc" = 0 ] || { tail -n 20 "$out/buyer.err"; fail "$mode: the buyer saw answers outside the contract (exit $brc)"; }

  # Redis back: the first successful join sent after the kill; the outage: the end of the last
  # failed answer (502/503/504, transport) after the kill.
  read -r join_ms last_fail_ms failed statuses < <(awk -F'\t' -v k="$kill_ms" '
    $1 >= k && $3 == "join" && $4 >= 200 && $4 < 300 && (j == "" || $2 - k < j) { j = $2 - k }
    $2 >= k && ($4 == 0 || $4 == 502 || $4 == 503 || $4 == 504) { f++; s[$4]++; if ($2 - k > l) l = $2 - k }
    END { for (x in s) st = st (st ? "," : "") x ":" s[x]; print (j == "" ? -1 : j), l + 0, f + 0, (st ? st : "none") }' \
    "$out/events.tsv")
  [ "$join_ms" -ge 0 ] || fail "$mode: no successful join after the kill"
  [ "$join_ms" -le "$max_ms" ] || fail "$mode: Redis back only after $join_ms ms (limit $max_ms)"
  acks_after=$(($(count_acks "$out/acks.tsv") - acks_before))
  [ "$acks_after" -gt 0 ] || fail "$mode: no purchase acknowledged after the kill"

  "$CR_SRC_DIR/tests/cluster/acks-check.sh" "$out" "${sql[@]}" || fail "$mode: acknowledged payments"
  bad="$("${sql[@]}" concert <"$CR_SRC_DIR/bench/invariants.sql" | awk -F'\t' '$2 != 0')"
  [ -z "$bad" ] || fail "$mode: invariants broken: $bad"

  if [ "$how" = kill ]; then
    crc_redis_start_node "$CDIR" "$n" >&2 || fail "$mode: r$n did not rejoin"
  else
    cr__wait 60 crc__rsynced "${H[$n - 1]}" "${H[$p2 - 1]}" || fail "the demoted r$n is not in sync with r$p2"
  fi
  role="$(REDISCLI_AUTH="$(crc_redis_password "$CDIR")" redis-cli --raw -h "${H[$n - 1]}" role | head -n 1)"
  [ "$role" = slave ] || fail "$mode: the old primary r$n restarted as $role, not a replica"
  lost="$(sed -n 's/.*"lostTokens":\([0-9]*\).*/\1/p' "$out/buyer.json")"
  readonly_seen="$(cat "$CR_STACK_DIR"/log/*.log | grep -c 'the primary became a replica' || true)"
  echo "ROUND $round mode=$mode $how=r$n new=r$p2 promoted_after_ms=$promoted_ms join_back_ms=$join_ms" \
    "last_failure_ms=$last_fail_ms failed_answers=$failed statuses=$statuses lost_tokens=${lost:-?}" \
    "acks=$(count_acks "$out/acks.tsv") acks_after_kill=$acks_after rejoined=r$n:$role" \
    "readonly_replies_so_far=$readonly_seen"
  [ "$join_ms" -le 10000 ] || echo "NOTE: $mode: above the 10 s goal"
done
echo "PASS redis_failover (${modes[*]})"

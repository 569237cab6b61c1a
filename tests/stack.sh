#!/usr/bin/env bash
# Throwaway service stack for `make check`: "start" prints export lines, "stop DIR" tears it down,
# "prepare DIR [CONF]" empties Redis and runs the groups with concert.conf + CONF's KEY=VALUE lines.
# Env: CR_BIN_DIR (build dir with the *-fcgi binaries), CR_SRC_DIR (source dir, never written to),
# CR_KEEP_STACK=1 (keep the stopped stack dir and its logs), plus lib.sh's (WORKERS_PER_GROUP, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CR_SRC_DIR="${CR_SRC_DIR:-$(dirname "$here")}"
# shellcheck source=../scripts/lib.sh
source "$here/../scripts/lib.sh"

claims="${TMPDIR:-/tmp}/cr-ports"   # claims/<port>/owner = stack dir; keeps concurrent runs apart

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port BASE DIR: the first port from BASE that nothing listens on and no live stack claimed.
pick_port() {
  local p owner
  mkdir -p "$claims"
  for ((p = $1; p < $1 + 500; p++)); do
    owner="$(cat "$claims/$p/owner" 2>/dev/null || true)"
    if [ -n "$owner" ] && [ ! -d "$owner" ]; then rm -rf "${claims:?}/$p"; fi   # stale claim
    if port_free "$p" && mkdir "$claims/$p" 2>/dev/null; then
      echo "$2" >"$claims/$p/owner"
      echo "$p"
      return 0
    fi
  done
  cr_die "no free port from $1"
}

release_ports() {
  local d
  for d in "$claims"/*/; do
    [ "$(cat "$d/owner" 2>/dev/null || true)" = "$1" ] && rm -rf "$d"
  done
  return 0
}

# teardown DIR: stop, show what the groups wrote to stderr (crashes, sanitizer reports), and
# remove DIR unless CR_KEEP_STACK=1.
teardown() {
  local f
  cr_stack_stop "$1" >&2 || true
  for f in "$1"/log/*.stderr.log; do
    if [ -s "$f" ]; then printf -- '---- %s\n' "$f" >&2; tail -n 100 "$f" >&2; fi
  done
  release_ports "$1"
  if [ "${CR_KEEP_STACK:-0}" = 1 ]; then cr_log "kept $1"; else rm -rf "$1"; fi
}

start() {
  : "${CR_BIN_DIR:?set CR_BIN_DIR to the build dir holding the *-fcgi executables}"
  STACK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/cr-stack.XXXXXX")"   # 0700; cr_stack_start opens it to o=x
  trap 'teardown "$STACK_DIR"' EXIT
  HTTP_PORT="$(pick_port 18080 "$STACK_DIR")"
  export HTTP_PORT
  # The HTTP tests send hundreds of requests a second from loopback: nginx's per-address limits
  # out of their way (tests/http/test_hostile.conf puts the defaults back for its own run).
  local k
  CR_EXTRA_CONF="${CR_EXTRA_CONF:-}"
  for k in TOKENS USERS CHARGES HOLDS PAYMENTS API HEALTH; do
    CR_EXTRA_CONF+="${CR_EXTRA_CONF:+$'\n'}RATE_LIMIT_$k=100000"$'\n'"RATE_BURST_$k=100000"
  done
  export CR_EXTRA_CONF="$CR_EXTRA_CONF"$'\n'"CONN_LIMIT=65535"
  cr_stack_start "$STACK_DIR" "$CR_BIN_DIR" >&2
  trap - EXIT
  printf 'export %s=%q\n' \
    CR_STACK_DIR "$STACK_DIR" \
    CR_BASE_URL "http://127.0.0.1:$HTTP_PORT" \
    CONCERT_CONFIG "$STACK_DIR/concert.conf" \
    CR_DB_SOCKET "$STACK_DIR/run/mysqld.sock" \
    CR_REDIS_SOCKET "$STACK_DIR/run/redis.sock"
}

# prepare DIR [CONF]: a fresh waiting line (Redis FLUSHALL) and the groups running with the
# stack's base config plus CONF; the groups restart only when the effective config changes.
prepare() {
  local conf="$1/concert.conf" want
  if [ -n "${CR_CLUSTER_DIR:-}" ]; then prepare_cluster "$@"; return; fi
  [ -e "$conf.base" ] || cp "$conf" "$conf.base"
  want="$(cat "$conf.base"; if [ -n "${2:-}" ]; then cat "$2"; fi)"
  redis-cli -s "$1/run/redis.sock" flushall >/dev/null
  if [ "$want" != "$(cat "$conf")" ]; then
    printf '%s\n' "$want" >"$conf"
    cr_groups_restart "$1" "${CR_BIN_DIR:?set CR_BIN_DIR}" >&2
    # nginx too, for its limits (a no-op when its rendered config is the same).
    CR_DIR="$(cd "$1" && pwd)" cr__start_nginx "$(cr__conf HTTP_PORT "$conf")" >&2
  fi
}

# prepare_cluster DIR [CONF] (scripts/test --cluster: CR_CLUSTER_DIR is a cluster of
# scripts/cluster): a fresh waiting line on the Redis primary (FLUSHALL reaches the replicas);
# the app hosts keep their configuration, so a test that brings its own cannot run there.
prepare_cluster() {
  # shellcheck disable=SC2034  # CRC_PW: set by crc__rhosts, kept local here
  local c="$CR_CLUSTER_DIR" p n=0 i CRC_H CRC_PW
  [ -z "${2:-}" ] || cr_die "$(basename "$2"): the cluster runs no test's own configuration"
  # shellcheck source=../scripts/cluster-redis.sh
  source "$here/../scripts/cluster-redis.sh"
  p="$(crc_redis_primary "$c")" || cr_die "no Redis primary known to the Sentinels of $c"
  crc__rhosts "$c"   # the trio's addresses: the primary is rN for the Nth
  for i in "${!CRC_H[@]}"; do [ "${CRC_H[$i]}" != "${p%%:*}" ] || n=$((i + 1)); done
  [ "$n" -gt 0 ] || cr_die "the Redis primary $p is none of ${CRC_H[*]}"
  REDISCLI_AUTH="$(crc_redis_password "$c")" redis-cli -s "$c/r$n/run/redis.sock" flushall >/dev/null
}

case "${1:-}" in
  start) start ;;
  prepare) prepare "${2:?usage: stack.sh prepare DIR [CONF]}" "${3:-}" ;;
  stop)
    dir="${2:?usage: stack.sh stop DIR}"
    case "$(basename "$dir")" in cr-stack.*) ;; *) cr_die "not a stack dir made by stack.sh: $dir" ;; esac
    [ -d "$dir" ] && teardown "$dir"
    ;;
  *) echo "usage: $0 start | stop DIR | prepare DIR [CONF]" >&2; exit 2 ;;
esac

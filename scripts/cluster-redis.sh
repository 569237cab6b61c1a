# shellcheck shell=bash
# Redis for the cluster (issue 16): a primary and two replicas, each watched by a Sentinel on the
# same address (quorum 2). Sourced after scripts/lib.sh (cr_users, cr__alive, cr__wait...).
#
# One cluster lives in CDIR; node N (1..3) in CDIR/rN:
#   rN/redis.pid, rN/sentinel.pid  written by us (root) before exec, like the single stack's
#   rN/data/       redis 0700: the AOF and redis.conf (Sentinel's failover makes Redis rewrite
#                  its config, CONFIG REWRITE, which replaces the file: the folder must be redis's)
#   rN/sentinel/   redis 0700: sentinel.conf, which Sentinel rewrites with what it learns
#   rN/run/        redis:concert 2750: redis.sock (the group concert may connect), as the single stack
#   rN/redis.log, rN/sentinel.log
# Each Redis listens on its own address port 6379 and its socket, each Sentinel on its address
# port 26379; nothing on 127.0.0.1. Addresses: CDIR/redis.hosts (written by the first
# crc_redis_up from CRC_REDIS_HOSTS, default "127.0.1.11 127.0.1.12 127.0.1.13"; a test uses
# others so that it can run beside a cluster).
#
# Debian's redis-sentinel package is not used: it holds only a service definition and an
# /etc/redis/sentinel.conf for a Sentinel on 127.0.0.1:26379 started at install; the binary is
# redis-server's own (`redis-server CONF --sentinel`), which redis-server already brings.

CRC_REDIS_PORT=6379
CRC_SENTINEL_PORT=26379
CRC_REDIS_MASTER=concert

# crc__rhosts CDIR: sets CRC_H to the three addresses of CDIR's cluster.
crc__rhosts() {
  local f="$1/redis.hosts" line
  CRC_PW="$(cat "$1/redis.secret" 2>/dev/null || true)"
  if [ -s "$f" ]; then line="$(cat "$f")"; else line="${CRC_REDIS_HOSTS:-127.0.1.11 127.0.1.12 127.0.1.13}"; fi
  # shellcheck disable=SC2206
  CRC_H=($line)
  [ "${#CRC_H[@]}" = 3 ] || cr_die "need three Redis addresses, not: $line"
}
# The password of every Redis and Sentinel of the cluster: CDIR/redis.secret (root 0600),
# made by the first crc_redis_up. Redis on TCP without one would let any local user read every
# token, and Redis's protected mode refuses a replica connecting from another 127.x address.
# Sentinels require it too (a client could otherwise point them at a Redis of its own).
crc_redis_password() { cat "$1/redis.secret"; }   # CDIR: for the app hosts' REDIS_PASSWORD
crc__rcli() {                                      # HOST PORT CMD...
  REDISCLI_AUTH="$CRC_PW" timeout 5 redis-cli --raw -h "$1" -p "$2" "${@:3}" 2>/dev/null
}

# crc_redis_primary CDIR: host:port of the primary, asked of the Sentinels in turn.
crc_redis_primary() {
  local CRC_H CRC_PW h out
  crc__rhosts "$1"
  for h in "${CRC_H[@]}"; do
    out="$(crc__rcli "$h" "$CRC_SENTINEL_PORT" sentinel get-master-addr-by-name "$CRC_REDIS_MASTER" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    set -- $out
    if [ $# = 2 ]; then echo "$1:$2"; return 0; fi
  done
  return 1
}

crc_redis_pid() { cr__pid "$1/r$2/redis.pid"; }             # CDIR N
crc_redis_sentinel_pid() { cr__pid "$1/r$2/sentinel.pid"; } # CDIR N

# crc__rperms CDIR N: the node's folders (see the top).
crc__rperms() {
  local d="$1/r$2"
  mkdir -p "$d"/{data,sentinel,run}
  chmod go+x "$1"   # CDIR: traversable to reach the nodes (its owner and other modes: scripts/cluster's)
  chown root:root "$d" && chmod 0711 "$d"
  chown redis:redis "$d/data" "$d/sentinel" && chmod 0700 "$d/data" "$d/sentinel"
  chown redis:"$CR_USER" "$d/run" && chmod 2750 "$d/run"
  touch "$d/redis.log" "$d/sentinel.log"
  chown root:"$CR_USER" "$d/redis.log" "$d/sentinel.log" && chmod 0640 "$d/redis.log" "$d/sentinel.log"
}

# crc__rspawn PIDFILE LOG ARGS...: runs ARGS as redis in its own session, in the background.
crc__rspawn() {
  local pidf="$1" log="$2"
  shift 2
  # umask 077: the AOF files (every live token) for redis alone.
  # shellcheck disable=SC2016
  (umask 077; setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" \
    setpriv --reuid=redis --regid=redis --init-groups "$@" &) </dev/null >>"$log" 2>&1
}

# crc__rstart CDIR N PRIMARY: starts node N's Redis (when not running) as the primary when
# PRIMARY is its own address, else as a replica of PRIMARY (host). The config is written anew
# at every start: the Sentinels' view decides the role, not what the file said before the crash.
crc__rstart() {
  local d="$1/r$2" a="${CRC_H[$2 - 1]}" conf="$1/r$2/data/redis.conf"
  cr__running "$d/redis.pid" && return 0
  crc__rperms "$1" "$2"
  {
    cat <<EOF
# Written by scripts/cluster-redis.sh at every start; Sentinel may rewrite it (CONFIG REWRITE).
bind $a
port $CRC_REDIS_PORT
unixsocket $d/run/redis.sock
unixsocketperm 770
dir $d/data
appendonly yes
appendfsync everysec
save ""
daemonize no
logfile ""
replica-announce-ip $a
bind-source-addr $a
requirepass $CRC_PW
masterauth $CRC_PW
EOF
    [ "$3" = "$a" ] || echo "replicaof $3 $CRC_REDIS_PORT"
    [ ! -f "$1/lib/crq.so" ] || echo "loadmodule $1/lib/crq.so"
  } >"$conf.tmp"
  chown redis:redis "$conf.tmp" && chmod 0600 "$conf.tmp" && mv -f "$conf.tmp" "$conf"
  rm -f "$d/run/redis.sock"
  cr_log "starting Redis r$2 on $a:$CRC_REDIS_PORT ($([ "$3" = "$a" ] && echo primary || echo "replica of $3"))"
  crc__rspawn "$d/redis.pid" "$d/redis.log" redis-server "$conf"
}

# crc__sstart CDIR N PRIMARY: starts node N's Sentinel (when not running); its config is
# written only once (Sentinel keeps what it learnt there: epochs, the other Sentinels).
crc__sstart() {
  local d="$1/r$2" a="${CRC_H[$2 - 1]}" conf="$1/r$2/sentinel/sentinel.conf"
  cr__running "$d/sentinel.pid" && return 0
  crc__rperms "$1" "$2"
  if [ ! -s "$conf" ]; then
    cat >"$conf.tmp" <<EOF
# Written once by scripts/cluster-redis.sh; Sentinel rewrites it with what it learns.
bind $a
port $CRC_SENTINEL_PORT
daemonize no
logfile ""
dir $d/sentinel
sentinel announce-ip $a
sentinel announce-port $CRC_SENTINEL_PORT
requirepass $CRC_PW
sentinel sentinel-pass $CRC_PW
sentinel monitor $CRC_REDIS_MASTER $3 $CRC_REDIS_PORT 2
sentinel down-after-milliseconds $CRC_REDIS_MASTER 1000
sentinel failover-timeout $CRC_REDIS_MASTER 4000
sentinel parallel-syncs $CRC_REDIS_MASTER 1
sentinel auth-pass $CRC_REDIS_MASTER $CRC_PW
EOF
    chown redis:redis "$conf.tmp" && chmod 0600 "$conf.tmp" && mv -f "$conf.tmp" "$conf"
  fi
  cr_log "starting Sentinel s$2 on $a:$CRC_SENTINEL_PORT"
  crc__rspawn "$d/sentinel.pid" "$d/sentinel.log" redis-server "$conf" --sentinel
}

# crc__rwho CDIR: the primary's address: the Sentinels' answer; else (all stopped) what the
# Sentinels wrote down last (their monitor line follows failovers); else node 1.
crc__rwho() {
  local p f h
  if p="$(crc_redis_primary "$1")"; then echo "${p%:*}"; return 0; fi
  for f in "$1"/r[123]/sentinel/sentinel.conf; do
    [ -s "$f" ] || continue
    h="$(awk -v m="$CRC_REDIS_MASTER" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4 }' "$f")"
    if [ -n "$h" ]; then echo "$h"; return 0; fi
  done
  echo "${CRC_H[0]}"
}

crc__pong() { [ "$(crc__rcli "$1" "$2" ping)" = PONG ]; }
# crc__rsynced HOST PRIMARY: HOST is PRIMARY, or a replica of it with its link up.
crc__rsynced() {
  local info
  info="$(crc__rcli "$1" "$CRC_REDIS_PORT" info replication | tr -d '\r')" || return 1
  if [ "$1" = "$2" ]; then
    grep -qx 'role:master' <<<"$info"
  else
    grep -qx 'role:slave' <<<"$info" && grep -qx "master_host:$2" <<<"$info" \
      && grep -qx 'master_link_status:up' <<<"$info"
  fi
}
# crc__squorum HOST: the Sentinel on HOST knows the primary, 2 replicas and 2 other Sentinels.
crc__squorum() {
  local m
  m="$(crc__rcli "$1" "$CRC_SENTINEL_PORT" sentinel master "$CRC_REDIS_MASTER" | paste - - | tr -d '\r')" || return 1
  grep -qx $'num-slaves\t2' <<<"$m" && grep -qx $'num-other-sentinels\t2' <<<"$m" \
    && grep -qx $'flags\tmaster' <<<"$m"
}

# crc_redis_up CDIR [BIN_DIR]: the three Redis and three Sentinels running, the replicas in
# sync, each Sentinel knowing the whole set. Idempotent: what runs is left alone. Every Redis
# loads BIN_DIR/crq.so (staged as CDIR/lib/crq.so), since any of them may become the primary.
crc_redis_up() {
  local CRC_H CRC_PW n p
  mkdir -p "$1"
  umask 027
  cr_users
  [ -z "${2:-}" ] || CR_DIR="$1" BIN="$2" cr__stage_module
  if [ ! -s "$1/redis.secret" ]; then
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$1/redis.secret.tmp") \
      && mv -f "$1/redis.secret.tmp" "$1/redis.secret"
  fi
  crc__rhosts "$1"
  [ -s "$1/redis.hosts" ] || echo "${CRC_H[*]}" >"$1/redis.hosts"
  p="$(crc__rwho "$1")"
  for n in 1 2 3; do crc__rstart "$1" "$n" "$p"; done
  for n in 1 2 3; do
    cr__wait 30 crc__pong "${CRC_H[$n - 1]}" "$CRC_REDIS_PORT" \
      || { tail -n 20 "$1/r$n/redis.log" >&2; cr_die "Redis r$n did not come up"; }
  done
  for n in 1 2 3; do crc__sstart "$1" "$n" "$p"; done
  for n in 1 2 3; do
    cr__wait 60 crc__rsynced "${CRC_H[$n - 1]}" "$p" \
      || { tail -n 20 "$1/r$n/redis.log" >&2; cr_die "Redis r$n is not in sync with $p"; }
  done
  # Sentinels find each other through hello messages every 2 s.
  for n in 1 2 3; do
    cr__wait 60 crc__squorum "${CRC_H[$n - 1]}" \
      || { tail -n 20 "$1/r$n/sentinel.log" >&2; cr_die "Sentinel s$n does not see the whole set"; }
  done
  cr_log "Redis up: primary $p:$CRC_REDIS_PORT, Sentinels on ${CRC_H[*]} port $CRC_SENTINEL_PORT"
}

# crc_redis_start_node CDIR N: (re)starts node N's Redis (and its Sentinel when it is down too)
# as a replica of the current primary, and waits until it is in sync.
crc_redis_start_node() {
  local CRC_H CRC_PW p
  umask 027
  crc__rhosts "$1"
  p="$(crc__rwho "$1")"
  crc__rstart "$1" "$2" "$p"
  crc__sstart "$1" "$2" "$p"
  cr__wait 60 crc__rsynced "${CRC_H[$2 - 1]}" "$p" \
    || { tail -n 20 "$1/r$2/redis.log" >&2; cr_log "Redis r$2 is not in sync with $p"; return 1; }
}

# crc_redis_down CDIR: stops the Sentinels first (so that no failover starts while the nodes
# stop), then the Redis nodes (SHUTDOWN writes the AOF out). Never fails.
crc_redis_down() {
  local CRC_H CRC_PW n pid
  [ -d "$1" ] || return 0
  crc__rhosts "$1"
  for n in 1 2 3; do
    pid="$(crc_redis_sentinel_pid "$1" "$n" || true)"
    if cr__alive "$pid"; then cr_log "stopping Sentinel s$n"; cr__stop_pid "$pid"; fi
  done
  for n in 1 2 3; do
    pid="$(crc_redis_pid "$1" "$n" || true)"
    if cr__alive "$pid"; then
      cr_log "stopping Redis r$n"
      crc__rcli "${CRC_H[$n - 1]}" "$CRC_REDIS_PORT" shutdown >/dev/null || true
      cr__wait 15 cr__gone "$pid" || cr__stop_pid "$pid"
    fi
  done
  rm -f "$1"/r[123]/redis.pid "$1"/r[123]/sentinel.pid
  return 0
}

# crc_redis_status CDIR: one line per Redis (role, link) and per Sentinel (the primary it names);
# returns 0 only when all six run.
crc_redis_status() {
  local CRC_H CRC_PW n h pid rc=0 info role link p
  crc__rhosts "$1"
  for n in 1 2 3; do
    h="${CRC_H[$n - 1]}"
    pid="$(crc_redis_pid "$1" "$n" 2>/dev/null || true)"
    if cr__alive "$pid"; then
      info="$(crc__rcli "$h" "$CRC_REDIS_PORT" info replication | tr -d '\r' || true)"
      role="$(sed -n 's/^role://p' <<<"$info")"; link="$(sed -n 's/^master_link_status://p' <<<"$info")"
      printf 'redis    r%s %s:%s pid %s role %s%s\n' "$n" "$h" "$CRC_REDIS_PORT" "$pid" "${role:-?}" \
        "${link:+ link $link}"
    else
      printf 'redis    r%s %s:%s stopped\n' "$n" "$h" "$CRC_REDIS_PORT"; rc=1
    fi
  done
  for n in 1 2 3; do
    h="${CRC_H[$n - 1]}"
    pid="$(crc_redis_sentinel_pid "$1" "$n" 2>/dev/null || true)"
    if cr__alive "$pid"; then
      p="$(crc__rcli "$h" "$CRC_SENTINEL_PORT" sentinel get-master-addr-by-name "$CRC_REDIS_MASTER" | paste -sd: || true)"
      printf 'sentinel s%s %s:%s pid %s primary %s\n' "$n" "$h" "$CRC_SENTINEL_PORT" "$pid" "${p:-?}"
    else
      printf 'sentinel s%s %s:%s stopped\n' "$n" "$h" "$CRC_SENTINEL_PORT"; rc=1
    fi
  done
  return "$rc"
}

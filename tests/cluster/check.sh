# shellcheck shell=bash
# Checks shared by the cluster's failover tests (sourced after scripts/lib.sh and
# scripts/cluster-db.sh), beside acks-check.sh: what every Galera node holds after a failover.

# crt_check_invariants CDIR: bench/invariants.sql on every Galera node; 1 when any row is not 0
# (or a node does not answer).
crt_check_invariants() {
  local n out bad rc=0
  for n in 1 2 3; do
    out="$(crc_db_sql "$1" "$n" concert <"$CR_ROOT/bench/invariants.sql")" \
      || { cr_log "node $n: invariants.sql did not run"; rc=1; continue; }
    bad="$(printf '%s\n' "$out" | awk -F'\t' 'NF >= 2 && $2 != 0')"
    if [ -n "$bad" ]; then cr_log "node $n: invariant broken: $bad"; rc=1; fi
  done
  return "$rc"
}

# crt_wait_galera_same CDIR SECONDS: the three nodes agree on the payments' count (a read on a
# node may lag the writes certified on another by a moment).
crt__payments_same() {
  local a b c
  a="$(crc_db_sql "$1" 1 concert -e 'SELECT COUNT(*), COALESCE(MAX(id), 0) FROM payments')" || return 1
  b="$(crc_db_sql "$1" 2 concert -e 'SELECT COUNT(*), COALESCE(MAX(id), 0) FROM payments')" || return 1
  c="$(crc_db_sql "$1" 3 concert -e 'SELECT COUNT(*), COALESCE(MAX(id), 0) FROM payments')" || return 1
  [ "$a" = "$b" ] && [ "$b" = "$c" ]
}
crt_wait_galera_same() { cr__wait "$2" crt__payments_same "$1"; }

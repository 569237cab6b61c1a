# shellcheck shell=bash
# Checks shared by the cluster's failover tests (sourced after scripts/lib.sh and
# scripts/cluster-db.sh), beside acks-check.sh: what every Galera node holds after a failover.

# crt_invariants CDIR N: node N's bench/invariants.sql rows ("name<TAB>count"), sorted.
crt_invariants() { crc_db_sql "$1" "$2" concert <"$CR_ROOT/bench/invariants.sql" | sort; }

# crt_check_invariants CDIR [BEFORE_FILE]: bench/invariants.sql on every Galera node; 1 when a
# node does not answer or any count is above its count in BEFORE_FILE (crt_invariants output
# taken before the test; without one, above 0). The HTTP suites that ran on the same cluster
# leave rows of their own fixtures that break some on purpose: a failover test answers for
# what it added.
crt_check_invariants() {
  local n out bad rc=0 before="${2:-/dev/null}"
  for n in 1 2 3; do
    out="$(crt_invariants "$1" "$n")" || { cr_log "node $n: invariants.sql did not run"; rc=1; continue; }
    bad="$(printf '%s\n' "$out" | awk -F'\t' 'FILENAME != "-" { b[$1] = $2; next } NF >= 2 && $2 > b[$1] + 0' "$before" -)"
    if [ -n "$bad" ]; then cr_log "node $n: invariant broken: $(echo "$bad" | tr '\n\t' '; ')"; rc=1; fi
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

# shellcheck shell=bash
# Checks shared by the cluster's failover tests (sourced after scripts/lib.sh and
# scripts/cluster-db.sh): what the steady buyer (tests/cluster/buyer) was told against what every
# Galera node holds.

# crt_check_acks CDIR OUT_DIR N: every payment acknowledged in OUT_DIR/acks.tsv ("paymentId
# userId amount") is in node N's database exactly once, of that user and amount. Prints the
# number checked; returns 1 (and names them) when any is missing or doubled.
crt_check_acks() {
  local acks="$2/acks.tsv" values="" p u a bad n
  n="$(grep -c . "$acks" 2>/dev/null || true)"
  [ "${n:-0}" -gt 0 ] || { cr_log "no acknowledged payment in $acks"; return 1; }
  while read -r p u a; do
    # The buyer wrote them from the service's answers: check their shape before quoting them.
    [[ "$p" =~ ^[0-9a-f-]{36}$ && "$u" =~ ^[0-9a-f-]{36}$ && "$a" =~ ^[0-9]+$ ]] \
      || { cr_log "malformed line in $acks: $p $u $a"; return 1; }
    values+="${values:+,}('$p','$u',$a)"
  done <"$acks"
  bad="$(crc_db_sql "$1" "$3" concert <<SQL
CREATE TEMPORARY TABLE crt_acks (pid CHAR(36), uid CHAR(36), amount BIGINT);
INSERT INTO crt_acks VALUES $values;
SELECT a.pid FROM crt_acks AS a
 WHERE (SELECT COUNT(*) FROM payments AS p JOIN users AS u ON u.id = p.user_id
         WHERE p.uuid = UNHEX(REPLACE(a.pid, '-', '')) AND u.uuid = UNHEX(REPLACE(a.uid, '-', ''))
           AND p.amount = a.amount) <> 1;
SQL
)" || { cr_log "node $3: the acknowledgement check did not run"; return 1; }
  if [ -n "$bad" ]; then
    cr_log "node $3: acknowledged payments not present exactly once: $(echo "$bad" | head -n 5 | tr '\n' ' ')"
    return 1
  fi
  echo "$n"
}

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

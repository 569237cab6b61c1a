#!/usr/bin/env bash
# acks-check.sh OUT_DIR SQL_CMD...: every payment the steady buyer (tests/cluster/buyer) was told
# about (OUT_DIR/acks.tsv) is in the database exactly once, for its user and amount; SQL_CMD is a
# mariadb client command line as root on one node (e.g. crc_db_sql CDIR 2). Prints one line; exit
# 1 when an acknowledged payment is missing or doubled.
set -euo pipefail
dir="${1:?usage: acks-check.sh OUT_DIR SQL_CMD...}"
shift
{
  echo "CREATE TEMPORARY TABLE acks (uuid CHAR(36) PRIMARY KEY, user CHAR(36), amount BIGINT);"
  awk -F'\t' 'NF == 3 { printf "INSERT INTO acks VALUES (\x27%s\x27, \x27%s\x27, %d);\n", $1, $2, $3 }' \
    "$dir/acks.tsv"
  # per acknowledged payment: the rows of payments with its id, user and amount (uuid is unique)
  echo "SELECT COUNT(*), COALESCE(SUM(n = 1), 0) FROM (SELECT (SELECT COUNT(*) FROM payments p
        JOIN users u ON u.id = p.user_id WHERE p.uuid = UNHEX(REPLACE(a.uuid, '-', ''))
        AND u.uuid = UNHEX(REPLACE(a.user, '-', '')) AND p.amount = a.amount) AS n FROM acks a) t;"
} | "$@" concert >"$dir/acks-check.out"
read -r acked once <"$dir/acks-check.out"
echo "acknowledged payments: $acked, present exactly once: $once"
[ "$acked" = "$once" ] && [ "$acked" -gt 0 ]

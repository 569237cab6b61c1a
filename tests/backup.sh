#!/usr/bin/env bash
# backup.sh: scripts/backup under a purchasing load, then scripts/restore into a second, fresh
# stack (stopped first), on stacks of its own (tests/stack.sh). Clients buy seats (and refund
# every other one) the whole time the backup runs; afterwards the restored database must hold
# every payment and refund acknowledged before the backup began, every invariant of
# bench/invariants.sql must hold there, a queue token issued before the backup must still work,
# and the restored stack must sell again. Needs root and mariabackup.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${CR_SRC_DIR:-$(dirname "$here")}"
export CR_SRC_DIR="$src"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v mariabackup >/dev/null || { echo "SKIP: no mariabackup (package mariadb-backup)"; exit 77; }
: "${CR_BIN_DIR:?set CR_BIN_DIR to the build dir}"

CLIENTS=4
work="$(mktemp -d "${TMPDIR:-/tmp}/cr-backup-test.XXXXXX")"
stack1="" stack2="" pids=()
cleanup() {
  local p
  touch "$work/stop"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ -z "$stack1" ] || "$here/stack.sh" stop "$stack1" || true
  [ -z "$stack2" ] || "$here/stack.sh" stop "$stack2" || true
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
now_ms() { date +%s%3N; }

# Two stacks; the second is the fresh one restored into.
eval "$("$here/stack.sh" start)"
stack1="$CR_STACK_DIR" base="$CR_BASE_URL"
stack2="$( (eval "$("$here/stack.sh" start)"; echo "$CR_STACK_DIR") | tail -n 1)"
base2="http://127.0.0.1:$(sed -n 's/^HTTP_PORT=//p' "$stack2/concert.conf" | tail -n 1)"
sql() { mariadb --no-defaults --socket="$1/run/mysqld.sock" -uroot -N -B concert; }

# A schedule of 5000 seats at 1000 won each, a month ahead (its refunds are open).
sched="$(sql "$stack1" <<'SQL'
INSERT INTO concerts (title, venue) VALUES ('backup test', 'backup hall');
INSERT INTO schedules (concert_id, starts_at, total_seats)
  VALUES (LAST_INSERT_ID(), UTC_TIMESTAMP(3) + INTERVAL 30 DAY, 5000);
SET @s = LAST_INSERT_ID();
INSERT INTO seats (schedule_id, seat_no, price) SELECT @s, seq, 1000 FROM seq_1_to_5000;
SELECT @s;
SQL
)"

# curl → "BODY\nSTATUS"; j KEY: a field of the last body.
req() { curl -s --max-time 20 -w '\n%{http_code}' -X "$1" -H 'Content-Type: application/json' "${@:3}" "$2"; }
body() { sed '$d' <<<"$1"; }
code() { tail -n 1 <<<"$1"; }
new_user() {   # BASE -> "userId token", charged with 10,000,000
  local r uid
  r="$(req POST "$1/api/v1/users" -d '{}')"; uid="$(body "$r" | jq -r .userId)"
  req POST "$1/api/v1/users/$uid/balance/charge" -d '{"amount":10000000}' >/dev/null
  r="$(req POST "$1/api/v1/queue/tokens" -d "{\"userId\":\"$uid\"}")"
  echo "$uid $(body "$r" | jq -r .token)"
}

# One buying client: holds seat after seat, pays each, refunds every other one; logs each
# acknowledgement with the time its answer came back.
client() {
  local i="$1" log="$work/client$1.log" uid tok seat="$1" n=0 r rid pid
  read -r uid tok < <(new_user "$base")
  while [ ! -e "$work/stop" ]; do
    r="$(req POST "$base/api/v1/reservations" -H "Authorization: Bearer $tok" \
      -d "{\"scheduleId\":$sched,\"seatNo\":$seat}")"
    seat=$((seat + CLIENTS))
    [ "$(code "$r")" = 201 ] || { echo "HOLD $(code "$r")" >>"$log"; continue; }
    rid="$(body "$r" | jq -r .reservationId)"
    r="$(req POST "$base/api/v1/payments" -H "Authorization: Bearer $tok" -d "{\"reservationIds\":[\"$rid\"]}")"
    [ "$(code "$r")" = 201 ] || { echo "PAY $(code "$r")" >>"$log"; continue; }
    pid="$(body "$r" | jq -r .paymentId)"
    echo "PAID $pid $rid $(now_ms)" >>"$log"
    r="$(req POST "$base/api/v1/queue/tokens" -d "{\"userId\":\"$uid\"}")"   # the paying token is spent
    tok="$(body "$r" | jq -r .token)"
    n=$((n + 1))
    if [ $((n % 2)) = 0 ]; then
      r="$(req POST "$base/api/v1/reservations/$rid/refund" -H "Authorization: Bearer $tok")"
      if [ "$(code "$r")" = 200 ]; then echo "REFUNDED $pid $rid $(now_ms)" >>"$log"; else echo "REFUND $(code "$r")" >>"$log"; fi
    fi
  done
}
acks() { cat "$work"/client*.log 2>/dev/null | grep -c '^PAID' || true; }
for ((i = 1; i <= CLIENTS; i++)); do client "$i" & pids+=($!); done

# A queue token issued before the backup, never used: it must work after the restore.
read -r keep_uid keep_tok < <(new_user "$base")

deadline=$((SECONDS + 60))
until [ "$(acks)" -ge 20 ] || [ $SECONDS -gt $deadline ]; do sleep 0.2; done
[ "$(acks)" -ge 20 ] || fail "the load made only $(acks) payments in 60 s"

t0="$(now_ms)"
folder="$("$src/scripts/backup" "$stack1")" || { fail "scripts/backup failed"; exit 1; }
t1="$(now_ms)"
during="$(cat "$work"/client*.log | awk -v t0="$t0" -v t1="$t1" '$1 == "PAID" && $4 >= t0 && $4 <= t1' | wc -l)"
echo "backup took $((t1 - t0)) ms; $during payments acknowledged while it ran"
[ "$during" -ge 1 ] || fail "no payment was acknowledged while the backup ran (no load during it)"
touch "$work/stop"
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# The backup folder: root's alone.
[ "$(stat -c '%U %a' "$folder")" = "root 700" ] || fail "backup folder is $(stat -c '%U %a' "$folder")"
[ "$(stat -c '%U %a' "$stack1/backups")" = "root 700" ] || fail "backups/ is $(stat -c '%U %a' "$stack1/backups")"
others="$(find "$folder" -perm /o=rwx | head -n 3)"
[ -z "$others" ] || fail "backup files open to others: $others"

# Restore into the second stack, stopped first, and start it again.
( source "$src/scripts/lib.sh"; cr_stack_stop "$stack2" ) >/dev/null 2>&1
"$src/scripts/restore" "$folder" "$stack2" || fail "scripts/restore failed"
[ "$(stat -c %U "$stack2/mysql")" = mysql ] || fail "restored mysql/ belongs to $(stat -c %U "$stack2/mysql")"
[ "$(stat -c %U "$stack2/redis")" = redis ] || fail "restored redis/ belongs to $(stat -c %U "$stack2/redis")"
( source "$src/scripts/lib.sh"; cr_stack_start "$stack2" "$CR_BIN_DIR" ) >"$work/start2.log" 2>&1 \
  || { tail -n 20 "$work/start2.log" >&2; fail "the restored stack did not start"; exit 1; }
"$src/scripts/restore" "$folder" "$stack2" 2>/dev/null && fail "restore into a running stack was not refused"

# Every payment and refund acknowledged before the backup began is in the restored database.
before="$(cat "$work"/client*.log | awk -v t0="$t0" '($1 == "PAID" || $1 == "REFUNDED") && $4 < t0')"
paid_before="$(grep -c '^PAID' <<<"$before" || true)"
refunded_before="$(grep -c '^REFUNDED' <<<"$before" || true)"
uhex() { tr -d '-' <<<"$1"; }
missing=0
while read -r kind pid rid _; do
  [ -n "$kind" ] || continue
  case "$kind" in
    PAID) q="SELECT COUNT(*) FROM payments WHERE uuid = UNHEX('$(uhex "$pid")')" ;;
    REFUNDED) q="SELECT COUNT(*) FROM reservations WHERE uuid = UNHEX('$(uhex "$rid")') AND status = 'REFUNDED'" ;;
  esac
  [ "$(sql "$stack2" <<<"$q")" = 1 ] || { missing=$((missing + 1)); echo "missing after restore: $kind $pid $rid" >&2; }
done <<<"$before"
[ "$missing" = 0 ] || fail "$missing acknowledged payments/refunds are missing after the restore"
[ "$paid_before" -ge 20 ] || fail "only $paid_before payments before the backup"
echo "restored: $paid_before payments and $refunded_before refunds acknowledged before the backup, all there; $(sql "$stack2" <<<"SELECT COUNT(*) FROM payments") payments in all (the live stack: $(sql "$stack1" <<<"SELECT COUNT(*) FROM payments"))"

# Every invariant holds on the restored database.
bad="$(sql "$stack2" <"$src/bench/invariants.sql" | awk -F'\t' '$2 != 0')"
[ -z "$bad" ] || fail "invariants broken after the restore: $bad"
n_inv="$(sql "$stack2" <"$src/bench/invariants.sql" | wc -l)"
[ "$n_inv" -ge 15 ] || fail "only $n_inv invariants ran"

# Redis came back: the token issued before the backup is still the user's live token.
r="$(req GET "$base2/api/v1/queue/tokens/current" -H "Authorization: Bearer $keep_tok")"
[ "$(code "$r")" = 200 ] || fail "a token issued before the backup: $(code "$r") after the restore"
# And the restored stack sells: a new hold and payment by that user.
r="$(req POST "$base2/api/v1/reservations" -H "Authorization: Bearer $keep_tok" -d "{\"scheduleId\":$sched,\"seatNo\":4999}")"
if [ "$(code "$r")" = 201 ]; then
  rid="$(body "$r" | jq -r .reservationId)"
  r="$(req POST "$base2/api/v1/payments" -H "Authorization: Bearer $keep_tok" -d "{\"reservationIds\":[\"$rid\"]}")"
  [ "$(code "$r")" = 201 ] || fail "paying on the restored stack: $(code "$r") $(body "$r")"
else
  fail "holding on the restored stack: $(code "$r") $(body "$r")"
fi

[ "$failed" = 0 ] && echo "ok: backup under load, restore, invariants, acknowledged payments kept"
exit $((failed > 0))

#!/usr/bin/env bash
# security.sh: least privilege on a running stack (issue 13, findings 1-3). Run against a stack
# by tests/run-with-stack.sh (CR_STACK_DIR, CR_BASE_URL), as root, so that it can try things as
# another local user (nobody) and as the service user. Checks: nothing of the stack listens on
# TCP but nginx; Redis, MariaDB and the FastCGI sockets refuse nobody (and admit who they must);
# each process runs as its user; nothing under the stack dir is readable or writable by others;
# the runtime database user has no DDL; the access log holds no user id.
set -euo pipefail
dir="${CR_STACK_DIR:?run me through tests/run-with-stack.sh (CR_STACK_DIR)}"
base="${CR_BASE_URL:?run me through tests/run-with-stack.sh (CR_BASE_URL)}"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

failed=0 seen=0
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
ok() { [ "$failed" != "$seen" ] || echo "ok: $*"; seen="$failed"; }   # ok only when no new FAIL
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_concert() { setpriv --reuid=concert --regid=concert --init-groups "$@"; }
conf() { sed -n "s/^$1=//p" "$dir/concert.conf" | tail -n 1; }
port="${base##*:}"
pw="$(conf DB_PASSWORD)"

# --- the stack's processes: each pid file's process and everything below it -------------------
descendants() {
  local p kids
  echo "$1"
  kids="$(cat /proc/"$1"/task/*/children 2>/dev/null || true)"
  for p in $kids; do descendants "$p"; done
}
declare -A want=()      # pid -> expected user
for f in "$dir"/run/*.pid; do
  name="$(basename "$f" .pid)"
  pid="$(tr -dc 0-9 <"$f")"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || { fail "$name: no process"; continue; }
  case "$name" in
    mysqld) user=mysql ;;
    redis) user=redis ;;
    nginx) user=www-data ;;
    *) user=concert ;;
  esac
  for p in $(descendants "$pid"); do want[$p]="$user"; done
  [ "$name" = nginx ] && want[$pid]=root   # the master binds the port; its workers don't
done
[ "${#want[@]}" -ge 14 ] || fail "only ${#want[@]} stack processes found"

# 1. Each process runs as its user (real, effective, saved and filesystem uid alike).
for p in "${!want[@]}"; do
  uids="$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$p/status" 2>/dev/null || true)"
  [ -n "$uids" ] || continue   # gone meanwhile (a respawned worker)
  u="$(id -u "${want[$p]}")"
  [ "$uids" = "$u $u $u $u" ] \
    || fail "pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-60)) runs as uids $uids, not ${want[$p]}"
done
ok "processes run as mysql, redis, concert, www-data (nginx master root)"

# 2. No TCP or UDP listener of the stack but nginx's 127.0.0.1:port.
while read -r line; do
  local_addr="$(awk '{ print $4 }' <<<"$line")"
  for p in $(grep -o 'pid=[0-9]*' <<<"$line" | cut -d= -f2); do
    if [ -n "${want[$p]:-}" ] && [ "$local_addr" != "127.0.0.1:$port" ]; then
      fail "stack process $p listens on $local_addr: $line"
    fi
  done
done < <(ss -ltnpH; ss -lunpH)
ok "no TCP/UDP listener but nginx on 127.0.0.1:$port"

# 3. Redis: the service user gets in, nobody does not (and nobody reads no AOF).
[ "$(as_concert redis-cli -s "$dir/run/redis.sock" ping 2>&1)" = PONG ] \
  || fail "the concert user cannot PING Redis"
out="$(as_nobody redis-cli -s "$dir/run/redis.sock" ping 2>&1 || true)"
[ "$out" != PONG ] || fail "nobody can PING Redis"
while read -r f; do
  ! as_nobody cat "$f" >/dev/null 2>&1 || fail "nobody can read $f"
done < <(find "$dir/redis" -type f)
ok "Redis: concert PONG, nobody refused ($out)"

# 4. MariaDB: even with the password, nobody cannot connect; the service user can.
db() { mariadb --no-defaults --socket="$dir/run/mysqld.sock" -uconcert -p"$pw" -N -B concert "$@"; }
[ -n "$pw" ] && [ "$pw" != concert ] || fail "DB_PASSWORD is empty or the fixed 'concert'"
pw="${pw:-concert}"   # the default an older install ran with, to show what it allowed
as_concert mariadb --no-defaults --socket="$dir/run/mysqld.sock" -uconcert -p"$pw" concert \
  -e 'SELECT 1' >/dev/null 2>&1 || fail "the concert user cannot connect to MariaDB"
if as_nobody mariadb --no-defaults --socket="$dir/run/mysqld.sock" -uconcert -p"$pw" concert \
  -e 'SELECT 1' >/dev/null 2>&1; then fail "nobody can connect to MariaDB"; fi
ok "MariaDB: concert in, nobody refused"

# 5. The runtime DB user: rows yes, DDL and server rights no.
[ "$(db -e 'SELECT COUNT(*) > 0 FROM concerts' 2>&1 || true)" = 1 ] || fail "the runtime user cannot SELECT"
for stmt in "CREATE TABLE cr_security_probe (i INT)" "DROP TABLE IF EXISTS cr_security_probe" \
  "ALTER TABLE concerts COMMENT = 'probe'" "CREATE DATABASE cr_security_probe" \
  "GRANT SELECT ON concert.* TO 'concert'@'localhost'"; do
  if err="$(db -e "$stmt" 2>&1)"; then
    fail "the runtime user may: $stmt"
  else
    grep -q 'denied' <<<"$err" || fail "$stmt failed, but not for want of rights: $err"
  fi
done
grants="$(db -e 'SHOW GRANTS' 2>&1 || true)"
if grep -Eq 'ALL PRIVILEGES|FILE|PROCESS|SUPER|CREATE|DROP|ALTER|GRANT OPTION' <<<"$grants"; then
  fail "the runtime user has too much: $grants"
fi
ok "runtime DB user: no DDL, no server rights"

# 6. The FastCGI sockets: nobody cannot connect.
for s in "$dir"/run/*.[ab].sock; do
  [ -S "$s" ] || continue
  if as_nobody socat -u /dev/null "UNIX-CONNECT:$s" 2>/dev/null; then fail "nobody can connect to $s"; fi
done
ok "FastCGI sockets refuse nobody"

# 7. Files: nothing under the stack dir is readable or writable by others; the only dirs others
# may traverse (o=x) are the stack dir, run/ and log/. Sockets are judged by the test above
# (MariaDB makes its socket 0777 whatever we ask; its dir keeps others out).
while read -r mode path; do
  case "$path" in "$dir/run/mysql/mysqld.sock") continue ;; esac
  fail "$path is $mode: others may read or write it"
done < <(find "$dir" ! -type l -perm /o=rw -printf '%M %p\n')
while read -r mode path; do
  case "$path" in "$dir" | "$dir/run" | "$dir/log" | "$dir/run/mysql/mysqld.sock") ;; *) fail "$path is $mode: others may enter it" ;; esac
done < <(find "$dir" ! -type l -perm /o=x -printf '%M %p\n')
m="$(stat -c '%a %U:%G' "$dir/concert.conf")"
[ "$m" = "640 root:concert" ] || fail "concert.conf is $m, want 640 root:concert"
m="$(stat -c '%a %U' "$dir/redis")"
[ "$m" = "700 redis" ] || fail "redis/ is $m, want 700 redis"
m="$(stat -c '%a %U' "$dir/mysql")"
[ "$m" = "700 mysql" ] || fail "mysql/ is $m, want 700 mysql"
while read -r mode group path; do
  [ "$group" = concert ] && [[ "$mode" == -rw?r-----* ]] || fail "$path is $mode $group, want 0640 group concert"
done < <(find "$dir/log" -type f -printf '%M %g %p\n')
! as_nobody cat "$dir/concert.conf" >/dev/null 2>&1 || fail "nobody can read concert.conf"
! as_nobody cat "$dir/log/nginx-access.log" >/dev/null 2>&1 || fail "nobody can read the access log"
as_concert cat "$dir/log/nginx-access.log" >/dev/null || fail "concert-alert (as concert) cannot read the access log"
ok "file modes"

# 8. The access log holds no user id: the route's {userId} instead.
uid="$(curl -s -X POST -H 'Content-Type: application/json' -d '{}' "$base/api/v1/users" \
  | sed -n 's/.*"userId":"\([^"]*\)".*/\1/p')"
[ -n "$uid" ] || fail "could not create a user"
rid="security-$$-$RANDOM"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "X-Request-Id: $rid" "$base/api/v1/users/$uid/balance")"
[ "$code" = 200 ] || fail "GET balance answered $code"
line=""
for ((i = 0; i < 100; i++)); do   # nginx writes its line after the answer: poll, 10 s at most
  line="$(grep -F "\"requestId\":\"$rid\"" "$dir/log/nginx-access.log" || true)"
  [ -n "$line" ] && break
  sleep 0.1
done
[ -n "$line" ] || fail "request $rid never logged"
grep -qF '"uri":"/api/v1/users/{userId}/balance"' <<<"$line" || fail "access log line: $line"
if grep -rqF "$uid" "$dir/log/nginx-access.log"; then fail "the access log holds user id $uid"; fi
ok "access log: $line"

[ "$failed" = 0 ] && echo "security: all checks passed"
[ "$failed" = 0 ]

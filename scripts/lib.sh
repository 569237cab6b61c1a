# shellcheck shell=bash
# Shared functions for scripts/* and tests/stack.sh: packages, build, and the local service stack.

CR_ROOT="${CR_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
CR_GROUPS=(queue concert reservation wallet payment)
CR_PACKAGES=(build-essential ca-certificates valgrind autoconf automake libtool pkg-config
  libfcgi-dev spawn-fcgi multiwatch libjson-c-dev libmariadb-dev mariadb-server mariadb-client
  redis-server redis-tools nginx-light libhiredis-dev libcmocka-dev libcurl4-openssl-dev libssl-dev
  curl wrk cron logrotate procps iproute2)
# Fuzzing (tests/fuzz.sh): clang with libFuzzer and the sanitizer runtimes.
CR_PACKAGES+=(clang-14 libclang-rt-14-dev)
# API docs: node runs the OpenAPI linter (tools/package.json); chromium renders /docs in a test.
# npm itself is added only when no npm is on PATH (NodeSource's nodejs bundles its own).
CR_PACKAGES+=(nodejs chromium)
# Backups (scripts/backup, scripts/restore): mariabackup copies MariaDB online.
CR_PACKAGES+=(mariadb-backup)

cr_log() { printf '[cr] %s\n' "$*" >&2; }
cr_die() { cr_log "ERROR: $*"; exit 1; }

# Installs the packages the project needs; quick no-op when all are present.
cr_install_packages() {
  local p installed missing=()
  installed="$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${CR_PACKAGES[@]}" 2>/dev/null \
    | sed -n 's/^installed //p' || true)"
  for p in "${CR_PACKAGES[@]}"; do
    [[ $'\n'"$installed"$'\n' == *$'\n'"$p"$'\n'* ]] || missing+=("$p")
  done
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    cr_log "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  cr_install_node_tools
}

# The npm packages pinned in tools/package-lock.json (Redocly CLI, swagger-ui-dist) into
# tools/node_modules (not committed): npm ci when node_modules is missing or the lock changed.
cr_install_node_tools() {
  local tools="$CR_ROOT/tools"
  [ -e "$tools/package-lock.json" ] || return 0
  if [ -d "$tools/node_modules" ] && cmp -s "$tools/package-lock.json" "$tools/node_modules/.cr-lock"; then
    return 0
  fi
  cr_log "npm ci --prefix tools"
  (cd "$tools" && npm ci --prefix . --no-audit --no-fund --ignore-scripts) || cr_die "npm ci in $tools failed"
  cp "$tools/package-lock.json" "$tools/node_modules/.cr-lock"
}

# cr_build BUILD_DIR [configure args...]: autoreconf/configure only when stale, then make.
# (Explicit "|| exit": callers may use "cr_build ... || ...", which disables set -e inside.)
cr_build() {
  local dir="$1"; shift
  (
    cd "$CR_ROOT" || exit 1
    if [ ! -e configure ] || [ configure -ot configure.ac ] || [ configure -ot Makefile.am ]; then
      cr_log "autoreconf -fi"
      autoreconf -fi || exit 1
    fi
    mkdir -p "$dir" && cd "$dir" || exit 1
    if [ ! -e Makefile ] || [ ! -e config.status ] || [ config.status -ot "$CR_ROOT/configure" ]; then
      cr_log "configure $* (in $dir)"
      "$CR_ROOT/configure" "$@" || exit 1
    fi
    make -j2
  )
}

# --- process helpers -------------------------------------------------------
cr__pid() { [ -s "$1" ] && tr -dc 0-9 <"$1"; }           # pid from a pid file
cr__alive() {                                              # pid exists and is no zombie
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}
cr__running() { cr__alive "$(cr__pid "$1")"; }            # cr__running PIDFILE
cr__wait() {                                               # cr__wait SECONDS CMD...: poll until CMD succeeds
  local n=$(($1 * 10)); shift
  until "$@" >/dev/null 2>&1; do n=$((n - 1)); [ "$n" -gt 0 ] || return 1; sleep 0.1; done
}
cr__gone() { ! cr__alive "$1"; }
cr__stop_pid() {                                           # cr__stop_pid PID [group]: TERM, wait, KILL
  local pid="$1" target="$1"
  [ "${2:-}" = group ] && target="-$1"
  cr__alive "$pid" || return 0
  kill -TERM -- "$target" 2>/dev/null || true
  cr__wait 15 cr__gone "$pid" || { kill -KILL -- "$target" 2>/dev/null || true; cr__wait 5 cr__gone "$pid" || true; }
}
cr__conf() { sed -n "s/^$1=//p" "$2" | tail -n 1; }       # cr__conf KEY FILE
cr__sql() { mariadb --no-defaults --socket="$CR_DIR/run/mysqld.sock" -uroot -N -B "$@"; }

# --- users and permissions ---------------------------------------------------
# Who runs what (README "Security"): the FastCGI workers and the cron jobs as CR_USER, nginx's
# workers as CR_WEB_USER (the master stays root to bind), mariadbd as mysql, redis-server as
# redis. The group CR_USER is the one that may use the databases: it alone gets into
# run/mysql and run/redis, where their sockets are, and may read concert.conf and the logs.
CR_USER=concert
CR_WEB_USER=www-data
# spawn-fcgi: workers as CR_USER; the socket only for nginx's workers (and root).
CR_FCGI_USERS=(-u "$CR_USER" -g "$CR_USER" -U "$CR_WEB_USER" -G "$CR_WEB_USER" -M 0660)

# cr_users: creates the system user and group CR_USER when missing (no shell, no home); checks
# that the users of nginx, MariaDB and Redis exist (their Debian packages make them).
cr_users() {
  local i u
  for ((i = 0; i < 50; i++)); do   # two stacks starting at once race for /etc/passwd's lock
    getent group "$CR_USER" >/dev/null || groupadd --system "$CR_USER" 2>/dev/null || true
    id -u "$CR_USER" >/dev/null 2>&1 || useradd --system --gid "$CR_USER" --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin "$CR_USER" 2>/dev/null || true
    getent group "$CR_USER" >/dev/null && id -u "$CR_USER" >/dev/null 2>&1 && break
    sleep 0.1
  done
  for u in "$CR_USER" "$CR_WEB_USER" mysql redis; do
    id -u "$u" >/dev/null 2>&1 || cr_die "no system user $u"
  done
}

# cr__log_perms DIR: DIR/log/ and the files in it (cr__perms, crc__app_perms).
cr__log_perms() {
  local d="$1" f
  # CR_USER writes its logs and alert.state here; o=x lets nginx's workers reopen their
  # own files after a rotation (nginx chowns them to its worker user); setgid: new files get
  # the group, so concert-alert can read nginx's logs.
  chown root:"$CR_USER" "$d/log" && chmod 2771 "$d/log"
  for f in "$d"/log/*; do
    [ -f "$f" ] || continue
    case "$(basename "$f")" in
      nginx-*|*.stderr.*|mariadb.*|redis.*) chgrp "$CR_USER" "$f" ;;
      *) chown "$CR_USER:$CR_USER" "$f" ;;     # the groups' and the jobs' own files
    esac
    chmod g-w,o-rwx "$f"
  done
}
# cr__metrics_perms DIR: DIR/run/metrics, the counters' shared files (src/lib/cr_metrics.h), one
# per group and job, made here so that they are the service user's even when a job first runs as
# root (cr__perms, crc__app_perms).
cr__metrics_perms() {
  local d="$1" f
  mkdir -p "$d/run/metrics"
  chown "$CR_USER:$CR_USER" "$d/run/metrics" && chmod 0750 "$d/run/metrics"
  for f in "${CR_GROUPS[@]}" expire; do
    f="$d/run/metrics/$f.metrics"
    [ -e "$f" ] || : >"$f"
    chown "$CR_USER:$CR_USER" "$f" && chmod 0640 "$f"
  done
}
# cr__perms: owners and modes of $CR_DIR, set on every start (so an install made when everything
# ran as root is migrated). Others (not root, not the service users) can list and read nothing:
# the stack dir, run/ and log/ are traversable (o=x) because several users need a path through
# them; every file in them is closed to others (0640/0660 or tighter).
cr__perms() {
  local d="$CR_DIR" f
  mkdir -p "$d"/{run/mysql,run/redis,log,mysql,redis,nginx}
  chown root:root "$d" "$d/run" && chmod 0711 "$d" "$d/run"
  chown mysql:"$CR_USER" "$d/run/mysql" && chmod 2750 "$d/run/mysql"
  chown redis:"$CR_USER" "$d/run/redis" && chmod 2750 "$d/run/redis"
  chown root:"$CR_WEB_USER" "$d/nginx" && chmod 0750 "$d/nginx"
  cr__log_perms "$d"
  [ "$(stat -c %U "$d/mysql")" = mysql ] || chown -R mysql:mysql "$d/mysql"
  [ "$(stat -c %U "$d/redis")" = redis ] || chown -R redis:redis "$d/redis"
  chmod 0700 "$d/mysql" "$d/redis"
  chmod -R go-rwx "$d/redis"     # the AOF holds every live token
  # Whatever an older install left open to others (sockets are guarded by their dirs).
  find "$d" ! -type l ! -type s -perm /o=rw -exec chmod o-rw {} +
  find "$d" -mindepth 1 -type d -perm /o=x ! -path "$d/run" ! -path "$d/log" -exec chmod o-x {} +
  cr__metrics_perms "$d"
  for f in "$d"/concert.conf "$d"/concert.conf.*; do
    [ -f "$f" ] && chown root:"$CR_USER" "$f" && chmod 0640 "$f"
  done
  return 0
}
cr__uid() { awk '/^Uid:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null; }   # real uid of PID
# cr__runs_as PIDFILE USER: the process of PIDFILE is alive and runs as USER.
cr__runs_as() { cr__running "$1" && [ "$(cr__uid "$(cr__pid "$1")")" = "$(id -u "$2")" ]; }

# --- stack -----------------------------------------------------------------
# cr_stack_start DIR BIN_DIR: idempotently start MariaDB, Redis, the FastCGI groups and nginx.
cr_stack_start() {
  mkdir -p "$1"
  local CR_DIR BIN
  CR_DIR="$(cd "$1" && pwd)"; BIN="$(cd "$2" && pwd)"
  umask 027
  cr_users
  cr__perms
  local conf="$CR_DIR/concert.conf"
  if [ ! -e "$conf" ]; then
    cat >"$conf.tmp" <<EOF
# Generated by scripts/lib.sh (cr_stack_start); edit freely, it is not overwritten.
HTTP_PORT=${HTTP_PORT:-8080}
DB_SOCKET=$CR_DIR/run/mysqld.sock
REDIS_SOCKET=$CR_DIR/run/redis.sock
LOG_FILE=
WORKERS_PER_GROUP=${WORKERS_PER_GROUP:-2}
EOF
    [ -n "${CR_EXTRA_CONF:-}" ] && printf '%s\n' "$CR_EXTRA_CONF" >>"$conf.tmp"
    mv "$conf.tmp" "$conf"
  fi
  # The timed queue mode's signing key (README "Queue modes"): random, once per install; an
  # existing concert.conf without one gets one (nothing else in it changes).
  if ! grep -q '^QUEUE_TOKEN_KEYS=' "$conf"; then
    printf 'QUEUE_TOKEN_KEYS=k1:%s\n' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" >>"$conf"
  fi
  # Where the workers keep their counters (README "Metrics"); an older concert.conf gets it.
  grep -q '^METRICS_DIR=' "$conf" || printf 'METRICS_DIR=%s\n' "$CR_DIR/run/metrics" >>"$conf"
  # The runtime database user's password: random, once per install (an older concert.conf
  # without one gets one; the fixed "concert" of early installs is replaced).
  local pw; pw="$(cr__conf DB_PASSWORD "$conf")"
  if [ -z "$pw" ] || [ "$pw" = concert ]; then
    printf 'DB_PASSWORD=%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >>"$conf"
  fi
  chown root:"$CR_USER" "$conf"; chmod 0640 "$conf"
  # The config file is the truth for the port once written.
  local http_port workers
  http_port="$(cr__conf HTTP_PORT "$conf")"; workers="$(cr__conf WORKERS_PER_GROUP "$conf")"

  cr__start_mariadb
  cr__migrate
  cr__stage_module
  cr__start_redis
  local g
  for g in "${CR_GROUPS[@]}"; do
    # An install from before the service users: its groups run as root; restart them.
    if cr__running "$CR_DIR/run/$g.pid" && ! cr__runs_as "$CR_DIR/run/$g.pid" "$CR_USER"; then
      cr_log "group $g runs as another user: restarting it"
      cr__stop_pid "$(cr__pid "$CR_DIR/run/$g.pid")" group
    fi
    cr__start_group "$g" "$workers"
  done
  cr__start_nginx "$http_port"
  cr_log "stack up in $CR_DIR (http://127.0.0.1:$http_port)"
}

# MariaDB runs as mysql, on its unix socket only (skip-networking). The socket lives in
# run/mysql (mysql:CR_USER 2750), reached through the link run/mysqld.sock. run/mysqld.pid is
# written by us (root) before exec, like the groups' pid files.
cr__start_mariadb() {
  local sock="$CR_DIR/run/mysql/mysqld.sock" pidf="$CR_DIR/run/mysqld.pid"
  if cr__running "$pidf" && ! cr__runs_as "$pidf" mysql; then
    cr_log "MariaDB runs as another user: restarting it"
    mariadb-admin --no-defaults --socket="$CR_DIR/run/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || true
    cr__wait 60 cr__gone "$(cr__pid "$pidf")" || cr__stop_pid "$(cr__pid "$pidf")"
  fi
  [ "$(readlink "$CR_DIR/run/mysqld.sock")" = mysql/mysqld.sock ] || ln -sfn mysql/mysqld.sock "$CR_DIR/run/mysqld.sock"
  if ! cr__running "$pidf"; then
    if [ -z "$(ls -A "$CR_DIR/mysql")" ]; then
      cr_log "initialising MariaDB data dir"
      mariadb-install-db --no-defaults --datadir="$CR_DIR/mysql" --user=mysql \
        --auth-root-authentication-method=socket --skip-test-db >>"$CR_DIR/log/mariadb.log" 2>&1 \
        || { tail -n 30 "$CR_DIR/log/mariadb.log" >&2; cr_die "mariadb-install-db failed"; }
    fi
    cr_log "starting MariaDB (socket only)"
    rm -f "$sock"
    # No --log-error: the server logs to stderr, which goes to log/mariadb.log (opened by us).
    # shellcheck disable=SC2016
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" \
      mariadbd --no-defaults --datadir="$CR_DIR/mysql" --socket="$sock" --skip-networking \
      --user=mysql --pid-file="$CR_DIR/run/mysql/mysqld.pid" \
      --skip-name-resolve --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=1 \
      --max-connections=500 --default-time-zone=+00:00 --character-set-server=utf8mb4 \
      </dev/null >>"$CR_DIR/log/mariadb.log" 2>&1 &
  fi
  cr__wait 60 mariadb-admin --no-defaults --socket="$sock" -uroot ping \
    || { tail -n 30 "$CR_DIR/log/mariadb.log" >&2; cr_die "MariaDB did not come up"; }
  local pw; pw="$(cr__conf DB_PASSWORD "$CR_DIR/concert.conf")"
  [ -n "$pw" ] || cr_die "no DB_PASSWORD in $CR_DIR/concert.conf"
  cr__db_user localhost "$pw" 127.0.0.1
}
# cr__db_user HOST PASSWORD OLD_HOST: the database, schema_migrations and the runtime user
# 'concert'@HOST (a stack: localhost over the socket; the cluster: its network). Rows only (no
# DDL, no FILE/PROCESS/SUPER), and EXECUTE of the stored procedures the migrations create
# (sql/006: SQL SECURITY INVOKER, so they run with these same rights); migrations run as root
# over the socket. Whatever an older install granted (ALL, 'concert'@OLD_HOST, anonymous users)
# is taken back first. Runs through cr__sql: CR_DIR names the server.
cr__db_user() {
  local host="$1" pw="$2" old="$3"
  cr__sql <<EOF
CREATE DATABASE IF NOT EXISTS concert CHARACTER SET utf8mb4;
DROP USER IF EXISTS 'concert'@'$old', ''@'localhost', ''@'$(hostname)';
CREATE USER IF NOT EXISTS 'concert'@'$host';
ALTER USER 'concert'@'$host' IDENTIFIED BY '$pw';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'concert'@'$host';
GRANT SELECT, INSERT, UPDATE, DELETE ON concert.* TO 'concert'@'$host';
GRANT EXECUTE ON concert.* TO 'concert'@'$host';
CREATE TABLE IF NOT EXISTS concert.schema_migrations (
  version VARCHAR(64) PRIMARY KEY, applied_at DATETIME NOT NULL);
EOF
}
# Applies sql/NNN_*.sql not yet in schema_migrations, then sql/demo.sql into an empty concerts table.
cr__migrate() {
  local f v
  for f in "$CR_ROOT"/sql/[0-9][0-9][0-9]_*.sql; do
    [ -e "$f" ] || continue
    v="$(basename "$f" .sql)"
    [ "$(cr__sql concert -e "SELECT COUNT(*) FROM schema_migrations WHERE version='$v'")" = 0 ] || continue
    cr_log "migration $v"
    cr__sql concert <"$f" || cr_die "migration $v failed"
    cr__sql concert -e "INSERT INTO schema_migrations VALUES ('$v', UTC_TIMESTAMP())"
  done
  [ -e "$CR_ROOT/sql/demo.sql" ] || return 0
  [ "$(cr__sql -e "SELECT COUNT(*) FROM information_schema.tables
        WHERE table_schema='concert' AND table_name='concerts'")" = 1 ] || return 0
  if [ "$(cr__sql concert -e 'SELECT COUNT(*) FROM concerts')" = 0 ]; then
    cr_log "loading demo data"
    cr__sql concert <"$CR_ROOT/sql/demo.sql" || cr_die "sql/demo.sql failed"
  fi
}

# Redis runs as redis, on its unix socket only (port 0), in run/redis (redis:CR_USER 2750, so
# the socket gets group CR_USER and unixsocketperm 770 lets that group in), reached through the
# link run/redis.sock. No password: it would live in concert.conf, readable by exactly the group
# the socket already admits, so it would keep nobody out that the file modes don't.
# Started in the foreground (no daemonize) under setsid, like the groups: the pid file is ours.
cr__start_redis() {
  local sock="$CR_DIR/run/redis/redis.sock" pidf="$CR_DIR/run/redis.pid"
  if cr__running "$pidf" && ! cr__runs_as "$pidf" redis; then
    cr_log "Redis runs as another user: restarting it"
    redis-cli -s "$CR_DIR/run/redis.sock" shutdown >/dev/null 2>&1 || true
    cr__wait 15 cr__gone "$(cr__pid "$pidf")" || cr__stop_pid "$(cr__pid "$pidf")"
  fi
  [ "$(readlink "$CR_DIR/run/redis.sock")" = redis/redis.sock ] || ln -sfn redis/redis.sock "$CR_DIR/run/redis.sock"
  if ! cr__running "$pidf"; then
    cat >"$CR_DIR/redis.conf.tmp" <<EOF
port 0
unixsocket $sock
unixsocketperm 770
dir $CR_DIR/redis
appendonly yes
appendfsync everysec
daemonize no
logfile ""
save ""
EOF
    # The timed join as a native command (src/redis/crq.c); without it the workers use the script.
    [ ! -f "$CR_DIR/lib/crq.so" ] || echo "loadmodule $CR_DIR/lib/crq.so" >>"$CR_DIR/redis.conf.tmp"
    chown root:redis "$CR_DIR/redis.conf.tmp" && chmod 0640 "$CR_DIR/redis.conf.tmp"
    mv -f "$CR_DIR/redis.conf.tmp" "$CR_DIR/redis.conf"
    cr_log "starting Redis (socket only)"
    rm -f "$sock"
    # umask 077: the AOF files (every live token) for redis alone.
    # shellcheck disable=SC2016
    (umask 077; setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" \
      setpriv --reuid=redis --regid=redis --init-groups redis-server "$CR_DIR/redis.conf" &) \
      </dev/null >>"$CR_DIR/log/redis.log" 2>&1
  fi
  cr__wait 30 cr__redis_pong "$CR_DIR/run/redis.sock" \
    || { tail -n 20 "$CR_DIR/log/redis.log" >&2; cr_die "Redis did not come up"; }
}
# cr__stage_module: copies the Redis module from BIN to lib/crq.so (root:redis, 0750: Redis
# loads only an executable file), so that Redis can run it and neither change it nor let anyone
# else in. A running Redis keeps the module it loaded until it is restarted.
cr__stage_module() {
  [ ! -f "$BIN/crq.so" ] || cr__stage "$BIN/crq.so" "$CR_DIR/lib" redis
}
# cr_redis_start DIR: starts the stack's Redis again after it was stopped (tests).
cr_redis_start() {
  local CR_DIR; CR_DIR="$(cd "$1" && pwd)"
  umask 027
  cr__start_redis
}
cr__redis_pong() { [ "$(redis-cli -s "$1" ping 2>/dev/null)" = PONG ]; }

# One group = spawn-fcgi (binds the socket) exec'ing multiwatch, which keeps N workers alive.
# The app logs to LOG_FILE; stray stderr output (multiwatch, sanitizers) goes to <group>.stderr.log.
# The socket is run/<group>.<slot>.sock (slot a or b); run/<group>.sock is a symlink to it. nginx
# connects through the link on every request, so cr_groups_reload can start the next generation
# in the other slot and switch over with one atomic rename.
# With CR_FCGI_ADDR set (an app host of scripts/cluster), the group listens on that address and
# its cr__group_port instead, and has no socket slots (no cr_groups_reload there).
cr__start_group() {
  cr__running "$CR_DIR/run/$1.pid" && return 0
  cr__spawn_group "$1" "$2" a "$CR_DIR/run/$1.pid"
  if [ -n "${CR_FCGI_ADDR:-}" ]; then
    cr__wait 10 cr__tcp_listening "$CR_FCGI_ADDR" "$(cr__group_port "$1")" \
      || { tail -n 20 "$CR_DIR/log/$1.stderr.log" >&2; cr_die "group $1 did not come up"; }
    return 0
  fi
  cr__wait 10 test -S "$CR_DIR/run/$1.a.sock" \
    || { tail -n 20 "$CR_DIR/log/$1.stderr.log" >&2; cr_die "group $1 did not come up"; }
  cr__link_group "$1" a
}
cr__tcp_listening() { ss -ltnH "sport = :$2" 2>/dev/null | awk -v a="$1:$2" '$4 == a { f = 1 } END { exit !f }'; }

# cr__stage FILE DIR GROUP: copies FILE into DIR, both root:GROUP 0750, unless the same is
# there already. A changed one is replaced by a rename, never rewritten in place, so what runs
# it keeps its own.
cr__stage() {
  local d="$2" f; f="$(basename "$1")"
  mkdir -p "$d"
  chown root:"$3" "$d"
  chmod 0750 "$d"
  cmp -s "$1" "$d/$f" && return 0
  cp "$1" "$d/.$f.new"
  chown root:"$3" "$d/.$f.new"
  chmod 0750 "$d/.$f.new"
  mv -f "$d/.$f.new" "$d/$f"
}
# cr__stage_bin NAME...: copies the executables the service user runs from BIN into the stack's
# bin/ (root:concert 0750): the build tree may sit where that user cannot look (a checkout
# under a 0700 folder).
cr__stage_bin() {
  local f
  for f in "$@"; do
    [ ! -e "$BIN/$f" ] || cr__stage "$BIN/$f" "$CR_DIR/bin" "$CR_USER"
  done
}

# cr__spawn_group GROUP WORKERS SLOT PIDFILE: starts spawn-fcgi + multiwatch on run/GROUP.SLOT.sock.
cr__spawn_group() {
  local g="$1" n="$2" sock="$CR_DIR/run/$1.$3.sock" pidf="$4"
  [ -x "$BIN/$g-fcgi" ] || cr_die "missing executable $BIN/$g-fcgi"
  cr__stage_bin "$g-fcgi"
  # TCP (CR_FCGI_ADDR): no socket file to own; libfcgi takes connections from CR_FCGI_FROM only.
  local listen=(-s "$sock" "${CR_FCGI_USERS[@]}") where; where="$(basename "$sock")"
  if [ -n "${CR_FCGI_ADDR:-}" ]; then
    where="$CR_FCGI_ADDR:$(cr__group_port "$g")"
    listen=(-a "$CR_FCGI_ADDR" -p "${where##*:}" -u "$CR_USER" -g "$CR_USER")
  fi
  cr_log "starting group $g ($n workers on $where)"
  rm -f "$sock" "$pidf"
  # setsid: own session and process group (pgid = pid), so stop can signal the whole group.
  # No "-s": Debian's multiwatch 1.0.0 sends the wrong signal for a name given there ("-s TERM"
  # sends SIGQUIT, which kills a worker mid-request); its default, USR1, arrives as USR1, and a
  # worker takes it like TERM: it finishes the request it is serving and exits.
  # shellcheck disable=SC2016
  local from=()
  [ -z "${CR_FCGI_FROM:-}" ] || from=(FCGI_WEB_SERVER_ADDRS="$CR_FCGI_FROM")
  CONCERT_CONFIG="$CR_DIR/concert.conf" LOG_FILE="$CR_DIR/log/$g.log" CR_GROUP="$g" \
    env "${from[@]}" setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidf" \
    spawn-fcgi "${listen[@]}" -n -- /usr/bin/multiwatch -f "$n" -- "$CR_DIR/bin/$g-fcgi" \
    </dev/null >>"$CR_DIR/log/$g.stderr.log" 2>&1 &
}
# cr__kids PIDFILE: sets CR_KIDS to the child pids of the process in PIDFILE (its workers).
cr__kids() {
  local pid=""
  CR_KIDS=""
  read -r pid 2>/dev/null <"$1" || [ -n "$pid" ] || return 1
  if [ -r "/proc/$pid/task/$pid/children" ]; then
    read -r CR_KIDS 2>/dev/null <"/proc/$pid/task/$pid/children" || true
  else
    CR_KIDS="$(pgrep -P "$pid" | tr '\n' ' ')"
  fi
}
# cr__groups_steady N PIDFILE...: each supervisor runs N workers, and the same ones 0.3 s later.
cr__groups_steady() {
  local n="$1" f i=0 w snap=()
  shift
  for f in "$@"; do
    cr__kids "$f" || return 1
    # shellcheck disable=SC2206
    w=($CR_KIDS)
    [ "${#w[@]}" -eq "$n" ] || return 1
    snap+=("$CR_KIDS")
  done
  sleep 0.3
  for f in "$@"; do
    cr__kids "$f" && [ "$CR_KIDS" = "${snap[$i]}" ] || return 1
    i=$((i + 1))
  done
}
cr__link_group() {                                    # GROUP SLOT: run/GROUP.sock -> GROUP.SLOT.sock
  ln -sfn "$1.$2.sock" "$CR_DIR/run/.$1.sock.new" && mv -fT "$CR_DIR/run/.$1.sock.new" "$CR_DIR/run/$1.sock"
}

# The limits nginx enforces (README "Limits") and their defaults, the same as in
# src/lib/cr_config.c (the workers read the same file and refuse unknown keys). Rates are
# requests a second per client address, bursts how many more may come at once.
CR_NGINX_LIMITS=(
  RATE_LIMIT_TOKENS=100 RATE_BURST_TOKENS=100 RATE_LIMIT_USERS=100 RATE_BURST_USERS=100
  RATE_LIMIT_CHARGES=100 RATE_BURST_CHARGES=100 RATE_LIMIT_HOLDS=100 RATE_BURST_HOLDS=100
  RATE_LIMIT_PAYMENTS=100 RATE_BURST_PAYMENTS=100 RATE_LIMIT_API=1000 RATE_BURST_API=500
  RATE_LIMIT_HEALTH=100 RATE_BURST_HEALTH=100 CONN_LIMIT=128
  CLIENT_TIMEOUT_SECONDS=5 KEEPALIVE_TIMEOUT_SECONDS=15
)
# cr__nginx_limits CONF: sets CR_SED to sed arguments filling in each limit: the environment's
# value, else CONF's, else the default (the workers' order too).
cr__nginx_limits() {
  local kv k v
  CR_SED=()
  for kv in "${CR_NGINX_LIMITS[@]}"; do
    k="${kv%%=*}"
    v="${!k:-}"; [ -n "$v" ] || v="$(cr__conf "$k" "$1")"; [ -n "$v" ] || v="${kv#*=}"
    [[ "$v" =~ ^[0-9]+$ ]] && { [ "$v" -gt 0 ] || [[ "$k" == RATE_BURST_* ]]; } \
      || cr_die "$k must be a whole number (above 0 except for bursts), not '$v'"
    CR_SED+=(-e "s|@$k@|$v|g")
  done
}

# nginx: the master runs as root (to bind and open the logs), its workers as CR_WEB_USER (the
# template's "user" line); the master makes the *_temp dirs theirs.
# cr__sync_www ROOT TOOLS: the static files nginx serves (the pages of web/, the API docs,
# Swagger UI and uPlot from tools/node_modules), copied
# into the stack's www/ for its workers' user: the source tree may sit where that user cannot
# look (a checkout under a 0700 folder). Replaced only when something differs.
cr__sync_www() {
  local www="$CR_DIR/www" new="$CR_DIR/.www.new"
  rm -rf "$new"
  mkdir -p "$new/docs"
  cp "$1/docs/swagger/index.html" "$1/docs/swagger/swagger-initializer.js" "$1/docs/openapi.yaml" \
    "$new/docs/"
  cp -r "$1/web" "$new/web"
  if [ -d "$2/node_modules/swagger-ui-dist" ]; then
    cp -r "$2/node_modules/swagger-ui-dist" "$new/swagger-ui-dist"
  fi
  if [ -d "$2/node_modules/uplot/dist" ]; then
    cp -r "$2/node_modules/uplot/dist" "$new/uplot"
  fi
  chown -R root:"$CR_WEB_USER" "$new"
  chmod -R u=rwX,g=rX,o= "$new"
  if [ -d "$www" ] && diff -r -q "$www" "$new" >/dev/null 2>&1; then
    rm -rf "$new"
  else
    rm -rf "$www" && mv "$new" "$www"
  fi
}

# cr__nginx_upstreams: sets CR_UPSTREAMS to nginx's upstream blocks (lines joined by "\n" for
# sed), one cr_<group> per group: the stack's own unix socket, or, when CR_APP_HOSTS lists
# addresses (scripts/cluster), the group's TCP port (cr__group_port) on each of them. One
# refused connection takes a host out for fail_timeout (a zone: both nginx workers learn it at
# once); a killed host refuses at once, so a GET waits no longer than a connect() for the other.
cr__nginx_upstreams() {
  local g h
  CR_UPSTREAMS=""
  for g in "${CR_GROUPS[@]}"; do
    CR_UPSTREAMS+="    upstream cr_$g {\n"
    if [ -z "${CR_APP_HOSTS:-}" ]; then
      CR_UPSTREAMS+="        server unix:$CR_DIR/run/$g.sock;\n"
    else
      CR_UPSTREAMS+="        zone cr_$g 64k;\n"
      for h in $CR_APP_HOSTS; do
        CR_UPSTREAMS+="        server $h:$(cr__group_port "$g") max_fails=1 fail_timeout=2s;\n"
      done
    fi
    CR_UPSTREAMS+="    }\n"
  done
  # The app hosts take FastCGI from this one address alone (FCGI_WEB_SERVER_ADDRS there).
  [ -z "${CR_NGINX_BIND:-}" ] || CR_UPSTREAMS+="    fastcgi_bind $CR_NGINX_BIND;\n"
}
# cr__group_port GROUP: a group's TCP port on an app host: queue 9001, concert 9002, ...
cr__group_port() {
  local i
  for i in "${!CR_GROUPS[@]}"; do
    [ "${CR_GROUPS[$i]}" != "$1" ] || { echo $((9001 + i)); return 0; }
  done
  return 1
}

cr__start_nginx() {
  local ndir="$CR_DIR/nginx" conf="$CR_DIR/nginx/nginx.conf"
  mkdir -p "$ndir"/{client_body,fastcgi,proxy,scgi,uwsgi}_temp
  local root tools CR_SED
  root="$(cd "$CR_ROOT" && pwd)"; tools="$(cd "${CR_TOOLS_DIR:-$root/tools}" 2>/dev/null && pwd || echo "$root/tools")"
  cr__sync_www "$root" "$tools"
  cr__nginx_limits "$CR_DIR/concert.conf"
  # The workers read REQUEST_TIMEOUT_SECONDS the same way (environment over concert.conf).
  local rt="${REQUEST_TIMEOUT_SECONDS:-$(cr__conf REQUEST_TIMEOUT_SECONDS "$CR_DIR/concert.conf" 2>/dev/null || true)}"
  rt="${rt:-10}"
  case "$rt" in '' | *[!0-9]*) cr_die "REQUEST_TIMEOUT_SECONDS must be a number of seconds: $rt" ;; esac
  # OPS_ALLOW: who may read /metrics and /ops/ (addresses or CIDR blocks, space-separated).
  local allow="${OPS_ALLOW:-$(cr__conf OPS_ALLOW "$CR_DIR/concert.conf" 2>/dev/null || true)}" a geo=""
  for a in ${allow:-127.0.0.0/8 ::1}; do
    [[ "$a" =~ ^[0-9A-Fa-f.:]+(/[0-9]+)?$ ]] || cr_die "OPS_ALLOW: not an address or CIDR block: $a"
    geo+="$a 0; "
  done
  local addr="${CR_HTTP_ADDR:-127.0.0.1}" CR_UPSTREAMS
  cr__nginx_upstreams
  sed -e "s|@DIR@|$CR_DIR|g" -e "s|@HTTP_PORT@|$1|g" -e "s|@REQUEST_TIMEOUT@|$rt|g" "${CR_SED[@]}" \
      -e "s|@OPS_ALLOW_GEO@|$geo|g" -e "s|@HTTP_ADDR@|$addr|g" -e "s|@UPSTREAMS@|$CR_UPSTREAMS|" \
      -e "s|@ROOT@|$root|g" -e "s|@TOOLS@|$tools|g" \
      "$CR_ROOT/nginx/nginx.conf.in" >"$conf.new"
  if cr__running "$CR_DIR/run/nginx.pid" && cmp -s "$conf.new" "$conf"; then
    rm -f "$conf.new"
  else
    mv "$conf.new" "$conf"
    nginx -t -q -e "$CR_DIR/log/nginx-error.log" -c "$conf" || cr_die "nginx -t failed for $conf"
    if cr__running "$CR_DIR/run/nginx.pid"; then
      cr_log "reloading nginx"
      # Old workers keep accepting until the new ones are up: wait until they are gone, so
      # that every request after this returns meets the new configuration.
      local CR_KIDS="" w
      cr__kids "$CR_DIR/run/nginx.pid" || true
      nginx -e "$CR_DIR/log/nginx-error.log" -c "$conf" -s reload
      for w in $CR_KIDS; do cr__wait 30 cr__gone "$w" || cr_log "old nginx worker $w still running"; done
    else
      cr_log "starting nginx on port $1"
      TZ=UTC nginx -e "$CR_DIR/log/nginx-error.log" -c "$conf" </dev/null >>"$CR_DIR/log/nginx-error.log" 2>&1
    fi
  fi
  cr__wait 30 curl -s -o /dev/null --max-time 2 "http://$addr:$1/healthz" \
    || { tail -n 20 "$CR_DIR/log/nginx-error.log" >&2; cr_die "nginx does not answer on port $1"; }
}

# Stops the five groups of $CR_DIR. TERM goes only to the multiwatch supervisors (they pass it
# on as USR1 and stop respawning; signalling the whole process group races with respawn), to all
# at once; each worker finishes its current request; a group still there after 15 s is KILLed.
cr__stop_groups() {
  local g f pid pids=()
  for g in "${CR_GROUPS[@]}"; do
    for f in "$g" "$g.old" "$g.next"; do   # .old/.next: generations of an interrupted reload
      pid="$(cr__pid "$CR_DIR/run/$f.pid" || true)"
      if cr__alive "$pid"; then
        cr_log "stopping group $f"
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
      fi
    done
  done
  for pid in "${pids[@]}"; do
    cr__wait 15 cr__gone "$pid" || cr__stop_pid "$pid" group
  done
  for g in "${CR_GROUPS[@]}"; do
    rm -f "$CR_DIR/run/$g".{,a.,b.}sock "$CR_DIR/run/$g".{,old.,next.}pid
  done
}

# cr_groups_restart DIR BIN_DIR: restarts the five FastCGI groups, e.g. after editing concert.conf.
cr_groups_restart() {
  local CR_DIR BIN g workers
  CR_DIR="$(cd "$1" && pwd)"; BIN="$(cd "$2" && pwd)"
  workers="$(cr__conf WORKERS_PER_GROUP "$CR_DIR/concert.conf")"
  umask 027
  cr__stop_groups
  for g in "${CR_GROUPS[@]}"; do cr__start_group "$g" "${workers:-2}"; done
}

# cr_groups_reload DIR BIN_DIR: replaces the five groups by new ones (new build, edited
# concert.conf) without failing a request. Each new generation starts in the other socket slot
# and must keep its workers up; then run/<group>.sock is switched to it (atomic rename), the old
# socket's accept queue drains, and the old multiwatch gets TERM: each old worker finishes the
# request it is serving and exits. If any new generation fails to come up, every new one is
# stopped, the old ones keep serving, and this returns 1.
cr_groups_reload() {
  local CR_DIR BIN g workers cur slot
  CR_DIR="$(cd "$1" && pwd)"; BIN="$(cd "$2" && pwd)"
  workers="$(cr__conf WORKERS_PER_GROUP "$CR_DIR/concert.conf")"; workers="${workers:-2}"
  umask 027
  local -A next=() old=()
  for g in "${CR_GROUPS[@]}"; do
    if ! cr__running "$CR_DIR/run/$g.pid"; then cr__start_group "$g" "$workers"; continue; fi
    cur="$(readlink "$CR_DIR/run/$g.sock" || true)"
    slot=a; [ "$cur" = "$g.a.sock" ] && slot=b
    cr__spawn_group "$g" "$workers" "$slot" "$CR_DIR/run/$g.next.pid"
    next[$g]="$slot"
    old[$g]="${cur:-$g.sock}"   # a plain socket at run/<group>.sock: started before slots existed
  done
  [ ${#next[@]} -gt 0 ] || return 0
  local pidfs=() failed=()
  for g in "${!next[@]}"; do pidfs+=("$CR_DIR/run/$g.next.pid"); done
  if ! cr__wait_steady "$workers" "${pidfs[@]}"; then
    for g in "${!next[@]}"; do
      cr__groups_steady "$workers" "$CR_DIR/run/$g.next.pid" || failed+=("$g")
    done
    for g in "${failed[@]}"; do tail -n 20 "$CR_DIR/log/$g.stderr.log" >&2; done
    cr_log "new generation of ${failed[*]:-some group} did not come up; the running groups stay"
    for g in "${!next[@]}"; do
      cr__stop_pid "$(cr__pid "$CR_DIR/run/$g.next.pid" || true)" group
      rm -f "$CR_DIR/run/$g.${next[$g]}.sock" "$CR_DIR/run/$g.next.pid"
    done
    return 1
  fi
  for g in "${!next[@]}"; do
    mv -f "$CR_DIR/run/$g.pid" "$CR_DIR/run/$g.old.pid"
    cr__link_group "$g" "${next[$g]}"
    mv -f "$CR_DIR/run/$g.next.pid" "$CR_DIR/run/$g.pid"
    cr_log "group $g: switched to ${next[$g]}; draining ${old[$g]}"
  done
  # Connections nginx made to an old socket before the switch wait in its accept queue (ss's
  # Recv-Q of a listening socket): the old workers take them before they are told to stop.
  sleep 0.1
  for g in "${!old[@]}"; do cr__wait 10 cr__queue_empty "$CR_DIR/run/${old[$g]}" || true; done
  for g in "${!old[@]}"; do kill -TERM "$(cr__pid "$CR_DIR/run/$g.old.pid")" 2>/dev/null || true; done
  for g in "${!old[@]}"; do
    cr__drain_stop "$(cr__pid "$CR_DIR/run/$g.old.pid" || true)"
    rm -f "$CR_DIR/run/$g.old.pid"
    [ "${old[$g]}" = "$g.sock" ] || rm -f "$CR_DIR/run/${old[$g]}"
  done
  cr_log "groups reloaded (${#next[@]})"
}
# cr__wait_steady N PIDFILE...: cr__groups_steady within 10 s; fails at once when a supervisor
# is gone (multiwatch gives up after its workers died 3 times in a row).
cr__wait_steady() {
  local n=100 f pid
  until cr__groups_steady "$@"; do
    for f in "${@:2}"; do
      pid="$(cr__pid "$f" || true)"
      if [ -n "$pid" ] && ! cr__alive "$pid"; then return 1; fi
    done
    n=$((n - 1)); [ "$n" -gt 0 ] || return 1
    sleep 0.1
  done
}
cr__queue_empty() {                                   # SOCKET_PATH: nothing waits in its accept queue
  local q; q="$(ss -xlH 2>/dev/null | awk -v p="$1" '$5 == p { print $3; exit }')"
  [ "${q:-0}" = 0 ]
}
# cr__drain_stop PID: waits up to 30 s for a TERMed supervisor to end. TERM is repeated every 2 s:
# a worker that got the first one just before blocking in accept() would wait there for good
# (libfcgi checks its shutdown flag before accept()); a repeat interrupts the accept().
cr__drain_stop() {
  local i
  for ((i = 1; i <= 15; i++)); do
    cr__wait 2 cr__gone "$1" && return 0
    kill -TERM "$1" 2>/dev/null || true
  done
  cr__stop_pid "$1" group
}

# cr_mariadb_start DIR: starts the stack's MariaDB again after it was stopped (tests).
cr_mariadb_start() {
  local CR_DIR; CR_DIR="$(cd "$1" && pwd)"
  umask 027
  cr__start_mariadb
}

# cr_stack_stop DIR: stops whatever of the stack runs; never fails.
cr_stack_stop() {
  [ -d "$1" ] || return 0
  local CR_DIR pid
  CR_DIR="$(cd "$1" && pwd)"
  pid="$(cr__pid "$CR_DIR/run/nginx.pid" || true)"
  if cr__alive "$pid"; then
    cr_log "stopping nginx"
    nginx -e "$CR_DIR/log/nginx-error.log" -c "$CR_DIR/nginx/nginx.conf" -s quit 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    cr__wait 15 cr__gone "$pid" || cr__stop_pid "$pid"
  fi
  cr__stop_groups
  pid="$(cr__pid "$CR_DIR/run/redis.pid" || true)"
  if cr__alive "$pid"; then
    cr_log "stopping Redis"
    redis-cli -s "$CR_DIR/run/redis.sock" shutdown nosave >/dev/null 2>&1 || true
    cr__wait 15 cr__gone "$pid" || cr__stop_pid "$pid"
  fi
  pid="$(cr__pid "$CR_DIR/run/mysqld.pid" || true)"
  if cr__alive "$pid"; then
    cr_log "stopping MariaDB"
    mariadb-admin --no-defaults --socket="$CR_DIR/run/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || true
    cr__wait 60 cr__gone "$pid" || cr__stop_pid "$pid"
  fi
  rm -f "$CR_DIR"/run/*.sock "$CR_DIR"/run/*.pid
  return 0
}

# cr_stack_status DIR: one line per component; returns 0 only when everything runs.
cr_stack_status() {
  local dir="$1" name pidf pid rc=0
  for name in mysqld redis "${CR_GROUPS[@]}" nginx; do
    pidf="$dir/run/$name.pid"
    pid="$(cr__pid "$pidf" 2>/dev/null || true)"
    if cr__alive "$pid"; then
      printf '%-12s running  pid %s\n' "$name" "$pid"
    else
      printf '%-12s stopped\n' "$name"; rc=1
    fi
  done
  return "$rc"
}
# The cluster (scripts/cluster-db.sh, issue 16): Galera's provider for MariaDB, and rsync for its
# state transfer to a (re)joining node. Neither starts a service (rsync's daemon needs an
# /etc/rsyncd.conf).
CR_PACKAGES+=(galera-4 rsync)

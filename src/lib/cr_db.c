/* cr_db.c: the process's MariaDB connection and its prepared-statement cache.
 *
 * Sessions run at READ COMMITTED in UTC. Every race in this service is decided by a
 * conditional UPDATE (a version or state check) whose affected-row count says who won, so
 * REPEATABLE READ's snapshot buys nothing, while its gap locks would add deadlocks.
 *
 * The time budget (README, "Time budget"): the server gives up on a lock wait
 * (DB_LOCK_WAIT_SECONDS) and on a statement (DB_STATEMENT_SECONDS) before our own read timeout
 * (DB_READ_TIMEOUT_SECONDS) fires, and no round trip starts that could end after the request's
 * deadline, which lies CR_DB_ANSWER_MARGIN_MS before nginx's REQUEST_TIMEOUT_SECONDS. So a
 * transaction has committed or been rolled back by the server before anyone tells the client
 * to retry, and a 503 from here always means that nothing was written. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "cr_config.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_log.h"
#include "cr_time.h"

#define CR_DB_MAX_STMTS 128
#define CR_DB_MAX_PARAMS 32
#define CR_DB_MAX_COLS 32
#define CR_DB_TXN_TRIES 6
/* Between the request's last database round trip and nginx's timeout: room for the Redis
 * calls a handler makes after its commit (REDIS_TIMEOUT_MS each) and for the answer. */
#define CR_DB_ANSWER_MARGIN_MS 2000

struct cr_db_stmt {
    const char *sql; /* the literal that keys the cache */
    MYSQL_STMT *stmt;
};

static MYSQL *cr_db_conn;
static struct cr_db_stmt cr_db_stmts[CR_DB_MAX_STMTS];
static int cr_db_nstmts;
static int cr_db_txn_open;
static long long cr_db_deadline; /* epoch ms by which every round trip must end; 0: none */
static long long cr_db_sent_ms;  /* when the round trip in flight started */
static int cr_db_in_flight_lost; /* the last error lost the connection with a statement sent */
static int cr_db_timed_out;      /* ... and it was our own read timeout that gave up */

int cr_db_budget_check(char *errbuf, int errlen)
{
    long long l = cr_config_int("DB_LOCK_WAIT_SECONDS"), s = cr_config_int("DB_STATEMENT_SECONDS");
    long long r = cr_config_int("DB_READ_TIMEOUT_SECONDS");
    long long t = cr_config_int("REQUEST_TIMEOUT_SECONDS");
    /* At least one second in which a round trip may start: t - margin - r >= 1. */
    if (l >= 1 && s > l && r > s && t <= 3600 &&
        t * 1000 - CR_DB_ANSWER_MARGIN_MS - r * 1000 >= 1000)
        return CR_OK;
    snprintf(errbuf, (size_t)errlen,
             "the time budget must nest: 1 <= DB_LOCK_WAIT_SECONDS (%lld) < DB_STATEMENT_SECONDS "
             "(%lld) < DB_READ_TIMEOUT_SECONDS (%lld) <= REQUEST_TIMEOUT_SECONDS (%lld) - %d - 1",
             l, s, r, t, CR_DB_ANSWER_MARGIN_MS / 1000);
    return CR_E_INVALID;
}

void cr_db_budget_start(long long start_ms)
{
    cr_db_deadline = start_ms + cr_config_int("REQUEST_TIMEOUT_SECONDS") * 1000 -
                     CR_DB_ANSWER_MARGIN_MS;
}

void cr_db_budget_end(void)
{
    cr_db_deadline = 0;
}

/* CR_OK when a round trip that takes as long as our read timeout allows still ends before the
 * deadline; otherwise CR_E_UNAVAILABLE, and what was not started is in the log. */
static int cr_db_budget_left(const char *what)
{
    if (cr_db_deadline == 0)
        return CR_OK;
    long long left = cr_db_deadline - (long long)cr_time_now_ms();
    long long need = cr_config_int("DB_READ_TIMEOUT_SECONDS") * 1000;
    if (left >= need)
        return CR_OK;
    cr_log_warn("time budget spent: %lld ms left before the deadline, a round trip may take "
                "%lld ms; not started: %.60s",
                left, need, what);
    return CR_E_UNAVAILABLE;
}

/* Marks the start of a round trip, for cr_db_error() to tell our read timeout from the rest. */
static void cr_db_sent(void)
{
    cr_db_sent_ms = (long long)cr_time_now_ms();
}

/* 1 for a statement that changes nothing (a SELECT); anything else counts as a write. */
static int cr_db_is_read(const char *sql)
{
    return strncmp(sql, "SELECT", 6) == 0;
}

void cr_db_close(void)
{
    for (int i = 0; i < cr_db_nstmts; i++)
        mysql_stmt_close(cr_db_stmts[i].stmt);
    cr_db_nstmts = 0;
    if (cr_db_conn != NULL)
        mysql_close(cr_db_conn);
    cr_db_conn = NULL;
}

/* 1 when the idle connection is dead: a server that restarted (or killed us) while we were idle
 * has closed its end, so the socket reads EOF or holds an unsolicited error packet. Without
 * this check the next statement would be sent on it and fail; a write (not retried, since its
 * outcome could be unknown) would then turn into a 503 for the first request after a restart. */
static int cr_db_stale(void)
{
    char c;
    int fd = (int)mysql_get_socket(cr_db_conn);
    if (fd < 0)
        return 1;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* cr_db_hosts_parse's message for item n. */
static int cr_db_hosts_bad(char *errbuf, int errlen, int n, const char *what)
{
    snprintf(errbuf, (size_t)errlen, "DB_HOSTS: item %d: %s", n, what);
    return CR_E_INVALID;
}

int cr_db_hosts_parse(const char *list, struct cr_db_host *out, int max, char *errbuf,
                      int errlen)
{
    int n = 0;
    const char *p = list;
    if (list == NULL || p[strspn(p, " ")] == '\0')
        return 0;
    for (;;) {
        const char *item = p, *end = strchr(p, ','), *last, *h, *hend, *colon = NULL;
        if (end == NULL)
            end = p + strlen(p);
        while (item < end && *item == ' ')
            item++;
        for (last = end; last > item && last[-1] == ' ';)
            last--;
        if (n == max) {
            snprintf(errbuf, (size_t)errlen, "DB_HOSTS: more than %d hosts", max);
            return CR_E_INVALID;
        }
        /* item..last is "host:port", or "[v6 address]:port" */
        if (item < last && *item == '[') {
            h = item + 1;
            hend = memchr(h, ']', (size_t)(last - h));
            if (hend != NULL && hend + 1 < last && hend[1] == ':')
                colon = hend + 1;
        } else {
            h = item;
            for (const char *c = item; c < last; c++)
                if (*c == ':')
                    colon = c;
            hend = colon;
        }
        if (colon == NULL || hend == h)
            return cr_db_hosts_bad(errbuf, errlen, n + 1, "not host:port");
        if (hend - h > CR_DB_HOST_MAX)
            return cr_db_hosts_bad(errbuf, errlen, n + 1, "host name too long");
        for (const char *c = h; c < hend; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_' ||
                  (*c == ':' && h != item)))
                return cr_db_hosts_bad(errbuf, errlen, n + 1, "bad host");
        unsigned long port = 0;
        const char *d = colon + 1;
        if (d == last || last - d > 5 || strspn(d, "0123456789") < (size_t)(last - d))
            return cr_db_hosts_bad(errbuf, errlen, n + 1, "bad port");
        for (; d < last; d++)
            port = port * 10 + (unsigned long)(*d - '0');
        if (port < 1 || port > 65535)
            return cr_db_hosts_bad(errbuf, errlen, n + 1, "port out of range");
        memcpy(out[n].host, h, (size_t)(hend - h));
        out[n].host[hend - h] = '\0';
        out[n].port = (unsigned int)port;
        n++;
        if (*end == '\0')
            return n;
        p = end + 1;
    }
}

int cr_db_hosts_check(char *errbuf, int errlen)
{
    struct cr_db_host hosts[CR_DB_MAX_HOSTS];
    int n = cr_db_hosts_parse(cr_config_get("DB_HOSTS"), hosts, CR_DB_MAX_HOSTS, errbuf, errlen);
    return n < 0 ? CR_E_INVALID : CR_OK;
}

/* A new session with our options, to host:port or (when sock is not NULL) the unix socket;
 * NULL when it fails (logged). */
static MYSQL *cr_db_open(const char *host, unsigned int port, const char *sock)
{
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return NULL;
    unsigned int connect_timeout = 2;
    unsigned int io_timeout = (unsigned int)cr_config_int("DB_READ_TIMEOUT_SECONDS");
    my_bool off = 0;
    char init[320];
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off); /* we reconnect ourselves, cache and all */
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* tx_isolation: MariaDB 10.11 has no transaction_isolation (it came in 11.1).
     * innodb_lock_wait_timeout bounds row-lock waits, lock_wait_timeout table (metadata) lock
     * waits, and max_statement_time every statement (lock waits included): the server ends
     * each of them, and says so, before our read timeout would leave the outcome unknown. */
    snprintf(init, sizeof(init),
             "SET SESSION time_zone='+00:00', SESSION tx_isolation='READ-COMMITTED', "
             "SESSION innodb_lock_wait_timeout=%lld, SESSION lock_wait_timeout=%lld, "
             "SESSION max_statement_time=%lld",
             cr_config_int("DB_LOCK_WAIT_SECONDS"), cr_config_int("DB_LOCK_WAIT_SECONDS"),
             cr_config_int("DB_STATEMENT_SECONDS"));
    mysql_optionsv(m, MYSQL_INIT_COMMAND, init);
    if (mysql_real_connect(m, sock != NULL ? "localhost" : host, cr_config_get("DB_USER"),
                           cr_config_get("DB_PASSWORD"), cr_config_get("DB_NAME"),
                           sock != NULL ? 0 : port, sock, 0) == NULL) {
        if (sock != NULL)
            cr_log_warn("mariadb connect failed: %s", mysql_error(m));
        else
            cr_log_warn("mariadb connect to %.100s:%u failed: %s", host, port, mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* 1 when the node of m may take our statements: a Galera node that is Synced (not joining,
 * not a donor, not cut off from the primary component), or a server without Galera (its
 * wsrep status is empty). Asked once per connection, never per request. */
static int cr_db_node_ready(MYSQL *m, const struct cr_db_host *h)
{
    int ready = 0;
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    if (mysql_query(m, "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'") != 0 ||
        (res = mysql_store_result(m)) == NULL) {
        cr_log_warn("mariadb node %.100s:%u: state check failed: %s", h->host, h->port,
                    mysql_error(m));
        goto out;
    }
    row = mysql_fetch_row(res);
    if (row == NULL || row[1] == NULL || row[1][0] == '\0' || strcmp(row[1], "Synced") == 0)
        ready = 1;
    else
        cr_log_warn("mariadb node %.100s:%u is %.40s, not Synced: next node", h->host, h->port,
                    row[1]);
out:
    if (res != NULL)
        mysql_free_result(res);
    return ready;
}

/* DB_HOSTS: the first node of the list that answers and is ready; NULL when none is. A worker
 * keeps its node until the connection fails, so all its writes go to one node and
 * certification conflicts between nodes stay rare; the next connect starts from the head of
 * the list again, so workers go back to the first node once it is back and Synced. */
static MYSQL *cr_db_open_cluster(const char *list)
{
    struct cr_db_host hosts[CR_DB_MAX_HOSTS];
    char err[128];
    int n = cr_db_hosts_parse(list, hosts, CR_DB_MAX_HOSTS, err, sizeof(err));
    if (n < 0) {
        cr_log_error("%s", err); /* workers refuse it at start (cr_db_hosts_check) */
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        MYSQL *m = cr_db_open(hosts[i].host, hosts[i].port, NULL);
        if (m == NULL)
            continue;
        if (cr_db_node_ready(m, &hosts[i])) {
            if (i > 0)
                cr_log_warn("mariadb: connected to node %.100s:%u (number %d of DB_HOSTS)",
                            hosts[i].host, hosts[i].port, i + 1);
            return m;
        }
        mysql_close(m);
    }
    cr_log_warn("mariadb: no node of DB_HOSTS is ready");
    return NULL;
}

static int cr_db_connect(void)
{
    cr_db_in_flight_lost = cr_db_timed_out = 0; /* they describe the round trip that follows */
    if (cr_db_txn_open && cr_db_conn == NULL)
        return CR_E_UNAVAILABLE; /* lost mid-transaction: a new session would run in autocommit */
    if (cr_db_conn != NULL) {
        if (cr_db_txn_open || !cr_db_stale())
            return CR_OK;
        cr_log_info("mariadb connection closed by the server while idle; reconnecting");
        cr_db_close();
    }
    /* DB_SOCKET (the single machine) first, then a cluster's DB_HOSTS, then DB_HOST:DB_PORT. */
    const char *sock = cr_config_get("DB_SOCKET"), *list = cr_config_get("DB_HOSTS");
    MYSQL *m;
    if (sock != NULL && *sock != '\0')
        m = cr_db_open(NULL, 0, sock);
    else if (list != NULL && *list != '\0')
        m = cr_db_open_cluster(list);
    else
        m = cr_db_open(cr_config_get("DB_HOST"), (unsigned int)cr_config_int("DB_PORT"), NULL);
    if (m == NULL)
        return CR_E_UNAVAILABLE;
    cr_db_conn = m;
    return CR_OK;
}

/* Maps the last error of st (or of the connection when st is NULL) to a library code. */
static int cr_db_error(MYSQL_STMT *st, const char *sql)
{
    unsigned int e = st != NULL ? mysql_stmt_errno(st) : mysql_errno(cr_db_conn);
    const char *msg = st != NULL ? mysql_stmt_error(st) : mysql_error(cr_db_conn);
    long long took = (long long)cr_time_now_ms() - cr_db_sent_ms;
    cr_db_in_flight_lost = 0;
    cr_db_timed_out = 0;
    switch (e) {
    case ER_LOCK_DEADLOCK:
        /* InnoDB rolled the whole transaction back: run it again. Galera says the same when
         * a transaction fails certification at COMMIT (another node committed a conflicting
         * write set first) or is aborted by one being applied: rolled back too, rerun alike. */
        return CR_E_RETRY;
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_STATEMENT_TIMEOUT:
        /* The server ended the statement within its budget; cr_db_txn rolls the rest back.
         * Not rerun: whatever held the lock this long is likely to hold it again, and the
         * client's Retry-After is the better wait. */
        cr_log_warn("mariadb %s after %lld ms; in: %.120s",
                    e == ER_LOCK_WAIT_TIMEOUT ? "lock wait timeout" : "statement timeout", took,
                    sql ? sql : "-");
        return CR_E_UNAVAILABLE;
    case ER_DUP_ENTRY:
        return CR_E_DUPLICATE;
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
        /* Lost with the statement sent: the server may have run it. */
        cr_db_in_flight_lost = 1;
        cr_db_timed_out = took >= cr_config_int("DB_READ_TIMEOUT_SECONDS") * 1000 - 250;
        cr_log_warn("mariadb connection lost after %lld ms%s (%u: %s); in: %.120s", took,
                    cr_db_timed_out ? ", our read timeout" : "", e, msg, sql ? sql : "-");
        cr_db_close();
        return CR_E_UNAVAILABLE;
    case ER_UNKNOWN_COM_ERROR:
        /* Galera: "WSREP has not yet prepared node for application use": the node lost the
         * primary component (or has not joined yet). The statement did not run; drop the
         * node, and the next connect takes the next ready one. A COMMIT that gets this is
         * left as outcome unknown by cr_db_txn (the connection is gone): its write set may
         * have reached the others before the node was cut off. */
        cr_log_warn("mariadb node not ready (%u: %s); leaving it", e, msg);
        cr_db_close();
        return CR_E_UNAVAILABLE;
    case ER_ERROR_DURING_COMMIT:
        /* Galera could not replicate a commit ("Not connected to Primary Component": the node
         * was cut off while committing). Only a commit replicates (no streaming replication),
         * so this is a COMMIT or an autocommit write, and its write set may have reached the
         * others: treated like a connection lost in flight (outcome unknown), and the node is
         * left like one that answers 1047. */
        cr_db_in_flight_lost = 1;
        cr_log_warn("mariadb commit not replicated (%u: %s); leaving the node; in: %.120s", e,
                    msg, sql ? sql : "-");
        cr_db_close();
        return CR_E_UNAVAILABLE;
    case CR_SERVER_GONE_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
        cr_log_warn("mariadb connection lost (%u: %s)", e, msg);
        cr_db_close();
        return CR_E_UNAVAILABLE;
    default:
        cr_log_error("mariadb error %u: %s; in: %.120s", e, msg, sql ? sql : "-");
        return CR_E_INTERNAL;
    }
}

static int cr_db_prepare(const char *sql, MYSQL_STMT **out)
{
    for (int i = 0; i < cr_db_nstmts; i++)
        if (cr_db_stmts[i].sql == sql) {
            *out = cr_db_stmts[i].stmt;
            return CR_OK;
        }
    MYSQL_STMT *st = mysql_stmt_init(cr_db_conn);
    if (st == NULL)
        return cr_db_error(NULL, sql);
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        /* Read the error before closing: the statement holds it. Closing is safe even when
         * cr_db_error() closed a lost connection: Connector/C detaches its statements. */
        int rc = cr_db_error(st, sql);
        mysql_stmt_close(st);
        return rc;
    }
    my_bool update_max = 1;
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
    if (cr_db_nstmts == CR_DB_MAX_STMTS) { /* more distinct statements than expected: start over */
        for (int i = 0; i < cr_db_nstmts; i++)
            mysql_stmt_close(cr_db_stmts[i].stmt);
        cr_db_nstmts = 0;
    }
    cr_db_stmts[cr_db_nstmts].sql = sql;
    cr_db_stmts[cr_db_nstmts].stmt = st;
    cr_db_nstmts++;
    *out = st;
    return CR_OK;
}

static void cr_db_ms_to_time(long long ms, MYSQL_TIME *t)
{
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    memset(t, 0, sizeof(*t));
    t->year = (unsigned)tm.tm_year + 1900;
    t->month = (unsigned)tm.tm_mon + 1;
    t->day = (unsigned)tm.tm_mday;
    t->hour = (unsigned)tm.tm_hour;
    t->minute = (unsigned)tm.tm_min;
    t->second = (unsigned)tm.tm_sec;
    t->second_part = (unsigned long)(ms - (long long)sec * 1000) * 1000;
    t->time_type = MYSQL_TIMESTAMP_DATETIME;
}

/* Arithmetic, not timegm(): a seat map converts 50 of these (bench/RESULTS.md). */
static long long cr_db_time_to_ms(const MYSQL_TIME *t)
{
    return (long long)cr_time_civil_ms((int)t->year, (int)t->month, (int)t->day, (int)t->hour,
                                       (int)t->minute, (int)t->second,
                                       (int)(t->second_part / 1000));
}

static int cr_db_is_int_type(enum enum_field_types t)
{
    return t == MYSQL_TYPE_TINY || t == MYSQL_TYPE_SHORT || t == MYSQL_TYPE_LONG ||
           t == MYSQL_TYPE_INT24 || t == MYSQL_TYPE_LONGLONG || t == MYSQL_TYPE_YEAR;
}

static int cr_db_is_time_type(enum enum_field_types t)
{
    return t == MYSQL_TYPE_DATETIME || t == MYSQL_TYPE_TIMESTAMP || t == MYSQL_TYPE_DATE;
}

/* Fetches every row of st's stored result into out. */
static int cr_db_fetch(struct cr_arena *a, MYSQL_STMT *st, MYSQL_RES *meta, const char *sql,
                       struct cr_db_rows *out)
{
    int ncols = (int)mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    if (ncols > CR_DB_MAX_COLS)
        return CR_E_INTERNAL;
    MYSQL_BIND bind[CR_DB_MAX_COLS];
    long long ints[CR_DB_MAX_COLS];
    MYSQL_TIME times[CR_DB_MAX_COLS];
    unsigned long lens[CR_DB_MAX_COLS];
    my_bool nulls[CR_DB_MAX_COLS];
    char *bufs[CR_DB_MAX_COLS];
    memset(bind, 0, sizeof(bind[0]) * (size_t)ncols);
    for (int c = 0; c < ncols; c++) {
        bind[c].is_null = &nulls[c];
        bind[c].length = &lens[c];
        if (cr_db_is_int_type(fields[c].type)) {
            bind[c].buffer_type = MYSQL_TYPE_LONGLONG;
            bind[c].buffer = &ints[c];
        } else if (cr_db_is_time_type(fields[c].type)) {
            bind[c].buffer_type = MYSQL_TYPE_DATETIME;
            bind[c].buffer = &times[c];
        } else {
            /* Strings, blobs and DECIMAL (what SUM() returns) come as text. */
            bufs[c] = cr_arena_alloc(a, fields[c].max_length + 1);
            bind[c].buffer_type = MYSQL_TYPE_STRING;
            bind[c].buffer = bufs[c];
            bind[c].buffer_length = fields[c].max_length + 1;
        }
    }
    if (mysql_stmt_bind_result(st, bind) != 0)
        return cr_db_error(st, sql);
    out->ncols = ncols;
    out->nrows = (int)mysql_stmt_num_rows(st);
    out->v = cr_arena_calloc(a, sizeof(struct cr_db_val) * (size_t)(out->nrows * ncols + 1));
    for (int r = 0; r < out->nrows; r++) {
        int f = mysql_stmt_fetch(st);
        if (f == 1)
            return cr_db_error(st, sql);
        if (f == MYSQL_NO_DATA) {
            out->nrows = r;
            break;
        }
        for (int c = 0; c < ncols; c++) {
            struct cr_db_val *v = CR_DB_CELL(out, r, c);
            if (nulls[c]) {
                v->type = CR_DB_NULL;
            } else if (bind[c].buffer_type == MYSQL_TYPE_LONGLONG) {
                v->type = CR_DB_INT;
                v->i = ints[c];
            } else if (bind[c].buffer_type == MYSQL_TYPE_DATETIME) {
                v->type = CR_DB_TIME;
                v->i = cr_db_time_to_ms(&times[c]);
            } else if (fields[c].type == MYSQL_TYPE_NEWDECIMAL ||
                       fields[c].type == MYSQL_TYPE_DECIMAL) {
                bufs[c][lens[c]] = '\0';
                v->type = CR_DB_INT;
                v->i = strtoll(bufs[c], NULL, 10);
            } else {
                v->type = CR_DB_STR;
                v->s = cr_arena_strndup(a, bufs[c], lens[c]);
                v->len = lens[c];
            }
        }
    }
    return CR_OK;
}

static int cr_db_run_once(struct cr_arena *a, const char *sql, const struct cr_db_val *params,
                          int nparams, struct cr_db_rows *out, long long *affected,
                          long long *insert_id)
{
    MYSQL_STMT *st = NULL;
    MYSQL_RES *meta = NULL;
    MYSQL_BIND bind[CR_DB_MAX_PARAMS];
    MYSQL_TIME times[CR_DB_MAX_PARAMS];
    long long ints[CR_DB_MAX_PARAMS];
    int rc;

    if (nparams > CR_DB_MAX_PARAMS)
        return CR_E_INTERNAL;
    if ((rc = cr_db_connect()) != CR_OK || (rc = cr_db_budget_left(sql)) != CR_OK)
        return rc;
    cr_db_sent();
    if ((rc = cr_db_prepare(sql, &st)) != CR_OK)
        return rc;
    if (mysql_stmt_param_count(st) != (unsigned long)nparams) {
        cr_log_error("statement expects %lu parameters, got %d: %.120s",
                     mysql_stmt_param_count(st), nparams, sql);
        return CR_E_INTERNAL;
    }
    memset(bind, 0, sizeof(bind[0]) * (size_t)(nparams ? nparams : 1));
    for (int i = 0; i < nparams; i++) {
        const struct cr_db_val *p = &params[i];
        switch (p->type) {
        case CR_DB_NULL:
            bind[i].buffer_type = MYSQL_TYPE_NULL;
            break;
        case CR_DB_INT:
            ints[i] = p->i;
            bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
            bind[i].buffer = &ints[i];
            break;
        case CR_DB_TIME:
            cr_db_ms_to_time(p->i, &times[i]);
            bind[i].buffer_type = MYSQL_TYPE_DATETIME;
            bind[i].buffer = &times[i];
            break;
        case CR_DB_STR:
        case CR_DB_BIN:
            bind[i].buffer_type = p->type == CR_DB_BIN ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
            bind[i].buffer = (void *)(uintptr_t)p->s;
            bind[i].buffer_length = p->len;
            break;
        }
    }
    if (nparams > 0 && mysql_stmt_bind_param(st, bind) != 0)
        return cr_db_error(st, sql);
    cr_db_sent();
    if (mysql_stmt_execute(st) != 0) {
        rc = cr_db_error(st, sql);
        if (rc == CR_E_UNAVAILABLE && cr_db_in_flight_lost && !cr_db_txn_open &&
            !cr_db_is_read(sql)) {
            /* An autocommit write that may or may not have run: never rerun, never "retry". */
            cr_log_error("outcome unknown: connection lost during a write outside a "
                         "transaction; not rerun; in: %.120s", sql);
            rc = CR_E_UNKNOWN;
        }
        return rc;
    }
    meta = mysql_stmt_result_metadata(st);
    if (meta == NULL) {
        if (affected != NULL)
            *affected = (long long)mysql_stmt_affected_rows(st);
        if (insert_id != NULL)
            *insert_id = (long long)mysql_stmt_insert_id(st);
        if (out != NULL)
            memset(out, 0, sizeof(*out));
        return CR_OK;
    }
    if (mysql_stmt_store_result(st) != 0) {
        rc = cr_db_error(st, sql);
    } else if (out != NULL) {
        rc = cr_db_fetch(a, st, meta, sql, out);
    }
    mysql_free_result(meta);
    if (cr_db_conn != NULL)
        mysql_stmt_free_result(st);
    /* A CALL ends with a status result after its row set (and a procedure could send more
     * sets): read them all, or the connection is out of sync for the next statement. Only
     * the first set is the answer. */
    while (rc == CR_OK && cr_db_conn != NULL && mysql_stmt_more_results(st)) {
        int more = mysql_stmt_next_result(st);
        if (more > 0)
            rc = cr_db_error(st, sql);
        else if (more == 0 && mysql_stmt_field_count(st) > 0 && mysql_stmt_store_result(st) == 0)
            mysql_stmt_free_result(st);
        if (more != 0)
            break;
    }
    return rc;
}

/* One statement; a read outside a transaction is retried once on a fresh connection when
 * the old one turned out to be dead (the server restarted since our last request), but not
 * after our own read timeout (the server is stuck: a second wait would only add to it). */
static int cr_db_run(struct cr_arena *a, const char *sql, const struct cr_db_val *params,
                     int nparams, struct cr_db_rows *out, long long *affected,
                     long long *insert_id)
{
    int had_conn = cr_db_conn != NULL;
    int rc = cr_db_run_once(a, sql, params, nparams, out, affected, insert_id);
    if (rc == CR_E_UNAVAILABLE && had_conn && cr_db_conn == NULL && !cr_db_timed_out &&
        cr_db_is_read(sql) && !cr_db_txn_open)
        rc = cr_db_run_once(a, sql, params, nparams, out, affected, insert_id);
    return rc;
}

int cr_db_exec(const char *sql, const struct cr_db_val *params, int nparams,
               long long *affected, long long *insert_id)
{
    return cr_db_run(NULL, sql, params, nparams, NULL, affected, insert_id);
}

int cr_db_query(struct cr_arena *a, const char *sql, const struct cr_db_val *params,
                int nparams, struct cr_db_rows *out)
{
    return cr_db_run(a, sql, params, nparams, out, NULL, NULL);
}

int cr_db_in_txn(void)
{
    return cr_db_txn_open;
}

static void cr_db_backoff(int attempt)
{
    unsigned int r;
    getentropy(&r, sizeof(r));
    usleep((useconds_t)(1000 * attempt + r % (2000u * (unsigned)attempt)));
}

int cr_db_txn(int (*fn)(void *ctx), void *ctx)
{
    int rc = CR_OK;
    for (int attempt = 0; attempt < CR_DB_TXN_TRIES; attempt++) {
        if (attempt > 0)
            cr_db_backoff(attempt);
        int had_conn = cr_db_conn != NULL;
        if ((rc = cr_db_connect()) != CR_OK ||
            (rc = cr_db_budget_left("START TRANSACTION")) != CR_OK)
            return rc;
        cr_db_sent();
        if (mysql_real_query(cr_db_conn, "START TRANSACTION", 17) != 0) {
            rc = cr_db_error(NULL, "START TRANSACTION");
            if (rc == CR_E_UNAVAILABLE && had_conn && cr_db_conn == NULL && !cr_db_timed_out)
                continue; /* a stale connection: nothing ran yet */
            return rc;
        }
        cr_db_txn_open = 1;
        rc = fn(ctx);
        cr_db_txn_open = 0;
        /* No COMMIT that could end after the deadline: roll back and say so instead. */
        if (rc == CR_OK && (rc = cr_db_budget_left("COMMIT")) == CR_OK) {
            cr_db_sent();
            if (mysql_commit(cr_db_conn) == 0)
                return CR_OK;
            rc = cr_db_error(NULL, "COMMIT");
            if (rc == CR_E_RETRY)
                continue;
            if (cr_db_conn == NULL) {
                /* Lost during COMMIT: it may have committed. Never rerun, never "retry". */
                cr_log_error("outcome unknown: connection lost during COMMIT; not rerun");
                return CR_E_UNKNOWN;
            }
        }
        if (cr_db_conn != NULL)
            mysql_rollback(cr_db_conn);
        if (rc == CR_E_RETRY)
            continue;
        /* A connection lost before COMMIT: the server rolls the transaction back (nothing of
         * it commits). Rerun it once when the server went away (a restart), but not when our
         * own read timeout gave up on a stuck server: our abandoned session may still hold its
         * locks there, and the budget is spent. */
        if (rc == CR_E_UNAVAILABLE && cr_db_conn == NULL && attempt == 0) {
            if (!cr_db_timed_out)
                continue;
            cr_log_warn("transaction abandoned after our read timeout; rolled back by the "
                        "server, not rerun");
        }
        return rc;
    }
    cr_log_warn("transaction gave up after %d tries", CR_DB_TXN_TRIES);
    return rc == CR_E_RETRY ? CR_E_UNAVAILABLE : rc;
}

int cr_db_ping(void)
{
    if (cr_db_connect() != CR_OK)
        return CR_E_UNAVAILABLE;
    if (mysql_ping(cr_db_conn) == 0)
        return CR_OK;
    cr_db_close();
    if (cr_db_connect() != CR_OK)
        return CR_E_UNAVAILABLE;
    if (mysql_ping(cr_db_conn) != 0) {
        cr_db_close();
        return CR_E_UNAVAILABLE;
    }
    return CR_OK;
}

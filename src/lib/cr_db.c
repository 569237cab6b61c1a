/* cr_db.c: the process's MariaDB connection and its prepared-statement cache.
 *
 * Sessions run at READ COMMITTED in UTC. Every race in this service is decided by a
 * conditional UPDATE (a version or state check) whose affected-row count says who won, so
 * REPEATABLE READ's snapshot buys nothing, while its gap locks would add deadlocks. */
#include <errno.h>
#include <stdint.h>
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

struct cr_db_stmt {
    const char *sql; /* the literal that keys the cache */
    MYSQL_STMT *stmt;
};

static MYSQL *cr_db_conn;
static struct cr_db_stmt cr_db_stmts[CR_DB_MAX_STMTS];
static int cr_db_nstmts;
static int cr_db_txn_open;

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

static int cr_db_connect(void)
{
    if (cr_db_conn != NULL) {
        if (cr_db_txn_open || !cr_db_stale())
            return CR_OK;
        cr_log_info("mariadb connection closed by the server while idle; reconnecting");
        cr_db_close();
    }
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        return CR_E_INTERNAL;
    unsigned int connect_timeout = 2, io_timeout = 8;
    my_bool off = 0;
    mysql_optionsv(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_optionsv(m, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_optionsv(m, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_optionsv(m, MYSQL_OPT_RECONNECT, &off); /* we reconnect ourselves, cache and all */
    mysql_optionsv(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* tx_isolation: MariaDB 10.11 has no transaction_isolation (it came in 11.1). */
    mysql_optionsv(m, MYSQL_INIT_COMMAND,
                   "SET SESSION time_zone='+00:00', "
                   "SESSION tx_isolation='READ-COMMITTED'");
    const char *sock = cr_config_get("DB_SOCKET");
    int use_sock = sock != NULL && *sock != '\0';
    if (mysql_real_connect(m, use_sock ? "localhost" : cr_config_get("DB_HOST"),
                           cr_config_get("DB_USER"), cr_config_get("DB_PASSWORD"),
                           cr_config_get("DB_NAME"),
                           use_sock ? 0 : (unsigned int)cr_config_int("DB_PORT"),
                           use_sock ? sock : NULL, 0) == NULL) {
        cr_log_warn("mariadb connect failed: %s", mysql_error(m));
        mysql_close(m);
        return CR_E_UNAVAILABLE;
    }
    cr_db_conn = m;
    return CR_OK;
}

/* Maps the last error of st (or of the connection when st is NULL) to a library code. */
static int cr_db_error(MYSQL_STMT *st, const char *sql)
{
    unsigned int e = st != NULL ? mysql_stmt_errno(st) : mysql_errno(cr_db_conn);
    const char *msg = st != NULL ? mysql_stmt_error(st) : mysql_error(cr_db_conn);
    switch (e) {
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
        return CR_E_RETRY;
    case ER_DUP_ENTRY:
        return CR_E_DUPLICATE;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_LOST_EXTENDED:
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
    if ((rc = cr_db_connect()) != CR_OK || (rc = cr_db_prepare(sql, &st)) != CR_OK)
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
    if (mysql_stmt_execute(st) != 0)
        return cr_db_error(st, sql);
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
    return rc;
}

/* One statement; a read outside a transaction is retried once on a fresh connection when
 * the old one turned out to be dead (the server restarted since our last request). */
static int cr_db_run(struct cr_arena *a, const char *sql, const struct cr_db_val *params,
                     int nparams, struct cr_db_rows *out, long long *affected,
                     long long *insert_id)
{
    int had_conn = cr_db_conn != NULL;
    int rc = cr_db_run_once(a, sql, params, nparams, out, affected, insert_id);
    if (rc == CR_E_UNAVAILABLE && had_conn && out != NULL && !cr_db_txn_open)
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
        if ((rc = cr_db_connect()) != CR_OK)
            return rc;
        if (mysql_real_query(cr_db_conn, "START TRANSACTION", 17) != 0) {
            rc = cr_db_error(NULL, "START TRANSACTION");
            if (rc == CR_E_UNAVAILABLE && had_conn)
                continue; /* a stale connection: nothing ran yet */
            return rc;
        }
        cr_db_txn_open = 1;
        rc = fn(ctx);
        cr_db_txn_open = 0;
        if (rc == CR_OK) {
            if (mysql_commit(cr_db_conn) == 0)
                return CR_OK;
            rc = cr_db_error(NULL, "COMMIT");
            if (rc == CR_E_RETRY)
                continue;
            /* Lost during COMMIT: the outcome is unknown, so never rerun. */
            return rc == CR_E_UNAVAILABLE ? CR_E_UNAVAILABLE : rc;
        }
        if (cr_db_conn != NULL)
            mysql_rollback(cr_db_conn);
        if (rc == CR_E_RETRY)
            continue;
        /* A connection lost before COMMIT rolled the transaction back: rerun it once. */
        if (rc == CR_E_UNAVAILABLE && attempt == 0)
            continue;
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

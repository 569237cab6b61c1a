/* cr_db.h: MariaDB access: one connection per process, cached prepared statements only,
 * transactions with deadlock retry, and reconnection after a lost connection. */
#ifndef CR_DB_H
#define CR_DB_H

#include "cr_arena.h"

enum cr_db_type { CR_DB_NULL, CR_DB_INT, CR_DB_STR, CR_DB_BIN, CR_DB_TIME };

/* A parameter or a result cell. CR_DB_TIME holds UTC milliseconds since the epoch in i;
 * CR_DB_STR (text) and CR_DB_BIN (bytes, for BINARY columns) hold len bytes at s; result
 * strings are always CR_DB_STR and also NUL-terminated. */
struct cr_db_val {
    enum cr_db_type type;
    long long i;
    const char *s;
    unsigned long len;
};

#define CR_DB_I(v) ((struct cr_db_val){.type = CR_DB_INT, .i = (long long)(v)})
#define CR_DB_S(p, n) ((struct cr_db_val){.type = CR_DB_STR, .s = (const char *)(p), .len = (n)})
#define CR_DB_STRZ(p) CR_DB_S((p), strlen(p))
#define CR_DB_B(p, n) ((struct cr_db_val){.type = CR_DB_BIN, .s = (const char *)(p), .len = (n)})
#define CR_DB_UUID(u) CR_DB_B((u)->b, 16)
#define CR_DB_T(ms) ((struct cr_db_val){.type = CR_DB_TIME, .i = (long long)(ms)})
#define CR_DB_NULLV ((struct cr_db_val){.type = CR_DB_NULL})

/* Result rows, row-major, all memory in the arena given to cr_db_query(). Integers and
 * DECIMALs come back as CR_DB_INT, DATETIMEs as CR_DB_TIME, everything else as CR_DB_STR. */
struct cr_db_rows {
    int nrows, ncols;
    struct cr_db_val *v;
};

#define CR_DB_CELL(rows, r, c) (&(rows)->v[(r) * (rows)->ncols + (c)])

/* Runs a statement that returns no rows. sql must be a string that lives as long as the
 * process (a literal): it keys the prepared-statement cache. affected and insert_id may be
 * NULL. Returns CR_OK, CR_E_DUPLICATE (unique key), CR_E_RETRY (deadlock), CR_E_UNAVAILABLE
 * (not run, or rolled back: no connection, lock wait or statement timeout, budget spent),
 * CR_E_UNKNOWN (a write outside a transaction whose connection was lost while it ran) or
 * CR_E_INTERNAL. */
int cr_db_exec(const char *sql, const struct cr_db_val *params, int nparams,
               long long *affected, long long *insert_id);

/* Runs a query and stores every row of its result in out (memory from a). Same codes. */
int cr_db_query(struct cr_arena *a, const char *sql, const struct cr_db_val *params,
                int nparams, struct cr_db_rows *out);

/* Runs fn(ctx) inside BEGIN … COMMIT. fn returns CR_OK to commit or an error to roll back
 * (its error is returned). A deadlock (CR_E_RETRY from fn or COMMIT) reruns the whole
 * transaction, a few times with backoff, and so does, once, a connection the server closed
 * before COMMIT. CR_E_UNAVAILABLE means nothing of it committed: a lock wait or statement
 * timeout, deadlocks to the last try, no connection, or the request's time budget spent.
 * CR_E_UNKNOWN: the connection was lost during COMMIT, so it may have committed. */
int cr_db_txn(int (*fn)(void *ctx), void *ctx);

/* The time budget of one request (README, "Time budget"). cr_db_budget_start(start_ms):
 * start_ms is when nginx started timing the request (epoch ms); from then on no round trip
 * starts that could end later than REQUEST_TIMEOUT_SECONDS minus a margin for the answer
 * (such a call returns CR_E_UNAVAILABLE, having sent nothing). cr_db_budget_end() lifts the
 * limit (work after the answer, jobs). */
void cr_db_budget_start(long long start_ms);
void cr_db_budget_end(void);

/* CR_OK when the configured budget nests (lock wait < statement time < read timeout, with
 * room under REQUEST_TIMEOUT_SECONDS); else CR_E_INVALID with a message in errbuf. */
int cr_db_budget_check(char *errbuf, int errlen);

/* One node of DB_HOSTS. */
#define CR_DB_MAX_HOSTS 16
#define CR_DB_HOST_MAX 255
struct cr_db_host {
    char host[CR_DB_HOST_MAX + 1]; /* a name or an address; an IPv6 one without its brackets */
    unsigned int port;
};

/* Parses a DB_HOSTS list: "host:port" items separated by commas (spaces around an item are
 * allowed; an IPv6 address goes in brackets, "[::1]:3306"). Fills out[0..max-1] in order and
 * returns how many (0 for an empty list), or CR_E_INVALID with a message in errbuf for an
 * empty item, a missing or bad port (1-65535), a bad host or more than max items. */
int cr_db_hosts_parse(const char *list, struct cr_db_host *out, int max, char *errbuf,
                      int errlen);

/* CR_OK when the configured DB_HOSTS parses; else CR_E_INVALID with a message in errbuf. */
int cr_db_hosts_check(char *errbuf, int errlen);

/* 1 while inside cr_db_txn(). */
int cr_db_in_txn(void);

/* Checks the connection with a trivial query, connecting first when needed. */
int cr_db_ping(void);

/* Closes the connection and every prepared statement; the next call reconnects. */
void cr_db_close(void);

#endif

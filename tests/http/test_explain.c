/* test_explain.c: every catalogue query, EXPLAINed on a database grown to 1,000 schedules and
 * 50,000 seats, reads tables that grow with sales through an index, never by a full scan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cr_catalog.h"
#include "cr_db.h"
#include "cr_error.h"
#include "cr_test.h"
#include "cr_time.h"

#define GROW_SCHEDULES 1000
#define GROW_SEATS_PER 50
#define GROW_TITLE "explain test: grown catalogue"

/* Tables that grow with every sale: a full scan of any of them is a bug. */
static const char *const growing[] = {"seats", "reservations", "balance_entries",
                                      "payment_history", "payments", NULL};

static long long grow_concert, grow_schedule;
static long long now_ms;

/* --- the growth ---------------------------------------------------------------------- */

static int cleanup_growth(void)
{
    struct cr_db_val p[] = {CR_DB_STRZ(GROW_TITLE)};
    int rc = cr_db_exec("DELETE seats FROM seats"
                        " JOIN schedules ON seats.schedule_id = schedules.id"
                        " JOIN concerts ON schedules.concert_id = concerts.id"
                        " WHERE concerts.title = ?",
                        p, 1, NULL, NULL);
    if (rc == CR_OK)
        rc = cr_db_exec("DELETE schedules FROM schedules"
                        " JOIN concerts ON schedules.concert_id = concerts.id"
                        " WHERE concerts.title = ?",
                        p, 1, NULL, NULL);
    if (rc == CR_OK)
        rc = cr_db_exec("DELETE FROM concerts WHERE title = ?", p, 1, NULL, NULL);
    if (rc == CR_OK)
        rc = cr_db_exec("ANALYZE TABLE concerts, schedules, seats", NULL, 0, NULL, NULL);
    return rc;
}

static long long count_rows(const char *sql)
{
    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    assert_int_equal(cr_db_query(a, sql, NULL, 0, &rows), CR_OK);
    long long n = CR_DB_CELL(&rows, 0, 0)->i;
    cr_arena_free(a);
    return n;
}

/* Adds one concert with 1,000 schedules (half of them past) of 50 seats each, in a mix of
 * AVAILABLE, SOLD and HELD (live and run-out holds), then refreshes the statistics. */
static int setup(void **state)
{
    long long n = 0;
    now_ms = cr_time_now_ms();
    if (cleanup_growth() != CR_OK) /* leftovers of an interrupted run */
        return -1;
    struct cr_db_val t[] = {CR_DB_STRZ(GROW_TITLE)};
    assert_int_equal(cr_db_exec("INSERT INTO concerts (title, venue) VALUES (?, 'nowhere')", t,
                                1, NULL, &grow_concert),
                     CR_OK);
    struct cr_db_val s[] = {CR_DB_I(grow_concert), CR_DB_T(now_ms)};
    assert_int_equal(cr_db_exec("INSERT INTO schedules (concert_id, starts_at, total_seats)"
                                " SELECT ?, ? + INTERVAL (CAST(seq AS SIGNED) - 500) HOUR, 50"
                                " FROM seq_1_to_1000",
                                s, 2, &n, NULL),
                     CR_OK);
    assert_int_equal(n, GROW_SCHEDULES);
    struct cr_db_val e[] = {CR_DB_T(now_ms), CR_DB_I(grow_concert)};
    assert_int_equal(
        cr_db_exec("INSERT INTO seats (schedule_id, seat_no, price, status, hold_expires_at)"
                   " SELECT s.id, n.seq, 50000,"
                   "  CASE WHEN n.seq % 10 < 6 THEN 'AVAILABLE'"
                   "       WHEN n.seq % 10 < 8 THEN 'HELD' ELSE 'SOLD' END,"
                   "  CASE WHEN n.seq % 10 IN (6, 7)"
                   "       THEN ? + INTERVAL (CAST(n.seq AS SIGNED) - 25) MINUTE END"
                   " FROM schedules AS s JOIN seq_1_to_50 AS n"
                   " WHERE s.concert_id = ?",
                   e, 2, &n, NULL),
        CR_OK);
    assert_int_equal(n, GROW_SCHEDULES * GROW_SEATS_PER);
    assert_int_equal(cr_db_exec("ANALYZE TABLE concerts, schedules, seats", NULL, 0, NULL, NULL),
                     CR_OK);
    /* A schedule in the middle, so that it is upcoming. */
    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    struct cr_db_val c[] = {CR_DB_I(grow_concert), CR_DB_T(now_ms)};
    assert_int_equal(cr_db_query(a,
                                 "SELECT MIN(id) FROM schedules"
                                 " WHERE concert_id = ? AND starts_at > ?",
                                 c, 2, &rows),
                     CR_OK);
    grow_schedule = CR_DB_CELL(&rows, 0, 0)->i;
    cr_arena_free(a);
    assert_true(grow_schedule > 0);
    return 0;
}

static int teardown(void **state)
{
    return cleanup_growth() == CR_OK ? 0 : -1;
}

/* --- EXPLAIN and its check ----------------------------------------------------------- */

/* The real table behind a name in EXPLAIN's table column: sql's "FROM/JOIN table [AS]
 * alias" is looked up; a name that is no alias is returned as it is. */
static void real_table(const char *sql, const char *name, char *out, size_t outlen)
{
    static const char *const keywords[] = {"WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "CROSS",
                                           "STRAIGHT_JOIN", "NATURAL", "ON", "USING", "ORDER",
                                           "GROUP", "HAVING", "LIMIT", "FOR", "UNION", "FORCE",
                                           "USE", "IGNORE", "LOCK", NULL};
    char tok[64][64];
    int ntok = 0;
    const char *p = sql;
    snprintf(out, outlen, "%s", name);
    while (*p != '\0' && ntok < 64) {
        if (*p == '\'') { /* skip string literals */
            p = strchr(p + 1, '\'');
            if (p == NULL)
                break;
            p++;
        } else if (isalnum((unsigned char)*p) || *p == '_') {
            size_t n = 0;
            while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n < 63) {
                tok[ntok][n] = p[n];
                n++;
            }
            tok[ntok++][n] = '\0';
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
        } else {
            p++;
        }
    }
    for (int i = 0; i + 1 < ntok; i++) {
        if (strcasecmp(tok[i], "FROM") != 0 && strcasecmp(tok[i], "JOIN") != 0)
            continue;
        const char *table = tok[i + 1], *alias = NULL;
        if (i + 3 < ntok && strcasecmp(tok[i + 2], "AS") == 0) {
            alias = tok[i + 3];
        } else if (i + 2 < ntok) {
            int kw = 0;
            for (int k = 0; keywords[k] != NULL; k++)
                kw |= strcasecmp(tok[i + 2], keywords[k]) == 0;
            if (!kw)
                alias = tok[i + 2];
        }
        if (alias != NULL && strcmp(alias, name) == 0) {
            snprintf(out, outlen, "%s", table);
            return;
        }
    }
}

/* EXPLAINs sql with params and returns the number of full scans (type ALL, or a full index
 * scan, type index) over a growing table; prints the plan. */
static int full_scans(const char *label, const char *sql, const struct cr_db_val *params,
                      int nparams)
{
    /* cr_db caches prepared statements by the SQL's address: one EXPLAIN string per query,
     * kept for the life of the program. */
    static struct {
        const char *sql;
        char *explain;
    } cache[32];
    static int ncache;
    char *explain = NULL;
    for (int i = 0; i < ncache; i++)
        if (cache[i].sql == sql)
            explain = cache[i].explain;
    if (explain == NULL) {
        assert_true(ncache < 32);
        assert_true(asprintf(&explain, "EXPLAIN %s", sql) > 0);
        cache[ncache].sql = sql;
        cache[ncache++].explain = explain;
    }

    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    int bad = 0;
    assert_int_equal(cr_db_query(a, explain, params, nparams, &rows), CR_OK);
    assert_true(rows.nrows > 0);
    assert_true(rows.ncols >= 10); /* id select_type table type possible_keys key ... Extra */
    print_message("EXPLAIN %s\n", label);
    for (int r = 0; r < rows.nrows; r++) {
        const struct cr_db_val *tbl = CR_DB_CELL(&rows, r, 2), *type = CR_DB_CELL(&rows, r, 3);
        const struct cr_db_val *key = CR_DB_CELL(&rows, r, 5), *extra = CR_DB_CELL(&rows, r, 9);
        const struct cr_db_val *nr = CR_DB_CELL(&rows, r, 8);
        char real[64];
        const char *t = tbl->type == CR_DB_STR ? tbl->s : "";
        const char *ty = type->type == CR_DB_STR ? type->s : "";
        real_table(sql, t, real, sizeof(real));
        char nrows[32];
        if (nr->type == CR_DB_INT)
            snprintf(nrows, sizeof(nrows), "%lld", nr->i);
        else
            snprintf(nrows, sizeof(nrows), "%s", nr->type == CR_DB_STR ? nr->s : "-");
        print_message("  %-10s %-8s %-6s key=%s rows=%s %s\n", real, t, ty,
                      key->type == CR_DB_STR ? key->s : "-", nrows,
                      extra->type == CR_DB_STR ? extra->s : "");
        for (int g = 0; growing[g] != NULL; g++)
            if (strcmp(real, growing[g]) == 0 &&
                (strcmp(ty, "ALL") == 0 || strcmp(ty, "index") == 0)) {
                print_error("full scan (type=%s) over %s in: %s\n", ty, real, sql);
                bad++;
            }
    }
    cr_arena_free(a);
    return bad;
}

static void test_database_is_grown(void **state)
{
    assert_true(count_rows("SELECT COUNT(*) FROM schedules") >= GROW_SCHEDULES);
    assert_true(count_rows("SELECT COUNT(*) FROM seats") >= GROW_SCHEDULES * GROW_SEATS_PER);
}

/* The check itself catches a scan: an unindexed filter over seats must be flagged. */
static void test_checker_catches_a_scan(void **state)
{
    static const char sql[] = "SELECT COUNT(*) FROM seats AS x WHERE x.price = ?";
    struct cr_db_val p[] = {CR_DB_I(50000)};
    assert_true(full_scans("a deliberate scan", sql, p, 1) > 0);
    char real[64];
    real_table(cr_catalog_sql_seats, "t", real, sizeof(real));
    assert_string_equal(real, "seats");
    real_table(cr_catalog_sql_seats, "sc", real, sizeof(real));
    assert_string_equal(real, "schedules");
}

static void test_catalog_queries_use_indexes(void **state)
{
    const struct cr_db_val now = CR_DB_T(now_ms);
    const struct cr_db_val big = CR_DB_I(grow_concert), demo = CR_DB_I(1);
    const struct cr_db_val sched = CR_DB_I(grow_schedule), demo_sched = CR_DB_I(1);
    /* Every statement of cr_catalog.c with the parameters the service binds, for the grown
     * concert (1,000 schedules) and a demo one. */
    const struct {
        const char *label;
        const char *sql;
        struct cr_db_val p[3];
        int np;
    } cases[] = {
        {"concerts", cr_catalog_sql_concerts, {{0}}, 0},
        {"schedules (grown)", cr_catalog_sql_schedules, {big, now}, 2},
        {"schedules (demo)", cr_catalog_sql_schedules, {demo, now}, 2},
        {"concert", cr_catalog_sql_concert, {big}, 1},
        {"seats (grown)", cr_catalog_sql_seats, {sched}, 1},
        {"seats (demo)", cr_catalog_sql_seats, {demo_sched}, 1},
        {"schedule", cr_catalog_sql_schedule, {sched}, 1},
        {"seat map version", cr_catalog_sql_seat_version, {sched}, 1},
    };
    const size_t ncases = sizeof(cases) / sizeof(cases[0]);
    int bad = 0;
    for (size_t i = 0; i < ncases; i++)
        bad += full_scans(cases[i].label, cases[i].sql, cases[i].p, cases[i].np);
    assert_int_equal(bad, 0);
    /* Every query the module issues was checked. */
    for (int q = 0; cr_catalog_sqls[q] != NULL; q++) {
        int seen = 0;
        for (size_t i = 0; i < ncases; i++)
            seen |= cases[i].sql == cr_catalog_sqls[q];
        if (!seen)
            print_error("not EXPLAINed: %s\n", cr_catalog_sqls[q]);
        assert_true(seen);
    }
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_database_is_grown),
        cmocka_unit_test(test_checker_catches_a_scan),
        cmocka_unit_test(test_catalog_queries_use_indexes),
    };
    int failed = cmocka_run_group_tests_name("http_explain", tests, setup, teardown);
    cr_db_close();
    return failed;
}

/* test_admin.c: concert-admin end to end against the test stack: each command, its --json
 * output parsed and checked against the database, and each bad input refused with a clear
 * message and nothing written. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_test.h"
#include "cr_time.h"

#define TITLE "concert-admin test concert"

/* One run of concert-admin: its exit status, what it printed, and stdout parsed as JSON. */
struct adm_run {
    int status;
    char out[1 << 16];
    char err[1 << 13];
    json_object *json;
};

static char adm_path[4096];
static struct adm_run run; /* the last run (large: static) */

/* Reads fd from the start into buf (n bytes, NUL-terminated). */
static void slurp(int fd, char *buf, size_t n)
{
    size_t len = 0;
    ssize_t got;
    lseek(fd, 0, SEEK_SET);
    while (len + 1 < n && (got = read(fd, buf + len, n - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
}

/* Runs concert-admin with the NULL-terminated arguments (stdin from /dev/null) into run;
 * returns its exit status. */
static int adm(const char *first, ...)
{
    const char *argv[40];
    int argc = 0;
    va_list ap;
    argv[argc++] = adm_path;
    va_start(ap, first);
    for (const char *a = first; a != NULL && argc < 39; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    if (run.json != NULL)
        json_object_put(run.json);
    memset(&run, 0, sizeof(run));
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        execv(adm_path, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    run.status = WEXITSTATUS(st);
    slurp(fileno(out), run.out, sizeof(run.out));
    slurp(fileno(err), run.err, sizeof(run.err));
    fclose(out);
    fclose(err);
    run.json = json_tokener_parse(run.out);
    return run.status;
}

static long long jint(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        fail_msg("no integer %s in %s", key, json_object_to_json_string(o));
    return json_object_get_int64(v);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        fail_msg("no string %s in %s", key, json_object_to_json_string(o));
    return json_object_get_string(v);
}

static long long jtime(json_object *o, const char *key)
{
    int64_t ms = 0;
    assert_int_equal(cr_time_parse(jstr(o, key), &ms), CR_OK);
    return ms;
}

/* Asserts the last run was a refusal with exit status, --json error code and a message
 * holding msg (also on stderr). */
static void assert_refused(int status, const char *code, const char *msg)
{
    if (run.status != status || run.json == NULL || strstr(run.err, msg) == NULL)
        fail_msg("wanted exit %d with '%s'; got %d, stdout '%s', stderr '%s'", status, msg,
                 run.status, run.out, run.err);
    json_object *e = NULL;
    assert_true(json_object_object_get_ex(run.json, "error", &e));
    assert_string_equal(jstr(e, "code"), code);
    assert_non_null(strstr(jstr(e, "message"), msg));
}

/* --- the database, counted before and after a refused command ---------------------------- */

struct counts {
    long long concerts, schedules, seats;
};

static struct counts count_rows(void)
{
    struct counts c = {cr_test_db_int("SELECT COUNT(*) FROM concerts", NULL, 0),
                       cr_test_db_int("SELECT COUNT(*) FROM schedules", NULL, 0),
                       cr_test_db_int("SELECT COUNT(*) FROM seats", NULL, 0)};
    return c;
}

static void assert_unchanged(const struct counts *before)
{
    struct counts now = count_rows();
    assert_int_equal(now.concerts, before->concerts);
    assert_int_equal(now.schedules, before->schedules);
    assert_int_equal(now.seats, before->seats);
}

/* The sales opening of a schedule, in ms. */
static long long open_at(long long schedule)
{
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    return cr_test_db_int("SELECT sales_open_at FROM schedules WHERE id = ?", p, 1);
}

static long long concert_id; /* made by test_concert_add, used by the others */

/* Writes text to a new temporary file; its name in path (64 bytes). */
static void temp_file(char *path, const char *text)
{
    snprintf(path, 64, "%s/cr-admin-csv.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* --- commands ------------------------------------------------------------------------- */

static void test_help(void **state)
{
    (void)state;
    assert_int_equal(adm("--help", NULL), 0);
    assert_non_null(strstr(run.out, "schedule add"));
    static const char *const cmds[][2] = {
        {"concert", "add"}, {"schedule", "add"}, {"list", NULL}, {"sales-open", NULL}};
    for (size_t i = 0; i < 4; i++) {
        if (cmds[i][1] != NULL)
            assert_int_equal(adm(cmds[i][0], cmds[i][1], "--help", NULL), 0);
        else
            assert_int_equal(adm(cmds[i][0], "--help", NULL), 0);
        assert_non_null(strstr(run.out, "usage: concert-admin"));
        assert_non_null(strstr(run.out, cmds[i][0]));
    }
    /* No command, an unknown one, an unknown option: usage errors (2). */
    assert_int_equal(adm(NULL), 2);
    assert_int_equal(adm("--json", "frobnicate", NULL), 2);
    assert_refused(2, "USAGE", "unknown command");
    assert_int_equal(adm("--json", "list", "--frob", NULL), 2);
    assert_refused(2, "USAGE", "unknown option --frob");
}

static void test_concert_add(void **state)
{
    (void)state;
    struct counts before = count_rows();
    assert_int_equal(adm("--json", "concert", "add", "--title", TITLE, "--venue",
                         "\xec\x84\xb8\xec\xa2\x85\xeb\xac\xb8\xed\x99\x94\xed\x9a\x8c\xea\xb4\x80",
                         NULL),
                     0);
    assert_non_null(run.json);
    concert_id = jint(run.json, "concertId");
    assert_true(concert_id > 0);
    assert_string_equal(jstr(run.json, "title"), TITLE);
    struct cr_db_val p[] = {CR_DB_I(concert_id)};
    assert_int_equal(
        cr_test_db_int("SELECT COUNT(*) FROM concerts WHERE id = ? AND title = '" TITLE "'"
                       " AND venue = '\xec\x84\xb8\xec\xa2\x85\xeb\xac\xb8\xed\x99\x94"
                       "\xed\x9a\x8c\xea\xb4\x80'",
                       p, 1),
        1);
    assert_int_equal(count_rows().concerts, before.concerts + 1);

    /* Without --json: one line naming the id; --json may also follow the command. */
    assert_int_equal(adm("concert", "add", "--title=" TITLE, "--venue=hall 2", NULL), 0);
    long long second = 0;
    assert_int_equal(sscanf(run.out, "concert %lld added", &second), 1);
    assert_true(second > concert_id);
    assert_int_equal(adm("concert", "add", "--title", TITLE, "--venue", "hall 3", "--json",
                         NULL),
                     0);
    assert_true(jint(run.json, "concertId") > second);
}

static void test_concert_add_bad(void **state)
{
    (void)state;
    struct counts before = count_rows();
    char long_title[260];
    memset(long_title, 'x', 201);
    long_title[201] = '\0';
    assert_int_equal(adm("--json", "concert", "add", "--title", "", "--venue", "v", NULL), 1);
    assert_refused(1, "INVALID_INPUT", "the title must not be empty");
    assert_int_equal(adm("--json", "concert", "add", "--title", "a\tb", "--venue", "v", NULL), 1);
    assert_refused(1, "INVALID_INPUT", "control characters");
    assert_int_equal(adm("--json", "concert", "add", "--title", long_title, "--venue", "v", NULL),
                     1);
    assert_refused(1, "INVALID_INPUT", "over 200 characters");
    assert_int_equal(adm("--json", "concert", "add", "--title", "t", NULL), 2);
    assert_refused(2, "USAGE", "--venue is required");
    assert_int_equal(adm("--json", "concert", "add", "--title", "t", "--title", "u", "--venue",
                         "v", NULL),
                     2);
    assert_refused(2, "USAGE", "--title given twice");
    assert_unchanged(&before);
}

static char concert_arg[32];

static void test_schedule_add_price(void **state)
{
    (void)state;
    snprintf(concert_arg, sizeof(concert_arg), "%lld", concert_id);
    long long now = cr_time_now_ms();
    assert_int_equal(adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at",
                         "now+30d", "--sales-open-at", "now+1h", "--seats", "10000", "--price",
                         "55000", NULL),
                     0);
    long long id = jint(run.json, "scheduleId");
    assert_int_equal(jint(run.json, "concertId"), concert_id);
    assert_int_equal(jint(run.json, "totalSeats"), 10000);
    long long starts = jtime(run.json, "startsAt"), opens = jtime(run.json, "salesOpenAt");
    assert_true(llabs(starts - (now + 30 * 86400000LL)) < 60000);
    assert_true(llabs(opens - (now + 3600000LL)) < 60000);
    struct cr_db_val p[] = {CR_DB_I(id), CR_DB_I(concert_id), CR_DB_T(starts), CR_DB_T(opens)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM schedules WHERE id = ? AND"
                                    " concert_id = ? AND starts_at = ? AND sales_open_at = ?"
                                    " AND total_seats = 10000",
                                    p, 4),
                     1);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE schedule_id = ?"
                                    " AND price = 55000 AND status = 'AVAILABLE'",
                                    p, 1),
                     10000);
    assert_int_equal(cr_test_db_int("SELECT MAX(seat_no) - MIN(seat_no) + 1 FROM seats"
                                    " WHERE schedule_id = ?",
                                    p, 1),
                     10000);
}

static void test_schedule_add_ranges(void **state)
{
    (void)state;
    assert_int_equal(adm("schedule", "add", "--concert", concert_arg, "--starts-at",
                         "2099-12-24T19:00:00+09:00", "--sales-open-at", "now", "--seats", "50",
                         "--prices", "1-10:150000,11-30:110000,31-50:77000", "--json", NULL),
                     0);
    long long id = jint(run.json, "scheduleId");
    assert_string_equal(jstr(run.json, "startsAt"), "2099-12-24T10:00:00.000Z");
    assert_int_equal(jint(run.json, "minPrice"), 77000);
    assert_int_equal(jint(run.json, "maxPrice"), 150000);
    struct cr_db_val p[] = {CR_DB_I(id)};
    assert_int_equal(cr_test_db_int("SELECT SUM(price) FROM seats WHERE schedule_id = ?", p, 1),
                     10 * 150000 + 20 * 110000 + 20 * 77000);
    assert_int_equal(cr_test_db_int("SELECT price FROM seats WHERE schedule_id = ?"
                                    " AND seat_no = 10",
                                    p, 1),
                     150000);
    assert_int_equal(cr_test_db_int("SELECT price FROM seats WHERE schedule_id = ?"
                                    " AND seat_no = 11",
                                    p, 1),
                     110000);
    assert_int_equal(cr_test_db_int("SELECT price FROM seats WHERE schedule_id = ?"
                                    " AND seat_no = 50",
                                    p, 1),
                     77000);
    /* Without --json: one line naming the id. */
    assert_int_equal(adm("schedule", "add", "--concert", concert_arg, "--starts-at", "now+7d",
                         "--sales-open-at", "now", "--seats", "3", "--prices", "1:10,2-3:20",
                         NULL),
                     0);
    assert_non_null(strstr(run.out, "3 seats at 10 to 20 won"));
}

static void test_schedule_add_csv(void **state)
{
    (void)state;
    char path[64], csv[2048];
    size_t n = (size_t)snprintf(csv, sizeof(csv), "seatNo,price\r\n");
    for (int s = 40; s >= 1; s--) /* any order */
        n += (size_t)snprintf(csv + n, sizeof(csv) - n, "%d,%d\r\n", s, 1000 + s);
    temp_file(path, csv);
    assert_int_equal(adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at",
                         "now+2d", "--sales-open-at", "now+1d", "--seats", "40", "--prices-csv",
                         path, NULL),
                     0);
    unlink(path);
    long long id = jint(run.json, "scheduleId");
    struct cr_db_val p[] = {CR_DB_I(id)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE schedule_id = ?"
                                    " AND price = 1000 + seat_no",
                                    p, 1),
                     40);
}

/* A schedule add refused for bad input: exit 1, the message, nothing written. */
static void refused_schedule(const char *starts, const char *opens, const char *seats,
                             const char *price_opt, const char *price, const char *msg)
{
    struct counts before = count_rows();
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", starts,
        "--sales-open-at", opens, "--seats", seats, price_opt, price, NULL);
    assert_refused(1, "INVALID_INPUT", msg);
    assert_unchanged(&before);
}

static void test_schedule_add_bad(void **state)
{
    (void)state;
    refused_schedule("now-1m", "now-2h", "50", "--price", "1000", "start in the past");
    refused_schedule("2020-01-01T00:00Z", "now", "50", "--price", "1000", "start in the past");
    refused_schedule("now+1d", "now+2d", "50", "--price", "1000", "after the start");
    refused_schedule("now+1d", "now", "0", "--price", "1000", "from 1 to 10000 seats");
    refused_schedule("now+1d", "now", "10001", "--price", "1000", "from 1 to 10000 seats");
    refused_schedule("now+1d", "now", "-3", "--price", "1000", "from 1 to 10000 seats");
    refused_schedule("now+1d", "now", "50", "--price", "0", "a price is from 1");
    refused_schedule("now+1d", "now", "50", "--price", "-100", "above 0");
    refused_schedule("now+1d", "now", "50", "--price", "12.5", "not a whole number");
    refused_schedule("now+1d", "now", "50", "--prices", "1-10:5000,11-50:0", "a price is from 1");
    refused_schedule("now+1d", "now", "50", "--prices", "1-10:5000", "seat 11 has no price");
    refused_schedule("now+1d", "now", "50", "--prices", "1-60:5000", "seat 60 is outside");
    refused_schedule("now+1d", "now", "50", "--prices", "1-30:5,30-50:6", "priced twice");
    refused_schedule("now+1d", "now", "50", "--prices", "cheap", "expected FIRST-LAST:PRICE");
    refused_schedule("tomorrow", "now", "50", "--price", "1000", "RFC 3339");
    refused_schedule("2030-01-01T19:00", "now", "50", "--price", "1000", "RFC 3339");

    /* A CSV line that does not parse: its line number, in the message and in --json. */
    char path[64];
    struct counts before = count_rows();
    temp_file(path, "seatNo,price\n1,100\n2,200\n3;300\n4,400\n");
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "4", "--prices-csv", path, NULL);
    unlink(path);
    assert_refused(1, "INVALID_INPUT", "line 4: expected seatNo,price");
    json_object *e = NULL;
    assert_true(json_object_object_get_ex(run.json, "error", &e));
    assert_int_equal(jint(e, "line"), 4);
    temp_file(path, "1,100\n2,0\n3,300\n4,400\n");
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "4", "--prices-csv", path, NULL);
    unlink(path);
    assert_refused(1, "INVALID_INPUT", "line 2: price 0");
    temp_file(path, "1,100\n2,200\n");
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "4", "--prices-csv", path, NULL);
    unlink(path);
    assert_refused(1, "INVALID_INPUT", "seat 3 has no price");
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "4", "--prices-csv", "/nonexistent/prices.csv",
        NULL);
    assert_refused(1, "INVALID_INPUT", "cannot read");

    /* An unknown concert: refused by the transaction, before anything is written. */
    adm("--json", "schedule", "add", "--concert", "999999999", "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "50", "--price", "1000", NULL);
    assert_refused(1, "NOT_FOUND", "concert 999999999 not found");

    /* Usage: no price option, two of them. */
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "50", NULL);
    assert_refused(2, "USAGE", "exactly one of --price");
    adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
        "--sales-open-at", "now", "--seats", "50", "--price", "5", "--prices", "1-50:5", NULL);
    assert_refused(2, "USAGE", "exactly one of --price");
    assert_unchanged(&before);
}

/* The schedule of concert in a `list --json` output; NULL when absent. */
static json_object *listed(long long concert, long long schedule, json_object **c_out)
{
    json_object *concerts = NULL;
    assert_true(json_object_object_get_ex(run.json, "concerts", &concerts));
    for (size_t i = 0; i < json_object_array_length(concerts); i++) {
        json_object *c = json_object_array_get_idx(concerts, i), *ss = NULL;
        if (jint(c, "concertId") != concert)
            continue;
        if (c_out != NULL)
            *c_out = c;
        assert_true(json_object_object_get_ex(c, "schedules", &ss));
        for (size_t k = 0; k < json_object_array_length(ss); k++)
            if (jint(json_object_array_get_idx(ss, k), "scheduleId") == schedule)
                return json_object_array_get_idx(ss, k);
    }
    return NULL;
}

static void test_list(void **state)
{
    (void)state;
    assert_int_equal(adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at",
                         "now+3d", "--sales-open-at", "now", "--seats", "6", "--prices",
                         "1-3:1000,4-6:2000", NULL),
                     0);
    long long id = jint(run.json, "scheduleId");
    long long now = cr_time_now_ms();
    /* Seat 1 and 4 sold, 2 held (live), 3 held but run out, 5 and 6 free. */
    struct cr_db_val p[] = {CR_DB_T(now + 600000), CR_DB_T(now - 1000), CR_DB_I(id)};
    long long n = 0;
    assert_int_equal(cr_db_exec("UPDATE seats SET status = CASE WHEN seat_no IN (1, 4) THEN"
                                " 'SOLD' WHEN seat_no IN (2, 3) THEN 'HELD' ELSE status END,"
                                " hold_expires_at = CASE seat_no WHEN 2 THEN ? WHEN 3 THEN ?"
                                " ELSE NULL END, version = version + 1"
                                " WHERE schedule_id = ?",
                                p, 3, &n, NULL),
                     CR_OK);
    cr_test_seat_maps_changed();
    assert_int_equal(n, 6);
    assert_int_equal(adm("list", "--json", NULL), 0);
    json_object *c = NULL, *s = listed(concert_id, id, &c);
    assert_non_null(s);
    assert_string_equal(jstr(c, "title"), TITLE);
    assert_int_equal(jint(s, "totalSeats"), 6);
    assert_int_equal(jint(s, "sold"), 2);
    assert_int_equal(jint(s, "held"), 1);
    assert_int_equal(jint(s, "available"), 3);
    assert_int_equal(jint(s, "revenue"), 3000);
    assert_true(jtime(s, "salesOpenAt") <= jtime(s, "startsAt"));
    /* The demo concerts are there too, and a concert without schedules has an empty list. */
    assert_non_null(listed(1, 1, NULL));
    assert_int_equal(adm("--json", "concert", "add", "--title", TITLE, "--venue", "empty", NULL),
                     0);
    long long empty = jint(run.json, "concertId");
    assert_int_equal(adm("list", "--json", NULL), 0);
    c = NULL;
    assert_null(listed(empty, 1, &c));
    assert_non_null(c);
    json_object *ss = NULL;
    assert_true(json_object_object_get_ex(c, "schedules", &ss));
    assert_int_equal(json_object_array_length(ss), 0);

    /* The table for people: a line for the schedule with its numbers. */
    assert_int_equal(adm("list", NULL), 0);
    char want[64];
    snprintf(want, sizeof(want), "  %-8lld ", id);
    char *line = strstr(run.out, want);
    assert_non_null(line);
    long long seats, sold, held, avail, revenue;
    char t1[40], t2[40];
    assert_int_equal(sscanf(line, " %*d %39s %39s %lld %lld %lld %lld %lld", t1, t2, &seats,
                            &sold, &held, &avail, &revenue),
                     7);
    assert_int_equal(seats, 6);
    assert_int_equal(sold, 2);
    assert_int_equal(held, 1);
    assert_int_equal(avail, 3);
    assert_int_equal(revenue, 3000);
}

static void test_sales_open(void **state)
{
    (void)state;
    assert_int_equal(adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at",
                         "now+10d", "--sales-open-at", "now+5d", "--seats", "5", "--price",
                         "100", NULL),
                     0);
    long long id = jint(run.json, "scheduleId"), starts = jtime(run.json, "startsAt");
    char sid[32];
    snprintf(sid, sizeof(sid), "%lld", id);
    assert_int_equal(adm("--json", "sales-open", "--schedule", sid, "--at",
                         "2099-01-01T00:00:00Z", NULL),
                     1);
    assert_refused(1, "INVALID_INPUT", "after the start");
    struct cr_db_val p[] = {CR_DB_I(id)};
    long long before = open_at(id);

    long long now = cr_time_now_ms();
    assert_int_equal(adm("--json", "sales-open", "--schedule", sid, "--at", "now+90s", NULL), 0);
    assert_int_equal(jint(run.json, "scheduleId"), id);
    assert_int_equal(jtime(run.json, "startsAt"), starts);
    long long at = jtime(run.json, "salesOpenAt");
    assert_true(at >= now + 90000 && at < now + 150000);
    struct cr_db_val q[] = {CR_DB_I(id), CR_DB_T(at)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM schedules WHERE id = ?"
                                    " AND sales_open_at = ?",
                                    q, 2),
                     1);
    assert_true(before != at);
    /* Open at once, and plain output. */
    assert_int_equal(adm("sales-open", "--schedule", sid, "--at", "now", NULL), 0);
    assert_non_null(strstr(run.out, "sales open"));
    assert_true(cr_test_db_int("SELECT sales_open_at <= UTC_TIMESTAMP(3) FROM schedules"
                               " WHERE id = ?",
                               p, 1) == 1);

    /* Refusals, nothing changed: unknown schedule, bad time, a schedule that started. */
    long long kept = open_at(id);
    assert_int_equal(adm("--json", "sales-open", "--schedule", "999999999", "--at", "now", NULL),
                     1);
    assert_refused(1, "NOT_FOUND", "schedule 999999999 not found");
    assert_int_equal(adm("--json", "sales-open", "--schedule", sid, "--at", "soon", NULL), 1);
    assert_refused(1, "INVALID_INPUT", "RFC 3339");
    assert_int_equal(adm("--json", "sales-open", "--schedule", "0", "--at", "now", NULL), 1);
    assert_refused(1, "INVALID_INPUT", "not a positive integer");
    assert_int_equal(adm("--json", "sales-open", "--schedule", sid, NULL), 2);
    assert_refused(2, "USAGE", "--at is required");
    assert_int_equal(open_at(id), kept);
    long long past = 0;
    struct cr_db_val pp[] = {CR_DB_I(concert_id), CR_DB_T(now - 3600000), CR_DB_T(now - 7200000)};
    assert_int_equal(cr_db_exec("INSERT INTO schedules (concert_id, starts_at, sales_open_at,"
                                " total_seats) VALUES (?, ?, ?, 1)",
                                pp, 3, NULL, &past),
                     CR_OK);
    snprintf(sid, sizeof(sid), "%lld", past);
    assert_int_equal(adm("--json", "sales-open", "--schedule", sid, "--at", "now-3h", NULL), 1);
    assert_refused(1, "INVALID_INPUT", "already started");
    struct cr_db_val pq[] = {CR_DB_I(past), CR_DB_T(now - 7200000)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM schedules WHERE id = ?"
                                    " AND sales_open_at = ?",
                                    pq, 2),
                     1);
}

/* A command that fails inside its transaction: the seats table is locked by another session,
 * so the command's writes wait out the lock wait budget (DB_LOCK_WAIT_SECONDS) and fail after
 * the schedule row went in (or at it, should MariaDB lock the FK child for it too); either way
 * nothing of the command may be left (exit 3, a database error). */
static void test_schedule_add_all_or_nothing(void **state)
{
    (void)state;
    const char *sock = getenv("CR_DB_SOCKET");
    if (sock == NULL || cr_test_root_int("SELECT 1") != 1)
        skip();
    struct counts before = count_rows();
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "mariadb --no-defaults --socket='%s' -uroot concert"
             " -e 'LOCK TABLES seats WRITE; SELECT SLEEP(5);' >/dev/null 2>&1 &",
             sock);
    assert_int_equal(system(cmd), 0);
    static const char busy[] = "SELECT COUNT(*) FROM information_schema.processlist"
                               " WHERE info LIKE 'SELECT SLEEP(5)%'";
    long long deadline = cr_test_now_ms() + 10000;
    while (cr_test_root_int(busy) < 1) {
        assert_true(cr_test_now_ms() < deadline);
        cr_test_sleep_ms(50);
    }
    int rc = adm("--json", "schedule", "add", "--concert", concert_arg, "--starts-at", "now+1d",
                 "--sales-open-at", "now", "--seats", "50", "--price", "1000", NULL);
    if (rc != 3)
        fail_msg("wanted exit 3, got %d: %s %s", rc, run.out, run.err);
    assert_refused(3, "DATABASE", "nothing was written");
    /* Once the lock is gone: still nothing from that command. */
    deadline = cr_test_now_ms() + 15000;
    while (cr_test_root_int(busy) > 0 && cr_test_now_ms() < deadline)
        cr_test_sleep_ms(100);
    assert_unchanged(&before);
}

static int cleanup(void **state)
{
    (void)state;
    if (run.json != NULL)
        json_object_put(run.json);
    run.json = NULL;
    cr_db_exec("DELETE t FROM seats AS t JOIN schedules AS s ON s.id = t.schedule_id"
               " JOIN concerts AS c ON c.id = s.concert_id WHERE c.title = '" TITLE "'",
               NULL, 0, NULL, NULL);
    cr_db_exec("DELETE s FROM schedules AS s JOIN concerts AS c ON c.id = s.concert_id"
               " WHERE c.title = '" TITLE "'",
               NULL, 0, NULL, NULL);
    cr_db_exec("DELETE FROM concerts WHERE title = '" TITLE "'", NULL, 0, NULL, NULL);
    return 0;
}

int main(void)
{
    cr_test_init();
    const char *bin = getenv("CR_BIN_DIR");
    snprintf(adm_path, sizeof(adm_path), "%s/concert-admin", bin ? bin : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_concert_add),
        cmocka_unit_test(test_concert_add_bad),
        cmocka_unit_test(test_schedule_add_price),
        cmocka_unit_test(test_schedule_add_ranges),
        cmocka_unit_test(test_schedule_add_csv),
        cmocka_unit_test(test_schedule_add_bad),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_sales_open),
        cmocka_unit_test(test_schedule_add_all_or_nothing),
    };
    int rc = cmocka_run_group_tests(tests, NULL, cleanup);
    cr_db_close();
    return rc;
}

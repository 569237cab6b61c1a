/* test_catalog.c: concerts, upcoming schedules and seat maps (API.md 8-10) through nginx,
 * with QUEUE_ACTIVE_MAX=2 (test_catalog.conf) so that a third user waits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_db.h"
#include "cr_error.h"
#include "cr_test.h"
#include "cr_time.h"

#define DAY_MS (24LL * 3600 * 1000)

/* The demo catalogue of sql/demo.sql. */
static const char *const demo_titles[] = {
    "Seoul Philharmonic Orchestra: Beethoven Symphony No. 9",
    "Neon Harbor Live Tour: Seoul",
    "Han River Jazz Night with the Mapo Quartet",
};
static const char *const demo_venues[] = {
    "Lotte Concert Hall, Songpa-gu, Seoul",
    "KSPO Dome, Olympic Park, Seoul",
    "Blue Square Mastercard Hall, Yongsan-gu, Seoul",
};

/* Rows this program adds (and removes at the end), so no demo row is disturbed:
 * concert fx_concert with schedules fx_soon (+1 day, 50 seats: 1 held with a hold that ran
 * out, 2 held, 3 sold), fx_later (+2 days, 50 seats) and fx_past (-1 day, no seats); and
 * fx_empty, a concert without any schedule. */
static long long fx_concert, fx_empty, fx_soon, fx_later, fx_past;
static char active_auth[400];

/* --- helpers ------------------------------------------------------------------------- */

/* Asserts that o is an object with exactly the n given keys, each of the paired type. */
static void assert_shape(json_object *o, int n, ...)
{
    va_list ap;
    assert_true(json_object_is_type(o, json_type_object));
    assert_int_equal(json_object_object_length(o), n);
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *key = va_arg(ap, const char *);
        enum json_type type = va_arg(ap, enum json_type);
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
            print_error("missing key %s in %s\n", key, json_object_to_json_string(o));
        assert_true(json_object_object_get_ex(o, key, &v));
        assert_true(json_object_is_type(v, type));
    }
    va_end(ap);
}

static long long get_int(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int64(v);
}

static const char *get_str(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

/* A time field in the contract's exact form ("2026-12-24T19:00:00.000Z"), as milliseconds. */
static long long get_time(json_object *o, const char *key)
{
    const char *s = get_str(o, key);
    int64_t ms;
    char back[CR_TIME_LEN];
    assert_int_equal(strlen(s), 24);
    assert_int_equal(cr_time_parse(s, &ms), CR_OK);
    assert_string_equal(cr_time_format(ms, back), s);
    return ms;
}

static json_object *get_array(json_object *o, const char *key)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    assert_true(json_object_is_type(v, json_type_array));
    return v;
}

static long get(struct cr_test_res *r, const char *path, const char *auth)
{
    const char *h[] = {auth, NULL};
    return cr_test_req(r, "GET", path, NULL, auth ? h : NULL);
}

/* GET the schedules of concert (query: "" or "?available=..."), checking the body's shape. */
static json_object *get_schedules(struct cr_test_res *r, long long concert, const char *query)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/concerts/%lld/schedules%s", concert, query);
    if (get(r, path, active_auth) != 200)
        print_error("GET %s: %ld %s\n", path, r->status, r->body);
    assert_int_equal(r->status, 200);
    assert_shape(r->json, 2, "concertId", json_type_int, "schedules", json_type_array);
    assert_int_equal(get_int(r->json, "concertId"), concert);
    json_object *list = get_array(r->json, "schedules");
    long long prev = 0, now = cr_time_now_ms();
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *s = json_object_array_get_idx(list, i);
        assert_shape(s, 5, "scheduleId", json_type_int, "startsAt", json_type_string,
                     "salesOpenAt", json_type_string, "totalSeats", json_type_int,
                     "availableSeats", json_type_int);
        long long at = get_time(s, "startsAt");
        assert_true(get_time(s, "salesOpenAt") <= at); /* sales open before the show */
        assert_true(at > now - 5000); /* upcoming only (allowing for clock skew) */
        assert_true(at >= prev);      /* earliest first */
        prev = at;
        assert_true(get_int(s, "availableSeats") >= 0);
        assert_true(get_int(s, "availableSeats") <= get_int(s, "totalSeats"));
    }
    return list;
}

/* GET the seat map of schedule, checking the body's shape and seat order. */
static json_object *get_seats(struct cr_test_res *r, long long schedule)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/schedules/%lld/seats", schedule);
    if (get(r, path, active_auth) != 200)
        print_error("GET %s: %ld %s\n", path, r->status, r->body);
    assert_int_equal(r->status, 200);
    assert_shape(r->json, 4, "scheduleId", json_type_int, "concertId", json_type_int,
                 "startsAt", json_type_string, "seats", json_type_array);
    assert_int_equal(get_int(r->json, "scheduleId"), schedule);
    get_time(r->json, "startsAt");
    json_object *list = get_array(r->json, "seats");
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *s = json_object_array_get_idx(list, i);
        assert_shape(s, 3, "seatNo", json_type_int, "price", json_type_int, "status",
                     json_type_string);
        assert_int_equal(get_int(s, "seatNo"), (long long)i + 1);
        const char *st = get_str(s, "status");
        assert_true(strcmp(st, "AVAILABLE") == 0 || strcmp(st, "HELD") == 0 ||
                    strcmp(st, "SOLD") == 0);
    }
    return list;
}

static const char *seat_status(json_object *seats, int seat_no)
{
    return get_str(json_object_array_get_idx(seats, (size_t)seat_no - 1), "status");
}

static int count_status(json_object *seats, const char *status)
{
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(seats); i++)
        n += strcmp(get_str(json_object_array_get_idx(seats, i), "status"), status) == 0;
    return n;
}

/* The entry of scheduleId id in a schedules list, NULL when absent. */
static json_object *find_schedule(json_object *list, long long id)
{
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *s = json_object_array_get_idx(list, i);
        if (get_int(s, "scheduleId") == id)
            return s;
    }
    return NULL;
}

/* Joins the line for a new user; returns the status ("ACTIVE"/"WAITING") into status. */
static void join_line(char *auth, size_t n, char *status, size_t sn)
{
    char user[37], body[128];
    struct cr_test_res r;
    cr_test_new_user(user);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", user);
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL), 201);
    snprintf(auth, n, "Authorization: Bearer %s", cr_test_str(&r, "token"));
    snprintf(status, sn, "%s", cr_test_str(&r, "status"));
    cr_test_res_free(&r);
}

static long long insert_schedule(long long concert, long long starts_at)
{
    long long id = 0;
    struct cr_db_val p[] = {CR_DB_I(concert), CR_DB_T(starts_at)};
    assert_int_equal(cr_db_exec("INSERT INTO schedules (concert_id, starts_at, total_seats)"
                                " VALUES (?, ?, 50)",
                                p, 2, NULL, &id),
                     CR_OK);
    return id;
}

static long long insert_concert(const char *title)
{
    long long id = 0;
    struct cr_db_val p[] = {CR_DB_STRZ(title)};
    assert_int_equal(cr_db_exec("INSERT INTO concerts (title, venue) VALUES (?, 'test hall')", p,
                                1, NULL, &id),
                     CR_OK);
    return id;
}

static void insert_seats(long long schedule)
{
    long long n = 0;
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    assert_int_equal(cr_db_exec("INSERT INTO seats (schedule_id, seat_no, price)"
                                " SELECT ?, seq, 1000 * seq FROM seq_1_to_50",
                                p, 1, &n, NULL),
                     CR_OK);
    assert_int_equal(n, 50);
    cr_test_seat_maps_changed();
}

static void set_seat(long long schedule, int seat_no, const char *status, long long expires_ms)
{
    long long n = 0;
    struct cr_db_val p[] = {CR_DB_STRZ(status),
                            expires_ms ? CR_DB_T(expires_ms) : CR_DB_NULLV,
                            CR_DB_I(schedule), CR_DB_I(seat_no)};
    assert_int_equal(cr_db_exec("UPDATE seats SET status = ?, hold_expires_at = ?,"
                                " version = version + 1"
                                " WHERE schedule_id = ? AND seat_no = ?",
                                p, 4, &n, NULL),
                     CR_OK);
    assert_int_equal(n, 1);
    cr_test_seat_maps_changed();
}

/* --- fixtures ------------------------------------------------------------------------ */

static int cleanup_rows(void)
{
    struct cr_db_val p[] = {CR_DB_I(fx_concert), CR_DB_I(fx_empty)};
    int rc = cr_db_exec("DELETE seats FROM seats JOIN schedules ON seats.schedule_id = schedules.id"
                        " WHERE schedules.concert_id IN (?, ?)",
                        p, 2, NULL, NULL);
    if (rc == CR_OK)
        rc = cr_db_exec("DELETE FROM schedules WHERE concert_id IN (?, ?)", p, 2, NULL, NULL);
    if (rc == CR_OK)
        rc = cr_db_exec("DELETE FROM concerts WHERE id IN (?, ?)", p, 2, NULL, NULL);
    return rc;
}

static int setup(void **state)
{
    char status[16];
    long long now = cr_time_now_ms();
    fx_concert = insert_concert("catalog test concert");
    fx_empty = insert_concert("catalog test concert without schedules");
    fx_later = insert_schedule(fx_concert, now + 2 * DAY_MS);
    fx_soon = insert_schedule(fx_concert, now + DAY_MS);
    fx_past = insert_schedule(fx_concert, now - DAY_MS);
    insert_seats(fx_soon);
    insert_seats(fx_later);
    set_seat(fx_soon, 1, "HELD", now - 60 * 1000); /* a hold that ran out a minute ago */
    set_seat(fx_soon, 2, "HELD", now + 600 * 1000);
    set_seat(fx_soon, 3, "SOLD", 0);
    join_line(active_auth, sizeof(active_auth), status, sizeof(status));
    assert_string_equal(status, "ACTIVE");
    return 0;
}

static int teardown(void **state)
{
    return cleanup_rows() == CR_OK ? 0 : -1;
}

/* --- 8. GET /api/v1/concerts --------------------------------------------------------- */

static void test_concerts_list(void **state)
{
    struct cr_test_res r;
    int seen_fixture = 0;
    /* No token needed. */
    assert_int_equal(get(&r, "/api/v1/concerts", NULL), 200);
    assert_shape(r.json, 1, "concerts", json_type_array);
    json_object *list = get_array(r.json, "concerts");
    assert_true(json_object_array_length(list) >= 5);
    long long prev = 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *c = json_object_array_get_idx(list, i);
        assert_shape(c, 3, "concertId", json_type_int, "title", json_type_string, "venue",
                     json_type_string);
        long long id = get_int(c, "concertId");
        assert_true(id > prev); /* ordered by id */
        prev = id;
        if (i < 3) {
            assert_int_equal(id, (long long)i + 1);
            assert_string_equal(get_str(c, "title"), demo_titles[i]);
            assert_string_equal(get_str(c, "venue"), demo_venues[i]);
        }
        if (id == fx_concert) {
            seen_fixture = 1;
            assert_string_equal(get_str(c, "title"), "catalog test concert");
            assert_string_equal(get_str(c, "venue"), "test hall");
        }
    }
    assert_true(seen_fixture);
    char *ct = cr_test_header(&r, "Content-Type");
    assert_non_null(strstr(ct, "application/json"));
    free(ct);
    cr_test_res_free(&r);
}

/* --- 9. GET /api/v1/concerts/{concertId}/schedules ----------------------------------- */

static void test_demo_schedules(void **state)
{
    struct cr_test_res r;
    for (long long c = 1; c <= 3; c++) {
        json_object *list = get_schedules(&r, c, "");
        /* Concert c has schedules 5c-4 .. 5c, one week apart, all upcoming. */
        assert_int_equal(json_object_array_length(list), 5);
        for (size_t i = 0; i < 5; i++) {
            json_object *s = json_object_array_get_idx(list, i);
            assert_int_equal(get_int(s, "scheduleId"), 5 * (c - 1) + (long long)i + 1);
            assert_int_equal(get_int(s, "totalSeats"), 50);
        }
        cr_test_res_free(&r);
        /* available=false is the same as no filter. */
        list = get_schedules(&r, c, "?available=false");
        assert_int_equal(json_object_array_length(list), 5);
        cr_test_res_free(&r);
    }
}

static void test_schedules_upcoming_earliest_first(void **state)
{
    struct cr_test_res r;
    json_object *list = get_schedules(&r, fx_concert, "");
    /* The past schedule is left out; the one inserted last but starting first comes first. */
    assert_int_equal(json_object_array_length(list), 2);
    assert_int_equal(get_int(json_object_array_get_idx(list, 0), "scheduleId"), fx_soon);
    assert_int_equal(get_int(json_object_array_get_idx(list, 1), "scheduleId"), fx_later);
    assert_null(find_schedule(list, fx_past));
    cr_test_res_free(&r);

    /* A concert without upcoming schedules: 200 and an empty list. */
    list = get_schedules(&r, fx_empty, "");
    assert_int_equal(json_object_array_length(list), 0);
    cr_test_res_free(&r);
    list = get_schedules(&r, fx_empty, "?available=true");
    assert_int_equal(json_object_array_length(list), 0);
    cr_test_res_free(&r);
}

static void test_expired_hold_is_available(void **state)
{
    struct cr_test_res r;
    /* Seat 1's hold ran out: AVAILABLE and counted, though the row still says HELD. */
    json_object *seats = get_seats(&r, fx_soon);
    assert_int_equal(json_object_array_length(seats), 50);
    assert_string_equal(seat_status(seats, 1), "AVAILABLE");
    assert_string_equal(seat_status(seats, 2), "HELD");
    assert_string_equal(seat_status(seats, 3), "SOLD");
    assert_int_equal(count_status(seats, "AVAILABLE"), 48);
    cr_test_res_free(&r);

    json_object *list = get_schedules(&r, fx_concert, "");
    json_object *s = find_schedule(list, fx_soon);
    assert_non_null(s);
    assert_int_equal(get_int(s, "totalSeats"), 50);
    assert_int_equal(get_int(s, "availableSeats"), 48);
    cr_test_res_free(&r);

    struct cr_db_rows rows;
    struct cr_arena *a = cr_arena_new();
    struct cr_db_val p[] = {CR_DB_I(fx_soon)};
    assert_int_equal(cr_db_query(a,
                                 "SELECT status FROM seats WHERE schedule_id = ? AND seat_no = 1",
                                 p, 1, &rows),
                     CR_OK);
    assert_int_equal(rows.nrows, 1);
    assert_string_equal(CR_DB_CELL(&rows, 0, 0)->s, "HELD");
    cr_arena_free(a);
}

static void test_available_true_drops_sold_out(void **state)
{
    struct cr_test_res r;
    long long n = 0;
    json_object *list = get_schedules(&r, fx_concert, "?available=true");
    assert_int_equal(json_object_array_length(list), 2);
    assert_int_equal(get_int(find_schedule(list, fx_later), "availableSeats"), 50);
    cr_test_res_free(&r);

    /* Sell every seat of fx_later. */
    struct cr_db_val p[] = {CR_DB_I(fx_later)};
    assert_int_equal(cr_db_exec("UPDATE seats SET status = 'SOLD', version = version + 1"
                                " WHERE schedule_id = ?",
                                p, 1, &n, NULL),
                     CR_OK);
    assert_int_equal(n, 50);
    cr_test_seat_maps_changed();

    list = get_schedules(&r, fx_concert, "?available=true");
    assert_int_equal(json_object_array_length(list), 1);
    assert_int_equal(get_int(json_object_array_get_idx(list, 0), "scheduleId"), fx_soon);
    cr_test_res_free(&r);

    /* Without the filter (or with available=false) the sold-out schedule stays, at 0. */
    list = get_schedules(&r, fx_concert, "");
    assert_int_equal(json_object_array_length(list), 2);
    assert_int_equal(get_int(find_schedule(list, fx_later), "availableSeats"), 0);
    cr_test_res_free(&r);
    list = get_schedules(&r, fx_concert, "?available=false");
    assert_int_equal(json_object_array_length(list), 2);
    cr_test_res_free(&r);

    json_object *seats = get_seats(&r, fx_later);
    assert_int_equal(count_status(seats, "SOLD"), 50);
    cr_test_res_free(&r);

    /* Every schedule sold out: the concert is still there, with an empty filtered list. */
    p[0] = CR_DB_I(fx_soon);
    assert_int_equal(cr_db_exec("UPDATE seats SET status = 'SOLD', version = version + 1"
                                " WHERE schedule_id = ?",
                                p, 1, &n, NULL),
                     CR_OK);
    cr_test_seat_maps_changed();
    list = get_schedules(&r, fx_concert, "?available=true");
    assert_int_equal(json_object_array_length(list), 0);
    cr_test_res_free(&r);
}

static void test_available_bad_value(void **state)
{
    struct cr_test_res r;
    const char *bad[] = {"?available=yes", "?available=1", "?available=TRUE", "?available=",
                         "?available"};
    char path[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/concerts/1/schedules%s", bad[i]);
        get(&r, path, active_auth);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
}

/* --- 10. GET /api/v1/schedules/{scheduleId}/seats ------------------------------------ */

static void test_demo_seats(void **state)
{
    struct cr_test_res r, sr;
    for (long long c = 1; c <= 3; c++) {
        json_object *list = get_schedules(&sr, c, "");
        for (size_t k = 0; k < json_object_array_length(list); k++) {
            json_object *sch = json_object_array_get_idx(list, k);
            long long id = get_int(sch, "scheduleId");
            json_object *seats = get_seats(&r, id);
            assert_int_equal(get_int(r.json, "concertId"), c);
            assert_string_equal(get_str(r.json, "startsAt"), get_str(sch, "startsAt"));
            assert_int_equal(json_object_array_length(seats), 50);
            for (int n = 1; n <= 50; n++) {
                json_object *s = json_object_array_get_idx(seats, (size_t)n - 1);
                long long price = n <= 10 ? 150000 : n <= 30 ? 110000 : 77000;
                assert_int_equal(get_int(s, "price"), price);
            }
            cr_test_res_free(&r);
        }
        cr_test_res_free(&sr);
    }
}

static void test_schedule_without_seats(void **state)
{
    struct cr_test_res r;
    json_object *seats = get_seats(&r, fx_past);
    assert_int_equal(json_object_array_length(seats), 0);
    assert_int_equal(get_int(r.json, "concertId"), fx_concert);
    cr_test_res_free(&r);
}

/* --- bad input and the token gate ---------------------------------------------------- */

static void test_bad_and_unknown_ids(void **state)
{
    struct cr_test_res r;
    const char *bad[] = {"0", "-1", "abc", "1.5", "1e3", "+1", "99999999999999999999"};
    char path[128];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/v1/concerts/%s/schedules", bad[i]);
        get(&r, path, active_auth);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
        snprintf(path, sizeof(path), "/api/v1/schedules/%s/seats", bad[i]);
        get(&r, path, active_auth);
        cr_test_assert_error(&r, 400, "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    get(&r, "/api/v1/concerts/999999999/schedules", active_auth);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    get(&r, "/api/v1/concerts/999999999/schedules?available=true", active_auth);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    get(&r, "/api/v1/schedules/999999999/seats", active_auth);
    cr_test_assert_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
}

static void test_token_gate(void **state)
{
    struct cr_test_res r;
    const char *paths[] = {"/api/v1/concerts/1/schedules", "/api/v1/schedules/1/seats"};
    char waiting[400], status[16], other[400];

    /* QUEUE_ACTIVE_MAX=2: the setup's user and one more are active, a third one waits. */
    join_line(other, sizeof(other), status, sizeof(status));
    assert_string_equal(status, "ACTIVE");
    join_line(waiting, sizeof(waiting), status, sizeof(status));
    assert_string_equal(status, "WAITING");

    for (size_t i = 0; i < 2; i++) {
        get(&r, paths[i], NULL);
        cr_test_assert_error(&r, 401, "TOKEN_MISSING");
        cr_test_res_free(&r);
        get(&r, paths[i], "Authorization: Bearer garbage");
        cr_test_assert_error(&r, 401, "TOKEN_INVALID");
        cr_test_res_free(&r);
        get(&r, paths[i], "Authorization: Basic dXNlcjpwYXNz");
        cr_test_assert_error(&r, 401, "TOKEN_INVALID");
        cr_test_res_free(&r);
        get(&r, paths[i], waiting);
        cr_test_assert_error(&r, 403, "TOKEN_NOT_ACTIVE");
        cr_test_res_free(&r);
        assert_int_equal(get(&r, paths[i], other), 200);
        cr_test_res_free(&r);
        /* A wrong method is 405 before any token check. */
        cr_test_req(&r, "POST", paths[i], "{}", NULL);
        cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
        cr_test_res_free(&r);
    }
    /* The concert list needs no token, and a bad one does not hurt it. */
    assert_int_equal(get(&r, "/api/v1/concerts", "Authorization: Bearer garbage"), 200);
    cr_test_res_free(&r);
    cr_test_req(&r, "DELETE", "/api/v1/concerts", NULL, NULL);
    cr_test_assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    cr_test_res_free(&r);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concerts_list),
        cmocka_unit_test(test_demo_schedules),
        cmocka_unit_test(test_schedules_upcoming_earliest_first),
        cmocka_unit_test(test_expired_hold_is_available),
        cmocka_unit_test(test_available_true_drops_sold_out),
        cmocka_unit_test(test_available_bad_value),
        cmocka_unit_test(test_demo_seats),
        cmocka_unit_test(test_schedule_without_seats),
        cmocka_unit_test(test_bad_and_unknown_ids),
        cmocka_unit_test(test_token_gate),
    };
    int failed = cmocka_run_group_tests_name("http_catalog", tests, setup, teardown);
    cr_db_close();
    return failed;
}

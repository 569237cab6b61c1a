/* test_sales_open.c: a schedule's sales opening (salesOpenAt): a hold before it is 409
 * SALES_NOT_OPEN while the seat map stays readable and the schedule list shows the time; and
 * 50 concurrent holds fired from 100 ms before to 100 ms after the opening, none of which may
 * be granted by a request the database saw before it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_arena.h"
#include "cr_error.h"
#include "cr_time.h"
#include "payment_fixture.h"

#define NRACE 50      /* holds fired around the opening, one seat and one user each */
#define SPREAD_MS 100 /* fired from this long before the opening to this long after */

static long long schedule, concert;
static struct fx_user users[NRACE + 1]; /* the last one holds outside the race */

/* The schedule's sales opening as the database has it, in ms. */
static long long open_at(void)
{
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    return cr_test_db_int("SELECT sales_open_at FROM schedules WHERE id = ?", p, 1);
}

/* Moves the opening with concert-admin (as an operator would). */
static void sales_open(const char *at)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "'%s/concert-admin' sales-open --schedule %lld --at %s >/dev/null",
             getenv("CR_BIN_DIR"), schedule, at);
    assert_int_equal(system(cmd), 0);
}

static void make_user(int i, void *ctx)
{
    int *active = ctx;
    if (fx_user_new(&users[i], 0) == 1)
        __atomic_add_fetch(active, 1, __ATOMIC_SEQ_CST);
}

static int setup(void **state)
{
    (void)state;
    int active = 0;
    fx_init("sales opening test concert");
    schedule = fx_schedule(NRACE);
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    concert = cr_test_db_int("SELECT concert_id FROM schedules WHERE id = ?", p, 1);
    cr_test_parallel(16, NRACE + 1, make_user, &active);
    assert_int_equal(active, NRACE + 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup();
    return 0;
}

static long long reservations(void)
{
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    return cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE schedule_id = ?", p, 1);
}

static void test_before_opening(void **state)
{
    (void)state;
    struct cr_test_res r;
    char body[128], path[128], ts[CR_TIME_LEN];
    const char *h[] = {users[NRACE].auth, NULL};

    sales_open("now+1h");
    long long at = open_at();
    assert_true(at > cr_time_now_ms() + 3000000);

    /* A hold: 409 SALES_NOT_OPEN, and no reservation left behind. */
    snprintf(body, sizeof(body), "{\"scheduleId\":%lld,\"seatNo\":7}", schedule);
    cr_test_req(&r, "POST", "/api/v1/reservations", body, h);
    cr_test_assert_error(&r, 409, "SALES_NOT_OPEN");
    cr_test_res_free(&r);
    assert_int_equal(reservations(), 0);

    /* The seat map is readable, every seat free. */
    snprintf(path, sizeof(path), "/api/v1/schedules/%lld/seats", schedule);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, h), 200);
    json_object *seats = NULL;
    assert_true(json_object_object_get_ex(r.json, "seats", &seats));
    assert_int_equal(json_object_array_length(seats), NRACE);
    for (size_t i = 0; i < NRACE; i++) {
        json_object *st = NULL;
        assert_true(json_object_object_get_ex(json_object_array_get_idx(seats, i), "status", &st));
        assert_string_equal(json_object_get_string(st), "AVAILABLE");
    }
    cr_test_res_free(&r);

    /* The schedule list shows when sales open. */
    snprintf(path, sizeof(path), "/api/v1/concerts/%lld/schedules", concert);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, h), 200);
    json_object *list = NULL;
    assert_true(json_object_object_get_ex(r.json, "schedules", &list));
    assert_int_equal(json_object_array_length(list), 1);
    json_object *s = json_object_array_get_idx(list, 0), *v = NULL;
    assert_true(json_object_object_get_ex(s, "salesOpenAt", &v));
    assert_string_equal(json_object_get_string(v), cr_time_format(at, ts));
    cr_test_res_free(&r);
}

/* One hold of the race. */
struct shot {
    long long fire_ms, sent_ms; /* epoch ms: when it was to be sent, when it was */
    long status;
    char code[40];
    char rid[37];
};

static struct shot shots[NRACE];

static void fire(int i, void *ctx)
{
    (void)ctx;
    struct shot *s = &shots[i];
    struct timespec at = {(time_t)(s->fire_ms / 1000), (long)(s->fire_ms % 1000) * 1000000};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) != 0)
        ;
    struct cr_test_res r;
    char body[128];
    const char *h[] = {users[i].auth, NULL};
    snprintf(body, sizeof(body), "{\"scheduleId\":%lld,\"seatNo\":%d}", schedule, i + 1);
    s->sent_ms = cr_time_now_ms();
    s->status = cr_test_req(&r, "POST", "/api/v1/reservations", body, h);
    snprintf(s->code, sizeof(s->code), "%s", cr_test_error_code(&r));
    if (s->status == 201)
        snprintf(s->rid, sizeof(s->rid), "%s", cr_test_str(&r, "reservationId"));
    cr_test_res_free(&r);
}

static void test_opening_race(void **state)
{
    (void)state;
    sales_open("now+2500ms");
    long long at = open_at();
    assert_true(at > cr_time_now_ms() + 1000); /* time enough to start the clients */
    for (int i = 0; i < NRACE; i++)
        shots[i].fire_ms = at - SPREAD_MS + (2LL * SPREAD_MS * i) / (NRACE - 1);
    cr_test_parallel(NRACE, NRACE, fire, NULL);

    int held = 0, refused = 0;
    long long last_refused = -1000000, first_held = 1000000;
    for (int i = 0; i < NRACE; i++) {
        struct shot *s = &shots[i];
        long long off = s->sent_ms - at;
        if (s->status == 201) {
            held++;
            first_held = off < first_held ? off : first_held;
        } else if (s->status == 409 && strcmp(s->code, "SALES_NOT_OPEN") == 0) {
            refused++;
            last_refused = off > last_refused ? off : last_refused;
            /* A request sent at or after the opening reached the service after it. */
            if (off >= 0)
                fail_msg("hold %d sent %lld ms after the opening was refused", i, off);
        } else {
            fail_msg("hold %d (sent at %+lld ms): %ld %s", i, off, s->status, s->code);
        }
    }
    printf("# fired %d holds from -%d to +%d ms around the opening: %d refused (the last sent at "
           "%+lld ms), %d held (the first sent at %+lld ms)\n",
           NRACE, SPREAD_MS, SPREAD_MS, refused, last_refused, held, first_held);
    assert_int_equal(held + refused, NRACE);
    assert_true(held >= 1);    /* the half sent after the opening at least */
    assert_true(refused >= 1); /* some of those sent up to 100 ms before it */

    /* The database: one reservation a granted hold, none made before the opening. */
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    assert_int_equal(reservations(), held);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations AS r"
                                    " JOIN schedules AS s ON s.id = r.schedule_id"
                                    " WHERE r.schedule_id = ? AND r.created_at < s.sales_open_at",
                                    p, 1),
                     0);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE schedule_id = ?"
                                    " AND status = 'HELD'",
                                    p, 1),
                     held);
    char st[16];
    for (int i = 0; i < NRACE; i++)
        if (shots[i].status == 201)
            assert_string_equal(fx_res_status(shots[i].rid, st), "HELD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_opening),
        cmocka_unit_test(test_opening_race),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

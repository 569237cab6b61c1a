/* test_seat_map.c: the seat-map read model (issue 15): every worker keeps a copy of the maps it
 * served, checked against a per-schedule version (or its Redis generation, which every writer
 * of the library renews); no read after a write may show the old map.
 *
 * Each check is a burst: many concurrent reads of one map through nginx, repeated until every
 * worker of the concert group has answered some of them (its /proc/PID/io rchar moved), and
 * every answer must show the write. The bursts before each write put the map in every
 * worker's copy, so a missed version bump would show up as a stale answer. Run with a 3 s hold
 * (test_seat_map.conf) so that a hold runs out within the test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_error.h"
#include "payment_fixture.h"

#define BURST_READS 48  /* reads per burst */
#define BURST_THREADS 16
#define MAX_SEATS 10

static long long schedule, concert;
static struct fx_user buyer;

/* What one burst saw. */
struct burst {
    char path[96];
    int seats;                  /* how many seats the map has */
    char want[MAX_SEATS + 1];   /* per seat: 'A', 'H' or 'S' */
    pthread_mutex_t mu;
    int bad, errors;            /* answers that differ, failed requests */
    char first_bad[256];
};

/* One read: the map's statuses as letters into got. */
static int read_map(const char *path, char *got, int seats)
{
    struct cr_test_res r;
    int ok = 0;
    long st = cr_test_req(&r, "GET", path, NULL, (const char *const[]){buyer.auth, NULL});
    if (st != 200)
        fprintf(stderr, "seat map: %ld %s\n", st, r.body ? r.body : "");
    if (st == 200 && r.json != NULL) {
        json_object *list;
        if (json_object_object_get_ex(r.json, "seats", &list) &&
            (int)json_object_array_length(list) == seats) {
            for (int i = 0; i < seats; i++) {
                json_object *s = json_object_array_get_idx(list, (size_t)i), *stv;
                json_object_object_get_ex(s, "status", &stv);
                got[i] = json_object_get_string(stv)[0];
            }
            got[seats] = '\0';
            ok = 1;
        }
    }
    cr_test_res_free(&r);
    return ok;
}

static void burst_one(int i, void *ctx)
{
    struct burst *b = ctx;
    char got[MAX_SEATS + 1] = "";
    (void)i;
    int ok = read_map(b->path, got, b->seats);
    pthread_mutex_lock(&b->mu);
    if (!ok)
        b->errors++;
    else if (strcmp(got, b->want) != 0 && b->bad++ == 0)
        snprintf(b->first_bad, sizeof(b->first_bad), "want %s, got %s", b->want, got);
    pthread_mutex_unlock(&b->mu);
}

/* Reads the map in bursts until every concert worker has served some of them (at most 20
 * bursts), asserting that every answer is want ('A'vailable, 'H'eld, 'S'old per seat). */
static void assert_every_worker_sees(const char *want)
{
    struct burst b = {.seats = (int)strlen(want), .mu = PTHREAD_MUTEX_INITIALIZER};
    snprintf(b.path, sizeof(b.path), "/api/v1/schedules/%lld/seats", schedule);
    snprintf(b.want, sizeof(b.want), "%s", want);
    int served, n;
    int bursts = cr_test_burst_workers("concert", BURST_THREADS, BURST_READS, burst_one, &b, 20,
                                       &served, &n);
    if (b.bad > 0)
        print_error("%d of %d answers stale: %s\n", b.bad, bursts * BURST_READS, b.first_bad);
    if (served < n || b.errors > 0)
        print_error("%d of %d workers answered in %d bursts, %d failed reads\n", served, n,
                    bursts, b.errors);
    assert_int_equal(b.errors, 0);
    assert_int_equal(b.bad, 0);
    assert_int_equal(served, n);
}

/* availableSeats of the schedule in the concert's list. */
static long long listed_available(void)
{
    struct cr_test_res r;
    char path[96];
    long long got = -1;
    snprintf(path, sizeof(path), "/api/v1/concerts/%lld/schedules", concert);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, (const char *const[]){buyer.auth, NULL}),
                     200);
    json_object *list;
    assert_true(json_object_object_get_ex(r.json, "schedules", &list));
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *s = json_object_array_get_idx(list, i), *v;
        json_object_object_get_ex(s, "scheduleId", &v);
        if (json_object_get_int64(v) != schedule)
            continue;
        json_object_object_get_ex(s, "availableSeats", &v);
        got = json_object_get_int64(v);
    }
    cr_test_res_free(&r);
    return got;
}

static long long map_version(void)
{
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    return cr_test_db_int("SELECT COALESCE(MAX(version), 0) FROM seat_map_versions"
                          " WHERE schedule_id = ?",
                          p, 1);
}

static int setup(void **state)
{
    (void)state;
    fx_init("seat map read model");
    schedule = fx_schedule(6);
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    concert = cr_test_db_int("SELECT concert_id FROM schedules WHERE id = ?", p, 1);
    if (fx_user_new(&buyer, 1000000) != 1)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup();
    return 0;
}

/* Hold, cancel, pay: each shown by every worker at once, and by the list's count. */
static void test_writes_show_at_once(void **state)
{
    char rid[37], rid2[37];
    long long expires = 0;
    struct cr_test_res r;
    char path[96];
    (void)state;

    assert_every_worker_sees("AAAAAA");
    assert_int_equal(listed_available(), 6);

    long long v0 = map_version();
    assert_int_equal(fx_hold(&buyer, schedule, 1, rid, &expires), 201);
    assert_true(map_version() > v0);
    assert_every_worker_sees("HAAAAA");
    assert_int_equal(listed_available(), 5);

    snprintf(path, sizeof(path), "/api/v1/reservations/%s", rid);
    long st = cr_test_req(&r, "DELETE", path, NULL, (const char *const[]){buyer.auth, NULL});
    cr_test_res_free(&r);
    assert_true(st == 200 || st == 204);
    assert_every_worker_sees("AAAAAA");
    assert_int_equal(listed_available(), 6);

    assert_int_equal(fx_hold(&buyer, schedule, 2, rid2, &expires), 201);
    assert_every_worker_sees("AHAAAA");
    const char *rids[] = {rid2};
    assert_int_equal(fx_pay(&r, &buyer, rids, 1, NULL), 201);
    cr_test_res_free(&r);
    assert_true(fx_token(&buyer) >= 0); /* the payment used the token */
    assert_every_worker_sees("ASAAAA");
    assert_int_equal(listed_available(), 5);
}

/* A hold that ran out reads AVAILABLE at once, from every worker's copy, before the expiry
 * job; the job's release changes nothing that shows, and bumps the version. */
static void test_run_out_hold(void **state)
{
    char rid[37];
    long long expires = 0;
    (void)state;

    assert_int_equal(fx_hold(&buyer, schedule, 3, rid, &expires), 201);
    assert_every_worker_sees("ASHAAA");
    /* Wait until the hold has run out by the stack's clock (the same machine's). */
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > expires + 50)
            break;
        cr_test_sleep_ms(50);
    }
    assert_every_worker_sees("ASAAAA");
    assert_int_equal(listed_available(), 5);

    long long v0 = map_version(), released = 0;
    assert_int_equal(fx_expire(NULL, &released), 0);
    assert_true(released >= 1);
    assert_true(map_version() > v0);
    assert_every_worker_sees("ASAAAA");
}

/* A fixture's UPDATE bumps the version too (the triggers of sql/005_seat_map_version.sql), and
 * once it renews the maps' Redis generations as the library's writers do
 * (cr_test_seat_maps_changed), every worker shows it at once. */
static void test_raw_sql_write_shows(void **state)
{
    long long n = 0;
    (void)state;
    assert_every_worker_sees("ASAAAA");
    long long v0 = map_version();
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    assert_int_equal(cr_db_exec("UPDATE seats SET status = 'SOLD', version = version + 1"
                                " WHERE schedule_id = ? AND seat_no = 6",
                                p, 1, &n, NULL),
                     CR_OK);
    assert_int_equal(n, 1);
    assert_true(map_version() > v0);
    cr_test_seat_maps_changed();
    assert_every_worker_sees("ASAAAS");
    assert_int_equal(listed_available(), 4);
}

/* An operator's UPDATE that renews no generation: a worker may serve its copy on the old
 * generation for at most CR_CATALOG_TRUST_MS (1 s) after MariaDB last confirmed it; after
 * that every worker asks MariaDB and shows the write. Polled: the first bursts may be stale,
 * a burst 1.5 s after the write may not. */
static void test_raw_sql_write_shows_within_trust(void **state)
{
    long long n = 0;
    (void)state;
    assert_every_worker_sees("ASAAAS");
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    assert_int_equal(cr_db_exec("UPDATE seats SET status = 'AVAILABLE', version = version + 1"
                                " WHERE schedule_id = ? AND seat_no = 6",
                                p, 1, &n, NULL),
                     CR_OK);
    assert_int_equal(n, 1);
    cr_test_sleep_ms(1500);
    assert_every_worker_sees("ASAAAA");
    assert_int_equal(listed_available(), 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_show_at_once),
        cmocka_unit_test(test_run_out_hold),
        cmocka_unit_test(test_raw_sql_write_shows),
        cmocka_unit_test(test_raw_sql_write_shows_within_trust),
    };
    return cmocka_run_group_tests_name("http_seat_map", tests, setup, teardown);
}

/* test_seat_taken.c: a hold refused from the seat-map read model (cr_catalog_seat_taken) is
 * refused only for a seat that the last committed write shows taken (issue 15, S3).
 *
 * Each check is a burst: many concurrent holds of one seat through nginx, repeated until every
 * worker of the reservation group has answered some of them (its /proc/PID/io rchar moved).
 * The bursts while the seat is taken put the map in every worker's copy; after the seat is
 * given back (cancel, refund), a copy that missed the write would answer 409 to a hold of a
 * free seat, which the bursts would see. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "payment_fixture.h"

#define BURST_HOLDS 32
#define BURST_THREADS 16

static long long schedule;
static struct fx_user ann, bob, cat;

/* What one burst of holds saw, by status. */
struct burst {
    const struct fx_user *const *users; /* request i is made by users[i % nusers] */
    int nusers, seat;
    pthread_mutex_t mu;
    int s200, s201, s409, other;
};

static void burst_one(int i, void *ctx)
{
    struct burst *b = ctx;
    char rid[37];
    long long expires = 0;
    long st = fx_hold(b->users[i % b->nusers], schedule, b->seat, rid, &expires);
    pthread_mutex_lock(&b->mu);
    if (st == 200)
        b->s200++;
    else if (st == 201)
        b->s201++;
    else if (st == 409)
        b->s409++;
    else
        b->other++;
    pthread_mutex_unlock(&b->mu);
}

/* Holds of seat by the nusers users in bursts until every reservation worker answered some
 * (at most 20 bursts); the counts by status in *b. */
static void hold_burst_of(const struct fx_user *const *users, int nusers, int seat,
                          struct burst *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
    b->users = users;
    b->nusers = nusers;
    b->seat = seat;
    int served, n;
    int bursts = cr_test_burst_workers("reservation", BURST_THREADS, BURST_HOLDS, burst_one, b,
                                       20, &served, &n);
    pthread_mutex_destroy(&b->mu);
    print_message("seat %d, %d bursts: 200:%d 201:%d 409:%d other:%d; %d of %d workers\n", seat,
                  bursts, b->s200, b->s201, b->s409, b->other, served, n);
    assert_int_equal(b->other, 0);
    assert_int_equal(served, n);
}

static void hold_burst(const struct fx_user *u, int seat, struct burst *b)
{
    const struct fx_user *users[] = {u};
    hold_burst_of(users, 1, seat, b);
}

static int setup(void **state)
{
    (void)state;
    fx_init("seat taken read model");
    schedule = fx_schedule(4);
    if (fx_user_new(&ann, 1000000) != 1 || fx_user_new(&bob, 1000000) != 1 ||
        fx_user_new(&cat, 1000000) != 1)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup();
    return 0;
}

/* Held by one, refused to the others; never refused to its holder; free again at once after
 * a cancel, through every worker's copy. */
static void test_cancel_frees_at_once(void **state)
{
    struct burst b;
    struct cr_test_res r;
    char rid[37], path[96];
    long long expires = 0;
    (void)state;

    assert_int_equal(fx_hold(&ann, schedule, 1, rid, &expires), 201);
    hold_burst(&bob, 1, &b); /* every worker's copy: seat 1 held by ann */
    assert_int_equal(b.s200 + b.s201, 0);
    hold_burst(&ann, 1, &b); /* the holder asking again: 200, never a 409 from a copy */
    assert_int_equal(b.s409 + b.s201, 0);

    snprintf(path, sizeof(path), "/api/v1/reservations/%s", rid);
    long st = cr_test_req(&r, "DELETE", path, NULL, (const char *const[]){ann.auth, NULL});
    cr_test_res_free(&r);
    assert_true(st == 200 || st == 204);

    hold_burst(&bob, 1, &b); /* free now: one 201, then bob's own hold (200), no 409 */
    assert_int_equal(b.s201, 1);
    assert_int_equal(b.s409, 0);
}

/* Sold: refused everywhere; refunded: free again at once everywhere. */
static void test_sold_then_refunded(void **state)
{
    struct burst b;
    struct cr_test_res r;
    char rid[37], path[128];
    long long expires = 0;
    (void)state;

    assert_int_equal(fx_hold(&cat, schedule, 2, rid, &expires), 201);
    const char *rids[] = {rid};
    assert_int_equal(fx_pay(&r, &cat, rids, 1, NULL), 201);
    cr_test_res_free(&r);
    hold_burst(&bob, 2, &b);
    assert_int_equal(b.s200 + b.s201, 0);

    assert_true(fx_token(&cat) >= 0); /* the payment used the token */
    snprintf(path, sizeof(path), "/api/v1/reservations/%s/refund", rid);
    assert_int_equal(
        cr_test_req(&r, "POST", path, "{}", (const char *const[]){cat.auth, NULL}), 200);
    cr_test_res_free(&r);

    hold_burst(&ann, 2, &b);
    assert_int_equal(b.s201, 1);
    assert_int_equal(b.s409, 0);
}

/* Three users rushing one free seat at once: exactly one wins (201, then 200 to its repeats),
 * the others get 409, whatever the copies said; the database holds one live hold of it. */
static void test_rush_one_winner(void **state)
{
    struct burst b;
    const struct fx_user *users[] = {&ann, &bob, &cat};
    (void)state;
    hold_burst_of(users, 3, 3, &b);
    assert_int_equal(b.s201, 1);
    assert_true(b.s409 > 0);
    struct cr_db_val p[] = {CR_DB_I(schedule)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM reservations WHERE schedule_id = ?"
                                    " AND seat_no = 3 AND status = 'HELD'",
                                    p, 1),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_frees_at_once),
        cmocka_unit_test(test_sold_then_refunded),
        cmocka_unit_test(test_rush_one_winner),
    };
    return cmocka_run_group_tests_name("http_seat_taken", tests, setup, teardown);
}

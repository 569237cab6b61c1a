/* test_payment_race.c: a payment racing the expiry of its own hold. With 1-second holds
 * (test_payment_race.conf), each of 50 rounds holds a seat, then fires the payment and a
 * concert-expire together around the moment the hold runs out. Every round must end either
 * paid-and-sold or expired-and-available, never both, and no money may be taken without a
 * sold seat. Five users run their rounds side by side, so the jobs race each other too. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_error.h"
#include "cr_time.h"
#include "payment_fixture.h"

#define LANES 5
#define ROUNDS 10      /* per lane: 50 rounds in all */
#define JITTER_MS 20   /* the payment fires within +-20 ms of the hold's expiry */
#define RICH 10000000LL

struct round {
    char rid[37];
    int seat;
    long long offset; /* ms after the expiry the payment was sent */
    long pay;         /* HTTP status of the payment */
    char code[40];
    int expire_rc; /* exit status of concert-expire */
};

struct lane {
    struct fx_user u;
    long long schedule;
    int lane;
    char error[160]; /* set when the lane could not run */
    struct round rounds[ROUNDS];
};

static void *expire_thread(void *arg)
{
    struct round *rd = arg;
    rd->expire_rc = fx_expire(NULL, NULL);
    return NULL;
}

/* One lane: ROUNDS rounds of hold, wait for the edge, pay and expire at once. */
static void lane_run(int i, void *ctx)
{
    struct lane *l = &((struct lane *)ctx)[i];
    unsigned int seed = (unsigned int)(i * 7919 + 13);
    if (fx_user_new(&l->u, RICH) != 1) {
        snprintf(l->error, sizeof(l->error), "no active user");
        return;
    }
    for (int k = 0; k < ROUNDS; k++) {
        struct round *rd = &l->rounds[k];
        struct cr_test_res r;
        long long expires = 0;
        pthread_t job;
        rd->seat = l->lane * ROUNDS + k + 1;
        long st = fx_hold(&l->u, l->schedule, rd->seat, rd->rid, &expires);
        if (st != 201) {
            snprintf(l->error, sizeof(l->error), "round %d: hold %ld", k, st);
            return;
        }
        rd->offset = (long long)(rand_r(&seed) % (2 * JITTER_MS + 1)) - JITTER_MS;
        long long wait = expires + rd->offset - cr_time_now_ms();
        if (wait > 0)
            usleep((useconds_t)(wait * 1000));
        /* The job first: it needs a few ms to start, so the two meet near the edge. */
        pthread_create(&job, NULL, expire_thread, rd);
        const char *p[] = {rd->rid};
        rd->pay = fx_pay(&r, &l->u, p, 1, NULL);
        snprintf(rd->code, sizeof(rd->code), "%s", cr_test_error_code(&r));
        cr_test_res_free(&r);
        pthread_join(job, NULL);
        if (rd->pay == 201 && fx_token(&l->u) != 1) { /* the token was used up */
            snprintf(l->error, sizeof(l->error), "round %d: no new token", k);
            return;
        }
    }
}

/* The end state of one round; returns 1 when paid, 0 when expired. */
static int check_round(const struct lane *l, const struct round *rd)
{
    char st[16], seat[16];
    long long rid = fx_reservation_db_id(rd->rid);
    struct cr_db_val p[] = {CR_DB_I(rid)};
    fx_res_status(rd->rid, st);
    fx_seat_status(rd->rid, seat);
    long long holder = cr_test_db_int("SELECT COALESCE(t.reservation_id, 0) FROM seats AS t"
                                 " JOIN reservations AS r ON r.seat_id = t.id WHERE r.id = ?",
                                 p, 1);
    int paid = strcmp(st, "PAID") == 0;
    if (!((paid && strcmp(seat, "SOLD") == 0 && holder == rid && rd->pay == 201) ||
          (strcmp(st, "EXPIRED") == 0 && strcmp(seat, "AVAILABLE") == 0 && holder == 0 &&
           rd->pay == 410 && strcmp(rd->code, "RESERVATION_EXPIRED") == 0)))
        print_error("lane %d seat %d (offset %lld ms): payment %ld %s, reservation %s, seat %s"
                    " (holder %lld)\n",
                    l->lane, rd->seat, rd->offset, rd->pay, rd->code, st, seat, holder);
    if (paid) {
        assert_int_equal(rd->pay, 201);
        assert_string_equal(seat, "SOLD");
        assert_int_equal(holder, rid);
    } else {
        assert_int_equal(rd->pay, 410);
        assert_string_equal(rd->code, "RESERVATION_EXPIRED");
        assert_string_equal(st, "EXPIRED");
        assert_string_equal(seat, "AVAILABLE");
        assert_int_equal(holder, 0);
    }
    assert_int_equal(rd->expire_rc, 0);
    return paid;
}

static void check_lanes(struct lane *lanes, int *npaid, int *nexpired)
{
    *npaid = *nexpired = 0;
    for (int i = 0; i < LANES; i++) {
        struct lane *l = &lanes[i];
        long long spent = 0;
        int paid = 0;
        for (int k = 0; k < ROUNDS; k++) {
            if (check_round(l, &l->rounds[k])) {
                paid++;
                spent += 1000LL * l->rounds[k].seat;
            }
        }
        /* Money moved exactly for the sold seats: one payment and one entry each, and no
         * payment without its reservation PAID and its seat SOLD. */
        assert_int_equal(fx_balance(l->u.id), RICH - spent);
        assert_int_equal(fx_payments(l->u.id), paid);
        assert_int_equal(fx_payment_entries(l->u.id), paid);
        assert_int_equal(fx_history_rows_reach(l->u.id, paid), paid);
        struct cr_db_val p[] = {CR_DB_I(fx_user_db_id(l->u.id))};
        assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM payments AS p WHERE p.user_id = ?"
                                   " AND NOT EXISTS (SELECT 1 FROM reservations AS r"
                                   " JOIN seats AS t ON t.id = r.seat_id"
                                   " WHERE r.payment_id = p.id AND r.status = 'PAID'"
                                   " AND t.status = 'SOLD' AND t.reservation_id = r.id)",
                                   p, 1),
                         0);
        *npaid += paid;
        *nexpired += ROUNDS - paid;
    }
}

static void test_payment_races_expiry(void **state)
{
    struct lane *lanes = calloc(LANES, sizeof(*lanes));
    long long sched = fx_schedule(LANES * ROUNDS);
    for (int i = 0; i < LANES; i++) {
        lanes[i].lane = i;
        lanes[i].schedule = sched;
    }
    int64_t t0 = cr_time_mono_ms();
    cr_test_parallel(LANES, LANES, lane_run, lanes);
    for (int i = 0; i < LANES; i++) {
        if (lanes[i].error[0] != '\0')
            print_error("lane %d: %s\n", i, lanes[i].error);
        assert_string_equal(lanes[i].error, "");
    }
    int paid, expired;
    check_lanes(lanes, &paid, &expired);
    print_message("%d rounds in %lld ms: %d paid and sold, %d expired and available\n",
                  LANES * ROUNDS, (long long)(cr_time_mono_ms() - t0), paid, expired);
    /* Both outcomes happened, so the edge was really raced. */
    assert_true(paid > 0);
    assert_true(expired > 0);

    /* One more run of the job changes none of it. */
    assert_int_equal(fx_expire(NULL, NULL), 0);
    int paid2, expired2;
    check_lanes(lanes, &paid2, &expired2);
    assert_int_equal(paid2, paid);
    free(lanes);
}

static int teardown(void **state)
{
    fx_cleanup();
    return 0;
}

int main(void)
{
    fx_init("payment race test concert");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payment_races_expiry),
    };
    return cmocka_run_group_tests_name("http_payment_race", tests, NULL, teardown);
}

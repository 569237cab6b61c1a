/* test_refund_race.c: a refund racing new holds of the seat it frees, and the expiry job
 * racing both. With 2-second holds (test_refund_race.conf), each lane loops over one seat: A
 * holds it (once the last round's hold ran out) and pays, then A's refund and two other users'
 * holds of that seat are fired together, while concert-expire runs over and over in the
 * background for the whole test. Every refund must be 200 and credit once; of the two holders
 * exactly one must get the seat (it is on sale at once; neither write may be lost); A ends with
 * all its money back; then the money rule and bench/invariants.sql (against a run made before). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_error.h"
#include "cr_time.h"
#include "cr_uuid.h"
#include "refund_fixture.h"

#define LANES 4
#define ROUNDS 6 /* per lane: 24 rounds in all */
#define RICH 10000000LL
#define WAIT_MS 15000 /* for a seat to come free: generous, the machine may be loaded */

struct round {
    char rid[37];     /* A's reservation */
    int paid;         /* 1: A paid it (else the hold ran out first: the round is void) */
    long refund;      /* HTTP status of A's refund */
    long hold[2];     /* the last status each holder got */
    char won_rid[37]; /* the reservation of the holder that got the seat */
    int winners;
};

struct lane {
    struct fx_user a, h[2];
    int seat;
    char error[160];
    struct round rounds[ROUNDS];
    /* within a round */
    int won; /* set once a holder got the seat */
    pthread_mutex_t lock;
};

static long long rr_sched;
static volatile int rr_stop;
static int rr_expire_runs, rr_expire_fails;
static long long rr_released; /* holds the job released (it races A's lazy take-over) */

/* concert-expire, over and over, until the test is done. */
static void *expirer(void *arg)
{
    (void)arg;
    while (!rr_stop) {
        long long released = 0;
        if (fx_expire(NULL, &released) != 0)
            rr_expire_fails++;
        else if (released > 0)
            rr_released += released;
        rr_expire_runs++;
        cr_test_sleep_ms(30);
    }
    return NULL;
}

struct racer {
    struct lane *l;
    struct round *rd;
    int who; /* -1: A's refund; 0, 1: a holder */
};

static void *racer_run(void *arg)
{
    struct racer *x = arg;
    struct lane *l = x->l;
    struct round *rd = x->rd;
    if (x->who < 0) {
        struct cr_test_res r;
        rd->refund = rf_refund(&r, &l->a, rd->rid, NULL);
        cr_test_res_free(&r);
        return NULL;
    }
    /* Tries for the seat until someone got it (or the deadline): the refund frees it at
     * once, so one of the two holders must win it soon after the refund's answer. */
    long long end = cr_test_now_ms() + WAIT_MS;
    while (cr_test_now_ms() < end) {
        char rid[37];
        pthread_mutex_lock(&l->lock);
        int done = l->won;
        pthread_mutex_unlock(&l->lock);
        if (done)
            break;
        long st = fx_hold(&l->h[x->who], rr_sched, l->seat, rid, NULL);
        rd->hold[x->who] = st;
        if (st == 201) {
            pthread_mutex_lock(&l->lock);
            l->won = 1;
            rd->winners++;
            snprintf(rd->won_rid, sizeof(rd->won_rid), "%s", rid);
            pthread_mutex_unlock(&l->lock);
            break;
        }
        if (st != 409)
            break;
        cr_test_sleep_ms(5);
    }
    return NULL;
}

static void lane_run(int i, void *ctx)
{
    struct lane *l = &((struct lane *)ctx)[i];
    l->seat = i + 1;
    pthread_mutex_init(&l->lock, NULL);
    if (fx_user_new(&l->a, RICH) != 1 || fx_user_new(&l->h[0], 0) != 1 ||
        fx_user_new(&l->h[1], 0) != 1) {
        snprintf(l->error, sizeof(l->error), "lane %d: no active users", i);
        return;
    }
    for (int k = 0; k < ROUNDS; k++) {
        struct round *rd = &l->rounds[k];
        /* A gets the seat once the last round's hold ran out (or the job released it). */
        int got = 0;
        for (long long end = cr_test_now_ms() + WAIT_MS; !got && cr_test_now_ms() < end;) {
            got = rf_buy(&l->a, rr_sched, l->seat, rd->rid);
            if (got < 0) {
                snprintf(l->error, sizeof(l->error), "lane %d round %d: buying failed", i, k);
                return;
            }
            if (!got)
                cr_test_sleep_ms(50);
        }
        if (!got) {
            snprintf(l->error, sizeof(l->error), "lane %d round %d: seat never free", i, k);
            return;
        }
        rd->paid = 1;
        /* The refund and both holders at once. */
        pthread_t t[3];
        struct racer x[3] = {{l, rd, -1}, {l, rd, 0}, {l, rd, 1}};
        l->won = 0;
        for (int j = 0; j < 3; j++)
            pthread_create(&t[j], NULL, racer_run, &x[j]);
        for (int j = 0; j < 3; j++)
            pthread_join(t[j], NULL);
    }
}

static void test_refund_vs_hold_vs_expiry(void **state)
{
    struct lane *lanes = calloc(LANES, sizeof(*lanes));
    struct rf_invariants before, after;
    pthread_t job;
    char st[16];
    (void)state;
    assert_non_null(lanes);
    rf_invariants_run(&before);

    rr_stop = 0;
    pthread_create(&job, NULL, expirer, NULL);
    cr_test_parallel(LANES, LANES, lane_run, lanes);
    rr_stop = 1;
    pthread_join(job, NULL);
    assert_int_equal(rr_expire_fails, 0);
    assert_true(rr_expire_runs > 0);

    int rounds = 0;
    for (int i = 0; i < LANES; i++) {
        struct lane *l = &lanes[i];
        if (l->error[0] != '\0')
            print_error("%s\n", l->error);
        assert_string_equal(l->error, "");
        for (int k = 0; k < ROUNDS; k++) {
            struct round *rd = &l->rounds[k];
            assert_true(rd->paid);
            if (rd->refund != 200 || rd->winners != 1)
                print_error("lane %d round %d: refund %ld, holders %ld/%ld, %d winners\n", i, k,
                            rd->refund, rd->hold[0], rd->hold[1], rd->winners);
            assert_int_equal(rd->refund, 200);
            assert_int_equal(rd->winners, 1);
            assert_string_equal(fx_res_status(rd->rid, st), "REFUNDED");
            rounds++;
        }
        /* A paid for every round and got every payment back, once each. */
        long long sum = 0, paid = 0;
        assert_int_equal(rf_entries(l->a.id, "REFUND", &sum), ROUNDS);
        assert_int_equal(rf_entries(l->a.id, "PAYMENT", &paid), ROUNDS);
        assert_int_equal(sum, -paid);
        assert_int_equal(fx_balance(l->a.id), RICH);
        rf_assert_money_rule(l->a.id);
        /* The holders never paid anything: their balances are untouched. */
        for (int j = 0; j < 2; j++) {
            assert_int_equal(fx_balance(l->h[j].id), 0);
            rf_assert_money_rule(l->h[j].id);
        }
        /* The seat is never SOLD at the end (every sale was refunded). */
        struct cr_db_val p[] = {CR_DB_I(rr_sched), CR_DB_I(l->seat)};
        assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM seats WHERE schedule_id = ?"
                                        " AND seat_no = ? AND status = 'SOLD'",
                                        p, 2),
                         0);
    }
    assert_int_equal(rounds, LANES * ROUNDS);
    /* The history catches up (post-commit, at the latest after a job run). */
    assert_int_equal(fx_expire(NULL, NULL), 0);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM payment_history AS h"
                                    " JOIN payments AS p ON p.id = h.payment_id"
                                    " JOIN reservations AS r ON r.payment_id = p.id"
                                    " WHERE r.schedule_id = ? AND h.refunded_amount <> p.amount",
                                    (struct cr_db_val[]){CR_DB_I(rr_sched)}, 1),
                     0);
    rf_invariants_run(&after);
    rf_invariants_not_grown(&before, &after);
    print_message("%d rounds, %d expiry-job runs alongside, %lld holds released by them\n",
                  rounds, rr_expire_runs, rr_released);
    free(lanes);
}

int main(void)
{
    fx_init("refund race concert");
    rr_sched = fx_schedule(LANES);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refund_vs_hold_vs_expiry),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fx_cleanup();
    return failed;
}

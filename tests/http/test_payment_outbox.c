/* test_payment_outbox.c: the post-commit steps of a payment, with the history write made to
 * fail (TEST_FAIL_HISTORY=1) and one active place (QUEUE_ACTIVE_MAX=1, test_payment_outbox.conf):
 * the payment still succeeds and concert-expire writes its history row exactly once, even two
 * copies at once; the used token is refused, the next waiting user is admitted, and a waiting
 * token gets 403 but also the recorded response of its user's payment. */
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
#include "cr_uuid.h"
#include "payment_fixture.h"

#define RICH 1000000LL

static long long fx_sched;

struct job {
    int rc;
    long long written;
};

static void *job_thread(void *arg)
{
    struct job *j = arg;
    j->rc = fx_expire(&j->written, NULL);
    return NULL;
}

static long long pending_rows(void)
{
    return cr_test_db_int("SELECT COUNT(*) FROM outbox WHERE status = 'PENDING'", NULL, 0);
}

static long history_items(const char *user, char *first_id)
{
    struct cr_test_res r;
    char path[128];
    json_object *list, *v;
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", user);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "payments", &list));
    long n = (long)json_object_array_length(list);
    if (n > 0 && first_id != NULL) {
        assert_true(json_object_object_get_ex(json_object_array_get_idx(list, 0), "paymentId",
                                              &v));
        snprintf(first_id, 37, "%s", json_object_get_string(v));
    }
    cr_test_res_free(&r);
    return n;
}

static void test_history_written_by_the_job(void **state)
{
    struct fx_user a;
    struct cr_test_res r;
    char r1[37], pid[37], listed[37], st[16];
    assert_int_equal(fx_user_new(&a, RICH), 1);
    assert_int_equal(fx_hold(&a, fx_sched, 1, r1, NULL), 201);
    const char *p[] = {r1};

    /* The history write fails, the payment does not. */
    assert_int_equal(fx_pay(&r, &a, p, 1, NULL), 201);
    snprintf(pid, sizeof(pid), "%s", cr_test_str(&r, "paymentId"));
    assert_int_equal(cr_test_int(&r, "balance"), RICH - 1000);
    cr_test_res_free(&r);
    assert_int_equal(fx_balance(a.id), RICH - 1000);
    assert_int_equal(fx_payments(a.id), 1);
    assert_int_equal(fx_payment_entries(a.id), 1);
    assert_string_equal(fx_res_status(r1, st), "PAID");
    assert_string_equal(fx_seat_status(r1, st), "SOLD");
    assert_int_equal(fx_history_rows(a.id), 0);
    assert_int_equal(history_items(a.id, NULL), 0);
    struct cr_uuid pu;
    assert_int_equal(cr_uuid_parse(pid, &pu), CR_OK);
    struct cr_db_val pp[] = {CR_DB_UUID(&pu)};
    long long payment_id = cr_test_db_int("SELECT id FROM payments WHERE uuid = ?", pp, 1);
    struct cr_db_val pi[] = {CR_DB_I(payment_id)};
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM outbox WHERE payment_id = ?"
                               " AND status = 'PENDING'",
                               pi, 1),
                     1);

    /* Two jobs at once: the row is written once, and counted once between them. */
    long long pending = pending_rows();
    assert_true(pending >= 1);
    struct job jobs[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, job_thread, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    print_message("two jobs wrote %lld + %lld history rows (%lld were pending)\n",
                  jobs[0].written, jobs[1].written, pending);
    assert_int_equal(jobs[0].rc, 0);
    assert_int_equal(jobs[1].rc, 0);
    assert_int_equal(jobs[0].written + jobs[1].written, pending);
    assert_int_equal(fx_history_rows(a.id), 1);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM payment_history WHERE payment_id = ?", pi, 1),
                     1);
    assert_int_equal(cr_test_db_int("SELECT COUNT(*) FROM outbox WHERE payment_id = ?"
                               " AND status = 'DONE'",
                               pi, 1),
                     1);
    assert_int_equal(history_items(a.id, listed), 1);
    assert_string_equal(listed, pid);

    /* Another run finds nothing left to write. */
    struct job again;
    job_thread(&again);
    assert_int_equal(again.rc, 0);
    assert_int_equal(again.written, 0);
    assert_int_equal(fx_history_rows(a.id), 1);
}

static void test_token_given_back_admits_next(void **state)
{
    struct fx_user b, c;
    struct cr_test_res r;
    char rb[37], body[1024], st[16];
    /* a's token was used by its payment, so b gets the one place and c waits. */
    assert_int_equal(fx_user_new(&b, RICH), 1);
    assert_int_equal(fx_user_new(&c, RICH), 0);
    assert_int_equal(fx_hold(&b, fx_sched, 2, rb, NULL), 201);
    const char *p[] = {rb};

    /* A waiting token cannot pay, nor learn about the body first. */
    fx_pay(&r, &c, p, 1, NULL);
    cr_test_assert_error(&r, 403, "TOKEN_NOT_ACTIVE");
    cr_test_res_free(&r);
    fx_pay_raw(&r, c.auth, "{}", NULL);
    cr_test_assert_error(&r, 403, "TOKEN_NOT_ACTIVE");
    cr_test_res_free(&r);

    assert_int_equal(fx_pay(&r, &b, p, 1, "kb-1"), 201);
    snprintf(body, sizeof(body), "%s", r.body);
    cr_test_res_free(&r);

    /* b's token is spent; c was admitted into the freed place. */
    const char *hb[] = {b.auth, NULL}, *hc[] = {c.auth, NULL};
    cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, hb);
    cr_test_assert_error(&r, 401, "TOKEN_INVALID");
    cr_test_res_free(&r);
    assert_int_equal(cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, hc), 200);
    assert_string_equal(cr_test_str(&r, "status"), "ACTIVE");
    assert_int_equal(cr_test_int(&r, "position"), 0);
    cr_test_res_free(&r);

    /* b joins again and waits behind c: its waiting token still gets the recorded answer
     * for the key, and 403 for anything else. */
    assert_int_equal(fx_token(&b), 0);
    assert_int_equal(fx_pay(&r, &b, p, 1, "kb-1"), 201);
    assert_string_equal(r.body, body);
    cr_test_res_free(&r);
    fx_pay(&r, &b, p, 1, NULL);
    cr_test_assert_error(&r, 403, "TOKEN_NOT_ACTIVE");
    cr_test_res_free(&r);
    assert_int_equal(fx_payments(b.id), 1);
    assert_string_equal(fx_res_status(rb, st), "PAID");

    /* The history of this payment too waits for the job. */
    assert_int_equal(fx_history_rows(b.id), 0);
    assert_int_equal(fx_expire(NULL, NULL), 0);
    assert_int_equal(fx_history_rows(b.id), 1);
}

static int teardown(void **state)
{
    fx_cleanup();
    return 0;
}

int main(void)
{
    fx_init("payment outbox test concert");
    fx_sched = fx_schedule(10);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_written_by_the_job),
        cmocka_unit_test(test_token_given_back_admits_next),
    };
    return cmocka_run_group_tests_name("http_payment_outbox", tests, NULL, teardown);
}

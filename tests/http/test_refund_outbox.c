/* test_refund_outbox.c: a refund's change to the payment history when the write after the
 * answer fails (TEST_FAIL_HISTORY=1, test_refund_outbox.conf): the refund itself is done (200,
 * money back, seat free), the payment list shows it at the latest after the next
 * concert-expire, whichever of the payment's and the refund's outbox rows comes first, and a
 * second refund of the same payment raises the same row again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cr_error.h"
#include "cr_uuid.h"
#include "refund_fixture.h"

#define RICH 1000000LL

/* The one payment the user's list shows: its amount and refundedAmount (-1 when the list is
 * empty). */
static void listed(const char *user, long long *amount, long long *refunded)
{
    struct cr_test_res r;
    char path[128];
    json_object *list, *item, *v;
    snprintf(path, sizeof(path), "/api/v1/users/%s/payments", user);
    assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
    assert_true(json_object_object_get_ex(r.json, "payments", &list));
    *amount = *refunded = -1;
    if (json_object_array_length(list) > 0) {
        assert_int_equal(json_object_array_length(list), 1);
        item = json_object_array_get_idx(list, 0);
        assert_true(json_object_object_get_ex(item, "amount", &v));
        *amount = json_object_get_int64(v);
        assert_true(json_object_object_get_ex(item, "refundedAmount", &v));
        *refunded = json_object_get_int64(v);
    }
    cr_test_res_free(&r);
}

static void test_refund_history_by_the_job(void **state)
{
    struct fx_user u;
    struct cr_test_res r;
    char r1[37], r2[37], st[16];
    long long amount, refunded, written = 0;
    (void)state;
    long long sched = fx_schedule(4);
    assert_int_equal(fx_user_new(&u, RICH), 1);
    assert_int_equal(fx_hold(&u, sched, 1, r1, NULL), 201);
    assert_int_equal(fx_hold(&u, sched, 2, r2, NULL), 201);
    const char *rids[] = {r1, r2};
    assert_int_equal(fx_pay(&r, &u, rids, 2, NULL), 201);
    cr_test_res_free(&r);
    assert_int_equal(fx_token(&u), 1);

    /* Both the payment's and the refund's history writes fail: the refund is done anyway. */
    assert_int_equal(rf_refund(&r, &u, r1, NULL), 200);
    cr_test_res_free(&r);
    assert_string_equal(fx_res_status(r1, st), "REFUNDED");
    assert_string_equal(fx_seat_status(r1, st), "AVAILABLE");
    assert_int_equal(fx_balance(u.id), RICH - 2000);
    listed(u.id, &amount, &refunded);
    assert_int_equal(amount, -1); /* nothing written yet */

    /* The job writes both rows (the payment's first, in id order), once each. */
    assert_int_equal(fx_expire(&written, NULL), 0);
    assert_int_equal(written, 2);
    listed(u.id, &amount, &refunded);
    assert_int_equal(amount, 3000);
    assert_int_equal(refunded, 1000);

    /* The second refund makes the payment's PAYMENT_REFUND row pending again. */
    assert_int_equal(rf_refund(&r, &u, r2, NULL), 200);
    cr_test_res_free(&r);
    listed(u.id, &amount, &refunded);
    assert_int_equal(refunded, 1000); /* not yet */
    assert_int_equal(fx_expire(&written, NULL), 0);
    assert_int_equal(written, 1);
    listed(u.id, &amount, &refunded);
    assert_int_equal(amount, 3000);
    assert_int_equal(refunded, 3000);
    assert_int_equal(fx_balance(u.id), RICH);
    rf_assert_money_rule(u.id);

    /* Another run finds nothing left to write. */
    assert_int_equal(fx_expire(&written, NULL), 0);
    assert_int_equal(written, 0);
}

int main(void)
{
    fx_init("refund outbox concert");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refund_history_by_the_job),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fx_cleanup();
    return failed;
}

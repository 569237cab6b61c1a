/* test_queue.c: the wait estimate: zero at the head when active, proportional to the
 * measured admission rate, the worst case without history, never decreasing in position. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cr_queue.h"

static void test_active_waits_nothing(void **state)
{
    assert_int_equal(cr_queue_estimate(0, 50, 0, 60000, 100, 600), 0);
}

static void test_rate_from_history(void **state)
{
    /* 60 admissions over the last 60 s: one a second. */
    assert_int_equal(cr_queue_estimate(1, 60, 0, 60000, 100, 600), 1);
    assert_int_equal(cr_queue_estimate(30, 60, 0, 60000, 100, 600), 30);
    /* 10 over 100 s: one every 10 s. */
    assert_int_equal(cr_queue_estimate(7, 10, 0, 100000, 100, 600), 70);
}

static void test_worst_case_without_history(void **state)
{
    /* No admissions yet: every QUEUE_ACTIVE_MAX places wait a full active TTL. */
    assert_int_equal(cr_queue_estimate(1, 0, 0, 0, 100, 600), 600);
    assert_int_equal(cr_queue_estimate(100, 0, 0, 0, 100, 600), 600);
    assert_int_equal(cr_queue_estimate(101, 0, 0, 0, 100, 600), 1200);
    /* A burst within the same instant is no rate. */
    assert_int_equal(cr_queue_estimate(3, 5, 1000, 1000, 5, 600), 600);
}

static void test_monotonic_in_position(void **state)
{
    long long hist[][3] = {{0, 0, 0}, {1, 0, 5000}, {5, 100, 100}, {37, 1000, 91000}, {2, 0, 1000}};
    for (size_t h = 0; h < sizeof(hist) / sizeof(hist[0]); h++) {
        long long prev = 0;
        for (long long p = 1; p <= 500; p++) {
            long long e = cr_queue_estimate(p, hist[h][0], hist[h][1], hist[h][2], 7, 600);
            assert_true(e >= prev);
            assert_true(e > 0);
            prev = e;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_waits_nothing),
        cmocka_unit_test(test_rate_from_history),
        cmocka_unit_test(test_worst_case_without_history),
        cmocka_unit_test(test_monotonic_in_position),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}

/* test_time.c: unit tests of RFC 3339 millisecond formatting and parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "cr_error.h"
#include "cr_time.h"

#define MS_YEAR_1 (-62135596800000LL)      /* 0001-01-01T00:00:00.000Z */
#define MS_YEAR_9999_END 253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* A small deterministic generator, so that a failure can be reproduced. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void check_format(int64_t ms, const char *want)
{
    char buf[CR_TIME_LEN + 8];
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(cr_time_format(ms, buf), buf);
    assert_string_equal(buf, want);
    assert_int_equal(buf[CR_TIME_LEN], 'x'); /* nothing written past CR_TIME_LEN bytes */
}

static void test_format_epoch(void **state)
{
    (void)state;
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(1, "1970-01-01T00:00:00.001Z");
    check_format(999, "1970-01-01T00:00:00.999Z");
    check_format(1000, "1970-01-01T00:00:01.000Z");
}

static void test_format_known(void **state)
{
    (void)state;
    /* Expected values from `date -u -d @<seconds> +%FT%T`, milliseconds appended. */
    check_format(1798138800123LL, "2026-12-24T19:00:00.123Z");
    check_format(1798138800000LL, "2026-12-24T19:00:00.000Z");
    check_format(951782400000LL, "2000-02-29T00:00:00.000Z");
    check_format(951868799999LL, "2000-02-29T23:59:59.999Z");
    check_format(1709210096789LL, "2024-02-29T12:34:56.789Z");
    check_format(4102444800000LL, "2100-01-01T00:00:00.000Z");
    check_format(MS_YEAR_9999_END, "9999-12-31T23:59:59.999Z");
    check_format(MS_YEAR_1, "0001-01-01T00:00:00.000Z");
}

static void test_format_negative(void **state)
{
    (void)state;
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(-999, "1969-12-31T23:59:59.001Z");
    check_format(-1000, "1969-12-31T23:59:59.000Z");
    check_format(-1001, "1969-12-31T23:59:58.999Z");
    check_format(-2000, "1969-12-31T23:59:58.000Z");
    check_format(-86400000LL, "1969-12-31T00:00:00.000Z");
    check_format(-86400001LL, "1969-12-30T23:59:59.999Z");
}

static void test_format_sorts_like_ms(void **state)
{
    (void)state;
    static const int shifts[] = {0, 10, 20, 30, 36};
    char prev[CR_TIME_LEN], cur[CR_TIME_LEN];
    int64_t ms = MS_YEAR_1;
    int steps = 0;
    cr_time_format(ms, prev);
    /* From year 1 to year 9999 in strides of every size, from a millisecond to a few years. */
    for (;;) {
        int64_t step = 1 + (int64_t)((next_rand() % 100000000000ULL) >> shifts[next_rand() % 5]);
        if (ms + step > MS_YEAR_9999_END)
            break;
        ms += step;
        steps++;
        cr_time_format(ms, cur);
        if (strcmp(prev, cur) >= 0)
            fail_msg("%s >= %s at %lld", prev, cur, (long long)ms);
        memcpy(prev, cur, sizeof(cur));
    }
    assert_true(steps > 1000);
    assert_memory_equal(prev, "99", 2);
}

static void test_round_trip(void **state)
{
    (void)state;
    char buf[CR_TIME_LEN], again[CR_TIME_LEN];
    const uint64_t span = (uint64_t)(MS_YEAR_9999_END - MS_YEAR_1) + 1;
    for (int i = 0; i < 200000; i++) {
        int64_t ms;
        if (i < 4000)
            ms = (int64_t)i - 2000; /* every millisecond around the epoch */
        else
            ms = MS_YEAR_1 + (int64_t)(next_rand() % span);
        int64_t back = 0;
        cr_time_format(ms, buf);
        assert_int_equal(strlen(buf), CR_TIME_LEN - 1);
        if (cr_time_parse(buf, &back) != CR_OK)
            fail_msg("cannot parse %s (from %lld)", buf, (long long)ms);
        if (back != ms)
            fail_msg("%lld -> %s -> %lld", (long long)ms, buf, (long long)back);
        assert_string_equal(cr_time_format(back, again), buf);
    }
    /* The ends */
    static const int64_t ends[] = {MS_YEAR_1, MS_YEAR_9999_END, 0, -1, 1798138800123LL};
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        int64_t back = 0;
        assert_int_equal(cr_time_parse(cr_time_format(ends[i], buf), &back), CR_OK);
        assert_true(back == ends[i]);
    }
}

static void test_parse_known(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(cr_time_parse("2026-12-24T19:00:00.000Z", &ms), CR_OK);
    assert_true(ms == 1798138800000LL);
    assert_int_equal(cr_time_parse("2026-12-24T19:00:00.123Z", &ms), CR_OK);
    assert_true(ms == 1798138800123LL);
    assert_int_equal(cr_time_parse("1970-01-01T00:00:00.000Z", &ms), CR_OK);
    assert_true(ms == 0);
    assert_int_equal(cr_time_parse("1969-12-31T23:59:59.999Z", &ms), CR_OK);
    assert_true(ms == -1);
    assert_int_equal(cr_time_parse("2000-02-29T23:59:59.999Z", &ms), CR_OK);
    assert_true(ms == 951868799999LL);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "garbage",
        "2026-12-24T19:00:00.000",       /* no Z */
        "2026-12-24T19:00:00.000+00:00", /* offset instead of Z */
        "2026-12-24T19:00:00Z",          /* no milliseconds */
        "2026-12-24T19:00:00.00Z",       /* two digits of milliseconds */
        "2026-12-24T19:00:00.0000Z",     /* four */
        "2026-12-24T19:00:00.000ZZ",
        "2026-12-24T19:00:00.000z",
        "2026-12-24t19:00:00.000Z",
        "2026-12-24 19:00:00.000Z",
        "2026/12/24T19:00:00.000Z",
        "2026-12-24T19-00-00.000Z",
        "2026-12-24T19:00:00,000Z",
        "2026-13-24T19:00:00.000Z", /* month 13 */
        "2026-00-24T19:00:00.000Z", /* month 0 */
        "2026-12-00T19:00:00.000Z",
        "2026-12-32T19:00:00.000Z",
        "2026-12-24T24:00:00.000Z",
        "2026-12-24T19:60:00.000Z",
        "2026-12-24T19:00:61.000Z",
        "26-12-24T19:00:00.000Z",
        "2026-12-24",
        "1798138800000",
        "2026-12-24T19:00:00.000Zx",
        " 2026-12-24T19:00:00.000Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        if (cr_time_parse(bad[i], &ms) != CR_E_INVALID)
            fail_msg("accepted: \"%s\"", bad[i]);
        assert_true(ms == 42); /* untouched on failure */
    }
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = cr_time_now_ms();
    int64_t wall = (int64_t)time(NULL) * 1000;
    assert_true(now > 1700000000000LL); /* after November 2023 */
    assert_true(now - wall > -2000 && now - wall < 2000);
    int64_t m1 = cr_time_mono_ms();
    int64_t m2 = cr_time_mono_ms();
    assert_true(m2 >= m1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_epoch),
        cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_negative),
        cmocka_unit_test(test_format_sorts_like_ms),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_parse_known),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

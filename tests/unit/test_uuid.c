/* test_uuid.c: unit tests of UUIDv7 generation, text form, uniqueness and time order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cr_error.h"
#include "cr_uuid.h"

static int cmp_uuid(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* The 48-bit big-endian time prefix of u. */
static int64_t time_of(const struct cr_uuid *u)
{
    int64_t t = 0;
    for (int i = 0; i < 6; i++)
        t = t << 8 | u->b[i];
    return t;
}

static void test_version_variant_time(void **state)
{
    (void)state;
    static const int64_t times[] = {0, 1, 255, 256, 1798138800123LL, 0x0123456789abLL,
                                    0xffffffffffffLL};
    uint8_t seen_or[16] = {0}, seen_and[16];
    memset(seen_and, 0xff, sizeof(seen_and));
    for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
        for (int i = 0; i < 1000; i++) {
            struct cr_uuid u;
            assert_int_equal(cr_uuid_v7(&u, times[t]), CR_OK);
            assert_int_equal(u.b[6] >> 4, 7);    /* version */
            assert_int_equal(u.b[8] >> 6, 2);    /* variant 10 */
            assert_true(time_of(&u) == times[t]); /* time prefix */
            for (int j = 0; j < 16; j++) {
                seen_or[j] |= u.b[j];
                seen_and[j] &= u.b[j];
            }
        }
    }
    /* Every random bit was 1 at least once and 0 at least once. */
    assert_int_equal(seen_or[6] & 0x0f, 0x0f);
    assert_int_equal(seen_and[6] & 0x0f, 0);
    assert_int_equal(seen_or[8] & 0x3f, 0x3f);
    assert_int_equal(seen_and[8] & 0x3f, 0);
    for (int j = 7; j < 16; j++) {
        if (j == 8)
            continue;
        assert_int_equal(seen_or[j], 0xff);
        assert_int_equal(seen_and[j], 0);
    }
}

static void test_time_prefix_bytes(void **state)
{
    (void)state;
    struct cr_uuid u;
    assert_int_equal(cr_uuid_v7(&u, 0x0123456789abLL), CR_OK);
    static const uint8_t want[6] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    assert_memory_equal(u.b, want, 6);
    char buf[CR_UUID_STRLEN];
    cr_uuid_format(&u, buf);
    assert_memory_equal(buf, "01234567-89ab-7", 15);
}

static void test_format(void **state)
{
    (void)state;
    struct cr_uuid u;
    char buf[CR_UUID_STRLEN + 4];
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)i;
    memset(buf, 'x', sizeof(buf));
    assert_ptr_equal(cr_uuid_format(&u, buf), buf);
    assert_string_equal(buf, "00010203-0405-0607-0809-0a0b0c0d0e0f");
    assert_int_equal(buf[CR_UUID_STRLEN], 'x');
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)(0xf0 | (15 - i));
    assert_string_equal(cr_uuid_format(&u, buf), "fffefdfc-fbfa-f9f8-f7f6-f5f4f3f2f1f0");
    memset(&u, 0xab, sizeof(u));
    assert_string_equal(cr_uuid_format(&u, buf), "abababab-abab-abab-abab-abababababab");
}

static void test_format_shape(void **state)
{
    (void)state;
    char buf[CR_UUID_STRLEN];
    for (int n = 0; n < 1000; n++) {
        struct cr_uuid u;
        assert_int_equal(cr_uuid_v7(&u, 1798138800123LL + n), CR_OK);
        cr_uuid_format(&u, buf);
        assert_int_equal(strlen(buf), 36);
        for (int i = 0; i < 36; i++) {
            char c = buf[i];
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(c, '-');
            else
                assert_true((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        }
        assert_int_equal(buf[14], '7');                 /* version */
        assert_non_null(strchr("89ab", buf[19]));        /* variant */
    }
}

static void test_parse(void **state)
{
    (void)state;
    struct cr_uuid lower, upper, mixed;
    assert_int_equal(cr_uuid_parse("0190f5e2-abcd-7ef0-8123-456789abcdef", &lower), CR_OK);
    assert_int_equal(cr_uuid_parse("0190F5E2-ABCD-7EF0-8123-456789ABCDEF", &upper), CR_OK);
    assert_int_equal(cr_uuid_parse("0190f5E2-AbCd-7eF0-8123-456789aBcDeF", &mixed), CR_OK);
    static const uint8_t want[16] = {0x01, 0x90, 0xf5, 0xe2, 0xab, 0xcd, 0x7e, 0xf0,
                                     0x81, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    assert_memory_equal(lower.b, want, 16);
    assert_memory_equal(upper.b, want, 16);
    assert_memory_equal(mixed.b, want, 16);
    char buf[CR_UUID_STRLEN];
    assert_string_equal(cr_uuid_format(&upper, buf), "0190f5e2-abcd-7ef0-8123-456789abcdef");
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0190f5e2-abcd-7ef0-8123-456789abcde",   /* 35 */
        "0190f5e2-abcd-7ef0-8123-456789abcdef0", /* 37 */
        "0190f5e2abcd7ef08123456789abcdef",      /* no dashes */
        "0190f5e2-abcd7-ef0-8123-456789abcdef",  /* dash moved */
        "0190f5e-2abcd-7ef0-8123-456789abcdef",
        "0190f5e2_abcd_7ef0_8123_456789abcdef",
        "0190f5e2-abcd-7ef0-8123+456789abcdef",
        "0190f5e2-abcd-7ef0-8123-456789abcdeg",  /* g */
        "0190f5e2-abcd-7ef0-8123-456789abcde ",
        " 190f5e2-abcd-7ef0-8123-456789abcdef",
        "z190f5e2-abcd-7ef0-8123-456789abcdef",
        "0190f5e2-abcd-7ef0-8123-4567-9abcdef",  /* a dash where a digit goes */
        "{0190f5e2-abcd-7ef0-8123-456789abcdef}",
        "urn:uuid:0190f5e2-abcd-7ef0-8123-456789abcdef",
        "0190f5e2-abcd-7ef0-8123-456789abcd\xc3\xa9",
        "------------------------------------",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cr_uuid u;
        if (cr_uuid_parse(bad[i], &u) != CR_E_INVALID)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
    struct cr_uuid u;
    assert_int_equal(cr_uuid_parse(NULL, &u), CR_E_INVALID);
}

static void test_round_trip(void **state)
{
    (void)state;
    char buf[CR_UUID_STRLEN], again[CR_UUID_STRLEN];
    for (int i = 0; i < 10000; i++) {
        struct cr_uuid u, back;
        assert_int_equal(cr_uuid_v7(&u, 1700000000000LL + i * 7919LL), CR_OK);
        cr_uuid_format(&u, buf);
        assert_int_equal(cr_uuid_parse(buf, &back), CR_OK);
        assert_memory_equal(u.b, back.b, 16);
        assert_string_equal(cr_uuid_format(&back, again), buf);
    }
    /* Random bytes of every kind, not only v7 ones */
    for (int i = 0; i < 1000; i++) {
        struct cr_uuid u, back;
        assert_int_equal(cr_random_bytes(u.b, 16), CR_OK);
        assert_int_equal(cr_uuid_parse(cr_uuid_format(&u, buf), &back), CR_OK);
        assert_memory_equal(u.b, back.b, 16);
    }
}

static void test_unique(void **state)
{
    (void)state;
    enum { N = 1000000 };
    struct cr_uuid *ids = malloc(N * sizeof(*ids));
    assert_non_null(ids);
    /* All in the same millisecond: only the 74 random bits tell them apart. */
    for (int i = 0; i < N; i++)
        assert_int_equal(cr_uuid_v7(&ids[i], 1798138800123LL), CR_OK);
    qsort(ids, N, sizeof(*ids), cmp_uuid);
    for (int i = 1; i < N; i++) {
        if (memcmp(&ids[i - 1], &ids[i], 16) == 0)
            fail_msg("duplicate id at %d", i);
    }
    free(ids);
}

static void test_sorts_by_time(void **state)
{
    (void)state;
    /* Increasing times, with byte carries and 1 ms steps; each id must sort after the last. */
    static const int64_t edges[] = {0, 1, 255, 256, 65535, 65536, 0xffffffLL, 0x1000000LL,
                                    0xffffffffffLL, 0x10000000000LL, 0x7fffffffffffLL,
                                    0x800000000000LL, 0xfffffffffffeLL, 0xffffffffffffLL};
    struct cr_uuid prev, cur;
    assert_int_equal(cr_uuid_v7(&prev, edges[0]), CR_OK);
    for (size_t i = 1; i < sizeof(edges) / sizeof(edges[0]); i++) {
        assert_int_equal(cr_uuid_v7(&cur, edges[i]), CR_OK);
        assert_true(memcmp(prev.b, cur.b, 16) < 0);
        prev = cur;
    }
    int64_t ms = 1798138800000LL;
    assert_int_equal(cr_uuid_v7(&prev, ms), CR_OK);
    for (int i = 0; i < 100000; i++) {
        ms += 1 + (i % 3 == 0 ? 0 : i % 1000);
        assert_int_equal(cr_uuid_v7(&cur, ms), CR_OK);
        if (memcmp(prev.b, cur.b, 16) >= 0)
            fail_msg("id of %lld does not sort after the one before", (long long)ms);
        prev = cur;
    }
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    assert_int_equal(cr_random_bytes(a, 0), CR_OK);
    assert_int_equal(cr_random_bytes(a, sizeof(a)), CR_OK);
    assert_int_equal(cr_random_bytes(b, sizeof(b)), CR_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    /* A large request is filled completely (getrandom may return short counts). */
    enum { BIG = 1 << 20 };
    uint8_t *big = calloc(1, BIG);
    assert_non_null(big);
    assert_int_equal(cr_random_bytes(big, BIG), CR_OK);
    size_t zero_run = 0, longest = 0;
    for (size_t i = 0; i < BIG; i++) {
        zero_run = big[i] == 0 ? zero_run + 1 : 0;
        if (zero_run > longest)
            longest = zero_run;
    }
    assert_true(longest < 16); /* 16 zero bytes in a row: 2^-128 per position */
    assert_int_not_equal(big[BIG - 1] | big[BIG - 2] | big[BIG - 3] | big[BIG - 4], 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_variant_time),
        cmocka_unit_test(test_time_prefix_bytes),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_shape),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_sorts_by_time),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_arena.c: unit tests of the per-request bump allocator and its cleanup handlers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "cr_arena.h"

/* The order in which cleanups ran, as the values of the pointers they were given. */
static int cleanup_log[16];
static int cleanup_count;

static void record_cleanup(void *p)
{
    if (cleanup_count < 16)
        cleanup_log[cleanup_count] = *(int *)p;
    cleanup_count++;
}

static int setup(void **state)
{
    cleanup_count = 0;
    memset(cleanup_log, 0, sizeof(cleanup_log));
    *state = cr_arena_new();
    return *state == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    cr_arena_free(*state);
    return 0;
}

static void test_alloc_alignment(void **state)
{
    struct cr_arena *a = *state;
    for (size_t n = 0; n < 200; n++) {
        void *p = cr_arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    }
    /* Odd-sized strings in between must not break the alignment of what follows. */
    for (int i = 0; i < 100; i++) {
        assert_non_null(cr_arena_strdup(a, "abc"));
        long double *d = cr_arena_alloc(a, sizeof(*d));
        assert_int_equal((uintptr_t)d % _Alignof(max_align_t), 0);
        *d = 1.5L;
    }
}

static void test_many_allocs_past_block(void **state)
{
    struct cr_arena *a = *state;
    enum { N = 5000, SZ = 100 }; /* 500 KB: many 16 KiB blocks */
    unsigned char **ptrs = malloc(N * sizeof(*ptrs));
    assert_non_null(ptrs);
    for (int i = 0; i < N; i++) {
        ptrs[i] = cr_arena_alloc(a, SZ);
        assert_non_null(ptrs[i]);
        memset(ptrs[i], i & 0xff, SZ);
    }
    /* No allocation overlapped another: every pattern survived. */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < SZ; j++)
            assert_int_equal(ptrs[i][j], i & 0xff);
    free(ptrs);
}

static void test_big_alloc(void **state)
{
    struct cr_arena *a = *state;
    char *before = cr_arena_strdup(a, "before");
    size_t big = 1 << 20;
    unsigned char *p = cr_arena_alloc(a, big);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
    memset(p, 0xab, big);
    char *after = cr_arena_strdup(a, "after");
    assert_string_equal(before, "before");
    assert_string_equal(after, "after");
    assert_int_equal(p[0], 0xab);
    assert_int_equal(p[big - 1], 0xab);
    /* after must not lie inside the big block */
    assert_true((unsigned char *)after < p || (unsigned char *)after >= p + big);
    /* A block of exactly the block size, and one just above. */
    unsigned char *q = cr_arena_alloc(a, 16384);
    unsigned char *r = cr_arena_alloc(a, 16385);
    memset(q, 1, 16384);
    memset(r, 2, 16385);
    assert_int_equal(q[16383], 1);
    assert_int_equal(r[0], 2);
    assert_int_equal(p[0], 0xab);
}

static void test_calloc_zeroes(void **state)
{
    struct cr_arena *a = *state;
    unsigned char *p = cr_arena_alloc(a, 64);
    memset(p, 0xff, 64);
    cr_arena_reset(a);
    unsigned char *z = cr_arena_calloc(a, 64);
    assert_ptr_equal(p, z); /* the same memory, reused after the reset */
    for (int i = 0; i < 64; i++)
        assert_int_equal(z[i], 0);
}

static void test_strdup_strndup(void **state)
{
    struct cr_arena *a = *state;
    const char *src = "hello, world";
    char *d = cr_arena_strdup(a, src);
    assert_string_equal(d, src);
    assert_ptr_not_equal(d, src);
    assert_string_equal(cr_arena_strdup(a, ""), "");
    assert_string_equal(cr_arena_strndup(a, src, 5), "hello");
    assert_string_equal(cr_arena_strndup(a, src, 0), "");
    /* strndup copies exactly n bytes, even past a NUL it does not look for */
    char *n = cr_arena_strndup(a, "ab\0cd", 5);
    assert_memory_equal(n, "ab\0cd", 6);
}

static void test_sprintf(void **state)
{
    struct cr_arena *a = *state;
    assert_string_equal(cr_arena_sprintf(a, "%d-%s-%lld", 42, "x", -7LL), "42-x--7");
    assert_string_equal(cr_arena_sprintf(a, "%s", ""), "");
    assert_string_equal(cr_arena_lld(a, 0), "0");
    assert_string_equal(cr_arena_lld(a, -7), "-7");
    assert_string_equal(cr_arena_lld(a, 1764265000123456LL), "1764265000123456");
    assert_string_equal(cr_arena_lld(a, LLONG_MIN), "-9223372036854775808");
    /* Longer than one block */
    char *big = malloc(40000);
    assert_non_null(big);
    memset(big, 'z', 39999);
    big[39999] = '\0';
    char *s = cr_arena_sprintf(a, "<%s>", big);
    assert_int_equal(strlen(s), 40001);
    assert_int_equal(s[0], '<');
    assert_int_equal(s[20000], 'z');
    assert_int_equal(s[40000], '>');
    free(big);
}

static void test_cleanups_reverse_on_reset(void **state)
{
    struct cr_arena *a = *state;
    static int one = 1, two = 2, three = 3;
    cr_arena_cleanup(a, record_cleanup, &one);
    cr_arena_cleanup(a, record_cleanup, NULL); /* not registered */
    cr_arena_cleanup(a, record_cleanup, &two);
    (void)cr_arena_alloc(a, 100000); /* cleanups survive block changes */
    cr_arena_cleanup(a, record_cleanup, &three);
    assert_int_equal(cleanup_count, 0);
    cr_arena_reset(a);
    assert_int_equal(cleanup_count, 3);
    assert_int_equal(cleanup_log[0], 3);
    assert_int_equal(cleanup_log[1], 2);
    assert_int_equal(cleanup_log[2], 1);
    /* A second reset runs nothing again. */
    cr_arena_reset(a);
    assert_int_equal(cleanup_count, 3);
}

static void test_cleanups_reverse_on_free(void **state)
{
    (void)state;
    static int one = 1, two = 2;
    struct cr_arena *a = cr_arena_new();
    assert_non_null(a);
    cr_arena_cleanup(a, record_cleanup, &one);
    cr_arena_cleanup(a, record_cleanup, &two);
    cr_arena_free(a);
    assert_int_equal(cleanup_count, 2);
    assert_int_equal(cleanup_log[0], 2);
    assert_int_equal(cleanup_log[1], 1);
}

static void test_reset_reuses(void **state)
{
    struct cr_arena *a = *state;
    void *first = cr_arena_alloc(a, 32);
    for (int i = 0; i < 1000; i++)
        (void)cr_arena_alloc(a, 500); /* several blocks */
    (void)cr_arena_alloc(a, 1 << 20);
    cr_arena_reset(a);
    void *again = cr_arena_alloc(a, 32);
    assert_ptr_equal(first, again);
    /* Many cycles of use and reset keep working (and, under ASan, do not leak). */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++)
            assert_non_null(cr_arena_sprintf(a, "round %d item %d", round, i));
        (void)cr_arena_alloc(a, 20000);
        cr_arena_reset(a);
        assert_ptr_equal(cr_arena_alloc(a, 1), first);
    }
}

static void test_free_null(void **state)
{
    (void)state;
    cr_arena_free(NULL);
    cr_arena_reset(NULL);
    /* An arena freed without ever being used is fine too. */
    struct cr_arena *a = cr_arena_new();
    assert_non_null(a);
    cr_arena_free(a);
    assert_int_equal(cleanup_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alloc_alignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_allocs_past_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_alloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calloc_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strdup_strndup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sprintf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanups_reverse_on_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanups_reverse_on_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_reuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_null, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_redis_format.c: cr_redis_format makes byte for byte what hiredis's redisFormatCommand
 * makes, for every directive it formats itself and for one it leaves to hiredis. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "cr_redis.h"

/* Formats fmt both ways (the same arguments twice) and compares. */
#define SAME(...)                                                                              \
    do {                                                                                       \
        char *ours = NULL, *theirs = NULL;                                                     \
        long long n = cr_redis_format(&ours, __VA_ARGS__);                                     \
        int m = redisFormatCommand(&theirs, __VA_ARGS__);                                      \
        assert_true(n > 0);                                                                    \
        assert_int_equal(n, m);                                                                \
        assert_memory_equal(ours, theirs, (size_t)m);                                          \
        redisFreeCommand(ours);                                                                \
        redisFreeCommand(theirs);                                                              \
    } while (0)

static void test_directives(void **state)
{
    (void)state;
    SAME("PING");
    SAME("HMGET {q}:tok:%s user state", "abc.def-123");
    SAME("GET cr:seatgen:%lld", 42LL);
    SAME("SET cr:seatgen:%lld %s NX GET", -9223372036854775807LL, "1a2b.3.18c");
    SAME("CLIENT PAUSE %d WRITE", 1500);
    SAME("GET k:%lld:%d", (long long)INT64_MIN, -2147483647 - 1);
    SAME("ZMSCORE k %lld-%s:G %lld-%s:U", 7LL, "u", 8LL, "v");
    SAME("SET %b %b", "k\0ey", (size_t)4, "", (size_t)0);
    SAME("SET k %s", "");                /* an empty argument is still one */
    SAME("SET  k   %s%s  ", "a", "b"); /* runs of spaces, pieces joined */
    SAME("SET 100%% %s", "x y");       /* %%, and a %s with a space stays one argument */
    SAME("SET k %05d", 7);             /* not ours: hiredis formats it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_directives)};
    return cmocka_run_group_tests_name("unit_redis_format", tests, NULL, NULL);
}

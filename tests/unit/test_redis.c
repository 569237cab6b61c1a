/* test_redis.c: unit tests of the pure parts of finding the Redis primary through Sentinels. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "cr_error.h"
#include "cr_redis.h"

static void test_addr_list(void **state)
{
    (void)state;
    const char *l = "127.0.1.11:26379, 127.0.1.12:26380,,sentinel.example:1";
    char h[64];
    int port = 0;
    assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 1);
    assert_string_equal(h, "127.0.1.11");
    assert_int_equal(port, 26379);
    assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 1);
    assert_string_equal(h, "127.0.1.12");
    assert_int_equal(port, 26380);
    assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 1);
    assert_string_equal(h, "sentinel.example");
    assert_int_equal(port, 1);
    assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 0);
    assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 0); /* stays at the end */
    l = "";
    assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 0);
}

/* A bad entry is skipped, the ones after it still read. */
static void test_addr_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"nohost", ":26379", "h:", "h:0", "h:65536", "h:12x", "h:1234567", "h: 1"};
    char h[64];
    int port = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s,ok:7", bad[i]);
        const char *l = buf;
        assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), CR_E_INVALID);
        assert_int_equal(cr_redis_addr_next(&l, h, sizeof(h), &port), 1);
        assert_string_equal(h, "ok");
        assert_int_equal(port, 7);
    }
    /* A host longer than the buffer is refused, not cut. */
    const char *l = "abcdefghij:1";
    char small[8];
    assert_int_equal(cr_redis_addr_next(&l, small, sizeof(small), &port), CR_E_INVALID);
}

static redisReply str_reply(char *s)
{
    redisReply r = {.type = REDIS_REPLY_STRING, .str = s, .len = strlen(s)};
    return r;
}

static void test_master_addr(void **state)
{
    (void)state;
    redisReply h = str_reply("127.0.1.12"), p = str_reply("6379"), bad = str_reply("63x");
    redisReply *el[2] = {&h, &p};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};
    char host[64];
    int port = 0;
    assert_int_equal(cr_redis_master_addr(&arr, host, sizeof(host), &port), CR_OK);
    assert_string_equal(host, "127.0.1.12");
    assert_int_equal(port, 6379);
    el[1] = &bad;
    assert_int_equal(cr_redis_master_addr(&arr, host, sizeof(host), &port), CR_E_UNAVAILABLE);
    redisReply nil = {.type = REDIS_REPLY_NIL};
    assert_int_equal(cr_redis_master_addr(&nil, host, sizeof(host), &port), CR_E_UNAVAILABLE);
    assert_int_equal(cr_redis_master_addr(NULL, host, sizeof(host), &port), CR_E_UNAVAILABLE);
    el[1] = &p;
    assert_int_equal(cr_redis_master_addr(&arr, host, 5, &port), CR_E_UNAVAILABLE); /* too long */
}

static void test_role(void **state)
{
    (void)state;
    redisReply m = str_reply("master"), s = str_reply("slave");
    redisReply *el[1] = {&m};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = el};
    assert_true(cr_redis_role_master(&arr));
    el[0] = &s;
    assert_false(cr_redis_role_master(&arr));
    arr.elements = 0;
    assert_false(cr_redis_role_master(&arr));
    assert_false(cr_redis_role_master(NULL));
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "master", .len = 6};
    assert_false(cr_redis_role_master(&err));
}

static void test_demoted(void **state)
{
    (void)state;
    assert_true(cr_redis_demoted_reply("READONLY You can't write against a read only replica."));
    assert_false(cr_redis_demoted_reply("NOSCRIPT No matching script."));
    assert_false(cr_redis_demoted_reply("ERR READONLY in the middle"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_list), cmocka_unit_test(test_addr_malformed),
        cmocka_unit_test(test_master_addr), cmocka_unit_test(test_role),
        cmocka_unit_test(test_demoted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

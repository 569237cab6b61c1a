/* test_tqueue_native.c: CRQ.JOIN (src/redis/crq.c, the timed join as a native Redis command)
 * against the join script it replaces (cr_tqueue.c), on the stack's Redis, which loads the
 * module. Every call goes to both, each on its own copy of the keys ({tqs}: the script's,
 * {tqn}: the command's), with the same arguments: the replies must be the same, and so must
 * the schedule hash and the checkpoints they leave. The clock is passed in, as the worker
 * does, so a sequence is the same for both (except where Redis's TIME takes over: checked
 * on its own). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cr_arena.h"
#include "cr_config.h"
#include "cr_error.h"
#include "cr_redis.h"
#include "cr_tqueue.h"
#include "cr_test.h"
#include "cr_uuid.h"

static struct cr_arena *arena;

/* The arguments of one join, as the worker passes them. */
struct join {
    const char *user;
    int vouched;
    long long T, B, ttl_ms, now_us, keep_ms;
};

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void cmd(const char *fmt, const char *a1, const char *a2)
{
    redisReply *r = NULL;
    assert_int_equal(cr_redis_cmd(arena, &r, fmt, a1, a2), CR_OK);
}

static void reset(void)
{
    redisReply *r = NULL;
    assert_int_equal(cr_redis_cmd(arena, &r, "DEL {tqs}:t {tqs}:users {tqs}:t:cp {tqn}:t "
                                             "{tqn}:users {tqn}:t:cp"),
                     CR_OK);
}

/* Runs j on one side: "s" the script, "n" the command. The reply, or NULL for an error. */
static redisReply *run(const char *side, const struct join *j)
{
    char k1[16], k2[20], k3[20], v[6][24];
    snprintf(k1, sizeof(k1), "{tq%s}:t", side);
    snprintf(k2, sizeof(k2), "{tq%s}:users", side);
    snprintf(k3, sizeof(k3), "{tq%s}:t:cp", side);
    snprintf(v[0], sizeof(v[0]), "%d", j->vouched);
    snprintf(v[1], sizeof(v[1]), "%lld", j->T);
    snprintf(v[2], sizeof(v[2]), "%lld", j->B);
    snprintf(v[3], sizeof(v[3]), "%lld", j->ttl_ms);
    snprintf(v[4], sizeof(v[4]), "%lld", j->now_us);
    snprintf(v[5], sizeof(v[5]), "%lld", j->keep_ms);
    redisReply *r = NULL;
    if (side[0] == 's') {
        const char *argv[] = {"EVAL", cr_tqueue_join_script(), "3", k1, k2, k3, j->user,
                              v[0], v[1], v[2], v[3], v[4], v[5]};
        return cr_redis_argv(arena, &r, 13, argv, NULL) == CR_OK ? r : NULL;
    }
    const char *argv[] = {k1, k2, k3, j->user, v[0], v[1], v[2], v[3], v[4], v[5]};
    return cr_redis_native(arena, &r, "CRQ.JOIN", 10, argv) == CR_OK ? r : NULL;
}

static int same_reply(const redisReply *a, const redisReply *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case REDIS_REPLY_INTEGER:
        return a->integer == b->integer;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case REDIS_REPLY_ARRAY:
        if (a->elements != b->elements)
            return 0;
        for (size_t i = 0; i < a->elements; i++)
            if (!same_reply(a->element[i], b->element[i]))
                return 0;
        return 1;
    default:
        return 1;
    }
}

static void print_reply(const char *label, const redisReply *r)
{
    fprintf(stderr, "%s:", label);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_INTEGER)
            fprintf(stderr, " %lld", r->element[i]->integer);
        else
            fprintf(stderr, " %s", r->element[i]->str ? r->element[i]->str : "?");
    }
    fprintf(stderr, "\n");
}

/* Both sides, the same reply; returns the script's. */
static redisReply *join_both(const struct join *j)
{
    redisReply *s = run("s", j), *n = run("n", j);
    assert_non_null(s);
    assert_non_null(n);
    if (!same_reply(s, n)) {
        fprintf(stderr, "join of %s at %lld (vouched %d, T %lld, B %lld):\n", j->user,
                j->now_us, j->vouched, j->T, j->B);
        print_reply("  script", s);
        print_reply("  CRQ.JOIN", n);
        fail_msg("CRQ.JOIN answered otherwise than the script");
    }
    return s;
}

/* The two schedule hashes and checkpoint sets hold the same. */
static void assert_same_state(void)
{
    redisReply *hs = NULL, *hn = NULL, *cs = NULL, *cn = NULL, *v = NULL;
    assert_int_equal(cr_redis_cmd(arena, &hs, "HGETALL {tqs}:t"), CR_OK);
    assert_int_equal(cr_redis_cmd(arena, &hn, "HLEN {tqn}:t"), CR_OK);
    assert_int_equal((long long)hs->elements / 2, hn->integer);
    for (size_t i = 0; i + 1 < hs->elements; i += 2) {
        assert_int_equal(cr_redis_cmd(arena, &v, "HGET {tqn}:t %s", hs->element[i]->str), CR_OK);
        if (v->type != REDIS_REPLY_STRING || strcmp(v->str, hs->element[i + 1]->str) != 0)
            fail_msg("field %s: script %s, CRQ.JOIN %s", hs->element[i]->str,
                     hs->element[i + 1]->str, v->type == REDIS_REPLY_STRING ? v->str : "(none)");
    }
    assert_int_equal(cr_redis_cmd(arena, &cs, "ZRANGE {tqs}:t:cp 0 -1 WITHSCORES"), CR_OK);
    assert_int_equal(cr_redis_cmd(arena, &cn, "ZRANGE {tqn}:t:cp 0 -1 WITHSCORES"), CR_OK);
    assert_true(same_reply(cs, cn));
}

static long long field(const char *side, const char *name)
{
    redisReply *r = NULL;
    char key[16];
    snprintf(key, sizeof(key), "{tq%s}:t", side);
    assert_int_equal(cr_redis_cmd(arena, &r, "HGET %s %s", key, name), CR_OK);
    return r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
}

/* A place handed back, on both sides: what the leave script does to the schedule. */
static void hand_back(long long T, int places)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", field("s", "tat") - places * T);
    cmd("HSET {tqs}:t tat %s", v, NULL);
    cmd("HSET {tqn}:t tat %s", v, NULL);
}

static void test_module_loaded(void **state)
{
    (void)state;
    redisReply *r = NULL;
    assert_int_equal(cr_redis_cmd(arena, &r, "COMMAND INFO crq.join"), CR_OK);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    if (r->elements != 1 || r->element[0]->type != REDIS_REPLY_ARRAY)
        fail_msg("the stack's Redis has no CRQ.JOIN: scripts/lib.sh loads build/crq.so");
}

/* Each branch of the join once: unknown user, a user of the default mode's set, vouched, a
 * burst of B then one every T, a live token again, a clock that went back, places handed
 * back (never before the token before), a user known without a token, an expired token, a
 * gap that empties the schedule, checkpoints. */
static void test_each_branch(void **state)
{
    (void)state;
    reset();
    /* 100 s in the past: later steps may move the clock on without passing Redis's. */
    long long t0 = now_us() - 100000000;
    struct join j = {"u-none", 0, 10000, 3, 2000, t0, 120000};
    redisReply *r = join_both(&j);
    assert_int_equal(r->elements, 1);
    assert_int_equal(r->element[0]->integer, -1);

    cmd("SADD {tqs}:users %s", "u-set", NULL);
    cmd("SADD {tqn}:users %s", "u-set", NULL);
    j.user = "u-set";
    r = join_both(&j);
    assert_int_equal(r->element[0]->integer, 1);

    const char *burst[] = {"v1", "v2", "v3", "v4", "v5"};
    j.vouched = 1;
    for (int i = 0; i < 5; i++) {
        j.user = burst[i];
        j.now_us += 100;
        join_both(&j);
    }
    j.user = "v2";
    r = join_both(&j);
    assert_int_equal(r->element[0]->integer, 0);   /* its live token again */

    j.user = "back";
    j.now_us -= 5000;   /* another worker's clock, a little behind */
    join_both(&j);

    hand_back(j.T, 4);
    j.user = "after-hand-back";
    j.now_us += 1000;
    join_both(&j);

    cmd("HSET {tqs}:t %s %s", "known", "");
    cmd("HSET {tqn}:t %s %s", "known", "");
    j.user = "known";
    j.vouched = 0;
    r = join_both(&j);
    assert_int_equal(r->element[0]->integer, 1);

    j.user = "v1";
    j.now_us += 3000000;   /* past its 2 s */
    r = join_both(&j);
    assert_int_equal(r->element[0]->integer, 1);

    j.user = "late";
    j.vouched = 1;
    j.now_us += 20000000;   /* the schedule is empty again: admitted at once */
    r = join_both(&j);
    assert_int_equal(r->element[0]->integer, 1);
    assert_same_state();
    /* checkpoints were written (one per 10 ms of admission times) */
    redisReply *c = NULL;
    assert_int_equal(cr_redis_cmd(arena, &c, "ZCARD {tqn}:t:cp"), CR_OK);
    assert_true(c->integer >= 2);
}

/* 600 joins of 40 users with random clocks (some behind, some gaps), vouched or not, places
 * handed back now and then, two rates and bursts: every reply and the state the same. */
static void test_random_sequence(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "random sequence, seed %u\n", seed);
    srand(seed);
    for (int round = 0; round < 2; round++) {
        reset();
        struct join j = {NULL, 0, round ? 3333 : 50000, round ? 50 : 1, 4000,
                         now_us() - 200000000, 60000};
        char users[40][16];
        for (int i = 0; i < 40; i++)
            snprintf(users[i], sizeof(users[i]), "r%d-%d", round, i);
        for (int i = 0; i < 300; i++) {
            int u = rand() % 40, k = rand() % 100;
            if (k < 5)
                j.now_us -= rand() % 5000;
            else if (k < 8)
                j.now_us += 1000000 + rand() % 3000000;
            else
                j.now_us += rand() % 30000;
            if (k % 10 == 0) {
                cmd("SADD {tqs}:users %s", users[u], NULL);
                cmd("SADD {tqn}:users %s", users[u], NULL);
            }
            if (k == 42 && field("s", "tat") > 0)
                hand_back(j.T, 1 + rand() % 3);
            j.user = users[u];
            j.vouched = rand() % 3 == 0;
            join_both(&j);
        }
        assert_same_state();
    }
}

/* A clock more than a second ahead of Redis's is replaced by Redis's TIME, on both sides. */
static void test_clock_ahead(void **state)
{
    (void)state;
    const char *sides[] = {"s", "n"};
    for (int i = 0; i < 2; i++) {
        reset();
        long long before = now_us();
        struct join j = {"ahead", 1, 10000, 3, 60000, before + 3600000000LL, 120000};
        redisReply *r = run(sides[i], &j);
        long long after = now_us();
        assert_non_null(r);
        assert_int_equal(r->element[0]->integer, 1);
        long long clk = field(sides[i], "clk");
        assert_true(clk >= before - 1000000 && clk <= after + 1000000);
        assert_true(r->element[2]->integer >= before / 1000 - 1000);
        assert_true(r->element[2]->integer <= after / 1000 + 1000);
    }
}

/* Wrong arity, arguments that are no numbers, a schedule holding a non-number: an error, and
 * nothing written. */
static void test_bad_input(void **state)
{
    (void)state;
    reset();
    redisReply *r = NULL, *n = NULL;
    const char *few[] = {"{tqn}:t", "{tqn}:users", "{tqn}:t:cp", "u"};
    assert_int_equal(cr_redis_native(arena, &r, "CRQ.JOIN", 4, few), CR_E_INTERNAL);
    struct join j = {"u", 1, 10000, 3, 60000, now_us(), 120000};
    const char *bad[] = {"{tqn}:t", "{tqn}:users", "{tqn}:t:cp", "u", "1", "10x", "3",
                         "60000", "1", "120000"};
    assert_int_equal(cr_redis_native(arena, &r, "CRQ.JOIN", 10, bad), CR_E_INTERNAL);
    const char *empty_user[] = {"{tqn}:t", "{tqn}:users", "{tqn}:t:cp", "", "1", "10", "3",
                                "60000", "1", "120000"};
    assert_int_equal(cr_redis_native(arena, &r, "CRQ.JOIN", 10, empty_user), CR_E_INTERNAL);
    assert_int_equal(cr_redis_cmd(arena, &n, "EXISTS {tqn}:t {tqn}:t:cp"), CR_OK);
    assert_int_equal(n->integer, 0);
    cmd("HSET {tqn}:t tat %s", "12ab", NULL);
    assert_null(run("n", &j));
    assert_int_equal(cr_redis_cmd(arena, &n, "HLEN {tqn}:t"), CR_OK);
    assert_int_equal(n->integer, 1);
    cmd("SET {tqn}:t %s", "a string", NULL);
    assert_null(run("n", &j));
}

/* The sum of calls to one command in INFO commandstats of the Redis cr_redis talks to. */
static long long calls(const char *command)
{
    redisReply *r = NULL;
    char key[64];
    assert_int_equal(cr_redis_cmd(arena, &r, "INFO commandstats"), CR_OK);
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", command);
    const char *p = strstr(r->str, key);
    return p ? atoll(p + strlen(key)) : 0;
}

static long long join_user(const char *uid)
{
    struct cr_uuid u;
    struct cr_queue_ticket t;
    assert_int_equal(cr_uuid_parse(uid, &u), CR_OK);
    assert_int_equal(cr_tqueue_join(arena, &u, 1, &t), CR_OK);
    assert_int_equal(t.created, 1);
    return t.expires_at;
}

/* The worker's way, cr_tqueue_join: CRQ.JOIN where Redis has it; on a Redis without the
 * module (one of this test's own), the script, with no error for the caller, and CRQ.JOIN is
 * not tried again for a minute. */
static void test_worker_falls_back(void **state)
{
    (void)state;
    char err[128], dir[] = "/tmp/cr-nomodule.XXXXXX", sock[96], line[512];
    const char *socket0 = cr_config_get("REDIS_SOCKET");
    char *stack_sock = strdup(socket0 ? socket0 : "");
    assert_non_null(stack_sock);
    assert_int_equal(
        cr_config_set("QUEUE_TOKEN_KEYS", "k1:test-only-secret-k1-0123456789abcdefghijkl"), 0);
    assert_int_equal(cr_tqueue_init(err, sizeof(err)), CR_OK);

    long long before = calls("crq.join");
    join_user("0190a000-0000-7000-8000-000000000001");
    assert_int_equal(calls("crq.join"), before + 1);

    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
    snprintf(line, sizeof(line),
             "redis-server --port 0 --unixsocket %s --dir %s --save '' --appendonly no "
             "--daemonize yes --pidfile %s/pid --logfile %s/log",
             sock, dir, dir, dir);
    assert_int_equal(system(line), 0);
    assert_int_equal(cr_config_set("REDIS_SOCKET", sock), 0);
    cr_redis_close();
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        up = cr_redis_ping() == CR_OK;
        if (!up) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(up);
    join_user("0190a000-0000-7000-8000-000000000002");
    join_user("0190a000-0000-7000-8000-000000000003");
    redisReply *r = NULL;
    assert_int_equal(cr_redis_cmd(arena, &r, "HLEN {q}:t"), CR_OK);
    assert_int_equal(r->integer, 7);   /* tat last seq cp clk, two users */
    assert_int_equal(cr_redis_cmd(arena, &r, "INFO errorstats"), CR_OK);
    assert_non_null(strstr(r->str, "errorstat_ERR:count=1\r\n"));   /* the one "unknown command" */
    assert_int_equal(calls("eval") + calls("evalsha"), 2);
    cr_redis_cmd(arena, &r, "SHUTDOWN NOSAVE");
    cr_redis_close();
    assert_int_equal(cr_config_set("REDIS_SOCKET", stack_sock), 0);
    free(stack_sock);
    snprintf(line, sizeof(line), "rm -rf %s", dir);
    assert_int_equal(system(line), 0);
}

static int setup(void **state)
{
    (void)state;
    cr_test_init();
    arena = cr_arena_new();
    return arena == NULL;
}

static int teardown(void **state)
{
    (void)state;
    reset();
    cr_arena_free(arena);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_module_loaded),
        cmocka_unit_test(test_each_branch),
        cmocka_unit_test(test_random_sequence),
        cmocka_unit_test(test_clock_ahead),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_worker_falls_back),
    };
    return cmocka_run_group_tests_name("http_tqueue_native", tests, setup, teardown);
}

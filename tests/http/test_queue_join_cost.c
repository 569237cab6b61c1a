/* test_queue_join_cost.c: what a join costs, in both modes (issues 14 and 15); built twice,
 * test_queue_join_cost (QUEUE_MODE=redis) and test_queue_join_cost_timed (QUEUE_MODE=timed),
 * each with a cap so large that every join is admitted at once:
 *   - 200 first joins of users created through the API (so known to the line): no MariaDB
 *     statement, and at most 3 Redis commands a join in timed mode (EVALSHA, HMGET, HSET,
 *     plus a checkpoint of two commands per 10 ms of admission times), at most 9 in redis
 *     mode (EVALSHA and 8, plus two every 64th admission); a re-join: 200, the same token
 *     (timed mode: EVALSHA and HMGET);
 *   - 1,000 joins at once from 32 threads, 4 workers: every one 201 ACTIVE (a join stamped by one worker
 *     and run by Redis after another's must not come back WAITING), and /metrics then counts
 *     1,000 more active tokens and none waiting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_config.h"
#include "cr_test.h"

#define N 200
#define CROWD 1000

static int timed;

static long long db_selects(void)
{
    return cr_test_root_int("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                            "WHERE VARIABLE_NAME = 'COM_SELECT'");
}

static long join(const char *uid, char *token, size_t n, char *status, size_t sn)
{
    struct cr_test_res r;
    char body[128];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", uid);
    long code = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    snprintf(token, n, "%s", cr_test_str(&r, "token"));
    snprintf(status, sn, "%s", cr_test_str(&r, "status"));
    cr_test_res_free(&r);
    return code;
}

/* The value of a /metrics series without labels, -1 when absent. */
static long long metric(const char *name)
{
    struct cr_test_res r;
    long long v = -1;
    size_t n = strlen(name);
    assert_int_equal(cr_test_req(&r, "GET", "/metrics", NULL, NULL), 200);
    for (const char *p = r.body; p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            v = atoll(p + n + 1);
            break;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    cr_test_res_free(&r);
    return v;
}

static void test_commands_per_join(void **state)
{
    (void)state;
    static char uid[N][37], tok[N][300];
    char st[16], again[300];
    for (int i = 0; i < N; i++)
        cr_test_new_user(uid[i]);
    long long sel0 = db_selects(), calls0 = cr_test_redis_calls(), t0 = cr_test_now_ms();
    for (int i = 0; i < N; i++) {
        assert_int_equal(join(uid[i], tok[i], sizeof(tok[i]), st, sizeof(st)), 201);
        assert_string_equal(st, "ACTIVE");
    }
    long long ms = cr_test_now_ms() - t0, calls = cr_test_redis_calls() - calls0 - 1;
    long long sel = db_selects() - sel0;
    /* the checkpoints: the first join's, then at most one per 10 ms of the run; two commands;
     * in timed mode, TIME on the first join (a clock a second past the last one seen); and
     * each of the 4 workers' first call: an EVALSHA refused (NOSCRIPT), then an EVAL */
    long long bound = (timed ? 3 * N + 2 * (ms / 10 + 2) + 1 : 9 * N + 2 * (N / 64 + 1)) + 4;
    print_message("  %s: %lld Redis commands for %d joins in %lld ms (%.2f a join, at most "
                  "%lld in all); %lld MariaDB SELECTs (the count's own included)\n",
                  timed ? "timed" : "redis", calls, N, ms, (double)calls / N, bound, sel);
    assert_true(calls <= bound);
    assert_true(calls >= (timed ? 3 : 9) * N);
    assert_true(sel <= 1);
    /* a re-join: the same token, 200; in timed mode one command inside the script */
    calls0 = cr_test_redis_calls();
    assert_int_equal(join(uid[0], again, sizeof(again), st, sizeof(st)), 200);
    assert_string_equal(again, tok[0]);
    calls = cr_test_redis_calls() - calls0 - 1;
    print_message("  a re-join: %lld Redis commands\n", calls);
    if (timed) /* one more if this worker had not run the script yet */
        assert_true(calls <= 3);
}

struct crowd {
    char uid[CROWD][37];
    long code[CROWD];
    char status[CROWD][16];
};

static void crowd_join(int i, void *ctx)
{
    struct crowd *c = ctx;
    char token[300];
    c->code[i] = join(c->uid[i], token, sizeof(token), c->status[i], sizeof(c->status[i]));
}

static void test_concurrent_joins_all_active(void **state)
{
    (void)state;
    static struct crowd c;
    for (int i = 0; i < CROWD; i++)
        cr_test_new_user(c.uid[i]);
    long long active0 = metric("concert_queue_active");
    cr_test_parallel(32, CROWD, crowd_join, &c);
    int bad = 0;
    for (int i = 0; i < CROWD; i++)
        if (c.code[i] != 201 || strcmp(c.status[i], "ACTIVE") != 0) {
            if (bad++ < 5)
                print_message("  join %d: %ld %s\n", i, c.code[i], c.status[i]);
        }
    assert_int_equal(bad, 0);
    assert_int_equal(metric("concert_queue_waiting"), 0);
    long long active = metric("concert_queue_active");
    print_message("  active: %lld before the crowd, %lld after\n", active0, active);
    assert_int_equal(active - active0, CROWD);
}

int main(void)
{
    cr_test_init();
    timed = strcmp(cr_config_get("QUEUE_MODE"), "timed") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_per_join),
        cmocka_unit_test(test_concurrent_joins_all_active),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

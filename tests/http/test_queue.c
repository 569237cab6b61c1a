/* test_queue.c: the default mode's line with QUEUE_ACTIVE_MAX=5 (test_queue.conf): fair,
 * gap-free admission under concurrent joins, places moving up as actives give back, and a Redis
 * restart. What holds in both modes is in test_queue_modes.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_test.h"

#define NUSERS 200
#define MAXACTIVE 5

struct member {
    char user[37];
    char token[300];
    long status; /* HTTP status of the join */
    int active;
    long long position;
};

static struct member members[NUSERS];

static void auth_header(char *buf, size_t n, const char *token)
{
    snprintf(buf, n, "Authorization: Bearer %s", token);
}

static void poll_member(struct member *m)
{
    char auth[400];
    struct cr_test_res r;
    auth_header(auth, sizeof(auth), m->token);
    const char *h[] = {auth, NULL};
    assert_int_equal(cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, h), 200);
    assert_string_equal(cr_test_str(&r, "token"), m->token);
    assert_string_equal(cr_test_str(&r, "userId"), m->user);
    m->active = strcmp(cr_test_str(&r, "status"), "ACTIVE") == 0;
    m->position = cr_test_int(&r, "position");
    if (m->active) {
        assert_int_equal(m->position, 0);
        assert_int_equal(cr_test_int(&r, "estimatedWaitSeconds"), 0);
    } else {
        assert_string_equal(cr_test_str(&r, "status"), "WAITING");
        assert_true(cr_test_int(&r, "estimatedWaitSeconds") > 0);
    }
    assert_int_equal(strlen(cr_test_str(&r, "expiresAt")), 24);
    cr_test_res_free(&r);
}

static void join_task(int i, void *ctx)
{
    struct member *m = &members[i];
    struct cr_test_res r;
    char body[128];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", m->user);
    m->status = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    snprintf(m->token, sizeof(m->token), "%s", cr_test_str(&r, "token"));
    cr_test_res_free(&r);
}

static void poll_task(int i, void *ctx)
{
    poll_member(&members[i]);
}

static void make_user_task(int i, void *ctx)
{
    cr_test_new_user(members[i].user);
}

/* Checks that exactly MAXACTIVE members are active and the others hold 1..n-MAXACTIVE. */
static void assert_line_exact(int first, int n)
{
    int nactive = 0;
    char *seen = calloc((size_t)n + 1, 1);
    for (int i = first; i < first + n; i++) {
        if (members[i].active) {
            nactive++;
            continue;
        }
        long long p = members[i].position;
        assert_true(p >= 1 && p <= n - MAXACTIVE);
        assert_int_equal(seen[p], 0);
        seen[p] = 1;
    }
    assert_int_equal(nactive, MAXACTIVE);
    free(seen);
}

static void test_concurrent_joins_are_fair_and_gap_free(void **state)
{
    cr_test_parallel(16, NUSERS, make_user_task, NULL);
    cr_test_parallel(16, NUSERS, join_task, NULL);
    for (int i = 0; i < NUSERS; i++) {
        assert_int_equal(members[i].status, 201);
        assert_int_equal(strlen(members[i].token), 43);
    }
    cr_test_parallel(16, NUSERS, poll_task, NULL);
    assert_line_exact(0, NUSERS);

    /* The five actives give their places back: the next five in line go in, everyone else
     * moves up by five. */
    long long before[NUSERS];
    for (int i = 0; i < NUSERS; i++)
        before[i] = members[i].active ? 0 : members[i].position;
    for (int i = 0; i < NUSERS; i++) {
        if (!members[i].active)
            continue;
        char auth[400];
        struct cr_test_res r;
        auth_header(auth, sizeof(auth), members[i].token);
        const char *h[] = {auth, NULL};
        assert_int_equal(cr_test_req(&r, "DELETE", "/api/v1/queue/tokens/current", NULL, h), 204);
        cr_test_res_free(&r);
        /* A given-back token stops working. */
        assert_int_equal(cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, h), 401);
        assert_string_equal(cr_test_error_code(&r), "TOKEN_INVALID");
        cr_test_res_free(&r);
        members[i].token[0] = '\0';
    }
    for (int i = 0; i < NUSERS; i++) {
        if (before[i] == 0)
            continue;
        poll_member(&members[i]);
        if (before[i] <= MAXACTIVE)
            assert_true(members[i].active);
        else
            assert_int_equal(members[i].position, before[i] - MAXACTIVE);
    }
}

static void test_line_survives_redis_restart(void **state)
{
    const char *dir = getenv("CR_STACK_DIR");
    char cmd[1024];
    struct member *w = NULL;
    for (int i = NUSERS - 1; i >= 0 && w == NULL; i--)
        if (members[i].token[0] != '\0' && !members[i].active)
            w = &members[i];
    assert_non_null(w);
    poll_member(w);
    long long pos = w->position;

    snprintf(cmd, sizeof(cmd), "redis-cli -s %s/run/redis.sock shutdown >/dev/null 2>&1", dir);
    system(cmd);
    char auth[400];
    struct cr_test_res r;
    auth_header(auth, sizeof(auth), w->token);
    const char *h[] = {auth, NULL};
    cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, h);
    assert_int_equal(r.status, 503);
    assert_string_equal(cr_test_error_code(&r), "SERVICE_UNAVAILABLE");
    char *ra = cr_test_header(&r, "Retry-After");
    assert_non_null(ra);
    free(ra);
    cr_test_res_free(&r);

    assert_int_equal(cr_test_redis_start(), 0);
    long st = 0;
    for (long long end = cr_test_now_ms() + 20000; st != 200 && cr_test_now_ms() < end;) {
        cr_test_sleep_ms(100);
        st = cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, h);
        if (st == 200) {
            assert_string_equal(cr_test_str(&r, "status"), "WAITING");
            assert_int_equal(cr_test_int(&r, "position"), pos);
        }
        cr_test_res_free(&r);
    }
    assert_int_equal(st, 200);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_joins_are_fair_and_gap_free),
        cmocka_unit_test(test_line_survives_redis_restart),
    };
    return cmocka_run_group_tests_name("http_queue", tests, NULL, NULL);
}

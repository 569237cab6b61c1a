/* test_queue_idle.c: with QUEUE_ACTIVE_MAX=1, QUEUE_WAIT_IDLE_TTL=2 and QUEUE_ACTIVE_TTL=3
 * (test_queue_idle.conf): a waiter that stops polling loses its place, an expired active
 * token is refused, and the next waiter is admitted by its own poll. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cr_test.h"

struct who {
    char user[37];
    char token[300];
    char auth[400];
};

static void join(struct who *w, const char *want_status)
{
    struct cr_test_res r;
    char body[128];
    cr_test_new_user(w->user);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", w->user);
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL), 201);
    assert_string_equal(cr_test_str(&r, "status"), want_status);
    snprintf(w->token, sizeof(w->token), "%s", cr_test_str(&r, "token"));
    snprintf(w->auth, sizeof(w->auth), "Authorization: Bearer %s", w->token);
    cr_test_res_free(&r);
}

/* Polls w; returns the HTTP status and fills status and position. */
static long poll_who(struct who *w, char *status, long long *position)
{
    struct cr_test_res r;
    const char *h[] = {w->auth, NULL};
    long st = cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, h);
    if (st == 200) {
        snprintf(status, 16, "%s", cr_test_str(&r, "status"));
        *position = cr_test_int(&r, "position");
    } else {
        snprintf(status, 16, "%s", cr_test_error_code(&r));
        *position = -1;
    }
    cr_test_res_free(&r);
    return st;
}

static void test_idle_waiter_and_expired_active(void **state)
{
    struct who a, b, c, d;
    char st[16];
    long long pos;

    join(&a, "ACTIVE");
    join(&b, "WAITING");
    join(&c, "WAITING");
    join(&d, "WAITING");
    assert_int_equal(poll_who(&c, st, &pos), 200);
    assert_int_equal(pos, 2);

    /* b stops polling; c and d keep polling for 2.5 s: b's place is gone. */
    for (int i = 0; i < 6; i++) {
        usleep(420000);
        assert_int_equal(poll_who(&c, st, &pos), 200);
        assert_int_equal(poll_who(&d, st, &pos), 200);
    }
    assert_int_equal(poll_who(&b, st, &pos), 401);
    assert_string_equal(st, "TOKEN_INVALID");
    assert_int_equal(poll_who(&c, st, &pos), 200);
    assert_string_equal(st, "WAITING");
    assert_int_equal(pos, 1);
    assert_int_equal(poll_who(&d, st, &pos), 200);
    assert_int_equal(pos, 2);

    /* a's active time (3 s) runs out: its token is refused and c's own poll admits c. */
    int admitted = 0;
    for (long long end = cr_test_now_ms() + 10000; !admitted && cr_test_now_ms() < end;) {
        cr_test_sleep_ms(200);
        assert_int_equal(poll_who(&c, st, &pos), 200);
        admitted = strcmp(st, "ACTIVE") == 0;
        assert_int_equal(poll_who(&d, st, &pos), 200);
    }
    assert_true(admitted);
    assert_int_equal(poll_who(&a, st, &pos), 401);
    assert_string_equal(st, "TOKEN_INVALID");
    assert_int_equal(poll_who(&d, st, &pos), 200);
    assert_string_equal(st, "WAITING");
    assert_int_equal(pos, 1);

    /* A new token after the old one expired is a different token. */
    struct cr_test_res r;
    char body[128];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", a.user);
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL), 201);
    assert_string_not_equal(cr_test_str(&r, "token"), a.token);
    cr_test_res_free(&r);
}

static void redis_cli(char *out, size_t n, const char *fmt, ...)
{
    char args[512], cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "redis-cli -s %s/run/redis.sock %s", getenv("CR_STACK_DIR"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (fgets(out, (int)n, p) == NULL)
        out[0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static void test_expire_job_admits(void **state)
{
    /* A place held by a token whose active time has passed, with nobody polling: only the
     * cron job can free it and admit the head of the line. */
    struct who f;
    char out[256], cmd[1024];
    sleep(3); /* everyone from the previous test is gone by now */
    snprintf(cmd, sizeof(cmd), "%s/concert-expire > /dev/null", getenv("CR_BIN_DIR"));
    assert_int_equal(system(cmd), 0);
    long long far = (long long)time(NULL) * 1000 + 600000;
    redis_cli(out, sizeof(out), "ZADD {q}:active %lld blocker", far);
    join(&f, "WAITING");
    redis_cli(out, sizeof(out), "ZADD {q}:active %lld blocker", far - 1200000); /* now expired */
    redis_cli(out, sizeof(out), "HGET {q}:tok:%s state", f.token);
    assert_string_equal(out, "W");

    snprintf(cmd, sizeof(cmd), "%s/concert-expire", getenv("CR_BIN_DIR"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, sizeof(out), p));
    assert_int_equal(pclose(p), 0);
    json_object *summary = json_tokener_parse(out);
    assert_non_null(summary);
    json_object *v;
    assert_true(json_object_object_get_ex(summary, "tokensExpired", &v));
    assert_int_equal(json_object_get_int64(v), 1);
    assert_true(json_object_object_get_ex(summary, "usersAdmitted", &v));
    assert_int_equal(json_object_get_int64(v), 1);
    json_object_put(summary);
    redis_cli(out, sizeof(out), "HGET {q}:tok:%s state", f.token);
    assert_string_equal(out, "A");
    redis_cli(out, sizeof(out), "ZSCORE {q}:active blocker");
    assert_string_equal(out, "");
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_waiter_and_expired_active),
        cmocka_unit_test(test_expire_job_admits),
    };
    return cmocka_run_group_tests_name("http_queue_idle", tests, NULL, NULL);
}

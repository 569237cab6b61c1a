/* test_queue_modes.c: what the waiting line promises in both modes, built twice and run
 * against a stack in each: test_queue_modes (QUEUE_MODE=redis) and test_queue_modes_timed
 * (QUEUE_MODE=timed), each with its .conf letting 2 in at once. One token per user under
 * concurrent joins, a given-back token refused and a new join a new token, the gate's 401s,
 * 405 and 403, and bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cr_test.h"

struct same_user {
    char user[37];
    char tokens[10][300];
    long status[10];
};

static void join_same_task(int i, void *ctx)
{
    struct same_user *s = ctx;
    struct cr_test_res r;
    char body[128];
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", s->user);
    s->status[i] = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    snprintf(s->tokens[i], sizeof(s->tokens[i]), "%s", cr_test_str(&r, "token"));
    cr_test_res_free(&r);
}

/* Joins user (a new one when user is empty); returns the status, token and status field. */
static long join(char *user, char *token, char *status)
{
    struct cr_test_res r;
    char body[128];
    if (user[0] == '\0')
        cr_test_new_user(user);
    snprintf(body, sizeof(body), "{\"userId\":\"%s\"}", user);
    long st = cr_test_req(&r, "POST", "/api/v1/queue/tokens", body, NULL);
    snprintf(token, 300, "%s", cr_test_str(&r, "token"));
    snprintf(status, 16, "%s", cr_test_str(&r, "status"));
    cr_test_res_free(&r);
    return st;
}

static long with_token(const char *method, const char *path, const char *token,
                       struct cr_test_res *r)
{
    char auth[400];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *h[] = {auth, NULL};
    return cr_test_req(r, method, path, NULL, h);
}

static void test_one_token_per_user(void **state)
{
    (void)state;
    struct same_user s;
    memset(&s, 0, sizeof(s));
    cr_test_new_user(s.user);
    cr_test_parallel(10, 10, join_same_task, &s);
    int created = 0;
    for (int i = 0; i < 10; i++) {
        assert_true(s.status[i] == 201 || s.status[i] == 200);
        created += s.status[i] == 201;
        assert_string_equal(s.tokens[i], s.tokens[0]);
        assert_true(strlen(s.tokens[i]) > 0 && strlen(s.tokens[i]) <= 256);
    }
    assert_int_equal(created, 1);
}

static void test_given_back_token_refused_and_new_join_new_token(void **state)
{
    (void)state;
    char user[37] = "", tok[300], again[300], st[16];
    struct cr_test_res r;
    assert_int_equal(join(user, tok, st), 201);
    assert_int_equal(join(user, again, st), 200);
    assert_string_equal(again, tok);
    assert_int_equal(with_token("DELETE", "/api/v1/queue/tokens/current", tok, &r), 204);
    cr_test_res_free(&r);
    assert_int_equal(with_token("GET", "/api/v1/queue/tokens/current", tok, &r), 401);
    assert_string_equal(cr_test_error_code(&r), "TOKEN_INVALID");
    cr_test_res_free(&r);
    assert_int_equal(join(user, again, st), 201);
    assert_string_not_equal(again, tok);
}

static void test_token_gate_errors(void **state)
{
    (void)state;
    struct cr_test_res r;
    cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(cr_test_error_code(&r), "TOKEN_MISSING");
    cr_test_res_free(&r);

    const char *bad[][2] = {
        {"Authorization: Basic dXNlcjpwYXNz", NULL},
        {"Authorization: Bearer", NULL},
        {"Authorization: Bearer a b", NULL},
        {"Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL}, /* forged */
        {"Authorization: Bearer %%%", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, bad[i]);
        assert_int_equal(r.status, 401);
        assert_string_equal(cr_test_error_code(&r), "TOKEN_INVALID");
        cr_test_res_free(&r);
    }
    char longtok[400] = "Authorization: Bearer ";
    memset(longtok + strlen(longtok), 'A', 300);
    const char *toolong[] = {longtok, NULL};
    cr_test_req(&r, "GET", "/api/v1/queue/tokens/current", NULL, toolong);
    assert_int_equal(r.status, 401);
    assert_string_equal(cr_test_error_code(&r), "TOKEN_INVALID");
    cr_test_res_free(&r);

    /* Wrong method is 405 before any token check. */
    cr_test_req(&r, "PUT", "/api/v1/queue/tokens/current", NULL, NULL);
    assert_int_equal(r.status, 405);
    cr_test_res_free(&r);

    /* Two are let in at once: the sixth of six new users waits (for good in the default mode,
     * about 4 s at one a second in the timed one); on an active-only route: 403. */
    char user[37], tok[300], st[16];
    for (int i = 0; i < 6; i++) {
        user[0] = '\0';
        long s = join(user, tok, st);
        assert_true(s == 201);
    }
    assert_string_equal(st, "WAITING");
    assert_int_equal(with_token("GET", "/api/v1/concerts/1/schedules", tok, &r), 403);
    assert_string_equal(cr_test_error_code(&r), "TOKEN_NOT_ACTIVE");
    cr_test_res_free(&r);
    assert_int_equal(with_token("GET", "/api/v1/queue/tokens/current", tok, &r), 200);
    assert_string_equal(cr_test_str(&r, "status"), "WAITING");
    assert_true(cr_test_int(&r, "position") >= 1);
    assert_true(cr_test_int(&r, "estimatedWaitSeconds") >= 1);
    cr_test_res_free(&r);
}

static void test_join_bad_input(void **state)
{
    (void)state;
    struct cr_test_res r;
    const char *bodies[] = {"{}", "{\"userId\":\"nope\"}", "{\"userId\":12}", "[1]", "{bad"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        cr_test_req(&r, "POST", "/api/v1/queue/tokens", bodies[i], NULL);
        assert_int_equal(r.status, 400);
        assert_string_equal(cr_test_error_code(&r), "INVALID_REQUEST");
        cr_test_res_free(&r);
    }
    cr_test_req(&r, "POST", "/api/v1/queue/tokens",
                "{\"userId\":\"01890000-0000-7000-8000-000000000000\"}", NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(cr_test_error_code(&r), "NOT_FOUND");
    cr_test_res_free(&r);
    cr_test_req(&r, "POST", "/api/v1/queue/tokens", NULL, NULL);
    assert_int_equal(r.status, 400);
    cr_test_res_free(&r);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_token_per_user),
        cmocka_unit_test(test_given_back_token_refused_and_new_join_new_token),
        cmocka_unit_test(test_token_gate_errors),
        cmocka_unit_test(test_join_bad_input),
    };
    return cmocka_run_group_tests_name("http_queue_modes", tests, NULL, NULL);
}

/* test_base.c: the foundation through nginx: health, 404/405/413/415, request ids, and
 * /healthz following Redis down and back up. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cr_test.h"

static void assert_json_error(struct cr_test_res *r, long status, const char *code)
{
    assert_int_equal(r->status, status);
    assert_non_null(r->json);
    assert_string_equal(cr_test_error_code(r), code);
    char *ct = cr_test_header(r, "Content-Type");
    assert_non_null(ct);
    assert_non_null(strstr(ct, "application/json"));
    free(ct);
    /* The body's requestId is the X-Request-Id header. */
    char *rid = cr_test_header(r, "X-Request-Id");
    assert_non_null(rid);
    json_object *e, *id;
    assert_true(json_object_object_get_ex(r->json, "error", &e));
    assert_true(json_object_object_get_ex(e, "requestId", &id));
    assert_string_equal(json_object_get_string(id), rid);
    free(rid);
}

static void test_healthz_ok(void **state)
{
    struct cr_test_res r;
    assert_int_equal(cr_test_req(&r, "GET", "/healthz", NULL, NULL), 200);
    assert_string_equal(cr_test_str(&r, "status"), "ok");
    assert_string_equal(cr_test_str(&r, "db"), "ok");
    assert_string_equal(cr_test_str(&r, "redis"), "ok");
    cr_test_res_free(&r);
    /* Every group answers it. */
    const char *groups[] = {"queue", "concert", "reservation", "wallet", "payment"};
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/healthz/%s", groups[i]);
        assert_int_equal(cr_test_req(&r, "GET", path, NULL, NULL), 200);
        assert_string_equal(cr_test_str(&r, "db"), "ok");
        cr_test_res_free(&r);
    }
}

static void test_unknown_route_is_json_404(void **state)
{
    struct cr_test_res r;
    cr_test_req(&r, "GET", "/nope", NULL, NULL);
    assert_json_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
    /* Unknown route inside a group's prefix: the application's 404. */
    cr_test_req(&r, "GET", "/api/v1/queue/nothing-here", NULL, NULL);
    assert_json_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    struct cr_test_res r;
    cr_test_req(&r, "DELETE", "/healthz", NULL, NULL);
    assert_json_error(&r, 405, "METHOD_NOT_ALLOWED");
    char *allow = cr_test_header(&r, "Allow");
    assert_non_null(allow);
    assert_string_equal(allow, "GET");
    free(allow);
    cr_test_res_free(&r);
}

static void test_oversized_body_is_413(void **state)
{
    struct cr_test_res r;
    size_t n = 20000;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    body[0] = '{';
    body[n - 1] = '}';
    body[n] = '\0';
    cr_test_req(&r, "POST", "/api/v1/users", body, NULL);
    assert_json_error(&r, 413, "PAYLOAD_TOO_LARGE");
    cr_test_res_free(&r);
    free(body);
}

static void test_wrong_content_type_is_415(void **state)
{
    struct cr_test_res r;
    const char *h[] = {"Content-Type: text/plain", NULL};
    cr_test_req(&r, "POST", "/api/v1/users", "{}", h);
    assert_json_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    cr_test_res_free(&r);
    /* A body without any Content-Type is 415 too; parameters after the type are fine. */
    const char *none[] = {"Content-Type:", NULL};
    cr_test_req(&r, "POST", "/api/v1/users", "{}", none);
    assert_json_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    cr_test_res_free(&r);
    const char *charset[] = {"Content-Type: application/json; charset=utf-8", NULL};
    assert_int_equal(cr_test_req(&r, "POST", "/api/v1/users", "{}", charset), 201);
    cr_test_res_free(&r);
}

static void test_request_id_echo_and_replace(void **state)
{
    struct cr_test_res r;
    const char *good[] = {"X-Request-Id: abc_DEF-123", NULL};
    cr_test_req(&r, "GET", "/nope", NULL, good);
    char *rid = cr_test_header(&r, "X-Request-Id");
    assert_string_equal(rid, "abc_DEF-123");
    free(rid);
    assert_json_error(&r, 404, "NOT_FOUND");
    cr_test_res_free(&r);

    const char *bad[] = {"X-Request-Id: has spaces!", NULL};
    cr_test_req(&r, "GET", "/healthz", NULL, bad);
    rid = cr_test_header(&r, "X-Request-Id");
    assert_non_null(rid);
    assert_string_not_equal(rid, "has spaces!");
    assert_true(strlen(rid) >= 1 && strlen(rid) <= 64);
    free(rid);
    cr_test_res_free(&r);

    /* 65 characters is one too many. */
    char longid[96] = "X-Request-Id: ";
    memset(longid + strlen(longid), 'a', 65);
    const char *toolong[] = {longid, NULL};
    cr_test_req(&r, "GET", "/healthz", NULL, toolong);
    rid = cr_test_header(&r, "X-Request-Id");
    assert_true(strlen(rid) <= 64);
    free(rid);
    cr_test_res_free(&r);
}

static long health_status(const char *want_redis)
{
    struct cr_test_res r;
    long st = 0;
    for (long long end = cr_test_now_ms() + 20000; cr_test_now_ms() < end;) {
        cr_test_req(&r, "GET", "/healthz", NULL, NULL);
        int match = strcmp(cr_test_str(&r, "redis"), want_redis) == 0;
        st = r.status;
        cr_test_res_free(&r);
        if (match)
            return st;
        cr_test_sleep_ms(100);
    }
    return -st;
}

static void test_healthz_follows_redis(void **state)
{
    const char *dir = getenv("CR_STACK_DIR");
    char cmd[1024];
    assert_non_null(dir);
    snprintf(cmd, sizeof(cmd), "redis-cli -s %s/run/redis.sock shutdown >/dev/null 2>&1", dir);
    system(cmd);
    assert_int_equal(health_status("down"), 503);
    struct cr_test_res r;
    cr_test_req(&r, "GET", "/healthz", NULL, NULL);
    assert_string_equal(cr_test_str(&r, "db"), "ok");
    char *ra = cr_test_header(&r, "Retry-After");
    assert_non_null(ra);
    free(ra);
    cr_test_res_free(&r);
    assert_int_equal(cr_test_redis_start(), 0);
    assert_int_equal(health_status("ok"), 200);
}

int main(void)
{
    cr_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthz_ok),
        cmocka_unit_test(test_unknown_route_is_json_404),
        cmocka_unit_test(test_wrong_method_is_405_with_allow),
        cmocka_unit_test(test_oversized_body_is_413),
        cmocka_unit_test(test_wrong_content_type_is_415),
        cmocka_unit_test(test_request_id_echo_and_replace),
        cmocka_unit_test(test_healthz_follows_redis),
    };
    return cmocka_run_group_tests_name("http_base", tests, NULL, NULL);
}
